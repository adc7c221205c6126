// Package apitest serves Castellan's HTTP surfaces (web, api and console
// on one mux, as castellan serve has them) on a throwaway store with two
// bootstrapped organizations, for the tests of the api, console and client
// packages.
package apitest

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/changefeed"
	"github.com/castellan-iam/castellan/compat/cloudru"
	"github.com/castellan-iam/castellan/compat/ncloud"
	"github.com/castellan-iam/castellan/decisionlog"
	"github.com/castellan-iam/castellan/server"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/sso"
	"github.com/castellan-iam/castellan/storetest"
	"github.com/castellan-iam/castellan/web"
)

// Options are the settings of one server; the zero value has the
// defaults of castellan serve.
type Options struct {
	// Clock drives the authorizer and the rate limits; nil means
	// castellan.SystemClock.
	Clock           castellan.Clock
	DevMailbox      castellan.MailRenderer
	TrustedProxies  []netip.Prefix
	SecureCookies   bool
	SignInPerSource web.RateLimit
	BodyReadTimeout time.Duration
	// Revisions is the store's change feed (Env.Feed, or Feed); Env.Serve
	// fills it in.
	Revisions api.Revisions
	// ConsistencyWait bounds the wait for a revision; zero is the default.
	ConsistencyWait time.Duration
	// DecisionLog, when set, records the decisions (server.Config).
	DecisionLog *decisionlog.Log
	// SSO is the console's single sign-on client (server.Config); nil
	// makes one on Clock. PublicURL is the server's own URL unless set.
	SSO       *sso.Client
	PublicURL string
}

// Handler serves services' surfaces as castellan serve does
// (server.Handler), with o's settings and no logs; the compatibility APIs
// are on, at their default prefixes.
func Handler(services castellan.Services, o Options) http.Handler {
	return server.Handler(server.Config{Services: services, Logger: slog.New(slog.DiscardHandler), Version: "test",
		CloudruPrefix:  cloudru.DefaultPrefix,
		TrustedProxies: o.TrustedProxies, BodyReadTimeout: o.BodyReadTimeout, DevMailbox: o.DevMailbox,
		SignInPerSource: o.SignInPerSource, SecureCookies: o.SecureCookies, Clock: o.Clock,
		NcloudPrefix: ncloud.DefaultPrefix, Revisions: o.Revisions, ConsistencyWait: o.ConsistencyWait, DecisionLog: o.DecisionLog,
		SSO: o.SSO, PublicURL: o.PublicURL})
}

// Feed returns a change feed of db, hooked to its commits as castellan
// serve's is, for Options.Revisions.
func Feed(t testing.TB, db *sqlstore.DB) *changefeed.Feed {
	t.Helper()
	feed, err := changefeed.New(context.Background(), changefeed.Options{ChangeLog: db, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	db.OnCommit(feed.Committed)
	return feed
}

// OwnerPassword is the console password of Acme's owner, which confirms
// what asks for the caller's password (an account's deletion).
const OwnerPassword = "Acme-Owner-Pass-2026!"

// Env is a store with an operator token, two bootstrapped organizations
// (Acme and Globex) and a token cache on its change log.
type Env struct {
	DB    *sqlstore.DB
	Clock *storetest.Clock
	Cache *authn.Cache
	// Feed follows the store's change log; the token cache is its
	// subscriber.
	Feed     *changefeed.Feed
	Operator string
	Acme     *castellan.BootstrapResult
	Globex   *castellan.BootstrapResult
}

// New opens a store at url (see sqltest.Backends) and fills it.
func New(t testing.TB, url string) *Env {
	t.Helper()
	clock := storetest.NewClock()
	db := sqltest.MustOpen(t, url, clock.Now)
	ctx := context.Background()
	e := &Env{DB: db, Clock: clock}
	op, err := db.Tokens().CreateOperatorToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.Operator = op.Token
	if e.Acme, err = db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example", OwnerPassword: OwnerPassword}); err != nil {
		t.Fatal(err)
	}
	if e.Globex, err = db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example"}); err != nil {
		t.Fatal(err)
	}
	services := db.Services()
	e.Cache = authn.New(authn.Options{Tokens: services.Tokens, KeyUses: services.AccessKeys, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	e.Feed = Feed(t, db)
	if err := e.Feed.Subscribe(ctx, e.Cache); err != nil {
		t.Fatal(err)
	}
	return e
}

// Services are the store's services with tokens checked by the cache.
func (e *Env) Services() castellan.Services {
	services := e.DB.Services()
	services.Tokens = e.Cache
	return services
}

// Serve starts a server of services with o on e's clock, closed when the
// test ends.
func (e *Env) Serve(t testing.TB, services castellan.Services, o Options) *httptest.Server {
	t.Helper()
	o.Clock, o.Revisions = e.Clock.Now, e.Feed
	// The handler is made once the server has its address, which is
	// where identity providers send browsers back to.
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	o.PublicURL = cmp.Or(o.PublicURL, srv.URL)
	h = Handler(services, o)
	t.Cleanup(srv.Close)
	return srv
}

// Snapshot is what a rejected request must leave as it was: the store's
// revision, each organization's audit log and its projects.
type Snapshot struct {
	// Revision is the store's revision.
	Revision int64
	// Events counts each organization's audit events.
	Events   map[string]int
	projects map[string]int
}

// Snapshot takes e's snapshot.
func (e *Env) Snapshot(t testing.TB) Snapshot {
	t.Helper()
	ctx := context.Background()
	s := Snapshot{Events: map[string]int{}, projects: map[string]int{}}
	var err error
	if s.Revision, err = e.DB.Revision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, org := range []string{e.Acme.OrganizationID, e.Globex.OrganizationID} {
		events, _, err := e.DB.Audit().FindAuditEvents(ctx, org, castellan.AuditFilter{PageSize: castellan.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		projects, _, err := e.DB.Projects().FindProjects(ctx, org, castellan.ProjectFilter{PageSize: castellan.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		s.Events[org], s.projects[org] = len(events), len(projects)
	}
	return s
}

// Equal reports whether nothing changed between s and o.
func (s Snapshot) Equal(o Snapshot) bool {
	if s.Revision != o.Revision || len(s.Events) != len(o.Events) {
		return false
	}
	for k := range s.Events {
		if s.Events[k] != o.Events[k] || s.projects[k] != o.projects[k] {
			return false
		}
	}
	return true
}
