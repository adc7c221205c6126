package main

import (
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestHelpFlags asks every command for its flags: that is a success, and
// prints no version or anything else on stdout.
func TestHelpFlags(t *testing.T) {
	for _, cmd := range []string{"serve", "migrate", "bootstrap", "version"} {
		for _, flag := range []string{"-h", "--help"} {
			t.Run(cmd+flag, func(t *testing.T) {
				stdout, stderr, err := castellanCmd(t, noEnv, cmd, flag)
				if err != nil {
					t.Errorf("error: got %v, want nil", err)
				}
				if stdout != "" {
					t.Errorf("stdout: got %q, want nothing", stdout)
				}
				if !strings.Contains(stderr, "Usage of castellan "+cmd) {
					t.Errorf("stderr: got %q, want the flags of %s", stderr, cmd)
				}
			})
		}
	}
	if _, _, err := castellanCmd(t, noEnv, "version", "now"); err == nil || !strings.Contains(err.Error(), "now") {
		t.Errorf("version now: got %v, want an error naming the argument", err)
	}
}

// TestMetrics scrapes /metrics of a running server after a refused call
// and wants every family an operator watches, with the 401 labelled with
// its route.
func TestMetrics(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", b.URL(t))
			if resp, body := srv.do(t, http.MethodGet, "/v1/organizations", "", ""); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("GET /v1/organizations without a token: got %d %s, want 401", resp.StatusCode, body)
			}
			resp, body := srv.do(t, http.MethodGet, "/metrics", "", "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /metrics: got %d", resp.StatusCode)
			}
			for _, want := range []string{
				`castellan_http_requests_total{method="GET",route="GET /v1/organizations",status="401"} 1`,
				`castellan_http_errors_total{code="auth.unauthenticated"} 1`,
				`castellan_store_connections_open{pool="`,
				`castellan_store_connections_in_use{pool="`,
				`castellan_store_connections_idle{pool="`,
				`castellan_store_connection_waits_total{pool="`,
				`castellan_store_connection_wait_seconds_total{pool="`,
				`castellan_store_query_duration_seconds_count{kind="read"}`,
				`castellan_outbox_mails{state="queued"} 0`,
				`castellan_outbox_mails{state="retried"} 0`,
				`castellan_outbox_mails{state="sent"} 0`,
				`castellan_outbox_mails{state="dead"} 0`,
				`castellan_store_revision `,
				`castellan_changelog_lag_revisions 0`,
				`castellan_token_cache_applied_revision `,
			} {
				if !strings.Contains(string(body), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			buildInfo := regexp.MustCompile(`castellan_build_info\{goversion="` + regexp.QuoteMeta(runtime.Version()) + `",revision="[^"]+",version="[^"]+"\} 1`)
			if !buildInfo.Match(body) {
				t.Errorf("metrics lack castellan_build_info with goversion, revision and version")
			}
			if err := srv.stop(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(srv.stderr.String(), `route="GET /v1/organizations" status=401`) {
				t.Errorf("the 401 is not logged with its route:\n%s", srv.stderr)
			}
		})
	}
}
