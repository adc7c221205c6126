package cloudru_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/compat/cloudru"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var system = context.Background()

// env is a served store with Acme and Globex.
type env struct {
	*apitest.Env
	srv *httptest.Server
}

func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			store := apitest.New(t, b.URL(t))
			fn(t, &env{Env: store, srv: store.Serve(t, store.Services(), apitest.Options{})})
		})
	}
}

// response is an answer with its body read.
type response struct {
	status      int
	contentType string
	body        string
}

// do sends a request for path (below the adapter's prefix) with a JSON
// body, unless body is empty, and a bearer token, unless token is empty.
func (e *env) do(t *testing.T, method, path, token, body string) response {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+cloudru.DefaultPrefix+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(raw)}
}

func (e *env) post(t *testing.T, path, token, body string) response {
	t.Helper()
	return e.do(t, http.MethodPost, path, token, body)
}

func (e *env) usersPath(org string) string { return "/api/v1/customers/" + org + "/users" }

// golden compares r, with the values of ids replaced by their
// placeholders, with testdata/<name>.golden.
func golden(t *testing.T, name string, r response, ids map[string]string) {
	t.Helper()
	body := r.body
	for id, placeholder := range ids {
		body = strings.ReplaceAll(body, id, placeholder)
	}
	got := "HTTP " + strconv.Itoa(r.status) + " " + http.StatusText(r.status) + "\nContent-Type: " + r.contentType + "\n\n" + body + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
	}
}

// wantError fails unless r is the gateway's error body with status, code
// and message (any message when it is empty).
func wantError(t *testing.T, r response, status, code int, message string) {
	t.Helper()
	var body struct {
		Code    *int
		Message string
		Details []any
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Code == nil || body.Details == nil {
		t.Fatalf("got %d %s: not an error body (%v)", r.status, r.body, err)
	}
	if r.status != status || *body.Code != code || (message != "" && body.Message != message) || len(body.Details) != 0 {
		t.Fatalf("got %d %s, want %d with code %d and message %q", r.status, r.body, status, code, message)
	}
	if r.contentType != "application/json" {
		t.Fatalf("Content-Type: got %q, want application/json", r.contentType)
	}
}

// unchanged fails when the store changed since before.
func (e *env) unchanged(t *testing.T, before apitest.Snapshot) {
	t.Helper()
	if after := e.Snapshot(t); !before.Equal(after) {
		t.Fatalf("a refused request changed the store: %+v, then %+v", before, after)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mailTo returns the newest mail to an address.
func (e *env) mailTo(t *testing.T, org, to string) *castellan.Mail {
	t.Helper()
	mails, _, err := e.DB.Services().Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &org, To: &to})
	if err != nil || len(mails) == 0 {
		t.Fatalf("no mail to %s: %v", to, err)
	}
	return mails[0]
}

// userToken registers a user of org holding role on scope (none when
// role is empty) and returns its token.
func (e *env) userToken(t *testing.T, org, role, scope string) (string, string) {
	t.Helper()
	login := "u" + nextName()
	u, err := e.DB.Services().Users.CreateUser(system, org, castellan.UserCreate{Email: login + "@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		if _, _, err := e.DB.Services().Grants.CreateGrants(system, org, []castellan.GrantCreate{{
			RoleID: role, Scope: scope, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}}}); err != nil {
			t.Fatal(err)
		}
	}
	token, err := e.DB.Services().Tokens.CreateUserToken(system, org, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return token, u.ID
}

// unique numbers the names the tests make.
var unique atomic.Int64

func nextName() string { return strconv.FormatInt(unique.Add(1), 10) }

func newProject(t *testing.T, e *env, org string) string {
	t.Helper()
	p, err := e.DB.Services().Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "p" + nextName()})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// jsonBody marshals v.
func jsonBody(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// decode reads the body of a 200 answer into v.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if r.status != http.StatusOK || r.contentType != "application/json" {
		t.Fatalf("got %d %s %s, want 200 application/json", r.status, r.contentType, r.body)
	}
	decodeString(t, r.body, v)
}

func decodeString(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}

// compact is the JSON document s without its insignificant white space.
func compact(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
