// Package sqltest opens throwaway Castellan stores for tests: a SQLite file
// in the test's temporary directory, or a fresh schema in the PostgreSQL
// named by CASTELLAN_TEST_POSTGRES, dropped when the test ends.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/catalog"
	"github.com/castellan-iam/castellan/password"
	"github.com/castellan-iam/castellan/sqlstore"
)

// DefaultPostgres is used when CASTELLAN_TEST_POSTGRES is unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Backend is one kind of store a test can run against.
type Backend struct {
	Name string
	// URL returns the database URL of a new, empty store for tb.
	URL func(tb testing.TB) string
}

// Backends returns SQLite and PostgreSQL.
func Backends() []Backend {
	return []Backend{{"sqlite", SQLiteURL}, {"postgres", PostgresURL}}
}

// SQLiteURL returns the URL of a new SQLite file in tb's temporary directory.
func SQLiteURL(tb testing.TB) string {
	tb.Helper()
	return "sqlite://" + filepath.Join(tb.TempDir(), "castellan.db")
}

// PostgresURL creates a schema of its own for tb in the test PostgreSQL and
// returns a URL whose search_path points at it; the schema is dropped when
// tb ends. If PostgreSQL cannot be reached the test fails, unless
// CASTELLAN_TEST_POSTGRES=off outside CI, which skips it.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("CASTELLAN_TEST_POSTGRES")
	if base == "off" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("CASTELLAN_TEST_POSTGRES=off is not allowed under CI=true: the PostgreSQL tests must run")
		}
		tb.Skip("CASTELLAN_TEST_POSTGRES=off: PostgreSQL tests skipped")
	}
	if base == "" {
		base = DefaultPostgres
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("open %s: %v", base, err)
	}
	defer admin.Close()
	ctx := context.Background()
	if err := admin.PingContext(ctx); err != nil {
		tb.Fatalf("PostgreSQL at %s is required for this test (set CASTELLAN_TEST_POSTGRES, or =off to skip outside CI): %v", base, err)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "castellan_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		cleanup, err := sql.Open("pgx", base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer cleanup.Close()
		if _, err := cleanup.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("CASTELLAN_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// testHasher is argon2id with parameters far below production's, for
// tests: they check what is hashed and verified, not what it costs, and
// under the race detector every production hash takes about a second.
var testHasher = password.Hasher{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}

// MustOpen opens and migrates the store at rawURL, with the default service
// catalogue, and closes it when tb ends. Tests hash passwords with cheap
// argon2id parameters; benchmarks with production's, whose cost they
// measure.
func MustOpen(tb testing.TB, rawURL string, clock castellan.Clock) *sqlstore.DB {
	tb.Helper()
	return MustOpenWith(tb, rawURL, sqlstore.Options{Clock: clock})
}

// MustOpenWith is MustOpen with options; the catalogue and the password
// hasher are MustOpen's unless opts names them.
func MustOpenWith(tb testing.TB, rawURL string, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	if opts.Passwords == nil {
		opts.Passwords = testHasher
		if _, bench := tb.(*testing.B); bench {
			opts.Passwords = password.Argon2id()
		}
	}
	if opts.Catalog == nil {
		opts.Catalog = MustCatalog(tb)
	}
	db, err := sqlstore.Open(context.Background(), rawURL, opts)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustCatalog returns the default service catalogue.
func MustCatalog(tb testing.TB) *castellan.Catalog {
	tb.Helper()
	c, err := catalog.Default()
	if err != nil {
		tb.Fatalf("load the default catalogue: %v", err)
	}
	return c
}
