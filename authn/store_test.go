package authn_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// keyToken opens a store of the backend, creates a key for a bootstrapped
// owner, exchanges it and returns the store, a cache in front of it
// hooked to its commits, and the key's token.
func keyToken(tb testing.TB, backend sqltest.Backend) (*sqlstore.DB, *authn.Cache, string) {
	tb.Helper()
	ctx := context.Background()
	clock := storetest.NewClock()
	db := sqltest.MustOpen(tb, backend.URL(tb), clock.Now)
	org, err := db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		tb.Fatal(err)
	}
	project, err := db.Projects().CreateProject(ctx, org.OrganizationID, castellan.ProjectCreate{Name: "web"})
	if err != nil {
		tb.Fatal(err)
	}
	key, err := db.AccessKeys().CreateAccessKey(ctx, org.OrganizationID, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: org.OwnerUserID}, ProjectID: project.ID, Name: "ci"})
	if err != nil {
		tb.Fatal(err)
	}
	token, err := db.AccessKeys().ExchangeAccessKey(ctx, key.ID, key.Secret)
	if err != nil {
		tb.Fatal(err)
	}
	services := db.Services()
	cache, err := authn.New(ctx, authn.Options{Tokens: services.Tokens, ChangeLog: db, KeyUses: services.AccessKeys, Now: clock.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	db.OnCommit(cache.Committed)
	return db, cache, token.Token
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
// replica, which never polls here, evicts a revoked key's token once the
// write's notification arrives, well before any poll would have run.
func TestReplicaLearnsByNotification(t *testing.T) {
	url := sqltest.PostgresURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := storetest.NewClock()
	primary := sqltest.MustOpen(t, url, clock.Now)
	org := storetest.Must(primary.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	project := storetest.Must(primary.Projects().CreateProject(ctx, org.OrganizationID, castellan.ProjectCreate{Name: "web"}))(t)
	key := storetest.Must(primary.AccessKeys().CreateAccessKey(ctx, org.OrganizationID, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: org.OwnerUserID}, ProjectID: project.ID, Name: "ci"}))(t)
	token := storetest.Must(primary.AccessKeys().ExchangeAccessKey(ctx, key.ID, key.Secret))(t)

	replica := sqltest.MustOpen(t, url, clock.Now)
	services := replica.Services()
	cache := storetest.Must(authn.New(ctx, authn.Options{Tokens: services.Tokens, ChangeLog: replica, KeyUses: services.AccessKeys,
		Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}))(t)
	if _, err := cache.Authenticate(ctx, token.Token); err != nil {
		t.Fatal(err)
	}
	followed := make(chan struct{}, 1)
	watched := make(chan error, 1)
	go func() {
		watched <- replica.WatchCommits(ctx, func() {
			if err := cache.Follow(ctx); err != nil && ctx.Err() == nil {
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
	k := storetest.Must(primary.AccessKeys().UpdateAccessKey(ctx, org.OrganizationID, key.ID, castellan.AccessKeyUpdate{Status: &disabled}))(t)
	for cache.Stats().Applied < k.Revision {
		select {
		case <-followed:
		case err := <-watched:
			t.Fatalf("the watch ended: %v", err)
		case <-time.After(30 * time.Second): // a guard against hanging, not a measure
			t.Fatal("no notification of the write reached the replica")
		}
	}
	if _, err := cache.Authenticate(ctx, token.Token); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
		t.Fatalf("after the notification: got %v, want the token refused", err)
	}
	cancel()
	if err := <-watched; err == nil {
		t.Fatal("the watch ended without its context's error")
	}
}
