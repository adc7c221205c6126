package changefeed

import (
	"context"
	"sync"
	"time"
)

// Backoff between attempts to restart a failed CommitWatcher.
const (
	minWatchBackoff = 10 * time.Millisecond
	maxWatchBackoff = 2 * time.Second
)

// Run follows the change log until ctx ends: it polls every Poll (every
// PollWhileDown while the Watcher is down, and at once when WaitFor asks)
// and, with a Watcher, follows every commit it announces. Failures are
// logged, once for as long as they last.
func (f *Feed) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if f.watcher != nil {
		wg.Go(func() { f.watch(ctx) })
	}
	f.pollUntil(ctx)
	wg.Wait()
}

// pollUntil follows the change log every poll until ctx ends.
func (f *Feed) pollUntil(ctx context.Context) {
	timer := time.NewTimer(f.poll)
	defer timer.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-timer.C:
		}
		err := f.Follow(ctx)
		// While the store is out this fails every poll: say so once.
		if err != nil && !failing && ctx.Err() == nil {
			f.logger.Error("change feed: follow the change log", "err", err)
		}
		failing = err != nil
		next := f.poll
		if f.watcherDown.Load() {
			next = f.pollWhileDown
		}
		timer.Reset(next)
	}
}

// wakeUp asks Run to read the change log at once.
func (f *Feed) wakeUp() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// watch follows the change log whenever the Watcher announces a commit,
// until ctx ends or the Watcher has nothing to announce. When it fails
// (the LISTEN connection dropped, or a heartbeat found it dead), watch
// catches up at once, has Run poll every PollWhileDown, and starts the
// Watcher again after a backoff (10 ms, doubling up to 2 s); the Watcher's
// first announcement, once it listens again, catches up with what was
// committed in between.
func (f *Feed) watch(ctx context.Context) {
	backoff := minWatchBackoff
	follow := func() {
		if err := f.Follow(ctx); err != nil && ctx.Err() == nil {
			f.logger.Error("change feed: follow the change log", "err", err)
		}
	}
	for {
		err := f.watcher.WatchCommits(ctx, func() {
			if f.watcherDown.Swap(false) {
				f.logger.Info("change feed: watching commits again")
			}
			backoff = minWatchBackoff
			follow()
		})
		if err == nil || ctx.Err() != nil {
			return // nothing to watch (SQLite), or stopping
		}
		f.watchFailures.Add(1)
		if !f.watcherDown.Swap(true) {
			f.logger.Warn("change feed: commit watcher down; polling until it is back", "err", err, "poll", f.pollWhileDown)
			f.wakeUp()
		}
		follow()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxWatchBackoff)
	}
}
