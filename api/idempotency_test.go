package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// answerSpy is the store's idempotency service, keeping a copy of every
// answer stored; with failSave it fails to store them, as a server that
// stops between commit and answer would.
type answerSpy struct {
	castellan.IdempotencyService
	failSave bool
	mu       sync.Mutex
	answers  []string
}

func (s *answerSpy) SaveIdempotentAnswer(ctx context.Context, m castellan.IdempotencyMarker, answer string) (bool, error) {
	s.mu.Lock()
	s.answers = append(s.answers, answer)
	s.mu.Unlock()
	if s.failSave {
		return false, errors.New("the server stopped")
	}
	return s.IdempotencyService.SaveIdempotentAnswer(ctx, m, answer)
}

// withKey returns the headers of a request with an Idempotency-Key.
func withKey(key string) map[string]string { return map[string]string{"Idempotency-Key": key} }

// countEvents returns the number of audit events of action in org.
func (e *env) countEvents(t *testing.T, orgID, action string) int {
	t.Helper()
	events, _, err := e.db.Audit().FindAuditEvents(context.Background(), orgID, castellan.AuditFilter{Action: &action, PageSize: castellan.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// TestIdempotentRetry: the same key and body get the first answer (a
// generated password included) without a second write; another body gets
// 422; other callers' keys are theirs; after 24 hours the key is free.
func TestIdempotentRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		spy := &answerSpy{}
		e.editServices = func(s *castellan.Services) { spy.IdempotencyService, s.Idempotency = s.Idempotency, spy }
		srv := e.serve(t, e.cache, nil)
		org := "/v1/organizations/" + e.acme.OrganizationID
		body := registration("gen")
		body["needPasswordGenerate"] = true
		first := e.do(t, request{srv: srv, method: "POST", path: org + "/users", token: e.acme.Token, body: body, header: withKey("key-1")})
		wantStatus(t, first, http.StatusCreated)
		var created struct {
			User              castellan.User
			GeneratedPassword string
		}
		first.decode(t, &created)
		before := e.state(t)

		again := e.do(t, request{srv: srv, method: "POST", path: org + "/users", token: e.acme.Token, body: body, header: withKey("key-1")})
		wantStatus(t, again, http.StatusCreated)
		if string(again.body) != string(first.body) || again.header.Get("Content-Type") != first.header.Get("Content-Type") ||
			again.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("replay: got %s %v, want %s", again.body, again.header, first.body)
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("the replay changed the store: %+v, want %+v", after, before)
		}
		if n := e.countEvents(t, e.acme.OrganizationID, "iam:CreateUser"); n != 1 {
			t.Fatalf("got %d iam:CreateUser events, want 1", n)
		}
		// The store keeps the answer sealed: neither the password nor the
		// user's ID is readable in it.
		if len(spy.answers) != 1 || strings.Contains(spy.answers[0], created.GeneratedPassword) || strings.Contains(spy.answers[0], created.User.ID) {
			t.Fatalf("stored answers: got %q", spy.answers)
		}

		// The same key for another request: 422, nothing written.
		other := registration("other")
		for _, req := range []request{
			{method: "POST", path: org + "/users", body: other},
			{method: "POST", path: org + "/projects", body: map[string]string{"name": "web"}},
		} {
			req.srv, req.token, req.header = srv, e.acme.Token, withKey("key-1")
			resp := e.do(t, req)
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			if p := resp.problem(t); p.Code != castellan.CodeIdempotencyKeyReused || len(p.Errors) != 1 || p.Errors[0].Field != "header.Idempotency-Key" {
				t.Fatalf("got %s", resp.body)
			}
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("a refused request changed the store: %+v, want %+v", after, before)
		}

		// Another organization's owner and the operator have keys of their
		// own: the same key runs their requests.
		resp := e.do(t, request{srv: srv, method: "POST", path: "/v1/organizations/" + e.globex.OrganizationID + "/users", token: e.globex.Token,
			body: body, header: withKey("key-1")})
		wantStatus(t, resp, http.StatusCreated)
		if resp.header.Get("Idempotent-Replayed") != "" || strings.Contains(string(resp.body), created.User.ID) {
			t.Fatalf("another organization got the first answer: %s", resp.body)
		}
		resp = e.do(t, request{srv: srv, method: "POST", path: "/v1/organizations", token: e.operator,
			body: map[string]string{"name": "Initech"}, header: withKey("key-1")})
		wantStatus(t, resp, http.StatusCreated)

		// After 24 hours the key is free again.
		e.clock.Advance(castellan.IdempotencyWindow)
		resp = e.do(t, request{srv: srv, method: "POST", path: org + "/users", token: e.acme.Token, body: other, header: withKey("key-1")})
		wantStatus(t, resp, http.StatusCreated)
		if resp.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("got a replay after 24 hours: %s", resp.body)
		}
	})
}

// TestIdempotencyKeyBadInput: a key that is empty, too long, not
// printable ASCII or given twice is refused before anything runs.
func TestIdempotencyKeyBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		before := e.state(t)
		for _, keys := range [][]string{{""}, {strings.Repeat("k", 256)}, {"clé"}, {"tab\there"}, {"a", "b"}} {
			req, err := http.NewRequest("POST", e.srv.URL+"/v1/organizations/"+e.acme.OrganizationID+"/projects", strings.NewReader(`{"name":"web"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.acme.Token)
			req.Header["Idempotency-Key"] = keys
			hresp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(hresp.Body)
			hresp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			resp := &response{status: hresp.StatusCode, header: hresp.Header, body: raw}
			wantStatus(t, resp, http.StatusBadRequest)
			if p := resp.problem(t); p.Code != castellan.CodeInvalidField || len(p.Errors) != 1 || p.Errors[0].Field != "header.Idempotency-Key" {
				t.Fatalf("keys %q: got %s", keys, raw)
			}
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("a refused request changed the store: %+v, want %+v", after, before)
		}
	})
}

// TestIdempotentParallel sends 25 identical requests with one key at
// once: exactly one writes; the others get its answer, or 409 while it is
// being stored.
func TestIdempotentParallel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const requests = 25
		path := e.srv.URL + "/v1/organizations/" + e.acme.OrganizationID + "/projects"
		answers := make([]*response, requests)
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				req, err := http.NewRequest("POST", path, strings.NewReader(`{"name":"web"}`))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+e.acme.Token)
				req.Header.Set("Idempotency-Key", "parallel")
				hresp, err := e.srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer hresp.Body.Close()
				raw, err := io.ReadAll(hresp.Body)
				if err != nil {
					t.Error(err)
				}
				answers[i] = &response{status: hresp.StatusCode, header: hresp.Header, body: raw}
			})
		}
		wg.Wait()
		var projectIDs []string
		originals := 0
		for _, resp := range answers {
			if resp == nil {
				t.FailNow() // reported above
			}
			switch resp.status {
			case http.StatusCreated:
				var p castellan.Project
				resp.decode(t, &p)
				projectIDs = append(projectIDs, p.ID)
				if resp.header.Get("Idempotent-Replayed") == "" {
					originals++
				}
			case http.StatusConflict:
				if p := resp.problem(t); p.Code != castellan.CodeIdempotencyInProgress && p.Code != castellan.CodeIdempotencyOutcomeCommitted {
					t.Fatalf("got %s, want %s or %s", resp.body, castellan.CodeIdempotencyInProgress, castellan.CodeIdempotencyOutcomeCommitted)
				}
			default:
				t.Fatalf("got %d %s", resp.status, resp.body)
			}
		}
		if originals != 1 {
			t.Fatalf("got %d answers that were not replays, want 1", originals)
		}
		for _, id := range projectIDs {
			if id != projectIDs[0] {
				t.Fatalf("got projects %v, want one", projectIDs)
			}
		}
		projects, _, err := e.db.Projects().FindProjects(context.Background(), e.acme.OrganizationID, castellan.ProjectFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(projects) != 1 || e.countEvents(t, e.acme.OrganizationID, "organizations:CreateProject") != 1 {
			t.Fatalf("got %d projects, want 1 with one audit event", len(projects))
		}
	})
}

// TestIdempotencyOutcomeCommitted: when the server could not store the
// answer of a committed write (it stopped in between), a retry does not
// write again and says at which revision the write committed.
func TestIdempotencyOutcomeCommitted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.editServices = func(s *castellan.Services) {
			s.Idempotency = &answerSpy{IdempotencyService: s.Idempotency, failSave: true}
		}
		srv := e.serve(t, e.cache, nil)
		req := request{srv: srv, method: "POST", path: "/v1/organizations/" + e.acme.OrganizationID + "/projects", token: e.acme.Token,
			body: map[string]string{"name": "web"}, header: withKey("lost")}
		resp := e.do(t, req)
		wantStatus(t, resp, http.StatusCreated)
		var p castellan.Project
		resp.decode(t, &p)
		before := e.state(t)

		for _, to := range []request{req, {method: req.method, path: req.path, token: req.token, body: req.body, header: req.header}} {
			resp = e.do(t, to)
			wantStatus(t, resp, http.StatusConflict)
			problem := resp.problem(t)
			if problem.Code != castellan.CodeIdempotencyOutcomeCommitted || !strings.Contains(problem.Detail, fmt.Sprintf("revision %d", p.Revision)) ||
				resp.header.Get("Retry-After") == "" {
				t.Fatalf("got %s %v", resp.body, resp.header)
			}
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("the retry changed the store: %+v, want %+v", after, before)
		}
	})
}

// TestIdempotencyDocumented: every POST under /v1 declares the
// Idempotency-Key header and its 409 and 422 answers. The compatibility
// APIs have no such header on their wire, and Idempotent leaves them
// alone.
func TestIdempotencyDocumented(t *testing.T) {
	e := newEnv(t, sqltest.SQLiteURL(t))
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string }
			Responses  map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(fetchOpenAPI(t, e), &doc); err != nil {
		t.Fatal(err)
	}
	posts := 0
	for path, ops := range doc.Paths {
		op, ok := ops["post"]
		if !ok || !strings.HasPrefix(path, "/v1/") {
			continue
		}
		posts++
		declared := false
		for _, p := range op.Parameters {
			declared = declared || p.Name == "Idempotency-Key" && p.In == "header"
		}
		if !declared || op.Responses["409"] == nil || op.Responses["422"] == nil {
			t.Errorf("POST %s: Idempotency-Key declared %v, responses %v", path, declared, op.Responses)
		}
	}
	if posts == 0 {
		t.Fatal("no POST operation in the document")
	}
}
