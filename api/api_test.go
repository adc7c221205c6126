package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/radix"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// env is one server on a fresh store with two bootstrapped organizations
// and an operator token (apitest.Env, under the names these tests use).
type env struct {
	t        testing.TB
	store    *apitest.Env
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
	validator     *sharedValidator
}

// sharedValidator checks responses against one OpenAPI document. Building
// one takes seconds under the race detector, and the package's servers
// serve only a few documents, so envs share them by the document's hash.
// Validation is serialized: the validator is not documented as safe for
// concurrent use.
type sharedValidator struct {
	once sync.Once
	err  error
	mu   sync.Mutex
	v    validator.Validator
}

// validators maps the SHA-256 of a document to its *sharedValidator.
var validators sync.Map

// validatorFor returns the shared validator of spec, built once (its err
// says why it could not be).
func validatorFor(spec []byte) *sharedValidator {
	sum := sha256.Sum256(spec)
	got, _ := validators.LoadOrStore(string(sum[:]), &sharedValidator{})
	sv := got.(*sharedValidator)
	sv.once.Do(func() {
		doc, err := libopenapi.NewDocument(spec)
		if err != nil {
			sv.err = fmt.Errorf("parse OpenAPI: %w", err)
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			sv.err = fmt.Errorf("OpenAPI model: %w", err)
			return
		}
		sv.v = validator.NewValidatorFromV3Model(&model.Model, config.WithPathTree(customMethodLookup{radix.BuildPathTree(&model.Model)}))
	})
	return sv
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
	s := apitest.New(t, url)
	e := &env{t: t, store: s, db: s.DB, clock: s.Clock, cache: s.Cache, operator: s.Operator, acme: s.Acme, globex: s.Globex}
	e.srv = e.serve(t, e.cache, nil)
	return e
}

// serve starts a server on e's store that checks tokens with tokens
// (e.cache, or the store's own to measure without the cache); trusted are
// its trusted proxies.
func (e *env) serve(t testing.TB, tokens castellan.TokenService, trusted []netip.Prefix) *httptest.Server {
	t.Helper()
	services := e.db.Services()
	services.Tokens = tokens
	if e.editServices != nil {
		e.editServices(&services)
	}
	return e.store.Serve(t, services, apitest.Options{DevMailbox: devMailbox(t), TrustedProxies: trusted})
}

// consoleUser registers an active user of org with apitest.ConsolePassword.
func (e *env) consoleUser(t *testing.T, orgID, login string, edit func(*castellan.UserRegistration)) *castellan.User {
	return e.store.ConsoleUser(t, orgID, login, edit)
}

// signedIn is a console browser whose user completed its sign-in.
func (e *env) signedIn(t *testing.T, u *castellan.User) *apitest.Browser {
	return apitest.SignedIn(t, e.srv, u)
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
	// unavailable expects a 503 answer: any other 5xx fails the test.
	unavailable bool
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
	if resp.status >= 500 && !(req.unavailable && resp.status == http.StatusServiceUnavailable) {
		t.Fatalf("%s %s: got %d: %s", req.method, req.path, resp.status, raw)
	}
	e.checkDocumented(t, hreq, hresp, resp)
	return resp
}

// checkDocumented validates a response against the OpenAPI document, for
// every route the document has (an unknown path's 404 has no route).
func (e *env) checkDocumented(t *testing.T, hreq *http.Request, hresp *http.Response, resp *response) {
	t.Helper()
	// An NDJSON stream (the import's) is many JSON documents: the
	// validator reads one.
	if resp.status == http.StatusNotFound && strings.Contains(string(resp.body), castellan.CodeNotFound) ||
		resp.status == http.StatusMethodNotAllowed || hreq.URL.Path == "/metrics" || resp.header.Get("Content-Type") == "application/x-ndjson" {
		return
	}
	e.validatorOnce.Do(func() { e.validator = validatorFor(fetchOpenAPI(t, e)) })
	if e.validator.err != nil {
		t.Fatal(e.validator.err)
	}
	hresp.Body = io.NopCloser(bytes.NewReader(resp.body))
	e.validator.mu.Lock()
	ok, errs := e.validator.v.ValidateHttpResponse(hreq, hresp)
	e.validator.mu.Unlock()
	if !ok {
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

// customMethodLookup is the validator's radix tree, except for a path
// whose last segment names a custom method ("…/accounts/<id>:move"): the
// tree would take it for a request to "…/accounts/{account}", so the
// validator's regular expressions match it instead.
type customMethodLookup struct{ tree *radix.PathTree }

func (l customMethodLookup) Lookup(urlPath string) (*v3.PathItem, string, bool) {
	if strings.Contains(urlPath[strings.LastIndex(urlPath, "/")+1:], ":") {
		return nil, "", false
	}
	return l.tree.Lookup(urlPath)
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

// refused sends req, which must fail with status and code and leave the
// store as it was, and returns its problem.
func (e *env) refused(t *testing.T, req request, status int, code string) api.Problem {
	t.Helper()
	before := e.state(t)
	resp := e.do(t, req)
	wantStatus(t, resp, status)
	p := resp.problem(t)
	if p.Code != code {
		t.Fatalf("%s %s: got code %s, want %s: %s", req.method, req.path, p.Code, code, resp.body)
	}
	if !e.state(t).equal(before) {
		t.Fatalf("%s %s: a refused request changed the store", req.method, req.path)
	}
	return p
}

// state is what a rejected request must leave as it was.
type state struct {
	apitest.Snapshot
	revision int64
}

func (e *env) state(t *testing.T) state {
	s := e.store.Snapshot(t)
	return state{s, s.Revision}
}

func (s state) equal(o state) bool { return s.Snapshot.Equal(o.Snapshot) }
