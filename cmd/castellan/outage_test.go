package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	neturl "net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestServeStoreOutage: while the store is out, API calls and console
// pages answer 503 store.unavailable with Retry-After (not 500 internal),
// castellan_store_unavailable_total counts the failures, and once the
// store is back the same requests succeed. On PostgreSQL the outage is a
// cut connection (a proxy the test closes, then serves again on the same
// port); on SQLite, another process holding the write lock past the busy
// timeout.
func TestServeStoreOutage(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := sqltest.PostgresURL(t)
		org, token := bootstrapAcme(t, url)
		u, err := neturl.Parse(url)
		if err != nil {
			t.Fatal(err)
		}
		proxy := sqltest.StartProxy(t, u.Host)
		u.Host = proxy.Addr()
		srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", u.String())
		projects := "/v1/organizations/" + org + "/projects"
		wantStatus(t, srv, http.MethodGet, projects, token, "", http.StatusOK)
		before := unavailableTotal(t, srv)

		proxy.Cut()
		wantUnavailable(t, srv, http.MethodGet, projects, token, "")
		wantUnavailable(t, srv, http.MethodPost, projects, token, `{"name":"during"}`)
		wantUnavailable(t, srv, http.MethodGet, "/readyz", "", "")
		// A console page: the session cookie is looked up in the store.
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/console", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: "castellan_session", Value: castellan.SessionTokenPrefix + strings.Repeat("A", 43)})
		resp, err := srv.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !validRetryAfter(resp) {
			t.Errorf("GET /console: got %d %s Retry-After %q, want a 503 page with Retry-After:\n%s",
				resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), page)
		}
		if after := unavailableTotal(t, srv); after <= before {
			t.Errorf("castellan_store_unavailable_total: got %v after the outage, %v before; want more", after, before)
		}

		proxy.Start()
		waitReady(t, srv)
		wantStatus(t, srv, http.MethodPost, projects, token, `{"name":"after"}`, http.StatusCreated)
		_, body := srv.do(t, http.MethodGet, projects, token, "")
		if !strings.Contains(string(body), `"after"`) || strings.Contains(string(body), `"during"`) {
			t.Errorf("projects after the outage: got %s, want the one made after it only", body)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		url := sqltest.SQLiteURL(t)
		org, token := bootstrapAcme(t, url)
		srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
		projects := "/v1/organizations/" + org + "/projects"
		var project castellan.Project
		resp, b := srv.do(t, http.MethodPost, projects, token, `{"name":"web"}`)
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &project) != nil {
			t.Fatalf("POST %s: got %d %s", projects, resp.StatusCode, b)
		}
		before := unavailableTotal(t, srv)

		// Another process (castellan migrate, a backup tool) takes the
		// write lock and keeps it past the store's busy timeout. The write
		// is a DELETE: huma cancels the context of an operation with a
		// body once it has waited 5 s (issue 10, point 13), before the
		// busy timeout.
		locker := openRaw(t, url)
		lock, err := locker.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		srv.client.Timeout = time.Minute // the busy timeout is 10 s
		wantUnavailable(t, srv, http.MethodDelete, projects+"/"+project.ID, token, "")
		wantStatus(t, srv, http.MethodGet, projects, token, "", http.StatusOK) // readers go on
		if after := unavailableTotal(t, srv); after <= before {
			t.Errorf("castellan_store_unavailable_total: got %v after the outage, %v before; want more", after, before)
		}

		if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		lock.Close()
		wantStatus(t, srv, http.MethodDelete, projects+"/"+project.ID, token, "", http.StatusOK)
	})
}

// bootstrapAcme makes an organization in the store at url and returns its
// ID and its owner's token.
func bootstrapAcme(t *testing.T, url string) (orgID, token string) {
	t.Helper()
	boot, err := sqltest.MustOpen(t, url, nil).Tokens().BootstrapOrganization(context.Background(),
		castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	return boot.OrganizationID, boot.Token
}

// wantUnavailable checks that a request is answered 503 store.unavailable
// in a problem document, with a Retry-After of a few seconds.
func wantUnavailable(t *testing.T, srv *testServer, method, path, token, body string) {
	t.Helper()
	resp, b := srv.do(t, method, path, token, body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(string(b), `"code":"`+castellan.CodeStoreUnavailable+`"`) || !validRetryAfter(resp) {
		t.Errorf("%s %s: got %d %s Retry-After %q, want 503 %s with Retry-After", method, path, resp.StatusCode, b,
			resp.Header.Get("Retry-After"), castellan.CodeStoreUnavailable)
	}
}

// validRetryAfter: a delay in seconds, short enough to matter.
func validRetryAfter(resp *http.Response) bool {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	return err == nil && s >= 1 && s <= 5
}

func wantStatus(t *testing.T, srv *testServer, method, path, token, body string, want int) {
	t.Helper()
	if resp, b := srv.do(t, method, path, token, body); resp.StatusCode != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
}

// unavailableTotal reads castellan_store_unavailable_total from /metrics.
func unavailableTotal(t *testing.T, srv *testServer) float64 {
	t.Helper()
	_, b := srv.do(t, http.MethodGet, "/metrics", "", "")
	m := regexp.MustCompile(`(?m)^castellan_store_unavailable_total (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("/metrics has no castellan_store_unavailable_total")
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitReady waits until /readyz answers 200: the store is back.
func waitReady(t *testing.T, srv *testServer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a guard against hanging, not a measure
	for {
		resp, b := srv.do(t, http.MethodGet, "/readyz", "", "")
		if resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not come back: /readyz %d %s", resp.StatusCode, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
