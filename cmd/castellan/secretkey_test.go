package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sealing"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// servedKey bootstraps an organization on the store at url, creates an
// access key of its owner through srv's API and returns it.
func servedKey(t *testing.T, srv *testServer, url string) (*castellan.NewAccessKey, string) {
	t.Helper()
	boot := decodeOneObject(t, mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", url),
		"organizationId", "ownerUserId", "token", "passwordLink")
	org := "/v1/organizations/" + boot["organizationId"]
	resp, body := srv.do(t, http.MethodPost, org+"/projects", boot["token"], `{"name":"web"}`)
	var project castellan.Project
	if err := json.Unmarshal(body, &project); resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("create project: got %d %s", resp.StatusCode, body)
	}
	resp, body = srv.do(t, http.MethodPost, org+"/users/"+boot["ownerUserId"]+"/accessKeys", boot["token"], `{"name":"ci","projectId":"`+project.ID+`"}`)
	var key castellan.NewAccessKey
	if err := json.Unmarshal(body, &key); resp.StatusCode != http.StatusCreated || err != nil || key.Secret == "" {
		t.Fatalf("create access key: got %d %s", resp.StatusCode, body)
	}
	return &key, boot["organizationId"]
}

// verifySigned verifies a signature made with the key's secret on a store
// opened with the key file at keyFile ("": none).
func verifySigned(t *testing.T, url, keyFile string, key *castellan.NewAccessKey) error {
	t.Helper()
	opts := sqlstore.Options{}
	if keyFile != "" {
		keys, err := sealing.Load(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		opts.Sealer = keys
	}
	db := sqltest.MustOpenWith(t, url, opts)
	message := []byte("GET /compat/ncloud/api/v1/users/1\n1700000000000\n" + key.ID)
	mac := hmac.New(sha256.New, []byte(key.Secret))
	mac.Write(message)
	_, err := db.AccessKeys().VerifyAccessKeySignature(context.Background(), key.ID, message, base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return err
}

// keyMaterial is the base64 keys of a key file, which nothing may print.
func keyMaterial(t *testing.T, path string) []string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for line := range strings.Lines(string(text)) {
		if fields := strings.Fields(line); len(fields) == 2 && !strings.HasPrefix(line, "#") {
			keys = append(keys, fields[1])
		}
	}
	return keys
}

// TestServeSecretKeyDevMode: serve on SQLite without --secret-key-file
// generates <database file>.secret-key (0600) once, says so without
// printing the key, and seals the secrets of the keys created through the
// API with it.
func TestServeSecretKeyDevMode(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	keyFile := strings.TrimPrefix(url, "sqlite://") + ".secret-key"
	srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
	key, _ := servedKey(t, srv, url)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: got %v, %v; want mode 0600", info, err)
	}
	logs := srv.stderr.String()
	if strings.Count(logs, "secretKeyFile="+keyFile) != 1 || !strings.Contains(logs, "back it up with the database") || !strings.Contains(logs, "generated=true") {
		t.Errorf("logs: got\n%s\nwant one line naming %s and its backup", logs, keyFile)
	}
	material := keyMaterial(t, keyFile)
	for _, k := range material {
		if strings.Contains(logs, k) {
			t.Fatal("the logs hold the key-encryption key")
		}
	}
	if err := verifySigned(t, url, keyFile, key); err != nil {
		t.Fatalf("a key created by serve in dev mode: %v", err)
	}

	// A second start keeps the file.
	srv = startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	if again := keyMaterial(t, keyFile); len(again) != 1 || again[0] != material[0] {
		t.Fatal("a second serve changed the key file")
	}
	if !strings.Contains(srv.stderr.String(), "generated=false") {
		t.Errorf("logs of the second start: got\n%s\nwant generated=false", srv.stderr)
	}
}

// TestServeSecretKeyFile: with PostgreSQL, serve without a key file warns
// that new keys cannot sign, and they cannot; with one (flag or
// environment), they can.
func TestServeSecretKeyFile(t *testing.T) {
	url := sqltest.PostgresURL(t)
	srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
	unsealed, _ := servedKey(t, srv, url)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	if !strings.Contains(srv.stderr.String(), "cannot sign compatibility API requests") {
		t.Errorf("logs: got\n%s\nwant the warning that keys cannot sign", srv.stderr)
	}
	keyFile := filepath.Join(t.TempDir(), "keys")
	if _, err := sealing.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := verifySigned(t, url, keyFile, unsealed); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
		t.Fatalf("a key created without a key file: got %v, want unauthenticated", err)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"Flag", nil, []string{"--secret-key-file", keyFile}},
		{"Environment", map[string]string{"CASTELLAN_SECRET_KEY_FILE": keyFile}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := sqltest.PostgresURL(t)
			srv := startServe(t, envOf(tc.env), append([]string{"--listen", "127.0.0.1:0", "--database", url}, tc.args...)...)
			key, _ := servedKey(t, srv, url)
			if err := srv.stop(); err != nil {
				t.Fatalf("serve after cancel: %v", err)
			}
			if !strings.Contains(srv.stderr.String(), "secretKeyFile="+keyFile) {
				t.Errorf("logs: got\n%s\nwant the key file named", srv.stderr)
			}
			if err := verifySigned(t, url, keyFile, key); err != nil {
				t.Fatalf("a key created with a key file: %v", err)
			}
		})
	}
}

// TestServeSecretKeyRefused: a malformed or missing key file stops serve
// before it listens, naming the line, and never quoting a key.
func TestServeSecretKeyRefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if _, err := sealing.GenerateKeyFile(good); err != nil {
		t.Fatal(err)
	}
	material := keyMaterial(t, good)[0]
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("# keys\nk1 "+material+"\nk1 "+material+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"Duplicate", bad, bad + ":3:"},
		{"Missing", filepath.Join(dir, "missing"), "--secret-key-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := castellanCmd(t, noEnv, "serve", "--listen", "127.0.0.1:0", "--database", sqltest.SQLiteURL(t), "--secret-key-file", tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), material) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if stdout != "" || strings.Contains(stderr, material) {
				t.Fatalf("stdout %q, stderr %q: want no listening and no key", stdout, stderr)
			}
		})
	}
}

// TestRotateSecretKey: rotate-secret-key --generate puts a new key first
// and seals every secret again under it, which then verifies without the
// old key; a second run has nothing to do.
func TestRotateSecretKey(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			keyFile := filepath.Join(t.TempDir(), "keys")
			oldID, err := sealing.GenerateKeyFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--secret-key-file", keyFile)
			key, _ := servedKey(t, srv, url)
			if err := srv.stop(); err != nil {
				t.Fatalf("serve after cancel: %v", err)
			}
			oldMaterial := keyMaterial(t, keyFile)[0]

			stdout := mustCastellan(t, noEnv, "rotate-secret-key", "--database", url, "--secret-key-file", keyFile, "--generate")
			keys, err := sealing.Load(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			newID := keys.CurrentKeyID()
			want := "added key-encryption key " + newID + " at the head of " + keyFile + "\n" +
				"sealed 1 secrets (access keys, federation client secrets) again under key-encryption key " + newID + "\n"
			if newID == oldID || stdout != want {
				t.Fatalf("stdout: got %q, want %q", stdout, want)
			}
			newMaterial := keyMaterial(t, keyFile)
			if len(newMaterial) != 2 || newMaterial[1] != oldMaterial {
				t.Fatalf("key file: got %d keys, want the new one before the old one", len(newMaterial))
			}
			for _, k := range newMaterial {
				if strings.Contains(stdout, k) {
					t.Fatal("rotate-secret-key printed a key")
				}
			}
			if stdout := mustCastellan(t, envOf(map[string]string{"CASTELLAN_SECRET_KEY_FILE": keyFile}), "rotate-secret-key", "--database", url); stdout != "sealed 0 secrets (access keys, federation client secrets) again under key-encryption key "+newID+"\n" {
				t.Fatalf("second run: got %q", stdout)
			}

			// The old key removed, the key still signs.
			if err := os.WriteFile(keyFile, []byte(newID+" "+newMaterial[0]+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := verifySigned(t, url, keyFile, key); err != nil {
				t.Fatalf("after rotation, without the old key: %v", err)
			}
		})
	}
}

// TestRotateSecretKeyRefused: PostgreSQL needs the key file; with SQLite
// it defaults to the file beside the database, which must exist; a key
// missing from the file stops the rotation.
func TestRotateSecretKeyRefused(t *testing.T) {
	_, _, err := castellanCmd(t, noEnv, "rotate-secret-key", "--database", sqltest.PostgresURL(t))
	if err == nil || !strings.Contains(err.Error(), "--secret-key-file") {
		t.Errorf("PostgreSQL without a key file: got %v, want --secret-key-file named", err)
	}
	url := sqltest.SQLiteURL(t)
	_, _, err = castellanCmd(t, noEnv, "rotate-secret-key", "--database", url)
	if err == nil || !strings.Contains(err.Error(), ".secret-key") {
		t.Errorf("SQLite without its key file: got %v, want the default file named", err)
	}

	// Keys sealed under a key the file no longer has.
	srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
	servedKey(t, srv, url)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if _, err := sealing.GenerateKeyFile(other); err != nil {
		t.Fatal(err)
	}
	_, _, err = castellanCmd(t, noEnv, "rotate-secret-key", "--database", url, "--secret-key-file", other)
	if err == nil || !strings.Contains(err.Error(), "key-encryption key kek-") {
		t.Errorf("a key missing from the file: got %v, want the missing key named", err)
	}
}
