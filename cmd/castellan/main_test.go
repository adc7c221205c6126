package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// noEnv is the getenv of a process with an empty environment.
func noEnv(string) string { return "" }

// envOf is the getenv of a process whose environment is vars.
func envOf(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

// castellanCmd runs the binary's run with args and returns what it printed.
func castellanCmd(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut, getenv)
	return out.String(), errOut.String(), err
}

// mustCastellan runs the binary's run and fails the test if it fails.
func mustCastellan(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	stdout, stderr, err := castellanCmd(t, getenv, args...)
	if err != nil {
		t.Fatalf("castellan %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout
}

// decodeOneObject decodes stdout as exactly one JSON object of strings and
// checks that it has exactly the keys wantKeys.
func decodeOneObject(t *testing.T, stdout string, wantKeys ...string) map[string]string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var obj map[string]string
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("stdout %q: %v, want one JSON object", stdout, err)
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout %q: got more after the first JSON object (%v), want exactly one", stdout, err)
	}
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("JSON keys: got %v, want %v", keys, wantKeys)
	}
	return obj
}

// openRaw opens the store at rawURL with database/sql directly, for
// checks that the services cannot make. Queries must not use placeholders:
// they differ between the drivers.
func openRaw(t *testing.T, rawURL string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", rawURL
	if path, ok := strings.CutPrefix(rawURL, "sqlite://"); ok {
		driver, dsn = "sqlite", "file:"+path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryStrings returns the single text column of every row of query.
func queryStrings(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var values []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return values
}

func wantRevision(t *testing.T, db *sqlstore.DB, want int64) {
	t.Helper()
	got, err := db.Revision(context.Background())
	if err != nil {
		t.Fatalf("revision: %v", err)
	}
	if got != want {
		t.Errorf("revision: got %d, want %d", got, want)
	}
}

func TestVersion(t *testing.T) {
	versionLine := regexp.MustCompile(`^castellan \S+\n$`)
	for _, arg := range []string{"version", "--version", "-version"} {
		t.Run(arg, func(t *testing.T) {
			stdout := mustCastellan(t, noEnv, arg)
			if !versionLine.MatchString(stdout) {
				t.Errorf("stdout: got %q, want %q", stdout, "castellan <version>\n")
			}
		})
	}
}

func TestUsage(t *testing.T) {
	t.Run("NoArguments", func(t *testing.T) {
		_, stderr, err := castellanCmd(t, noEnv)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("error: got %v, want flag.ErrHelp", err)
		}
		if !strings.Contains(stderr, "Usage:") {
			t.Errorf("stderr: got %q, want the usage", stderr)
		}
	})
	t.Run("UnknownCommand", func(t *testing.T) {
		_, stderr, err := castellanCmd(t, noEnv, "frobnicate")
		if err == nil || errors.Is(err, flag.ErrHelp) {
			t.Fatalf("error: got %v, want an unknown command error", err)
		}
		if !strings.Contains(err.Error(), "frobnicate") {
			t.Errorf("error: got %q, want it to name the command", err)
		}
		if !strings.Contains(stderr, "Usage:") {
			t.Errorf("stderr: got %q, want the usage", stderr)
		}
	})
	t.Run("Help", func(t *testing.T) {
		stdout := mustCastellan(t, noEnv, "help")
		if !strings.Contains(stdout, "Usage:") {
			t.Errorf("stdout: got %q, want the usage", stdout)
		}
	})
}

func TestBootstrap(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			url := b.URL(t)
			stdout := mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", url)
			res := decodeOneObject(t, stdout, "organizationId", "ownerUserId", "token", "passwordLink")
			token := res["token"]
			if !castellan.ValidTokenSyntax(token) {
				t.Fatalf("token: got %q, want cst_ and 43 base64url characters", token)
			}

			db := sqltest.MustOpen(t, url, nil)
			got, err := db.Tokens().Authenticate(ctx, token)
			if err != nil {
				t.Fatalf("authenticate the bootstrap token: %v", err)
			}
			want := castellan.Principal{Type: castellan.PrincipalUser, ID: res["ownerUserId"], OrganizationID: res["organizationId"]}
			if got != want {
				t.Errorf("principal: got %+v, want %+v", got, want)
			}
			org, err := db.Organizations().FindOrganizationByID(ctx, res["organizationId"])
			if err != nil {
				t.Fatalf("find organization: %v", err)
			}
			if org.Name != "Acme" {
				t.Errorf("organization name: got %q, want %q", org.Name, "Acme")
			}

			// The store keeps the token's hash, and the token nowhere.
			raw := openRaw(t, url)
			hashes := queryStrings(t, raw, `SELECT secret_hash FROM api_tokens`)
			if !slices.Contains(hashes, sqlstore.HashToken(token)) {
				t.Errorf("api_tokens.secret_hash: got %v, want the token's hash among them", hashes)
			}
			stored := queryStrings(t, raw, `SELECT id || kind || COALESCE(org_id, '') || COALESCE(user_id, '') || secret_hash || created_by FROM api_tokens`)
			stored = append(stored, queryStrings(t, raw, `SELECT CAST(summary AS TEXT) FROM audit_events`)...)
			for _, s := range stored {
				if strings.Contains(s, token) || strings.Contains(s, strings.TrimPrefix(token, castellan.TokenPrefix)) {
					t.Errorf("the plaintext token is stored: %q", s)
				}
			}

			// A second organization of the same name is refused.
			_, _, err = castellanCmd(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "other@acme.example", "--database", url)
			if castellan.ErrorCode(err) != castellan.CodeOrgNameTaken {
				t.Errorf("second bootstrap of Acme: got %v, want organization.name_taken", err)
			}
			wantRevision(t, db, 1)
		})
	}
}

func TestBootstrapText(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			stdout := mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--database", b.URL(t))
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if len(lines) != 7 || !strings.HasPrefix(lines[0], "Organization ID: ") || !castellan.ValidTokenSyntax(lines[3]) ||
				!strings.HasPrefix(lines[5], "http://127.0.0.1:8080/invitations/accept?token=") || !strings.Contains(lines[6], "/console/sign-in") {
				t.Errorf("stdout: got %q, want the organization ID, owner ID, token, password link and console on 7 lines", stdout)
			}
		})
	}
}

func TestBootstrapRefused(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"NoFlags", nil, "--operator"},
		{"OrgWithoutOwner", []string{"--org", "Acme"}, "--owner-email"},
		{"OwnerWithoutOrg", []string{"--owner-email", "owner@acme.example"}, "--org"},
		{"OperatorAndOrg", []string{"--operator", "--org", "Acme", "--owner-email", "owner@acme.example"}, "--operator"},
		{"OperatorAndOwner", []string{"--operator", "--owner-email", "owner@acme.example"}, "--operator"},
		{"InvalidEmail", []string{"--org", "Acme", "--owner-email", "not-an-email"}, "--owner-email"},
		{"InvalidOrgName", []string{"--org", " Acme", "--owner-email", "owner@acme.example"}, "--org"},
		{"PositionalArgument", []string{"--org", "Acme", "--owner-email", "owner@acme.example", "extra"}, "extra"},
		{"UnknownFlag", []string{"--organization", "Acme"}, "organization"},
	}
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					url := b.URL(t)
					args := append([]string{"bootstrap", "--json", "--database", url}, tt.args...)
					stdout, _, err := castellanCmd(t, noEnv, args...)
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Errorf("error: got %v, want one mentioning %q", err, tt.wantErr)
					}
					if stdout != "" {
						t.Errorf("stdout: got %q, want nothing", stdout)
					}
					wantRevision(t, sqltest.MustOpen(t, url, nil), 0)
				})
			}
		})
	}
}

func TestBootstrapOperator(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			stdout := mustCastellan(t, noEnv, "bootstrap", "--operator", "--json", "--database", url)
			res := decodeOneObject(t, stdout, "operatorTokenId", "token")
			if !castellan.ValidTokenSyntax(res["token"]) {
				t.Fatalf("token: got %q, want cst_ and 43 base64url characters", res["token"])
			}
			db := sqltest.MustOpen(t, url, nil)
			got, err := db.Tokens().Authenticate(context.Background(), res["token"])
			if err != nil {
				t.Fatalf("authenticate the operator token: %v", err)
			}
			want := castellan.Principal{Type: castellan.PrincipalOperator, ID: res["operatorTokenId"]}
			if got != want {
				t.Errorf("principal: got %+v, want %+v", got, want)
			}
		})
	}
}

// allApplied is what migrate prints on a new store: every migration of
// the repository, in order (both dialects have the same names).
func allApplied(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir("../../sqlstore/migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		b.WriteString("applied " + e.Name() + "\n")
	}
	if !strings.HasPrefix(b.String(), "applied 0001_foundation.sql\n") {
		t.Fatalf("migrations: %q", b.String())
	}
	return b.String()
}

func TestMigrate(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			if got, want := mustCastellan(t, noEnv, "migrate", "--database", url), allApplied(t); got != want {
				t.Errorf("first migrate: got %q, want %q", got, want)
			}
			if got, want := mustCastellan(t, noEnv, "migrate", "--database", url), "schema is up to date\n"; got != want {
				t.Errorf("second migrate: got %q, want %q", got, want)
			}
		})
	}
}

func TestMigrateBadDatabase(t *testing.T) {
	for _, url := range []string{"mysql://localhost/castellan", "sqlite://"} {
		t.Run(url, func(t *testing.T) {
			if _, _, err := castellanCmd(t, noEnv, "migrate", "--database", url); err == nil {
				t.Errorf("migrate --database %s: got no error, want one", url)
			}
		})
	}
}

// TestDatabaseFromEnvironment checks that CASTELLAN_DATABASE names the
// store when --database is absent, and that the flag wins over it.
func TestDatabaseFromEnvironment(t *testing.T) {
	const upToDate = "schema is up to date\n"
	applied := allApplied(t)
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Run("EnvironmentOnly", func(t *testing.T) {
				url := b.URL(t)
				env := envOf(map[string]string{"CASTELLAN_DATABASE": url})
				if got := mustCastellan(t, env, "migrate"); got != applied {
					t.Errorf("migrate with $CASTELLAN_DATABASE: got %q, want %q", got, applied)
				}
				if got := mustCastellan(t, noEnv, "migrate", "--database", url); got != upToDate {
					t.Errorf("migrate --database $CASTELLAN_DATABASE afterwards: got %q, want %q", got, upToDate)
				}
				if path, ok := strings.CutPrefix(url, "sqlite://"); ok {
					if _, err := os.Stat(path); err != nil {
						t.Errorf("the SQLite file of $CASTELLAN_DATABASE: %v", err)
					}
				}
			})
			t.Run("FlagWins", func(t *testing.T) {
				fromEnv, fromFlag := b.URL(t), b.URL(t)
				env := envOf(map[string]string{"CASTELLAN_DATABASE": fromEnv})
				if got := mustCastellan(t, env, "migrate", "--database", fromFlag); got != applied {
					t.Errorf("migrate --database: got %q, want %q", got, applied)
				}
				if got := mustCastellan(t, noEnv, "migrate", "--database", fromEnv); got != applied {
					t.Errorf("migrate of the store in $CASTELLAN_DATABASE: got %q, want %q (untouched before)", got, applied)
				}
			})
		})
	}
}

// syncBuffer is a bytes.Buffer that the server's goroutines may write
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is `castellan serve` running in the test process.
type testServer struct {
	URL    string
	client *http.Client
	stop   func() error // cancels serve's context and returns what run returned
	stderr *syncBuffer
	// stdout are the lines serve printed up to its address.
	stdout []string
}

// startServe runs `castellan serve args…` until the test ends, and returns
// once it has printed the address it listens on.
func startServe(t *testing.T, getenv func(string) string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stdoutWriter := io.Pipe()
	stderr := new(syncBuffer)
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"serve"}, args...), stdoutWriter, stderr, getenv)
		stdoutWriter.Close()
		done <- err
	}()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})

	var addr string
	var lines []string
	scanner := bufio.NewScanner(stdout)
	for addr == "" && scanner.Scan() {
		lines = append(lines, scanner.Text())
		addr = listeningAddr(t, scanner.Text())
	}
	go io.Copy(io.Discard, stdout)
	if addr == "" {
		t.Fatalf("serve exited before listening: %v\nstderr:\n%s", stop(), stderr)
	}
	transport := &http.Transport{}
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		stop()
	})
	return &testServer{URL: addr, client: &http.Client{Transport: transport, Timeout: 10 * time.Second}, stop: stop, stderr: stderr, stdout: lines}
}

// listeningAddr returns the address in serve's line on stdout: plain
// text, or a JSON record with --log-format json, where every line must be
// JSON.
func listeningAddr(t *testing.T, line string) string {
	t.Helper()
	if addr, ok := strings.CutPrefix(line, "castellan listening on "); ok {
		return addr
	}
	var record struct{ Msg, Addr string }
	if err := json.Unmarshal([]byte(line), &record); err != nil {
		t.Errorf("stdout line %q: neither the listening line nor JSON", line)
	}
	if record.Msg != "castellan listening" {
		return ""
	}
	return record.Addr
}

// do sends a request with an optional bearer token and JSON body, and
// returns the response with its body read.
func (s *testServer) do(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	return s.doWith(t, method, path, token, body, nil)
}

// doWith is do with more request headers.
func (s *testServer) doWith(t *testing.T, method, path, token, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var reqBody io.Reader
	if body != "" {
		reqBody = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, reqBody)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

func TestServe(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", b.URL(t))

			resp, body := srv.do(t, http.MethodGet, "/healthz", "", "")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /healthz: got %d %s, want 200", resp.StatusCode, body)
			}

			resp, body = srv.do(t, http.MethodGet, "/v1/organizations", "", "")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /v1/organizations without a token: got %d %s, want 401", resp.StatusCode, body)
			}
			if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/problem+json" {
				t.Errorf("Content-Type of the 401: got %q, want application/problem+json", resp.Header.Get("Content-Type"))
			}

			if err := srv.stop(); err != nil {
				t.Errorf("serve after cancel: got %v, want nil (graceful shutdown)\nstderr:\n%s", err, srv.stderr)
			}
		})
	}
}

// TestServeListenFromEnvironment starts serve with its whole configuration
// in the environment.
func TestServeListenFromEnvironment(t *testing.T) {
	srv := startServe(t, envOf(map[string]string{
		"CASTELLAN_LISTEN":     "127.0.0.1:0",
		"CASTELLAN_DATABASE":   sqltest.SQLiteURL(t),
		"CASTELLAN_LOG_FORMAT": "json",
	}))
	if resp, body := srv.do(t, http.MethodGet, "/readyz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: got %d %s, want 200", resp.StatusCode, body)
	}
	if err := srv.stop(); err != nil {
		t.Errorf("serve after cancel: got %v, want nil", err)
	}
	for _, line := range srv.stdout {
		if !json.Valid([]byte(line)) {
			t.Errorf("stdout line with CASTELLAN_LOG_FORMAT=json: got %q, want JSON", line)
		}
	}
	for line := range strings.Lines(srv.stderr.String()) {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line with CASTELLAN_LOG_FORMAT=json: got %q, want JSON", line)
		}
	}
}

func TestServeOperatorTokenFile(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			// The token comes from another store: only the file makes it valid.
			stdout := mustCastellan(t, noEnv, "bootstrap", "--operator", "--json", "--database", b.URL(t))
			token := decodeOneObject(t, stdout, "operatorTokenId", "token")["token"]
			file := filepath.Join(t.TempDir(), "operator-tokens")
			if err := os.WriteFile(file, []byte("# operator tokens\n\n  "+token+"  \n"), 0o600); err != nil {
				t.Fatal(err)
			}
			url := b.URL(t)
			db := sqltest.MustOpen(t, url, nil)
			if _, err := db.Tokens().Authenticate(ctx, token); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
				t.Fatalf("the served store authenticates the other store's token: got %v, want %s", err, castellan.EUNAUTHENTICATED)
			}

			srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--operator-token-file", file)
			resp, body := srv.do(t, http.MethodPost, "/v1/organizations", token, `{"name":"Globex"}`)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST /v1/organizations with the file's token: got %d %s, want 201", resp.StatusCode, body)
			}
			var org castellan.Organization
			if err := json.Unmarshal(body, &org); err != nil || org.Name != "Globex" {
				t.Errorf("created organization: got %s (%v), want name Globex", body, err)
			}
			if err := srv.stop(); err != nil {
				t.Errorf("serve after cancel: got %v, want nil", err)
			}
			if _, err := db.Organizations().FindOrganizationByID(ctx, org.ID); err != nil {
				t.Errorf("find the created organization in the store: %v", err)
			}
		})
	}
}

func TestServeRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const validToken = "cst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	garbage := write("garbage", "# operator tokens\n"+validToken+"\nhunter2\n")
	empty := write("empty", "# nothing yet\n\n")

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"GarbageTokenFile", []string{"--operator-token-file", garbage}, nil, "line 3"},
		{"GarbageTokenFileFromEnvironment", nil, map[string]string{"CASTELLAN_OPERATOR_TOKEN_FILE": garbage}, "line 3"},
		{"EmptyTokenFile", []string{"--operator-token-file", empty}, nil, "no token"},
		{"MissingTokenFile", []string{"--operator-token-file", filepath.Join(dir, "missing")}, nil, "--operator-token-file"},
		{"TrustedProxies", []string{"--trusted-proxies", "10.0.0.0/8,proxy.internal"}, nil, "--trusted-proxies"},
		{"TrustedProxiesFromEnvironment", nil, map[string]string{"CASTELLAN_TRUSTED_PROXIES": "10.0.0.0/99"}, "--trusted-proxies"},
		{"TokenPollInterval", []string{"--token-poll-interval", "0s"}, nil, "--token-poll-interval"},
		{"ConsistencyWaitZero", []string{"--consistency-wait", "0s"}, nil, "--consistency-wait"},
		{"ConsistencyWaitTooLong", nil, map[string]string{"CASTELLAN_CONSISTENCY_WAIT": "1m"}, "--consistency-wait"},
		{"LogFormat", []string{"--log-format", "xml"}, nil, "--log-format"},
		{"LogLevel", []string{"--log-level", "chatty"}, nil, "--log-level"},
		{"BodyReadTimeout", []string{"--body-read-timeout", "0s"}, nil, "--body-read-timeout"},
		{"WriteTimeoutFromEnvironment", nil, map[string]string{"CASTELLAN_WRITE_TIMEOUT": "soon"}, "--write-timeout"},
		{"PositionalArgument", []string{"now"}, nil, "now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The deadline only bounds a serve that wrongly starts.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--database", sqltest.SQLiteURL(t)}, tt.args...)
			var stdout, stderr bytes.Buffer
			err := run(ctx, args, &stdout, &stderr, envOf(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error: got %v, want one mentioning %q", err, tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, want nothing", stdout.String())
			}
		})
	}
}
