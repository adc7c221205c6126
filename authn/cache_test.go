package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/storetest"
)

// store is a fake token store: credentials by token and the number of
// reads.
type store struct {
	castellan.TokenService // nil: the cache calls FindCredential only

	mu    sync.Mutex
	creds map[string]*castellan.Credential
	reads int
	// block, when set, holds FindCredential after it has read until the
	// channel is closed; reading is closed when the read is done.
	block, reading chan struct{}
}

func newStore() *store { return &store{creds: map[string]*castellan.Credential{}} }

func (s *store) FindCredential(_ context.Context, token string) (*castellan.Credential, error) {
	s.mu.Lock()
	s.reads++
	c, ok := s.creds[token]
	block, reading := s.block, s.reading
	s.block = nil
	s.mu.Unlock()
	if block != nil {
		close(reading)
		<-block
	}
	if !ok {
		return nil, castellan.TokenRefused()
	}
	return c, nil
}

// apply gives the cache, as the change feed would, a change of each
// entity, named "type/id".
func apply(t *testing.T, c *authn.Cache, entities ...string) {
	t.Helper()
	var changes []castellan.Change
	for i, e := range entities {
		entityType, id, _ := strings.Cut(e, "/")
		changes = append(changes, castellan.Change{Revision: int64(i + 1), EntityType: entityType, EntityID: id, Operation: "update"})
	}
	if err := c.Apply(context.Background(), changes); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

func (s *store) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// uses records NoteKeysUsed.
type uses struct {
	mu   sync.Mutex
	got  map[string]time.Time
	fail bool
}

func (u *uses) NoteKeysUsed(_ context.Context, used map[string]time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail {
		return errors.New("store unavailable")
	}
	for k, v := range used {
		u.got[k] = v
	}
	return nil
}

func newCache(t *testing.T, s *store, max int) (*authn.Cache, *storetest.Clock, *uses) {
	t.Helper()
	clock := storetest.NewClock()
	u := &uses{got: map[string]time.Time{}}
	c := authn.New(authn.Options{Tokens: s, KeyUses: u, Now: clock.Now, Logger: slog.New(slog.DiscardHandler), MaxEntries: max})
	return c, clock, u
}

// token returns a syntactically valid token named by n.
func token(n string) string { return castellan.TokenPrefix + n + strings.Repeat("A", 43-len(n)) }

func keyCredential() *castellan.Credential {
	return &castellan.Credential{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: "u1", OrganizationID: "o1",
		KeyID: "k1", ProjectID: "p1"}}
}

func mustAuthenticate(t *testing.T, c *authn.Cache, tok string) castellan.Principal {
	t.Helper()
	p, err := c.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return p
}

func TestCacheHit(t *testing.T) {
	s := newStore()
	s.creds[token("a")] = keyCredential()
	c, _, _ := newCache(t, s, 0)
	for range 3 {
		if p := mustAuthenticate(t, c, token("a")); p != keyCredential().Principal {
			t.Fatalf("got %+v", p)
		}
	}
	if got := s.readCount(); got != 1 {
		t.Fatalf("got %d store reads, want 1", got)
	}
	if _, err := c.Authenticate(context.Background(), "cst_short"); castellan.ErrorCode(err) != castellan.CodeUnauthenticated || s.readCount() != 1 {
		t.Fatalf("malformed token: got %v after %d reads", err, s.readCount())
	}
}

// TestCacheEvictsByEntity: a change naming any entity a token depends on
// sends the next request to the store; a change of anything else does not.
func TestCacheEvictsByEntity(t *testing.T) {
	for _, tc := range []struct {
		entityType, id string
		evicts         bool
	}{
		{"user", "u1", true}, {"access_key", "k1", true}, {"project", "p1", true}, {"organization", "o1", true},
		{"user", "u2", false}, {"access_key", "k2", false}, {"project", "p2", false}, {"organization", "o2", false},
		{"group", "u1", false}, {"grant", "k1", false},
	} {
		t.Run(tc.entityType+"/"+tc.id, func(t *testing.T) {
			s := newStore()
			s.creds[token("a")] = keyCredential()
			c, _, _ := newCache(t, s, 0)
			mustAuthenticate(t, c, token("a"))
			apply(t, c, tc.entityType+"/"+tc.id)
			mustAuthenticate(t, c, token("a"))
			want := 1
			if tc.evicts {
				want = 2
			}
			if got := s.readCount(); got != want {
				t.Fatalf("got %d store reads, want %d", got, want)
			}
		})
	}
	t.Run("TokenAndServiceAccount", func(t *testing.T) {
		s := newStore()
		s.creds[token("t")] = &castellan.Credential{TokenID: "t1", Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: "u1", OrganizationID: "o1"}}
		s.creds[token("s")] = &castellan.Credential{Principal: castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: "sa1", OrganizationID: "o1", KeyID: "k9", ProjectID: "p1"}}
		c, _, _ := newCache(t, s, 0)
		mustAuthenticate(t, c, token("t"))
		mustAuthenticate(t, c, token("s"))
		apply(t, c, "api_token/t1", "service_account/sa1")
		if c.Len() != 0 {
			t.Fatalf("got %d entries, want 0", c.Len())
		}
	})
}

// TestCacheReadRacingAChange: a miss that read the store before a change
// was applied must not insert what it read after, or the stale credential
// would outlive the change.
func TestCacheReadRacingAChange(t *testing.T) {
	s := newStore()
	s.creds[token("a")] = keyCredential()
	c, _, _ := newCache(t, s, 0)
	s.block, s.reading = make(chan struct{}), make(chan struct{})
	release, reading := s.block, s.reading
	done := make(chan error)
	go func() {
		_, err := c.Authenticate(context.Background(), token("a"))
		done <- err
	}()
	<-reading // the store has answered with the old state
	s.mu.Lock()
	delete(s.creds, token("a")) // the key is disabled …
	s.mu.Unlock()
	apply(t, c, "access_key/k1") // … and the change applied
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the racing request: %v", err)
	}
	if c.Len() != 0 {
		t.Fatal("the racing read was cached")
	}
	if _, err := c.Authenticate(context.Background(), token("a")); castellan.ErrorCode(err) != castellan.CodeUnauthenticated {
		t.Fatalf("next request: got %v, want auth.unauthenticated", err)
	}
}

func TestCacheBounded(t *testing.T) {
	s := newStore()
	for _, n := range []string{"a", "b", "c", "d"} {
		s.creds[token(n)] = &castellan.Credential{TokenID: n, Principal: castellan.Principal{Type: castellan.PrincipalOperator, ID: n}}
	}
	c, _, _ := newCache(t, s, 2)
	for _, n := range []string{"a", "b", "c", "d"} {
		mustAuthenticate(t, c, token(n))
		if c.Len() > 2 {
			t.Fatalf("got %d entries, at most 2 allowed", c.Len())
		}
	}
	// Every token still works; the evicted ones are read again.
	for _, n := range []string{"a", "b", "c", "d"} {
		mustAuthenticate(t, c, token(n))
	}
}

func TestCacheExpiryAndSourcesCheckedAtEachUse(t *testing.T) {
	s := newStore()
	c, clock, _ := newCache(t, s, 0)
	cred := keyCredential()
	cred.ExpiresAt = clock.Now().Add(time.Minute)
	cred.AllowSources = []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "203.0.113.0/24"}}
	s.creds[token("a")] = cred
	inside := castellan.WithRequestInfo(context.Background(), castellan.RequestInfo{SourceIP: "203.0.113.5"})
	outside := castellan.WithRequestInfo(context.Background(), castellan.RequestInfo{SourceIP: "192.0.2.5"})
	if _, err := c.Authenticate(inside, token("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(outside, token("a")); castellan.ErrorCode(err) != castellan.CodeSourceNotAllowed {
		t.Fatalf("from outside: got %v", err)
	}
	clock.Advance(time.Minute)
	if _, err := c.Authenticate(inside, token("a")); castellan.ErrorCode(err) != castellan.CodeUnauthenticated {
		t.Fatalf("expired: got %v", err)
	}
	if c.Len() != 0 || s.readCount() != 1 {
		t.Fatalf("got %d entries after %d reads, want the expired one gone after 1", c.Len(), s.readCount())
	}
}

// TestCacheReloadEmptiesIt: when the change feed cannot tell what
// changed, nothing cached may be served; the next request reads the store
// again and is cached anew.
func TestCacheReloadEmptiesIt(t *testing.T) {
	s := newStore()
	s.creds[token("a")] = keyCredential()
	c, _, _ := newCache(t, s, 0)
	mustAuthenticate(t, c, token("a"))
	if err := c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("got %d entries, want 0", c.Len())
	}
	mustAuthenticate(t, c, token("a"))
	if c.Len() != 1 || s.readCount() != 2 {
		t.Fatalf("got %d entries after %d reads, want 1 after 2", c.Len(), s.readCount())
	}
}

func TestKeyUsesFlushed(t *testing.T) {
	s := newStore()
	s.creds[token("a")] = keyCredential()
	s.creds[token("b")] = &castellan.Credential{TokenID: "t", Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: "u2", OrganizationID: "o1"}}
	c, clock, u := newCache(t, s, 0)
	mustAuthenticate(t, c, token("a"))
	clock.Advance(time.Minute)
	mustAuthenticate(t, c, token("a"))
	mustAuthenticate(t, c, token("b"))
	u.fail = true
	if err := c.Flush(context.Background()); err == nil {
		t.Fatal("got no error")
	}
	u.fail = false
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(u.got) != 1 || !u.got["k1"].Equal(clock.Now()) {
		t.Fatalf("got %v, want k1 at %v", u.got, clock.Now())
	}
}
