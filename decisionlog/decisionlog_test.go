package decisionlog_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/decisionlog"
	"github.com/castellan-iam/castellan/storetest"
)

const (
	org     = "0190a0b0-0000-7000-8000-000000000001"
	user    = "0190a0b0-0000-7000-8000-000000000002"
	account = "0190a0b0-0000-7000-8000-000000000003"
	project = "project/0190a0b0-0000-7000-8000-000000000004"
)

// allowAuthorizer allows x:Allowed, denies anything else and fails on
// a resource "bad"; a resource "elsewhere" is in no organization of the
// principal.
type allowAuthorizer struct{ castellan.Authorizer }

func (allowAuthorizer) Authorize(_ context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	if req.Resource == "bad" {
		return castellan.Decision{}, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidScope, "bad")
	}
	if req.Resource == "elsewhere" {
		return castellan.Decision{Reason: castellan.ReasonNotInOrganization}, nil
	}
	if req.Action == "x:Allowed" {
		return castellan.Decision{Allowed: true, Reason: castellan.ReasonAllowed}, nil
	}
	return castellan.Decision{Reason: castellan.ReasonNoGrant}, nil
}

func (allowAuthorizer) Explain(context.Context, castellan.AuthzRequest) (castellan.Decision, error) {
	return castellan.Decision{}, errExplained
}

var errExplained = errors.New("explained")

// fakeStore keeps what the flusher writes.
type fakeStore struct {
	castellan.DecisionLogService
	mu         sync.Mutex
	recorders  []castellan.DecisionRecorder
	records    []castellan.DecisionRecord
	prunes     chan time.Time
	failRecord bool
}

func (s *fakeStore) RecordDecisions(_ context.Context, rec castellan.DecisionRecorder, records []castellan.DecisionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failRecord {
		return errors.New("store down")
	}
	s.recorders = append(s.recorders, rec)
	s.records = append(s.records, records...)
	return nil
}

func (s *fakeStore) DeleteDecisionRecordsBefore(_ context.Context, before time.Time) (int, error) {
	s.prunes <- before
	return 0, nil
}

// totals sums the records written per key.
func (s *fakeStore) totals() map[string]castellan.DecisionRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]castellan.DecisionRecord{}
	for _, r := range s.records {
		k := string(r.PrincipalType) + " " + r.Action
		t := out[k]
		t.Count += r.Count
		t.Allowed += r.Allowed
		t.Denied += r.Denied
		if r.LastAllowed != nil {
			t.LastAllowed = r.LastAllowed
		}
		out[k] = t
	}
	return out
}

func ask(tb testing.TB, a castellan.Authorizer, p castellan.Principal, action, resource string) {
	tb.Helper()
	_, _ = a.Authorize(context.Background(), castellan.AuthzRequest{Principal: p, Action: action, Resource: resource})
}

var (
	alice    = castellan.Principal{Type: castellan.PrincipalUser, ID: user, OrganizationID: org}
	robot    = castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: account, OrganizationID: org}
	operator = castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"}
)

// run starts l and returns a function that stops it and waits.
func run(l *decisionlog.Log) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	wait := l.Start(ctx)
	return func() { cancel(); wait() }
}

func TestRecordsAggregates(t *testing.T) {
	t.Parallel()
	store := &fakeStore{}
	clock := storetest.NewClock()
	l := decisionlog.New(decisionlog.Config{Mode: castellan.DecisionLogAll, Store: store, Clock: clock.Now, FlushInterval: time.Hour})
	a := l.Wrap(allowAuthorizer{})
	stop := run(l)
	for range 3 {
		ask(t, a, alice, "x:Allowed", project)
	}
	ask(t, a, alice, "x:Denied", project)
	ask(t, a, robot, "x:Denied", project)
	ask(t, a, operator, "x:Allowed", project) // not a principal of an organization
	ask(t, a, alice, "x:Allowed", "bad")      // an error is no decision
	// Nothing real was asked about: a caller cannot fill the log with
	// invented names.
	ask(t, a, alice, "x:Denied", "elsewhere")
	if _, err := a.Explain(context.Background(), castellan.AuthzRequest{Principal: alice, Action: "x:Explained", Resource: project}); !errors.Is(err, errExplained) {
		t.Fatal("Explain did not reach the wrapped authorizer")
	}
	stop() // the final flush writes what is buffered

	got := store.totals()
	want := map[string]castellan.DecisionRecord{
		"user x:Allowed":          {Count: 3, Allowed: 3},
		"user x:Denied":           {Count: 1, Denied: 1},
		"serviceAccount x:Denied": {Count: 1, Denied: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got records %v, want %v", got, want)
	}
	for k, w := range want {
		g := got[k]
		if g.Count != w.Count || g.Allowed != w.Allowed || g.Denied != w.Denied || (g.LastAllowed != nil) != (w.Allowed > 0) {
			t.Errorf("%s: got %+v, want %+v", k, g, w)
		}
	}
	if n := l.Recorded(); n != 5 {
		t.Errorf("got %d recorded, want 5", n)
	}
	if len(store.recorders) < 2 || store.recorders[0].Mode != castellan.DecisionLogAll || store.recorders[0].SampleRate != 1 ||
		!store.recorders[0].StartedAt.Equal(clock.Now()) || store.recorders[0].ID != store.recorders[1].ID {
		t.Errorf("got recorders %+v, want a heartbeat at start and at the final flush", store.recorders)
	}
}

func TestDropsWhenTheBufferIsFull(t *testing.T) {
	t.Parallel()
	l := decisionlog.New(decisionlog.Config{Mode: castellan.DecisionLogAll, Buffer: 2, Store: &fakeStore{}})
	a := l.Wrap(allowAuthorizer{})
	for range 5 {
		ask(t, a, alice, "x:Allowed", project) // nobody drains: the third on wait
	}
	if got := l.Dropped(); got != 3 {
		t.Fatalf("got %d dropped, want 3", got)
	}
}

func TestFailedFlushCountsItsDecisionsDropped(t *testing.T) {
	t.Parallel()
	store := &fakeStore{failRecord: true}
	l := decisionlog.New(decisionlog.Config{Mode: castellan.DecisionLogAll, Store: store, FlushInterval: time.Hour})
	a := l.Wrap(allowAuthorizer{})
	stop := run(l)
	ask(t, a, alice, "x:Allowed", project)
	ask(t, a, alice, "x:Allowed", project)
	stop()
	if l.Dropped() != 2 || l.FlushFailures() < 2 {
		t.Fatalf("got %d dropped after %d failed flushes, want 2 after at least 2", l.Dropped(), l.FlushFailures())
	}
}

func TestSamples(t *testing.T) {
	t.Parallel()
	store := &fakeStore{}
	l := decisionlog.New(decisionlog.Config{Mode: castellan.DecisionLogSample, SampleRate: 0.25, Buffer: 20_000, Store: store, FlushInterval: time.Hour})
	a := l.Wrap(allowAuthorizer{})
	const n = 10_000
	for range n {
		ask(t, a, alice, "x:Allowed", project)
	}
	stop := run(l)
	stop()
	// 2,500 expected; the bounds are 10 standard deviations away.
	if got := store.totals()["user x:Allowed"].Count; got < 2_000 || got > 3_000 {
		t.Fatalf("got %d of %d recorded at rate 0.25", got, n)
	}
	if store.recorders[0].Mode != castellan.DecisionLogSample || store.recorders[0].SampleRate != 0.25 {
		t.Fatalf("got recorder %+v, want sample mode at 0.25", store.recorders[0])
	}
}

func TestOffReturnsTheAuthorizer(t *testing.T) {
	t.Parallel()
	next := allowAuthorizer{}
	l := decisionlog.New(decisionlog.Config{Mode: castellan.DecisionLogOff})
	if got := l.Wrap(next); got != castellan.Authorizer(next) {
		t.Fatalf("got %T, want the authorizer itself", got)
	}
	l.Start(context.Background())() // returns at once
}

func TestPrunesPastTheRetention(t *testing.T) {
	t.Parallel()
	store := &fakeStore{prunes: make(chan time.Time, 1)}
	clock := storetest.NewClock()
	l := decisionlog.New(decisionlog.Config{Mode: castellan.DecisionLogAll, Store: store, Clock: clock.Now,
		FlushInterval: time.Millisecond, Retention: 48 * time.Hour})
	stop := run(l)
	defer stop()
	clock.Advance(2 * time.Hour) // past the hour between prunes
	before := <-store.prunes
	if want := clock.Now().Add(-48 * time.Hour); !before.Equal(want) {
		t.Fatalf("pruned before %v, want %v", before, want)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg decisionlog.Config
		ok  bool
	}{
		{decisionlog.Config{Mode: castellan.DecisionLogOff}, true},
		{decisionlog.Config{Mode: castellan.DecisionLogAll}, true},
		{decisionlog.Config{Mode: castellan.DecisionLogSample, SampleRate: 0.01}, true},
		{decisionlog.Config{Mode: castellan.DecisionLogSample, SampleRate: 1}, true},
		{decisionlog.Config{Mode: castellan.DecisionLogSample}, false},
		{decisionlog.Config{Mode: castellan.DecisionLogSample, SampleRate: 1.5}, false},
		{decisionlog.Config{Mode: "some"}, false},
		{decisionlog.Config{Mode: castellan.DecisionLogAll, Buffer: -1}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: got %v, want ok=%v", c.cfg, err, c.ok)
		}
	}
}
