package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestServeSeesSecondProcessOnSQLite: a running server on a SQLite file
// sees the writes another process makes to the same file, which nothing
// announces: its change feed polls. `castellan bootstrap` run beside it
// moves its applied revision; the bootstrap token it then serves (and
// caches) is refused once another process takes the owner's API access
// away.
func TestServeSeesSecondProcessOnSQLite(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	mustCastellan(t, noEnv, "migrate", "--database", url)
	srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--token-poll-interval", "20ms")

	stdout := mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", url)
	boot := decodeOneObject(t, stdout, "organizationId", "ownerUserId", "token", "passwordLink")
	waitUntil(t, "the server to apply the bootstrap's revision", func() bool { return appliedRevision(t, srv) >= 1 })

	projects := "/v1/organizations/" + boot["organizationId"] + "/projects"
	wantStatus(t, srv, http.MethodGet, projects, boot["token"], "", http.StatusOK)
	wantStatus(t, srv, http.MethodGet, projects, boot["token"], "", http.StatusOK) // from the cache

	other := sqltest.MustOpen(t, url, nil)
	off := false
	operator := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op-1"})
	if _, err := other.Users().UpdateUser(operator, boot["organizationId"], boot["ownerUserId"], castellan.UserUpdate{APIAccess: &off}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the server to refuse the owner's token", func() bool {
		resp, _ := srv.do(t, http.MethodGet, projects, boot["token"], "")
		return resp.StatusCode == http.StatusUnauthorized
	})
}

// appliedRevision reads castellan_token_cache_applied_revision, the
// change feed's position, from /metrics.
func appliedRevision(t *testing.T, srv *testServer) int64 {
	t.Helper()
	_, b := srv.do(t, http.MethodGet, "/metrics", "", "")
	m := regexp.MustCompile(`(?m)^castellan_token_cache_applied_revision (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("/metrics has no castellan_token_cache_applied_revision")
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// waitUntil polls cond until it holds; the deadline guards against
// hanging and measures nothing.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestServeDecidesFromTheIndex: the server's decisions come from the
// authorization index, which a write of this process reaches before the
// write returns: the very next /v1/authorize sees a grant, and its
// revocation, with no wait.
func TestServeDecidesFromTheIndex(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			stdout := mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", url)
			boot := decodeOneObject(t, stdout, "organizationId", "ownerUserId", "token", "passwordLink")
			// A long poll: only the commit hook can bring the writes in time.
			srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--token-poll-interval", "1h", "--authorizer", "index")
			org, token := boot["organizationId"], boot["token"]

			resp, body := srv.do(t, http.MethodPost, "/v1/organizations/"+org+"/users", token,
				`{"loginId": "ann.lee", "email": "ann@acme.example", "name": "Ann Lee"}`)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create user: got %d %s", resp.StatusCode, body)
			}
			var created struct{ User struct{ ID string } }
			if err := json.Unmarshal(body, &created); err != nil || created.User.ID == "" {
				t.Fatalf("create user: %s: %v", body, err)
			}
			user := created.User
			check := `{"principal": {"type": "user", "id": "` + user.ID + `", "organizationId": "` + org + `"},
				"action": "iam:ListUsers", "resource": "organization/` + org + `"}`
			decision := func(want bool, reason string) {
				t.Helper()
				resp, body := srv.do(t, http.MethodPost, "/v1/authorize", token, check)
				var d struct {
					Allowed bool
					Reason  string
				}
				if err := json.Unmarshal(body, &d); resp.StatusCode != http.StatusOK || err != nil || d.Allowed != want || d.Reason != reason {
					t.Fatalf("authorize: got %d %s, want allowed %v reason %s", resp.StatusCode, body, want, reason)
				}
			}
			decision(false, castellan.ReasonNoGrant)

			resp, body = srv.do(t, http.MethodPost, "/v1/organizations/"+org+"/grants:batchCreate", token,
				`{"grants": [{"roleId": "organization.reader", "scope": "organization/`+org+`", "subject": {"type": "user", "id": "`+user.ID+`"}}]}`)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("grant: got %d %s", resp.StatusCode, body)
			}
			decision(true, castellan.ReasonAllowed)
			var granted struct{ Grants []struct{ ID string } }
			if err := json.Unmarshal(body, &granted); err != nil || len(granted.Grants) != 1 {
				t.Fatalf("grant: %s: %v", body, err)
			}
			resp, body = srv.do(t, http.MethodPost, "/v1/organizations/"+org+"/grants:batchDelete", token, `{"grantIds": ["`+granted.Grants[0].ID+`"]}`)
			if resp.StatusCode/100 != 2 {
				t.Fatalf("revoke: got %d %s", resp.StatusCode, body)
			}
			decision(false, castellan.ReasonNoGrant)
		})
	}
}
