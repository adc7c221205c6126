package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestTwoServersOnePostgres: two `castellan serve` processes on one
// PostgreSQL, deciding from their indexes. A grant written through one
// is honoured by the other on the first try when the write's
// Consistency-Token is passed along, and so is its revocation; a token
// the other cannot reach in its bounded wait gets 503
// revision.not_applied.
func TestTwoServersOnePostgres(t *testing.T) {
	url := sqltest.PostgresURL(t)
	org, token := bootstrapAcme(t, url)
	writer := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--authorizer", "index")
	// A long poll: between notifications, only the token makes the
	// reader catch up before it decides.
	reader := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--authorizer", "index",
		"--token-poll-interval", "1h", "--consistency-wait", "5s")

	resp, body := writer.do(t, http.MethodPost, "/v1/organizations/"+org+"/users", token,
		`{"loginId": "ann.lee", "email": "ann@acme.example", "name": "Ann Lee"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user: got %d %s", resp.StatusCode, body)
	}
	var created struct{ User struct{ ID string } }
	if err := json.Unmarshal(body, &created); err != nil || created.User.ID == "" {
		t.Fatalf("create user: %s: %v", body, err)
	}
	check := `{"principal": {"type": "user", "id": "` + created.User.ID + `", "organizationId": "` + org + `"},
		"action": "iam:ListUsers", "resource": "organization/` + org + `"}`
	decide := func(consistencyToken string, want bool) {
		t.Helper()
		resp, body := reader.doWith(t, http.MethodPost, "/v1/authorize", token, check, http.Header{castellan.ConsistencyTokenHeader: {consistencyToken}})
		var d struct {
			Allowed  bool
			Revision int64
		}
		rev, _ := strconv.ParseInt(consistencyToken, 10, 64)
		if err := json.Unmarshal(body, &d); resp.StatusCode != http.StatusOK || err != nil || d.Allowed != want || d.Revision < rev {
			t.Fatalf("authorize on the other server with token %s: got %d %s, want allowed %v at revision %d or later", consistencyToken, resp.StatusCode, body, want, rev)
		}
	}

	for range 5 {
		resp, body = writer.do(t, http.MethodPost, "/v1/organizations/"+org+"/grants:batchCreate", token,
			`{"grants": [{"roleId": "organization.reader", "scope": "organization/`+org+`", "subject": {"type": "user", "id": "`+created.User.ID+`"}}]}`)
		granted := resp.Header.Get(castellan.ConsistencyTokenHeader)
		if resp.StatusCode != http.StatusOK || granted == "" {
			t.Fatalf("grant: got %d (Consistency-Token %q) %s", resp.StatusCode, granted, body)
		}
		decide(granted, true)
		var grants struct{ Grants []struct{ ID string } }
		if err := json.Unmarshal(body, &grants); err != nil || len(grants.Grants) != 1 {
			t.Fatalf("grant: %s: %v", body, err)
		}
		resp, body = writer.do(t, http.MethodPost, "/v1/organizations/"+org+"/grants:batchDelete", token, `{"grantIds": ["`+grants.Grants[0].ID+`"]}`)
		revoked := resp.Header.Get(castellan.ConsistencyTokenHeader)
		if resp.StatusCode/100 != 2 || revoked == "" {
			t.Fatalf("revoke: got %d (Consistency-Token %q) %s", resp.StatusCode, revoked, body)
		}
		decide(revoked, false)
	}

	impatient := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--consistency-wait", "50ms")
	resp, body = impatient.doWith(t, http.MethodGet, "/v1/organizations/"+org+"/projects", token, "", http.Header{castellan.ConsistencyTokenHeader: {"999999"}})
	if resp.StatusCode != http.StatusServiceUnavailable || !validRetryAfter(resp) {
		t.Fatalf("a revision nobody wrote: got %d (Retry-After %q) %s, want 503 revision.not_applied", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	var p struct{ Code string }
	if err := json.Unmarshal(body, &p); err != nil || p.Code != castellan.CodeRevisionNotApplied {
		t.Fatalf("a revision nobody wrote: %s, want code %s", body, castellan.CodeRevisionNotApplied)
	}
}
