package changefeed_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/changefeed"
)

// changeLog is a fake castellan.ChangeLog: rows[i] are the rows of
// revision i+1. Failures and wrong rows can be asked for.
type changeLog struct {
	mu   sync.Mutex
	rows [][]castellan.Change
	// failReads makes that many reads (Revision or Changes) fail.
	failReads int
	// misplaced makes the next Changes answer a row of a revision it was
	// not asked for.
	misplaced bool
}

var errUnavailable = errors.New("change log unavailable")

func (l *changeLog) Revision(context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failReads > 0 {
		l.failReads--
		return 0, errUnavailable
	}
	return int64(len(l.rows)), nil
}

func (l *changeLog) Changes(_ context.Context, after int64, revisions int) ([]castellan.Change, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failReads > 0 {
		l.failReads--
		return nil, errUnavailable
	}
	var out []castellan.Change
	for _, rows := range l.rows[after:min(int64(len(l.rows)), after+int64(revisions))] {
		out = append(out, rows...)
	}
	if l.misplaced {
		l.misplaced = false
		out = append(out, castellan.Change{Revision: after + int64(revisions) + 1, EntityType: "user", EntityID: "misplaced"})
	}
	return out, nil
}

func (l *changeLog) Ping(context.Context) error { return nil }

// write commits a revision with a row per entity ID (none: a revision
// without rows) and returns it.
func (l *changeLog) write(ids ...string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	rev := int64(len(l.rows)) + 1
	var rows []castellan.Change
	for _, id := range ids {
		rows = append(rows, castellan.Change{Revision: rev, EntityType: "user", EntityID: id, Operation: "update"})
	}
	l.rows = append(l.rows, rows)
	return rev
}

// setFailReads makes the next n reads fail.
func (l *changeLog) setFailReads(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failReads = n
}

// recorder is a Subscriber that records what it is given: "rev:id" per
// row applied, and "reload" per successful Reload.
type recorder struct {
	mu  sync.Mutex
	got []string
	// applies counts the calls to Apply; failApply and failReload make
	// that many calls fail.
	applies, failApply, failReload int
}

func (r *recorder) Apply(_ context.Context, changes []castellan.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(changes) == 0 {
		return errors.New("an empty batch")
	}
	r.applies++
	if r.failApply > 0 {
		r.failApply--
		return errors.New("apply failed")
	}
	for _, c := range changes {
		r.got = append(r.got, fmt.Sprintf("%d:%s", c.Revision, c.EntityID))
	}
	return nil
}

func (r *recorder) Reload(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failReload > 0 {
		r.failReload--
		return errors.New("reload failed")
	}
	r.got = append(r.got, "reload")
	return nil
}

// take returns what r recorded since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

func (r *recorder) wantTaken(t *testing.T, want ...string) {
	t.Helper()
	if got := r.take(); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// newFeed returns a feed on l with the subscribers, whose first reload
// is taken.
func newFeed(t *testing.T, l *changeLog, opts changefeed.Options, subscribers ...*recorder) *changefeed.Feed {
	t.Helper()
	opts.ChangeLog, opts.Logger = l, slog.New(slog.DiscardHandler)
	f, err := changefeed.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subscribers {
		if err := f.Subscribe(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		s.wantTaken(t, "reload")
	}
	return f
}

func mustFollow(t *testing.T, f *changefeed.Feed) {
	t.Helper()
	if err := f.Follow(context.Background()); err != nil {
		t.Fatalf("follow: %v", err)
	}
}

func wantApplied(t *testing.T, f *changefeed.Feed, want int64) {
	t.Helper()
	if got := f.Applied(); got != want {
		t.Fatalf("applied: got %d, want %d", got, want)
	}
}

// TestFeedInOrder: every subscriber gets every row once, in revision
// order, whether a local commit or a poll brought it, across batches of
// the change log; a revision without rows is no batch of its own, and
// what came before New is not given.
func TestFeedInOrder(t *testing.T) {
	l := &changeLog{}
	l.write("before")
	a, b := &recorder{}, &recorder{}
	f := newFeed(t, l, changefeed.Options{}, a, b)
	wantApplied(t, f, 1)

	f.Committed(context.Background(), l.write("u1", "u2"))
	a.wantTaken(t, "2:u1", "2:u2")
	b.wantTaken(t, "2:u1", "2:u2")

	// A local commit that another catch-up already applied is no news.
	f.Committed(context.Background(), 2)
	l.write()
	mustFollow(t, f)
	wantApplied(t, f, 3)
	a.wantTaken(t)

	var want []string
	for i := range 2500 { // more than two reads of the change log
		id := fmt.Sprint("v", i)
		want = append(want, fmt.Sprintf("%d:%s", l.write(id), id))
	}
	mustFollow(t, f)
	wantApplied(t, f, 2503)
	a.wantTaken(t, want...)
	b.wantTaken(t, want...)
	if a.applies != 4 {
		t.Fatalf("got %d calls of Apply, want 4 (one per read with rows)", a.applies)
	}
	if n := f.Stats().Reloads; n != 0 {
		t.Fatalf("got %d reloads, want 0", n)
	}
}

// TestFeedReloadsWhenTheLogCannotBeRead: a read that fails makes every
// subscriber reload at once (what changed is unknown); the revisions are
// given once the log can be read again.
func TestFeedReloadsWhenTheLogCannotBeRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		follow func(f *changefeed.Feed, rev int64) error
	}{
		{"Follow", func(f *changefeed.Feed, _ int64) error { return f.Follow(context.Background()) }},
		{"Committed", func(f *changefeed.Feed, rev int64) error { f.Committed(context.Background(), rev); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &changeLog{}
			a, b := &recorder{}, &recorder{}
			f := newFeed(t, l, changefeed.Options{}, a, b)
			rev := l.write("u1")
			l.setFailReads(1)
			if err := tc.follow(f, rev); tc.name == "Follow" && !errors.Is(err, errUnavailable) {
				t.Fatalf("follow: got %v, want the log's error", err)
			}
			a.wantTaken(t, "reload")
			b.wantTaken(t, "reload")
			wantApplied(t, f, 0)
			mustFollow(t, f)
			a.wantTaken(t, "1:u1")
			b.wantTaken(t, "1:u1")
			if n := f.Stats().Reloads; n != 2 {
				t.Fatalf("got %d reloads, want 2", n)
			}
		})
	}
}

// TestFeedReloadsOnAGap: rows that are not those of the revisions asked
// for make every subscriber reload at the revision caught up to, and the
// following revisions are given in order.
func TestFeedReloadsOnAGap(t *testing.T) {
	l := &changeLog{}
	a := &recorder{}
	f := newFeed(t, l, changefeed.Options{}, a)
	l.write("u1")
	l.write("u2")
	l.misplaced = true
	mustFollow(t, f)
	a.wantTaken(t, "reload")
	wantApplied(t, f, 2)
	f.Committed(context.Background(), l.write("u3"))
	a.wantTaken(t, "3:u3")
}

// TestFeedReloadsWhenTheStoreIsBehind: a store whose revision is behind
// the feed (restored from a backup) makes the subscribers reload there,
// and its next revisions are given.
func TestFeedReloadsWhenTheStoreIsBehind(t *testing.T) {
	l := &changeLog{}
	a := &recorder{}
	l.write("u1")
	l.write("u2")
	f := newFeed(t, l, changefeed.Options{}, a)
	l.rows = l.rows[:1]
	mustFollow(t, f)
	a.wantTaken(t, "reload")
	wantApplied(t, f, 1)
	l.write("u3")
	mustFollow(t, f)
	a.wantTaken(t, "2:u3")
}

// TestFeedReloadsAFailedSubscriber: a subscriber whose Apply fails is
// reloaded before it is given anything more; one whose Reload fails is
// given nothing until a Reload succeeds at a later catch-up, and WaitFor
// waits for it. The other subscribers are not held back.
func TestFeedReloadsAFailedSubscriber(t *testing.T) {
	l := &changeLog{}
	failing, healthy := &recorder{}, &recorder{}
	f := newFeed(t, l, changefeed.Options{}, failing, healthy)

	failing.failApply = 1
	f.Committed(context.Background(), l.write("u1"))
	failing.wantTaken(t, "reload")
	healthy.wantTaken(t, "1:u1")
	wantReflected(t, f, 1)

	failing.failApply, failing.failReload = 1, 2 // at u2, and again at u3
	f.Committed(context.Background(), l.write("u2"))
	f.Committed(context.Background(), l.write("u3"))
	failing.wantTaken(t)
	healthy.wantTaken(t, "2:u2", "3:u3")
	wantApplied(t, f, 3)
	// The failing subscriber reflects revision 1 only, until it reloads.
	wantReflected(t, f, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.WaitFor(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor with a subscriber awaiting its reload: got %v, want context.Canceled", err)
	}

	f.Committed(context.Background(), l.write("u4"))
	failing.wantTaken(t, "reload", "4:u4")
	healthy.wantTaken(t, "4:u4")
	if err := f.WaitFor(context.Background(), 4); err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	wantReflected(t, f, 4)
}

func wantReflected(t *testing.T, f *changefeed.Feed, want int64) {
	t.Helper()
	if got := f.Reflected(); got != want {
		t.Fatalf("Reflected() = %d, want %d", got, want)
	}
}

// TestSubscribeReloadFails: a subscriber that cannot load is not
// subscribed.
func TestSubscribeReloadFails(t *testing.T) {
	l := &changeLog{}
	f := newFeed(t, l, changefeed.Options{})
	r := &recorder{failReload: 1}
	if err := f.Subscribe(context.Background(), r); err == nil {
		t.Fatal("got no error")
	}
	f.Committed(context.Background(), l.write("u1"))
	r.wantTaken(t)
}

// TestWaitFor: WaitFor returns at once for an applied revision, when a
// later one is applied, and with ctx's error when ctx ends first.
func TestWaitFor(t *testing.T) {
	l := &changeLog{}
	f := newFeed(t, l, changefeed.Options{}, &recorder{})
	rev := l.write("u1")
	f.Committed(context.Background(), rev)
	if err := f.WaitFor(context.Background(), rev); err != nil {
		t.Fatalf("an applied revision: %v", err)
	}

	waited := make(chan error)
	go func() { waited <- f.WaitFor(context.Background(), rev+2) }()
	f.Committed(context.Background(), l.write("u2"))
	select {
	case err := <-waited:
		t.Fatalf("WaitFor returned %v before its revision was applied", err)
	default:
	}
	f.Committed(context.Background(), l.write("u3"))
	if err := <-waited; err != nil {
		t.Fatalf("once applied: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { waited <- f.WaitFor(ctx, rev+10) }()
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("ctx ended: got %v, want context.Canceled", err)
	}
}

// TestWaitForAsksRunToRead: Run reads the change log when WaitFor asks,
// not only at its poll (an hour here), so a request waiting for another
// process's revision is not held for a poll interval.
func TestWaitForAsksRunToRead(t *testing.T) {
	l := &changeLog{}
	a := &recorder{}
	f := newFeed(t, l, changefeed.Options{Poll: time.Hour}, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	rev := l.write("elsewhere") // another process's write
	// The deadline guards against hanging; it measures nothing.
	wait, cancelWait := context.WithTimeout(ctx, time.Minute)
	defer cancelWait()
	if err := f.WaitFor(wait, rev); err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	a.wantTaken(t, "1:elsewhere")
}

// watcher is a fake CommitWatcher: it announces a commit for every value
// sent on announce, and fails with what is sent on fail.
type watcher struct {
	announce chan struct{}
	fail     chan error
}

func (w *watcher) WatchCommits(ctx context.Context, committed func()) error {
	committed()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-w.fail:
			return err
		case <-w.announce:
			committed()
		}
	}
}

// TestRunFollowsTheWatcher: Run reads the change log when the watcher
// announces a commit, and counts the watcher's failures, after which it
// watches again.
func TestRunFollowsTheWatcher(t *testing.T) {
	l := &changeLog{}
	a := &recorder{}
	w := &watcher{announce: make(chan struct{}), fail: make(chan error)}
	f := newFeed(t, l, changefeed.Options{Watcher: w, Poll: time.Hour}, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	w.announce <- struct{}{} // the watcher listens
	rev := l.write("u1")
	w.announce <- struct{}{}
	w.announce <- struct{}{} // the first announcement has been followed
	wantApplied(t, f, rev)
	a.wantTaken(t, "1:u1")

	w.fail <- errors.New("connection lost")
	w.announce <- struct{}{} // listening again
	if n := f.Stats().WatchFailures; n != 1 {
		t.Fatalf("got %d watch failures, want 1", n)
	}
	rev = l.write("u2")
	w.announce <- struct{}{}
	w.announce <- struct{}{}
	wantApplied(t, f, rev)
	a.wantTaken(t, "2:u2")
}

// TestUnsubscribe: an unsubscribed subscriber is given nothing more, and
// one awaiting its reload no longer holds WaitFor back.
func TestUnsubscribe(t *testing.T) {
	l := &changeLog{}
	gone, failing, stays := &recorder{}, &recorder{}, &recorder{}
	f := newFeed(t, l, changefeed.Options{}, gone, failing, stays)
	f.Unsubscribe(gone)
	failing.failApply, failing.failReload = 1, 1
	f.Committed(context.Background(), l.write("u1"))
	gone.wantTaken(t)
	failing.wantTaken(t)
	stays.wantTaken(t, "1:u1")
	wantReflected(t, f, 0)

	f.Unsubscribe(failing)
	wantReflected(t, f, 1)
	if err := f.WaitFor(context.Background(), 1); err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	f.Unsubscribe(failing) // twice: nothing
	f.Committed(context.Background(), l.write("u2"))
	failing.wantTaken(t)
	stays.wantTaken(t, "2:u2")
}
