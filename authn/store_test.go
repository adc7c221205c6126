package authn_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/changefeed"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// keyToken opens a store of the backend, creates a key for a bootstrapped
// owner, exchanges it and returns the store, a cache in front of it
// fed by a change feed hooked to its commits, and the key's token.
func keyToken(tb testing.TB, backend sqltest.Backend) (*sqlstore.DB, *authn.Cache, string) {
	tb.Helper()
	clock := storetest.NewClock()
	db := sqltest.MustOpen(tb, backend.URL(tb), clock.Now)
	_, _, token := newKeyToken(tb, db)
	cache, feed := subscribedCache(tb, db, clock, changefeed.Options{})
	db.OnCommit(feed.Committed)
	return db, cache, token
}

// subscribedCache returns a token cache in front of db's tokens and the
// change feed, built with opts on db's change log, it subscribes to.
func subscribedCache(tb testing.TB, db *sqlstore.DB, clock *storetest.Clock, opts changefeed.Options) (*authn.Cache, *changefeed.Feed) {
	tb.Helper()
	ctx := context.Background()
	services := db.Services()
	cache := authn.New(authn.Options{Tokens: services.Tokens, KeyUses: services.AccessKeys, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	opts.ChangeLog, opts.Logger = db, slog.New(slog.DiscardHandler)
	feed := storetest.Must(changefeed.New(ctx, opts))(tb)
	if err := feed.Subscribe(ctx, cache); err != nil {
		tb.Fatal(err)
	}
	return cache, feed
}

// newKeyToken bootstraps an organization in db, creates a key for its
// owner on a new project and exchanges it; it returns the organization,
// the key and the token.
func newKeyToken(tb testing.TB, db *sqlstore.DB) (orgID, keyID, token string) {
	tb.Helper()
	ctx := context.Background()
	org := storetest.Must(db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(tb)
	project := storetest.Must(db.Projects().CreateProject(ctx, org.OrganizationID, castellan.ProjectCreate{Name: "web"}))(tb)
	key := storetest.Must(db.AccessKeys().CreateAccessKey(ctx, org.OrganizationID, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: org.OwnerUserID}, ProjectID: project.ID, Name: "ci"}))(tb)
	exchanged := storetest.Must(db.AccessKeys().ExchangeAccessKey(ctx, key.ID, key.Secret))(tb)
	return org.OrganizationID, key.ID, exchanged.Token
}

// TestCacheHitAsksNoStore proves that a known token costs no query: with
// the store closed, the cached token still authenticates, while a token
// the cache does not know fails on the closed store.
func TestCacheHitAsksNoStore(t *testing.T) {
	for _, backend := range sqltest.Backends() {
		t.Run(backend.Name, func(t *testing.T) {
			db, cache, token := keyToken(t, backend)
			ctx := context.Background()
			first, err := cache.Authenticate(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if first.KeyID == "" || first.ProjectID == "" {
				t.Fatalf("got %+v, want the key and its project", first)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			again, err := cache.Authenticate(ctx, token)
			if err != nil || again != first {
				t.Fatalf("with the store closed: got %+v, %v", again, err)
			}
			_, err = cache.Authenticate(ctx, castellan.TokenPrefix+"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
			if castellan.ErrorKind(err) != castellan.EINTERNAL {
				t.Fatalf("an unknown token with the store closed: got %v, want the store's error", err)
			}
		})
	}
}

// BenchmarkTokenCheck measures one token check of a key's token: from the
// cache (a hit), and from the store alone.
func BenchmarkTokenCheck(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db, cache, token := keyToken(b, backend)
			ctx := castellan.WithRequestInfo(context.Background(), castellan.RequestInfo{SourceIP: "203.0.113.7"})
			for _, s := range []struct {
				name   string
				tokens castellan.TokenService
			}{{"cache", cache}, {"store", db.Tokens()}} {
				b.Run(s.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := s.tokens.Authenticate(ctx, token); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// TestReplicaLearnsByNotification: on PostgreSQL a cache on another
// replica, whose change feed never polls here, evicts a revoked key's token once the
// write's notification arrives, well before any poll would have run.
func TestReplicaLearnsByNotification(t *testing.T) {
	url := sqltest.PostgresURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := storetest.NewClock()
	primary := sqltest.MustOpen(t, url, clock.Now)
	orgID, keyID, token := newKeyToken(t, primary)

	replica := sqltest.MustOpen(t, url, clock.Now)
	cache, feed := subscribedCache(t, replica, clock, changefeed.Options{})
	if _, err := cache.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	followed := make(chan struct{}, 1)
	watched := make(chan error, 1)
	go func() {
		watched <- replica.WatchCommits(ctx, func() {
			if err := feed.Follow(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			select {
			case followed <- struct{}{}:
			default:
			}
		})
	}()
	<-followed // listening

	disabled := castellan.AccessKeyDisabled
	k := storetest.Must(primary.AccessKeys().UpdateAccessKey(ctx, orgID, keyID, castellan.AccessKeyUpdate{Status: &disabled}))(t)
	for feed.Applied() < k.Revision {
		select {
		case <-followed:
		case err := <-watched:
			t.Fatalf("the watch ended: %v", err)
		case <-time.After(30 * time.Second): // a guard against hanging, not a measure
			t.Fatal("no notification of the write reached the replica")
		}
	}
	if _, err := cache.Authenticate(ctx, token); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
		t.Fatalf("after the notification: got %v, want the token refused", err)
	}
	cancel()
	if err := <-watched; err == nil {
		t.Fatal("the watch ended without its context's error")
	}
}

// TestReplicaLearnsAfterListenerKilled: when the LISTEN connection of a
// replica is killed (pg_terminate_backend), a key disabled on another
// replica is still refused by this replica's cache within 100 ms of the
// write: the cache's change feed sees the connection's error at once,
// polls every 50 ms and listens again, catching up from the last applied
// revision.
// Its regular poll is a minute here, so only that path can bring the
// revocation in time.
func TestReplicaLearnsAfterListenerKilled(t *testing.T) {
	url := sqltest.PostgresURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := storetest.NewClock()
	primary := sqltest.MustOpen(t, url, clock.Now)
	orgID, keyID, token := newKeyToken(t, primary)

	// The replica's connections carry a name of their own, so that the
	// test kills its listener and no other test's.
	var b [8]byte
	rand.Read(b[:])
	app := "replica-" + hex.EncodeToString(b[:])
	replica := sqltest.MustOpen(t, url+"&application_name="+app, clock.Now)
	cache, feed := subscribedCache(t, replica, clock, changefeed.Options{Watcher: replica, Poll: time.Minute})
	if _, err := cache.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { feed.Run(ctx) })

	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	listener := app + " listen"
	var pid int
	waitFor(t, "the replica to listen", func() bool {
		err := admin.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'`, listener).Scan(&pid)
		return err == nil
	})
	var killed bool
	if err := admin.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d): %v, %v", pid, killed, err)
	}
	waitFor(t, "the listening backend to end", func() bool {
		var n int
		return admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n) == nil && n == 0
	})

	disabled := castellan.AccessKeyDisabled
	k := storetest.Must(primary.AccessKeys().UpdateAccessKey(ctx, orgID, keyID, castellan.AccessKeyUpdate{Status: &disabled}))(t)
	written := time.Now()
	for feed.Applied() < k.Revision {
		if latency := time.Since(written); latency > 100*time.Millisecond {
			t.Fatalf("the replica had not applied the revocation %v after the write (applied %d, want %d)", latency, feed.Applied(), k.Revision)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("the revocation reached the replica %v after the write", time.Since(written))
	if _, err := cache.Authenticate(ctx, token); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
		t.Fatalf("after the revocation: got %v, want the token refused", err)
	}
	if n := feed.Stats().WatchFailures; n == 0 {
		t.Error("the change feed did not see its listener die")
	}
}

// waitFor polls cond until it holds; the deadline guards against hanging
// and measures nothing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
