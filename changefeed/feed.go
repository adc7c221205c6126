// Package changefeed follows the store's change log for a whole process:
// one Feed reads each revision once and hands its changes, in revision
// order, to every subscriber (the token cache of package authn; the
// authorization index next). It sees the store through castellan.ChangeLog
// and a CommitWatcher only, never a backend.
//
// A Feed stays current three ways:
//
//   - Committed, which cmd/castellan registers as the store's commit hook,
//     catches up synchronously after every write of this process, before
//     the write returns: a change takes effect on this process's very next
//     request.
//   - Run follows every commit the CommitWatcher announces (PostgreSQL's
//     LISTEN/NOTIFY), for the writes of other processes.
//   - Run also polls, every Options.Poll, on every backend: a notification
//     may be lost, and on SQLite nothing announces the writes of another
//     process on the same file (`castellan bootstrap` beside a running
//     server). While the watcher is down it polls every
//     Options.PollWhileDown, so that a revocation made elsewhere still
//     arrives within tens of milliseconds.
//
// When the Feed cannot give a subscriber every revision in order (the
// change log cannot be read, its rows do not match the revisions asked
// for, the store is behind the Feed, or the subscriber failed to apply a
// batch), it tells the subscriber to Reload from the store's current
// state instead.
package changefeed

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/castellan-iam/castellan"
)

// Subscriber derives something from the change log (a cache, an index)
// and is kept current by a Feed. The Feed calls its methods one at a
// time, never concurrently, on the goroutine of whatever made it catch up
// (often a writer's, through Committed): they must be quick, and must not
// write to the store, whose commit hook would wait for the Feed.
type Subscriber interface {
	// Apply is given the changes of the revisions after those the
	// subscriber was last given (or reloaded at), in revision order and
	// in the store's order within a revision; a batch may cover several
	// revisions and is never empty. A revision without change-log rows
	// is skipped silently. If Apply returns an error, the Feed calls
	// Reload before giving the subscriber anything more.
	Apply(ctx context.Context, changes []castellan.Change) error
	// Reload drops whatever the subscriber derived from earlier changes
	// and rebuilds from the store's current state: the Feed could not
	// give it every revision in order. Subscribe calls it first. Apply is
	// then given the revisions after the Feed's position at the time of
	// the call, some of which the rebuilt state may already reflect, so
	// applying a change whose effect is already there must be harmless
	// (evict again, read the entity again). While Reload fails, the
	// subscriber is given nothing; the Feed calls Reload again at each
	// catch-up until it succeeds, and WaitFor waits meanwhile.
	Reload(ctx context.Context) error
}

// CommitWatcher announces the commits of every process sharing the store.
// sqlstore's *DB is one.
type CommitWatcher interface {
	// WatchCommits calls committed once when it starts watching and after
	// every commit, until ctx ends or it fails, which it returns; it
	// returns nil at once when the store has nothing to announce (SQLite).
	// committed must be quick: while it runs, announcements wait.
	WatchCommits(ctx context.Context, committed func()) error
}

// Defaults of Options.
const (
	DefaultPoll          = time.Second
	DefaultPollWhileDown = 50 * time.Millisecond
)

// batch is how many revisions one read of the change log covers.
const batch = 1000

// Options configure New.
type Options struct {
	// ChangeLog is the store's change log. Required.
	ChangeLog castellan.ChangeLog
	// Watcher, when set, announces the commits of other processes to Run.
	Watcher CommitWatcher
	// Poll is how often Run reads the change log; zero means DefaultPoll.
	Poll time.Duration
	// PollWhileDown is how often Run reads it while the Watcher is down;
	// zero means DefaultPollWhileDown.
	PollWhileDown time.Duration
	Logger        *slog.Logger
}

// Feed is the change-log follower of one process. It is safe for
// concurrent use.
type Feed struct {
	log                 castellan.ChangeLog
	watcher             CommitWatcher
	poll, pollWhileDown time.Duration
	logger              *slog.Logger

	// followMu orders catching up: subscribers, their reload flags and
	// the position change under it only.
	followMu    sync.Mutex
	subscribers []*subscription

	// mu guards what WaitFor reads: the position (the newest revision
	// given to every subscriber), the number of subscribers awaiting a
	// reload, and advanced, closed and replaced whenever either changes.
	mu       sync.Mutex
	position int64
	stale    int
	advanced chan struct{}
	// reflected is the newest revision every subscriber reflects: the
	// position when it last moved with no subscriber awaiting a reload.
	reflected int64

	// wake asks Run to read the change log at once.
	wake          chan struct{}
	watcherDown   atomic.Bool
	watchFailures atomic.Uint64
	reloads       atomic.Uint64
}

type subscription struct {
	Subscriber
	// stale is set while the subscriber awaits a successful Reload;
	// failing once a Reload of that wait has failed.
	stale, failing bool
}

// New returns a Feed positioned at the store's current revision, with no
// subscriber.
func New(ctx context.Context, opts Options) (*Feed, error) {
	rev, err := opts.ChangeLog.Revision(ctx)
	if err != nil {
		return nil, fmt.Errorf("change feed: read the revision: %w", err)
	}
	f := &Feed{
		log: opts.ChangeLog, watcher: opts.Watcher, poll: opts.Poll, pollWhileDown: opts.PollWhileDown, logger: opts.Logger,
		position: rev, reflected: rev, advanced: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	if f.poll <= 0 {
		f.poll = DefaultPoll
	}
	if f.pollWhileDown <= 0 {
		f.pollWhileDown = DefaultPollWhileDown
	}
	if f.logger == nil {
		f.logger = slog.Default()
	}
	return f, nil
}

// Subscribe calls s.Reload, so that s starts from the store's current
// state, and then gives s every revision after the Feed's position. If
// Reload fails, s is not subscribed and its error is returned. While
// Reload runs, the Feed does not catch up (this process's writes wait in
// their commit hook): subscribe before serving.
func (f *Feed) Subscribe(ctx context.Context, s Subscriber) error {
	f.followMu.Lock()
	defer f.followMu.Unlock()
	if err := s.Reload(ctx); err != nil {
		return err
	}
	f.subscribers = append(f.subscribers, &subscription{Subscriber: s})
	return nil
}

// Unsubscribe stops giving s revisions; it is no longer counted by
// WaitFor and Reflected. Unsubscribing what was never subscribed does
// nothing.
func (f *Feed) Unsubscribe(s Subscriber) {
	f.followMu.Lock()
	defer f.followMu.Unlock()
	for i, sub := range f.subscribers {
		if sub.Subscriber == s {
			f.subscribers = slices.Delete(f.subscribers, i, i+1)
			if sub.stale {
				// The others reflect the position: WaitFor may be done.
				f.unstale()
			}
			return
		}
	}
}

// Applied returns the Feed's position: the newest revision whose changes
// every subscriber has been given (or reloaded past).
func (f *Feed) Applied() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.position
}

// Reflected returns the newest revision whose changes every subscriber
// reflects: the position, except while a subscriber awaits a reload,
// when it is the position at which every subscriber last did. A decision
// made now reflects every write up to it (at least); read it before
// deciding.
func (f *Feed) Reflected() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reflected
}

// WaitFor returns nil once this process has applied revision: the Feed's
// position has reached it and no subscriber awaits a reload. It returns
// ctx's error if ctx ends first. A revision this process committed is
// applied when its write returns; for one of another process, WaitFor
// asks Run to read the change log at once rather than at its next poll.
func (f *Feed) WaitFor(ctx context.Context, revision int64) error {
	asked := false
	for {
		f.mu.Lock()
		done, advanced := f.position >= revision && f.stale == 0, f.advanced
		f.mu.Unlock()
		if done {
			return nil
		}
		if !asked {
			f.wakeUp()
			asked = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-advanced:
		}
	}
}

// Committed catches up to revision, a write this process just committed;
// register it as the store's commit hook. Failures are logged: the
// subscribers have been told to reload, and Run catches up later.
func (f *Feed) Committed(ctx context.Context, revision int64) {
	f.followMu.Lock()
	defer f.followMu.Unlock()
	if err := f.catchUp(ctx, revision); err != nil {
		f.logger.Error("change feed: follow the change log", "revision", revision, "err", err)
	}
}

// Follow catches up with the store's newest revision, for the writes of
// other processes; Run calls it. A store whose revision is behind the
// Feed's position (restored from a backup, or another database) makes
// every subscriber reload at the store's revision.
func (f *Feed) Follow(ctx context.Context) error {
	f.followMu.Lock()
	defer f.followMu.Unlock()
	rev, err := f.log.Revision(ctx)
	if err != nil {
		f.reloadAll(ctx)
		return fmt.Errorf("change feed: read the revision: %w", err)
	}
	if position := f.Applied(); rev < position {
		f.logger.Warn("change feed: the store is behind the feed; subscribers reload", "revision", rev, "position", position)
		f.reloadAll(ctx)
		f.advance(rev)
		return nil
	}
	return f.catchUp(ctx, rev)
}

// catchUp gives the subscribers the revisions up to target; f.followMu
// is held. Subscribers awaiting a reload try it first.
func (f *Feed) catchUp(ctx context.Context, target int64) error {
	for _, s := range f.subscribers {
		if s.stale {
			f.reload(ctx, s)
		}
	}
	for position := f.Applied(); position < target; position = f.Applied() {
		n := min(target-position, batch)
		changes, err := f.log.Changes(ctx, position, int(n))
		if err != nil {
			f.reloadAll(ctx)
			return fmt.Errorf("change feed: read revisions %d to %d: %w", position+1, position+n, err)
		}
		if !inOrder(changes, position, position+n) {
			// What the rows stand for is unknown: the subscribers rebuild
			// from the store, which is at target at least.
			f.logger.Warn("change feed: the change log's rows are not those of the revisions asked for; subscribers reload",
				"after", position, "through", position+n)
			f.reloadAll(ctx)
			f.advance(target)
			return nil
		}
		if len(changes) > 0 {
			for _, s := range f.subscribers {
				if s.stale {
					continue
				}
				if err := s.Apply(ctx, changes); err != nil {
					f.logger.Error("change feed: a subscriber failed to apply changes; reloading it", "subscriber", fmt.Sprintf("%T", s.Subscriber), "err", err)
					f.markStale(s)
					f.reload(ctx, s)
				}
			}
		}
		f.advance(position + n)
	}
	return nil
}

// inOrder reports whether changes are rows of the revisions after `after`
// up to `through`, in revision order.
func inOrder(changes []castellan.Change, after, through int64) bool {
	last := after
	for _, c := range changes {
		if c.Revision < last || c.Revision <= after || c.Revision > through {
			return false
		}
		last = c.Revision
	}
	return true
}

// reloadAll tells every subscriber to reload; f.followMu is held.
func (f *Feed) reloadAll(ctx context.Context) {
	for _, s := range f.subscribers {
		f.markStale(s)
		f.reload(ctx, s)
	}
}

// markStale notes that s awaits a reload; f.followMu is held.
func (f *Feed) markStale(s *subscription) {
	if s.stale {
		return
	}
	s.stale = true
	f.mu.Lock()
	f.stale++
	f.mu.Unlock()
}

// reload calls s.Reload; on success s is current again. f.followMu is
// held.
func (f *Feed) reload(ctx context.Context, s *subscription) {
	f.reloads.Add(1)
	if err := s.Reload(ctx); err != nil {
		// While the store is out this fails at every catch-up: say so once.
		if !s.failing && ctx.Err() == nil {
			f.logger.Error("change feed: a subscriber failed to reload; retrying at each catch-up",
				"subscriber", fmt.Sprintf("%T", s.Subscriber), "err", err)
		}
		s.failing = true
		return
	}
	s.stale, s.failing = false, false
	f.unstale() // reloaded from the store, which is at the position at least
}

// unstale counts one subscriber fewer awaiting a reload; with none left,
// every subscriber reflects the position. It wakes the waiters of WaitFor.
func (f *Feed) unstale() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stale--
	if f.stale == 0 {
		f.reflected = f.position
	}
	f.signal()
}

// advance moves the position to revision; f.followMu is held.
func (f *Feed) advance(revision int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.position = revision
	if f.stale == 0 {
		f.reflected = revision
	}
	f.signal()
}

// signal wakes the waiters of WaitFor; f.mu is held.
func (f *Feed) signal() {
	close(f.advanced)
	f.advanced = make(chan struct{})
}

// Stats is what the Feed has done, for metrics.
type Stats struct {
	// Applied is the Feed's position (Applied); behind the store's
	// revision, it is how stale this process may be.
	Applied int64
	// WatchFailures counts the failures of the CommitWatcher (the LISTEN
	// connection dropped or could not be opened).
	WatchFailures uint64
	// Reloads counts the calls to the subscribers' Reload, Subscribe's
	// aside, failed ones included.
	Reloads uint64
}

// Stats returns the Feed's figures.
func (f *Feed) Stats() Stats {
	return Stats{Applied: f.Applied(), WatchFailures: f.watchFailures.Load(), Reloads: f.reloads.Load()}
}
