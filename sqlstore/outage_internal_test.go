package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	litedriver "modernc.org/sqlite"
)

// TestOutageTranslation: errors that say the store is down, unreachable,
// read-only or locked become store.unavailable, and keep their kind
// through the store's wrapping; errors of the request stay what they
// are. The SQLite and connection errors are real ones, from a read-only
// file and a port nothing listens on.
func TestOutageTranslation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ro.db")
	o := &outages{}
	writable := o.openDB(must(litedriver.NewConnector("file:" + path)))
	defer writable.Close()
	if _, err := writable.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	readOnly := o.openDB(must(litedriver.NewConnector("file:" + path + "?mode=ro")))
	defer readOnly.Close()
	_, readOnlyErr := readOnly.ExecContext(ctx, `INSERT INTO t (id) VALUES (1)`)
	_, uniqueErr := writable.ExecContext(ctx, `INSERT INTO t (id) VALUES (1), (1)`)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().String()
	ln.Close()
	config := must(pgx.ParseConfig("postgres://postgres@" + closedPort + "/test?sslmode=disable&connect_timeout=5"))
	refusing := o.openDB(stdlib.GetConnector(*config))
	defer refusing.Close()
	refusedErr := refusing.PingContext(ctx)

	// The real errors came through the store's connections; the others
	// are translated here as those connections would.
	tests := []struct {
		name   string
		err    error
		outage bool
	}{
		{"sqlite read-only", readOnlyErr, true},
		{"sqlite unique violation", uniqueErr, false},
		{"connection refused", refusedErr, true},
		{"admin shutdown", o.translate(&pgconn.PgError{Code: "57P01"}), true},
		{"cannot connect now", o.translate(&pgconn.PgError{Code: "57P03"}), true},
		{"too many connections", o.translate(&pgconn.PgError{Code: "53300"}), true},
		{"read-only transaction", o.translate(&pgconn.PgError{Code: "25006"}), true},
		{"connection failure", o.translate(&pgconn.PgError{Code: "08006"}), true},
		{"postgres unique violation", o.translate(&pgconn.PgError{Code: "23505"}), false},
		{"syntax error", o.translate(&pgconn.PgError{Code: "42601"}), false},
		{"connection reset", o.translate(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"deadline", o.translate(context.DeadlineExceeded), true},
		{"no rows", o.translate(sql.ErrNoRows), false},
		{"canceled by the client", o.translate(context.Canceled), false},
	}
	outages := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("the failure did not happen")
			}
			// As the store wraps what its queries return.
			wrapped := fmt.Errorf("take revision: %w", tt.err)
			if (castellan.ErrorKind(wrapped) == castellan.EUNAVAILABLE) != tt.outage {
				t.Fatalf("%v: got kind %s, want an outage: %v", wrapped, castellan.ErrorKind(wrapped), tt.outage)
			}
			if !tt.outage {
				return
			}
			outages++
			if code := castellan.ErrorCode(wrapped); code != castellan.CodeStoreUnavailable {
				t.Errorf("got code %s, want %s", code, castellan.CodeStoreUnavailable)
			}
			if e := new(castellan.Error); !errors.As(wrapped, &e) || e.Err == nil {
				t.Errorf("the driver's error is lost: %v", wrapped)
			}
		})
	}
	if got := o.count.Load(); got != uint64(outages) {
		t.Errorf("counted %d outages, want %d", got, outages)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
