package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// openSQLite opens the SQLite store at path and returns the error.
func openSQLite(t *testing.T, path string) error {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+path, sqlstore.Options{Catalog: sqltest.MustCatalog(t)})
	if err == nil {
		db.Close()
	}
	return err
}

// TestOpenSQLiteNamesPathAndReason: a store that cannot be opened, even
// by root, is refused with its path and why, not SQLite's "unable to open
// database file (14)".
func TestOpenSQLiteNamesPathAndReason(t *testing.T) {
	dir := t.TempDir()
	notStore := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notStore, []byte("not a database, but long enough to hold a header of one"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, reason string
	}{
		{"missing directory", filepath.Join(dir, "missing", "castellan.db"), "directory " + filepath.Join(dir, "missing") + " does not exist"},
		{"directory", dir, "it is a directory"},
		{"under /proc", "/proc/castellan.db", "cannot create files in directory /proc"},
		{"not a database", notStore, "file is not a database"},
		{"under a file", filepath.Join("/proc/self/status", "castellan.db"), "/proc/self/status is not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := openSQLite(t, c.path)
			if err == nil || !strings.Contains(err.Error(), "open sqlite database "+c.path+": ") || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("got %v, want the path %s and %q", err, c.path, c.reason)
			}
		})
	}
}

// TestOpenSQLiteReadOnly: a store the process may not write is refused at
// start, naming the path and why, and leaves no -wal or -shm file behind;
// before, it opened, answered ready and failed every write.
func TestOpenSQLiteReadOnly(t *testing.T) {
	sqltest.Unprivileged(t, func(t *testing.T) {
		for _, c := range []struct {
			name   string
			chmod  func(dir, path string) error
			reason string
		}{
			{"read-only file", func(dir, path string) error { return os.Chmod(path, 0o444) }, "the file is read-only for this process"},
			{"read-only directory", func(dir, path string) error { return os.Chmod(dir, 0o555) }, "is read-only for this process"},
		} {
			t.Run(c.name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "castellan.db")
				if err := openSQLite(t, path); err != nil {
					t.Fatal(err)
				}
				if err := c.chmod(dir, path); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(dir, 0o755) })
				err := openSQLite(t, path)
				if err == nil || !strings.Contains(err.Error(), "open sqlite database "+path+": ") || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("got %v, want the path %s and %q", err, path, c.reason)
				}
				sqltest.WantOnlyFile(t, dir, "castellan.db")
			})
		}
	})
}
