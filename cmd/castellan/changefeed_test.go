package main

import (
	"context"
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
