package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestConsistencyTokens: a write answers with its revision; a request
// that names a revision this server has applied is served, one it has not
// gets 503 revision.not_applied once the bounded wait ends, and a
// malformed token is refused, naming the header and the rule.
func TestConsistencyTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		org := e.acme.OrganizationID
		projects := "/v1/organizations/" + org + "/projects"

		created := e.do(t, request{method: "POST", path: projects, token: e.acme.Token, body: map[string]any{"name": "web"}, header: withKey("consistency-1")})
		wantStatus(t, created, http.StatusCreated)
		token := created.header.Get(castellan.ConsistencyTokenHeader)
		revision, err := e.db.Services().ChangeLog.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if token != strconv.FormatInt(revision, 10) {
			t.Fatalf("create: Consistency-Token %q, want the write's revision %d", token, revision)
		}
		replayed := e.do(t, request{method: "POST", path: projects, token: e.acme.Token, body: map[string]any{"name": "web"}, header: withKey("consistency-1")})
		if replayed.header.Get("Idempotent-Replayed") != "true" || replayed.header.Get(castellan.ConsistencyTokenHeader) != token {
			t.Fatalf("replay: Consistency-Token %q (replayed %q), want the first answer's %q",
				replayed.header.Get(castellan.ConsistencyTokenHeader), replayed.header.Get("Idempotent-Replayed"), token)
		}

		// Reads and refused writes change nothing: no token.
		read := e.do(t, request{method: "GET", path: projects, token: e.acme.Token, header: map[string]string{castellan.ConsistencyTokenHeader: token}})
		wantStatus(t, read, http.StatusOK)
		if got := read.header.Get(castellan.ConsistencyTokenHeader); got != "" {
			t.Fatalf("a read answered Consistency-Token %q", got)
		}
		if resp := e.do(t, request{method: "POST", path: projects, token: e.acme.Token, body: map[string]any{"name": ""}}); resp.status != http.StatusBadRequest || resp.header.Get(castellan.ConsistencyTokenHeader) != "" {
			t.Fatalf("a refused write answered Consistency-Token %q", resp.header.Get(castellan.ConsistencyTokenHeader))
		}

		for _, malformed := range []string{"abc", "0", "-3", "007", "1.5", "99999999999999999999"} {
			p := e.refused(t, request{method: "GET", path: projects, token: e.acme.Token, header: map[string]string{castellan.ConsistencyTokenHeader: malformed}},
				http.StatusBadRequest, castellan.CodeInvalidConsistencyToken)
			if len(p.Errors) != 1 || p.Errors[0].Field != "header."+castellan.ConsistencyTokenHeader || p.Errors[0].Rule != "format" {
				t.Fatalf("token %q: got errors %+v, want header.Consistency-Token format", malformed, p.Errors)
			}
		}
		// Anonymous requests never wait, nor are refused for a token.
		wantStatus(t, e.do(t, request{method: "GET", path: "/healthz", header: map[string]string{castellan.ConsistencyTokenHeader: "abc"}}), http.StatusOK)

		// A decision reflects the write, and says so.
		check := map[string]any{"principal": map[string]any{"type": "user", "id": e.acme.OwnerUserID, "organizationId": org},
			"action": "iam:ListUsers", "resource": "organization/" + org}
		var d struct {
			Allowed  bool
			Revision int64
		}
		decided := e.do(t, request{method: "POST", path: "/v1/authorize", token: e.operator, body: check})
		wantStatus(t, decided, http.StatusOK)
		decided.decode(t, &d)
		if !d.Allowed || d.Revision < revision {
			t.Fatalf("authorize after the write: %s, want allowed at revision %d or later", decided.body, revision)
		}
		check["minRevision"] = revision
		wantStatus(t, e.do(t, request{method: "POST", path: "/v1/authorize", token: e.operator, body: check}), http.StatusOK)

		// A revision from the future: the wait is bounded.
		services := e.db.Services()
		services.Tokens = e.cache
		impatient := e.store.Serve(t, services, apitest.Options{ConsistencyWait: 20 * time.Millisecond})
		future := strconv.FormatInt(revision+1000, 10)
		for _, req := range []request{
			{method: "GET", path: projects, header: map[string]string{castellan.ConsistencyTokenHeader: future}},
			{method: "POST", path: "/v1/authorize", body: map[string]any{"principal": check["principal"], "action": "iam:ListUsers",
				"resource": "organization/" + org, "minRevision": revision + 1000}},
			{method: "POST", path: "/v1/authorize:batch", body: map[string]any{"checks": []any{map[string]any{"principal": check["principal"],
				"action": "iam:ListUsers", "resource": "organization/" + org}}, "minRevision": revision + 1000}},
		} {
			req.srv, req.token, req.unavailable = impatient, e.operator, true
			if req.method == "GET" {
				req.token = e.acme.Token
			}
			resp := e.do(t, req)
			wantStatus(t, resp, http.StatusServiceUnavailable)
			if p := resp.problem(t); p.Code != castellan.CodeRevisionNotApplied || resp.header.Get("Retry-After") == "" {
				t.Fatalf("%s %s at a future revision: got %s (Retry-After %q), want revision.not_applied with Retry-After",
					req.method, req.path, resp.body, resp.header.Get("Retry-After"))
			}
		}
	})
}
