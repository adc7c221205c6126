// Package authn checks API bearer tokens without a database round trip on
// the hot path: Cache sits in front of the store's castellan.TokenService
// and keeps, per token, the credential the store last returned for it.
//
// The cache is a follower of the change log, like the authorization index
// of DESIGN.md §3, and so lives in a package of its own that sees the
// store through castellan interfaces only, not inside sqlstore: it would
// sit the same way in front of any other store. It stays current two ways:
//
//   - Committed, which cmd/castellan registers as the store's commit hook,
//     catches up synchronously after every write of this process, before
//     the write returns; a change therefore takes effect on the very next
//     request served by this process.
//   - Follow catches up with the writes of other replicas: Watch calls it
//     when PostgreSQL notifies a commit (sqlstore's WatchCommits), and Run
//     polls (every second by default) in case a notification is lost.
//     When the listening connection drops, Watch catches up at once and
//     reconnects with backoff, catching up again once it listens; until
//     then Run polls every PollWhileDown (50 ms by default), so that a
//     revocation still reaches this replica within a few tens of
//     milliseconds.
//
// A change evicts the entries that depend on the entity it names: the
// token itself (api_token), its user or service account, its access key
// and the key's project, or its whole organization. The store records a
// change-log row naming one of them for everything that can make a token
// unusable (see sqlstore's change type). Time-dependent and
// request-dependent rules (expiry, API allow sources) are not cached
// decisions: Credential.Check runs on every use.
package authn

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/castellan-iam/castellan"
)

// DefaultMaxEntries bounds a cache built with Options.MaxEntries zero.
const DefaultMaxEntries = 100_000

// followBatch is how many revisions one read of the change log covers.
const followBatch = 1000

// DefaultPollWhileDown is how often Run reads the change log while the
// commit watcher is down, when Options.PollWhileDown is zero.
const DefaultPollWhileDown = 50 * time.Millisecond

// Backoff between attempts to restart a failed commit watcher.
const (
	minWatchBackoff = 10 * time.Millisecond
	maxWatchBackoff = 2 * time.Second
)

// CommitWatcher announces the commits of every replica: it calls committed
// once when it starts watching and after every commit, until ctx ends or
// it fails, which it returns; it returns nil at once when the store has
// nothing to announce. sqlstore's DB.WatchCommits is one.
type CommitWatcher func(ctx context.Context, committed func()) error

// KeyUseRecorder stores when access keys were last used;
// castellan.AccessKeyService is one.
type KeyUseRecorder interface {
	NoteKeysUsed(ctx context.Context, used map[string]time.Time) error
}

// Options configure New.
type Options struct {
	// Tokens is the store's token service: FindCredential answers a miss,
	// and its other methods are the cache's.
	Tokens castellan.TokenService
	// ChangeLog is followed to evict what changed.
	ChangeLog castellan.ChangeLog
	// KeyUses receives the key uses Flush writes out.
	KeyUses KeyUseRecorder
	// Now is the clock expiry is checked against; nil means
	// castellan.SystemClock.
	Now    castellan.Clock
	Logger *slog.Logger
	// MaxEntries bounds the number of cached tokens; when full, an
	// arbitrary entry makes room. Zero means DefaultMaxEntries.
	MaxEntries int
	// PollWhileDown is Run's poll interval while Watch's watcher is down;
	// zero means DefaultPollWhileDown.
	PollWhileDown time.Duration
}

// Cache is a castellan.TokenService whose Authenticate answers known
// tokens from memory. It is safe for concurrent use.
type Cache struct {
	castellan.TokenService
	changes castellan.ChangeLog
	keyUses KeyUseRecorder
	now     castellan.Clock
	log     *slog.Logger
	max     int

	mu      sync.RWMutex
	entries map[tokenKey]*entry
	// dependents indexes entries by the entities they depend on.
	dependents map[entity]map[tokenKey]struct{}
	// generation counts evictions. A miss notes it before reading the
	// store and inserts only if it is unchanged, so that a read that
	// started before a change cannot insert what the change evicted.
	generation uint64

	// followMu orders catching up; applied is the newest revision whose
	// changes have been applied.
	followMu sync.Mutex
	applied  atomic.Int64

	usedMu sync.Mutex
	used   map[string]time.Time

	hits, misses atomic.Uint64

	// watcherDown is set while Watch's watcher is not running; wake
	// tells Run to poll at pollWhileDown at once.
	watcherDown   atomic.Bool
	wake          chan struct{}
	pollWhileDown time.Duration
	watchFailures atomic.Uint64
}

var _ castellan.TokenService = (*Cache)(nil)

// tokenKey is the SHA-256 of a token: the cache never holds a token.
type tokenKey [sha256.Size]byte

// entity is what a change-log row names.
type entity struct{ entityType, id string }

type entry struct {
	cred *castellan.Credential
	deps []entity
}

// New returns a cache that has applied the change log up to its current
// revision.
func New(ctx context.Context, opts Options) (*Cache, error) {
	rev, err := opts.ChangeLog.Revision(ctx)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		TokenService: opts.Tokens, changes: opts.ChangeLog, keyUses: opts.KeyUses,
		now: opts.Now, log: opts.Logger, max: opts.MaxEntries,
		entries: map[tokenKey]*entry{}, dependents: map[entity]map[tokenKey]struct{}{},
		used: map[string]time.Time{}, wake: make(chan struct{}, 1), pollWhileDown: opts.PollWhileDown,
	}
	c.applied.Store(rev)
	if c.now == nil {
		c.now = castellan.SystemClock
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	if c.pollWhileDown <= 0 {
		c.pollWhileDown = DefaultPollWhileDown
	}
	return c, nil
}

// Authenticate implements castellan.TokenService: a known token costs a
// hash and a map lookup; an unknown one is read from the store and
// remembered. Either way the credential is checked at now against the
// request, and a key's use is noted for Flush.
func (c *Cache) Authenticate(ctx context.Context, token string) (castellan.Principal, error) {
	if !castellan.ValidTokenSyntax(token) {
		return castellan.Principal{}, castellan.TokenRefused()
	}
	key := tokenKey(sha256.Sum256([]byte(token)))
	c.mu.RLock()
	e, generation := c.entries[key], c.generation
	c.mu.RUnlock()
	var cred *castellan.Credential
	if e != nil {
		c.hits.Add(1)
		cred = e.cred
	} else {
		c.misses.Add(1)
		var err error
		if cred, err = c.TokenService.FindCredential(ctx, token); err != nil {
			return castellan.Principal{}, err
		}
		c.insert(key, cred, generation)
	}
	now := c.now()
	if err := cred.Check(now, castellan.RequestInfoFrom(ctx)); err != nil {
		if !cred.ExpiresAt.IsZero() && !now.Before(cred.ExpiresAt) {
			c.mu.Lock()
			c.remove(key)
			c.mu.Unlock()
		}
		return castellan.Principal{}, err
	}
	if cred.Principal.KeyID != "" {
		c.noteUse(cred.Principal.KeyID, now)
	}
	return cred.Principal, nil
}

// dependencies are the entities whose change may make cred unusable.
func dependencies(cred *castellan.Credential) []entity {
	p := cred.Principal
	var deps []entity
	if p.OrganizationID != "" {
		deps = append(deps, entity{"organization", p.OrganizationID})
	}
	if cred.TokenID != "" {
		deps = append(deps, entity{"api_token", cred.TokenID})
	}
	switch p.Type {
	case castellan.PrincipalUser:
		deps = append(deps, entity{"user", p.ID})
	case castellan.PrincipalServiceAccount:
		deps = append(deps, entity{"service_account", p.ID})
	}
	if p.KeyID != "" {
		deps = append(deps, entity{"access_key", p.KeyID})
	}
	if p.ProjectID != "" {
		deps = append(deps, entity{"project", p.ProjectID})
	}
	return deps
}

// insert remembers cred unless an eviction happened since generation was
// read, making room when the cache is full.
func (c *Cache) insert(key tokenKey, cred *castellan.Credential, generation uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.generation != generation {
		return
	}
	if _, ok := c.entries[key]; ok {
		return
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		c.remove(k)
	}
	e := &entry{cred: cred, deps: dependencies(cred)}
	c.entries[key] = e
	for _, d := range e.deps {
		keys := c.dependents[d]
		if keys == nil {
			keys = map[tokenKey]struct{}{}
			c.dependents[d] = keys
		}
		keys[key] = struct{}{}
	}
}

// remove forgets one entry; c.mu is held.
func (c *Cache) remove(key tokenKey) {
	e, ok := c.entries[key]
	if !ok {
		return
	}
	delete(c.entries, key)
	for _, d := range e.deps {
		delete(c.dependents[d], key)
		if len(c.dependents[d]) == 0 {
			delete(c.dependents, d)
		}
	}
}

// evict applies changes: every entry depending on an entity they name is
// forgotten, and the generation moves on.
func (c *Cache) evict(changes []castellan.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	for _, ch := range changes {
		for key := range c.dependents[entity{ch.EntityType, ch.EntityID}] {
			c.remove(key)
		}
	}
}

// purge forgets everything: what to evict is unknown when the change log
// cannot be read.
func (c *Cache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	c.entries = map[tokenKey]*entry{}
	c.dependents = map[entity]map[tokenKey]struct{}{}
}

// Len returns the number of cached tokens.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Stats is what the cache has done, for metrics.
type Stats struct {
	// Entries is the number of cached tokens.
	Entries int
	// Hits and Misses count the well-formed tokens answered from memory
	// and from the store.
	Hits, Misses uint64
	// Applied is the newest revision of the change log the cache has
	// applied; behind the store's, it is how stale the cache may be.
	Applied int64
	// WatchFailures counts the failures of Watch's commit watcher (the
	// LISTEN connection dropped or could not be opened).
	WatchFailures uint64
}

// Stats returns the cache's figures.
func (c *Cache) Stats() Stats {
	return Stats{Entries: c.Len(), Hits: c.hits.Load(), Misses: c.misses.Load(), Applied: c.applied.Load(),
		WatchFailures: c.watchFailures.Load()}
}

// Committed catches up with the change log to revision, a write this
// process just committed; register it with the store's commit hook. When
// the change log cannot be read, the cache is emptied, so that nothing
// stale is served.
func (c *Cache) Committed(ctx context.Context, revision int64) {
	if err := c.followTo(ctx, revision); err != nil {
		c.log.Error("token cache: follow the change log", "revision", revision, "err", err)
	}
}

// Follow catches up with the newest revision of the change log, for the
// writes of other replicas.
func (c *Cache) Follow(ctx context.Context) error {
	rev, err := c.changes.Revision(ctx)
	if err != nil {
		c.purge()
		return err
	}
	return c.followTo(ctx, rev)
}

func (c *Cache) followTo(ctx context.Context, target int64) error {
	c.followMu.Lock()
	defer c.followMu.Unlock()
	for applied := c.applied.Load(); applied < target; applied = c.applied.Load() {
		changes, err := c.changes.Changes(ctx, applied, followBatch)
		if err != nil {
			c.purge()
			return err
		}
		c.evict(changes)
		c.applied.Store(min(applied+followBatch, target))
	}
	return nil
}

// noteUse remembers that a key was used at now.
func (c *Cache) noteUse(keyID string, now time.Time) {
	c.usedMu.Lock()
	defer c.usedMu.Unlock()
	if now.After(c.used[keyID]) {
		c.used[keyID] = now
	}
}

// Flush writes the key uses noted since the last flush; those it could
// not write are kept for the next.
func (c *Cache) Flush(ctx context.Context) error {
	c.usedMu.Lock()
	used := c.used
	c.used = map[string]time.Time{}
	c.usedMu.Unlock()
	err := c.keyUses.NoteKeysUsed(ctx, used)
	if err != nil {
		for id, at := range used {
			c.noteUse(id, at)
		}
	}
	return err
}

// Run follows the change log every poll (every PollWhileDown while
// Watch's watcher is down) and flushes key uses every flush until ctx
// ends, then flushes once more.
func (c *Cache) Run(ctx context.Context, poll, flush time.Duration) {
	pollTimer, flushTicker := time.NewTimer(poll), time.NewTicker(flush)
	defer pollTimer.Stop()
	defer flushTicker.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := c.Flush(final); err != nil {
				c.log.Error("token cache: flush key uses at shutdown", "err", err)
			}
			return
		case <-c.wake:
		case <-pollTimer.C:
			err := c.Follow(ctx)
			// While the store is out this fails every poll: say so once.
			if err != nil && !failing && ctx.Err() == nil {
				c.log.Error("token cache: follow the change log", "err", err)
			}
			failing = err != nil
		case <-flushTicker.C:
			if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("token cache: flush key uses", "err", err)
			}
			continue
		}
		next := poll
		if c.watcherDown.Load() {
			next = c.pollWhileDown
		}
		pollTimer.Reset(next)
	}
}

// Watch follows the change log whenever watch announces a commit, until
// ctx ends or watch has nothing to announce. When watch fails (the LISTEN
// connection dropped, or a heartbeat found it dead), Watch catches up at
// once, has Run poll every PollWhileDown, and starts watch again after a
// backoff (10 ms, doubling up to 2 s); watch's first announcement, once it
// listens again, catches up with what was committed in between.
func (c *Cache) Watch(ctx context.Context, watch CommitWatcher) {
	backoff := minWatchBackoff
	for {
		err := watch(ctx, func() {
			if c.watcherDown.Swap(false) {
				c.log.Info("token cache: watching commits again")
			}
			backoff = minWatchBackoff
			if err := c.Follow(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("token cache: follow the change log", "err", err)
			}
		})
		if err == nil || ctx.Err() != nil {
			return // nothing to watch (SQLite), or stopping
		}
		c.watchFailures.Add(1)
		if !c.watcherDown.Swap(true) {
			c.log.Warn("token cache: commit watcher down; polling until it is back", "err", err, "poll", c.pollWhileDown)
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		if err := c.Follow(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("token cache: follow the change log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxWatchBackoff)
	}
}
