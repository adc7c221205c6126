// Package authn checks API bearer tokens without a database round trip on
// the hot path: Cache sits in front of the store's castellan.TokenService
// and keeps, per token, the credential the store last returned for it.
//
// The cache lives in a package of its own that sees the store through
// castellan interfaces only, not inside sqlstore: it would sit the same
// way in front of any other store. It is a subscriber of the process's
// change feed (package changefeed, wired in cmd/castellan), which gives
// it, in revision order, the changes of this process's writes before
// they return and those of other processes as they are announced or
// polled.
//
// A change (Apply) evicts the entries that depend on the entity it names:
// the token itself (api_token), its user or service account, its access
// key and the key's project, or its whole organization. The store records a
// change-log row naming one of them for everything that can make a token
// unusable (see sqlstore's change type). Time-dependent and
// request-dependent rules (expiry, API allow sources) are not cached
// decisions: Credential.Check runs on every use. When the feed cannot
// tell what changed, Reload empties the cache.
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
	// KeyUses receives the key uses Flush writes out.
	KeyUses KeyUseRecorder
	// Now is the clock expiry is checked against; nil means
	// castellan.SystemClock.
	Now    castellan.Clock
	Logger *slog.Logger
	// MaxEntries bounds the number of cached tokens; when full, an
	// arbitrary entry makes room. Zero means DefaultMaxEntries.
	MaxEntries int
}

// Cache is a castellan.TokenService whose Authenticate answers known
// tokens from memory. It is safe for concurrent use.
type Cache struct {
	castellan.TokenService
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

	usedMu sync.Mutex
	used   map[string]time.Time

	hits, misses atomic.Uint64
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

// New returns an empty cache. Subscribe it to the change feed before it
// answers a request: until then, nothing evicts what changed.
func New(opts Options) *Cache {
	c := &Cache{
		TokenService: opts.Tokens, keyUses: opts.KeyUses,
		now: opts.Now, log: opts.Logger, max: opts.MaxEntries,
		entries: map[tokenKey]*entry{}, dependents: map[entity]map[tokenKey]struct{}{},
		used: map[string]time.Time{},
	}
	if c.now == nil {
		c.now = castellan.SystemClock
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	return c
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

// Apply implements changefeed.Subscriber: every entry depending on an
// entity the changes name is forgotten, and the generation moves on. It
// never fails, and evicting again what is gone is harmless.
func (c *Cache) Apply(_ context.Context, changes []castellan.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	for _, ch := range changes {
		for key := range c.dependents[entity{ch.EntityType, ch.EntityID}] {
			c.remove(key)
		}
	}
	return nil
}

// Reload implements changefeed.Subscriber: the cache forgets everything,
// since what to evict is unknown, and fills again from the store on the
// following requests. It never fails and reads nothing.
func (c *Cache) Reload(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	c.entries = map[tokenKey]*entry{}
	c.dependents = map[entity]map[tokenKey]struct{}{}
	return nil
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
}

// Stats returns the cache's figures.
func (c *Cache) Stats() Stats {
	return Stats{Entries: c.Len(), Hits: c.hits.Load(), Misses: c.misses.Load()}
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

// Run flushes key uses every flush until ctx ends, then once more.
func (c *Cache) Run(ctx context.Context, flush time.Duration) {
	ticker := time.NewTicker(flush)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := c.Flush(final); err != nil {
				c.log.Error("token cache: flush key uses at shutdown", "err", err)
			}
			return
		case <-ticker.C:
			if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("token cache: flush key uses", "err", err)
			}
		}
	}
}
