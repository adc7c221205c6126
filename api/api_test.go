package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/guard"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// env is one API server on a fresh store with two bootstrapped
// organizations and an operator token.
type env struct {
	t        testing.TB
	db       *sqlstore.DB
	srv      *httptest.Server
	clock    *storetest.Clock
	cache    *authn.Cache
	operator string
	acme     *castellan.BootstrapResult
	globex   *castellan.BootstrapResult
	// editServices, when set, changes the services of the servers serve
	// starts after it is set (a fault to inject).
	editServices func(*castellan.Services)

	validatorOnce sync.Once
	validator     validator.Validator
}

// forEachBackend runs fn against an API on SQLite and on PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, b.URL(t)))
		})
	}
}

func newEnv(t testing.TB, url string) *env {
	t.Helper()
	clock := storetest.NewClock()
	db := sqltest.MustOpen(t, url, clock.Now)
	ctx := context.Background()
	e := &env{t: t, db: db, clock: clock}
	op, err := db.Tokens().CreateOperatorToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.operator = op.Token
	if e.acme, err = db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}); err != nil {
		t.Fatal(err)
	}
	if e.globex, err = db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example"}); err != nil {
		t.Fatal(err)
	}
	services := db.Services()
	if e.cache, err = authn.New(ctx, authn.Options{Tokens: services.Tokens, ChangeLog: services.ChangeLog, KeyUses: services.AccessKeys,
		Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	db.OnCommit(e.cache.Committed)
	e.srv = e.serve(t, e.cache, nil)
	return e
}

// serve starts an API server on e's store that checks tokens with tokens
// (e.cache, or the store's own to measure without the cache); trusted are
// its trusted proxies.
func (e *env) serve(t testing.TB, tokens castellan.TokenService, trusted []netip.Prefix) *httptest.Server {
	t.Helper()
	services := e.db.Services()
	services.Tokens = tokens
	if e.editServices != nil {
		e.editServices(&services)
	}
	authorizer := &authz.Authorizer{
		Grants: services.Grants, Groups: services.Groups, Roles: services.Roles, Projects: services.Projects,
		ServiceAccounts: services.ServiceAccounts, Catalog: services.Catalog, Now: e.clock.Now,
	}
	srv := httptest.NewServer(api.New(api.Config{Services: guard.New(services, authorizer), Decisions: guard.NewDecisions(authorizer), Authorizer: authorizer, Version: "test", Logger: slog.New(slog.DiscardHandler),
		DevMailbox: devMailbox(t), TrustedProxies: trusted, Clock: e.clock.Now}))
	t.Cleanup(srv.Close)
	return srv
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v, failing the test on error.
func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes an error response and checks its shape.
func (r *response) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("got Content-Type %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p api.Problem
	r.decode(t, &p)
	if p.Status != r.status || p.Code == "" || p.Title == "" || p.Detail == "" || p.Type != "urn:castellan:problem:"+p.Code || p.RequestID != r.header.Get("X-Request-Id") {
		t.Fatalf("malformed problem for status %d: %s", r.status, r.body)
	}
	return p
}

// request is one call to make.
type request struct {
	method, path, token string
	body                any // string, []byte, or a value to marshal as JSON
	header              map[string]string
	// srv, when set, is the server to send to instead of e's.
	srv *httptest.Server
}

// do sends req and checks the response against the OpenAPI document of the
// server, so every answer the tests see is one the document describes.
func (e *env) do(t *testing.T, req request) *response {
	t.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	srv := e.srv
	if req.srv != nil {
		srv = req.srv
	}
	hreq, err := http.NewRequest(req.method, srv.URL+req.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		hreq.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		hreq.Header.Set(k, v)
	}
	hresp, err := srv.Client().Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(hresp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp := &response{status: hresp.StatusCode, header: hresp.Header, body: raw}
	if resp.status >= 500 {
		t.Fatalf("%s %s: got %d: %s", req.method, req.path, resp.status, raw)
	}
	e.checkDocumented(t, hreq, hresp, resp)
	return resp
}

// checkDocumented validates a response against the OpenAPI document, for
// every route the document has (an unknown path's 404 has no route).
func (e *env) checkDocumented(t *testing.T, hreq *http.Request, hresp *http.Response, resp *response) {
	t.Helper()
	if resp.status == http.StatusNotFound && strings.Contains(string(resp.body), castellan.CodeNotFound) ||
		resp.status == http.StatusMethodNotAllowed || hreq.URL.Path == "/metrics" {
		return
	}
	e.validatorOnce.Do(func() {
		spec := fetchOpenAPI(t, e)
		doc, err := libopenapi.NewDocument(spec)
		if err != nil {
			t.Fatalf("parse OpenAPI: %v", err)
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			t.Fatalf("OpenAPI validator: %v", errs)
		}
		e.validator = v
	})
	hresp.Body = io.NopCloser(bytes.NewReader(resp.body))
	if ok, errs := e.validator.ValidateHttpResponse(hreq, hresp); !ok {
		var msgs []string
		for _, err := range errs {
			msgs = append(msgs, err.Message+": "+err.Reason)
			for _, se := range err.SchemaValidationErrors {
				msgs = append(msgs, "  "+se.Reason+" at "+se.FieldPath)
			}
		}
		t.Fatalf("%s %s → %d does not match the OpenAPI document:\n%s\nbody: %s", hreq.Method, hreq.URL.Path, resp.status, strings.Join(msgs, "\n"), resp.body)
	}
}

func fetchOpenAPI(t *testing.T, e *env) []byte {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %d %v", resp.StatusCode, err)
	}
	return b
}

// wantStatus fails unless resp has the given status.
func wantStatus(t *testing.T, resp *response, status int) {
	t.Helper()
	if resp.status != status {
		t.Fatalf("got status %d, want %d: %s", resp.status, status, resp.body)
	}
}

// state is what a rejected request must leave as it was: the store's
// revision, each organization's audit log and its projects.
type state struct {
	revision int64
	events   map[string]int
	projects map[string]int
}

func (e *env) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	s := state{events: map[string]int{}, projects: map[string]int{}}
	var err error
	if s.revision, err = e.db.Revision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, org := range []string{e.acme.OrganizationID, e.globex.OrganizationID} {
		events, _, err := e.db.Audit().FindAuditEvents(ctx, org, castellan.AuditFilter{PageSize: castellan.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		projects, _, err := e.db.Projects().FindProjects(ctx, org, castellan.ProjectFilter{PageSize: castellan.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		s.events[org], s.projects[org] = len(events), len(projects)
	}
	return s
}

func (s state) equal(o state) bool {
	if s.revision != o.revision || len(s.events) != len(o.events) {
		return false
	}
	for k := range s.events {
		if s.events[k] != o.events[k] || s.projects[k] != o.projects[k] {
			return false
		}
	}
	return true
}
