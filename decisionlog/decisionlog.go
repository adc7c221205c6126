// Package decisionlog records the decisions of a castellan.Authorizer
// off the hot path and aggregates them into the store's decision log.
//
// Log.Wrap puts a recorder around any Authorizer (the store-backed
// reference or the index): after each Authorize about a user or service
// account, it samples the decision and sends it, without blocking, into
// a bounded buffer; when the buffer is full the decision is dropped and
// counted. Log.Start drains the buffer in one goroutine, aggregates per
// (organization, principal, action, scope) and flushes the aggregates to
// the store every flush interval (or sooner when too many keys wait),
// heartbeating the process's recorder row so that readers know since
// when the log has been recording, and prunes rows older than the
// retention. Start begins the recording. Explain and Missing are not recorded: they are questions
// about access, not uses of it.
package decisionlog

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/google/uuid"
)

// Defaults of Config.
const (
	DefaultBuffer        = 1 << 16
	DefaultFlushInterval = 10 * time.Second
	DefaultRetention     = 90 * 24 * time.Hour
	DefaultMaxKeys       = 100_000
	// pruneEvery is how often the flusher prunes past the retention.
	pruneEvery = time.Hour
	// finalFlushTimeout bounds the flush of what is left at shutdown.
	finalFlushTimeout = 5 * time.Second
)

// Config says what a Log records and where.
type Config struct {
	// Mode is off (Wrap returns the authorizer as is), sample or all.
	Mode castellan.DecisionLogMode
	// SampleRate is the share of decisions recorded in sample mode,
	// in (0, 1].
	SampleRate float64
	// Buffer bounds the decisions waiting for the aggregator; more are
	// dropped and counted.
	Buffer int
	// FlushInterval is how often aggregates go to the store.
	FlushInterval time.Duration
	// Retention is how long a record is kept after it was last seen.
	Retention time.Duration
	// MaxKeys bounds the aggregates held between flushes: reaching it
	// flushes early.
	MaxKeys int
	// Store is the raw store's decision log.
	Store  castellan.DecisionLogService
	Clock  castellan.Clock
	Logger *slog.Logger
}

// Validate checks the mode, the rate and the durations.
func (c Config) Validate() error {
	switch c.Mode {
	case castellan.DecisionLogOff, castellan.DecisionLogAll:
	case castellan.DecisionLogSample:
		if !(c.SampleRate > 0 && c.SampleRate <= 1) {
			return fmt.Errorf("decision log sample rate %v: want a number in (0, 1]", c.SampleRate)
		}
	default:
		return fmt.Errorf("decision log mode %q: want off, sample or all", c.Mode)
	}
	if c.Buffer < 0 || c.FlushInterval < 0 || c.Retention < 0 || c.MaxKeys < 0 {
		return fmt.Errorf("decision log: buffer, flush interval, retention and keys must not be negative")
	}
	return nil
}

// event is one decision on its way to the aggregator. The aggregator
// stamps it when it takes it from the buffer: that is within a flush
// interval of the decision and keeps the clock off the hot path.
type event struct {
	key     key
	allowed bool
}

// key is what the log aggregates by.
type key struct {
	org, principalType, principalID, action, scope string
}

// Log records decisions. Its zero value is not usable: call New.
type Log struct {
	cfg Config
	// sampleAll records every decision; otherwise one whose random
	// draw is below threshold.
	sampleAll bool
	threshold uint64
	events    chan event

	recorded, dropped, flushFailures atomic.Uint64
}

// New returns a Log of cfg, which must be valid, with defaults for its
// zero fields.
func New(cfg Config) *Log {
	if cfg.Buffer == 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Clock == nil {
		cfg.Clock = castellan.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Log{cfg: cfg, sampleAll: cfg.Mode == castellan.DecisionLogAll || cfg.SampleRate >= 1}
	if !l.sampleAll {
		l.threshold = uint64(cfg.SampleRate * math.MaxUint64)
	}
	if cfg.Mode != castellan.DecisionLogOff {
		l.events = make(chan event, cfg.Buffer)
	}
	return l
}

// Recorded counts the decisions the aggregator has taken in.
func (l *Log) Recorded() uint64 { return l.recorded.Load() }

// Dropped counts the decisions lost: to a full buffer, or to a flush
// that failed.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// FlushFailures counts the flushes the store refused.
func (l *Log) FlushFailures() uint64 { return l.flushFailures.Load() }

// Wrap returns next recording its decisions, or next itself when the
// log is off.
func (l *Log) Wrap(next castellan.Authorizer) castellan.Authorizer {
	if l.cfg.Mode == castellan.DecisionLogOff {
		return next
	}
	return &authorizer{Authorizer: next, log: l}
}

// authorizer is an Authorizer whose Authorize decisions are recorded.
type authorizer struct {
	castellan.Authorizer
	log *Log
}

func (a *authorizer) Authorize(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	d, err := a.Authorizer.Authorize(ctx, req)
	if err == nil && recorded(d.Reason) {
		a.log.observe(req, d.Allowed)
	}
	return d, err
}

// recorded reports whether a decision with this reason is about a real
// principal and a real place: one about a principal or a scope the
// organization does not have, or an action the catalogue does not know,
// is kept out of the log, so that a caller of the decision API cannot
// fill it with invented names.
func recorded(reason string) bool {
	switch reason {
	case castellan.ReasonUnknownPrincipal, castellan.ReasonNotInOrganization, castellan.ReasonUnknownAction:
		return false
	}
	return true
}

// observe samples a decision about a user or service account of an
// organization and offers it to the buffer without waiting.
func (l *Log) observe(req castellan.AuthzRequest, allowed bool) {
	p := req.Principal
	if p.OrganizationID == "" || p.Type != castellan.PrincipalUser && p.Type != castellan.PrincipalServiceAccount {
		return
	}
	if !l.sampleAll && rand.Uint64() >= l.threshold {
		return
	}
	select {
	case l.events <- event{key: key{p.OrganizationID, string(p.Type), p.ID, req.Action, req.Resource}, allowed: allowed}:
	default:
		l.dropped.Add(1)
	}
}

// Start writes the recorder's first heartbeat, which marks the start
// of the recording, then aggregates and flushes in a goroutine until ctx
// ends, when it flushes what is buffered. wait returns once that last
// flush is done. With the log off, Start does nothing.
func (l *Log) Start(ctx context.Context) (wait func()) {
	if l.cfg.Mode == castellan.DecisionLogOff {
		return func() {}
	}
	now := l.now()
	f := &flusher{log: l, pending: map[key]*castellan.DecisionRecord{}, lastPrune: now,
		recorder: castellan.DecisionRecorder{ID: uuid.Must(uuid.NewV7()).String(), Mode: l.cfg.Mode, SampleRate: l.cfg.SampleRate,
			FlushInterval: l.cfg.FlushInterval, StartedAt: now}}
	if l.sampleAll {
		f.recorder.SampleRate = 1
	}
	f.flush(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.run(ctx)
	}()
	return func() { <-done }
}

// run is Start's loop.
func (f *flusher) run(ctx context.Context) {
	ticker := time.NewTicker(f.log.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case e := <-f.log.events:
			f.add(e)
			if len(f.pending) >= f.log.cfg.MaxKeys {
				f.flush(ctx)
			}
		case <-ticker.C:
			f.flush(ctx)
			f.pruneIfDue(ctx)
		case <-ctx.Done():
			f.drain()
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			f.flush(final)
			cancel()
			return
		}
	}
}

func (l *Log) now() time.Time { return l.cfg.Clock().UTC().Truncate(time.Microsecond) }

// flusher is Start's state: the aggregates since the last flush.
type flusher struct {
	log       *Log
	recorder  castellan.DecisionRecorder
	pending   map[key]*castellan.DecisionRecord
	lastPrune time.Time
}

func (f *flusher) add(e event) {
	f.log.recorded.Add(1)
	now := f.log.now()
	r := f.pending[e.key]
	if r == nil {
		r = &castellan.DecisionRecord{OrganizationID: e.key.org, PrincipalType: castellan.PrincipalType(e.key.principalType),
			PrincipalID: e.key.principalID, Action: e.key.action, Scope: e.key.scope, FirstSeen: now}
		f.pending[e.key] = r
	}
	r.LastSeen = now
	r.Count++
	if e.allowed {
		r.Allowed++
		r.LastAllowed = &now
	} else {
		r.Denied++
	}
}

// drain takes in what is buffered now, without waiting for more.
func (f *flusher) drain() {
	for {
		select {
		case e := <-f.log.events:
			f.add(e)
		default:
			return
		}
	}
}

// flush writes the aggregates and the heartbeat. A failed flush loses
// its aggregates (counted as dropped) rather than grow without bound.
func (f *flusher) flush(ctx context.Context) {
	records := make([]castellan.DecisionRecord, 0, len(f.pending))
	var decisions int64
	for _, r := range f.pending {
		records = append(records, *r)
		decisions += r.Count
	}
	clear(f.pending)
	f.recorder.SeenAt = f.log.now()
	if err := f.log.cfg.Store.RecordDecisions(ctx, f.recorder, records); err != nil {
		f.log.flushFailures.Add(1)
		f.log.dropped.Add(uint64(decisions))
		f.log.cfg.Logger.Error("flush the decision log", "err", err, "decisions", decisions)
	}
}

// pruneIfDue deletes, once per pruneEvery, what is past the retention.
func (f *flusher) pruneIfDue(ctx context.Context) {
	now := f.log.now()
	if now.Sub(f.lastPrune) < pruneEvery {
		return
	}
	f.lastPrune = now
	n, err := f.log.cfg.Store.DeleteDecisionRecordsBefore(ctx, now.Add(-f.log.cfg.Retention))
	switch {
	case err != nil:
		f.log.cfg.Logger.Error("prune the decision log", "err", err)
	case n > 0:
		f.log.cfg.Logger.Info("pruned the decision log", "records", n)
	}
}
