package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestServeRefusesUnwritableSQLite: serve refuses a SQLite store it may
// not write, naming the file and why, instead of starting ready and
// failing every write; it leaves no -wal or -shm file behind.
func TestServeRefusesUnwritableSQLite(t *testing.T) {
	sqltest.Unprivileged(t, func(t *testing.T) {
		dir := t.TempDir()
		readOnly := filepath.Join(dir, "castellan.db")
		mustCastellan(t, noEnv, "migrate", "--database", "sqlite://"+readOnly)
		if err := os.Chmod(readOnly, 0o444); err != nil {
			t.Fatal(err)
		}
		missing := filepath.Join(dir, "missing", "castellan.db")
		for _, c := range []struct{ path, want string }{
			{readOnly, "open sqlite database " + readOnly + ": the file is read-only for this process (permission denied)"},
			{missing, "open sqlite database " + missing + ": directory " + filepath.Dir(missing) + " does not exist"},
		} {
			// The deadline only bounds a serve that wrongly starts.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var stdout, stderr bytes.Buffer
			err := run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--database", "sqlite://" + c.path}, &stdout, &stderr, noEnv)
			cancel()
			if err == nil || err.Error() != c.want {
				t.Errorf("serve: got %v, want %q", err, c.want)
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Errorf("serve started: %q", stdout.String())
			}
		}
		sqltest.WantOnlyFile(t, dir, "castellan.db")
	})
}
