// Package sqlstore implements Castellan's services on database/sql, for
// SQLite (modernc.org/sqlite, pure Go) and PostgreSQL (pgx). One
// implementation serves both; a small dialect type holds the differences.
// Driver errors are translated to castellan errors here and nowhere else.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// DB is an open Castellan store. Its services are the fields; all share
// the same connections.
type DB struct {
	dialect dialect
	// write takes every transaction. For SQLite it has one connection (one
	// writer, BEGIN IMMEDIATE); for PostgreSQL it is the only pool.
	write *sql.DB
	// read serves queries outside transactions: a pool of SQLite readers
	// that WAL lets run beside the writer, or the PostgreSQL pool.
	read    *sql.DB
	now     castellan.Clock
	catalog *castellan.Catalog
	// passwords hashes users' passwords; nil refuses password mode.
	passwords castellan.PasswordHasher
	// url is the PostgreSQL URL, for the connection WatchCommits listens
	// on; empty for SQLite.
	url string
	// commitHooks run after every committed write (OnCommit).
	hooksMu     sync.RWMutex
	commitHooks []func(ctx context.Context, revision int64)
}

// OnCommit registers fn to run after every write transaction this DB
// commits, with its revision, before the write returns to its caller: a
// follower of the change log (the token cache) catches up there, so that
// a change takes effect in this process on the very next request. Writes
// of other processes reach followers through WatchCommits (PostgreSQL) or
// by polling Changes. fn runs on the
// writer's goroutine, outside the transaction, with a context that is not
// cancelled with the writer's; it must not write.
func (db *DB) OnCommit(fn func(ctx context.Context, revision int64)) {
	db.hooksMu.Lock()
	defer db.hooksMu.Unlock()
	db.commitHooks = append(db.commitHooks, fn)
}

// commitChannel is the PostgreSQL notification channel of commits. It
// names no schema: stores in other schemas of the database wake a watcher
// for nothing, which costs it one read of its own revision.
const commitChannel = "castellan_commits"

// WatchCommits calls fn after writes of any process are committed to the
// store, until ctx ends or the connection fails, which it returns: on
// PostgreSQL it LISTENs on its own connection, and calls fn once when it
// starts listening, for what was committed before. fn should read the
// change log (a notification carries nothing) and must be quick: while it
// runs, notifications wait. On SQLite, whose other processes nothing
// announces, it returns nil at once; polling Changes covers them.
func (db *DB) WatchCommits(ctx context.Context, fn func()) error {
	if db.url == "" {
		return nil
	}
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+commitChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fn()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		fn()
	}
}

// Options tune Open.
type Options struct {
	// Clock stamps every row; nil means castellan.SystemClock.
	Clock castellan.Clock
	// SkipMigrate leaves the schema as it is; `castellan migrate` sets it to
	// apply and report the migrations itself.
	SkipMigrate bool
	// Catalog is the service catalogue: the built-in roles grants refer to
	// and the actions custom roles are checked against. Required.
	Catalog *castellan.Catalog
	// Passwords hashes users' passwords (argon2id, package password);
	// without it, registering a user with a password or accepting an
	// invitation fails.
	Passwords castellan.PasswordHasher
}

// Open connects to the store named by rawURL, sqlite://<path> or
// postgres://…, and applies pending migrations. opts.Catalog is required
// and must have the built-in role organization.owner, which bootstrap
// grants.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	if opts.Catalog == nil {
		return nil, errors.New("open store: no service catalogue (Options.Catalog)")
	}
	if opts.Catalog.Role(castellan.OrganizationOwnerRoleID) == nil {
		return nil, fmt.Errorf("open store: the service catalogue has no built-in role %s", castellan.OrganizationOwnerRoleID)
	}
	db, err := connect(rawURL)
	if err != nil {
		return nil, err
	}
	db.catalog = opts.Catalog
	db.passwords = opts.Passwords
	db.now = opts.Clock
	if db.now == nil {
		db.now = castellan.SystemClock
	}
	if err := db.ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if opts.SkipMigrate {
		return db, nil
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func connect(rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if path == "" {
			return nil, fmt.Errorf("database URL %q: missing file path (sqlite://./castellan.db)", rawURL)
		}
		if strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("database URL %q: the file path may not contain ? or #", rawURL)
		}
		return openSQLite(path)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return nil, fmt.Errorf("database URL: %w", err)
		}
		pool, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		pool.SetMaxOpenConns(32)
		pool.SetMaxIdleConns(32)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{dialect: postgres, write: pool, read: pool, url: rawURL}, nil
	}
	return nil, fmt.Errorf("database URL %q: want sqlite://<path> or postgres://…", rawURL)
}

func openSQLite(path string) (*DB, error) {
	// WAL lets readers run beside the one writer; the busy timeout covers
	// other processes (castellan migrate next to a server); _txlock=immediate
	// takes the write lock at BEGIN so a transaction never fails half way
	// on lock upgrade.
	// _time_format=sqlite stores times as "2006-01-02 15:04:05.999999999-07:00",
	// which SQLite's date functions read; all times are UTC, so the text
	// sorts as the times do.
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_time_format=sqlite"
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	return &DB{dialect: sqlite, write: write, read: read}, nil
}

func (db *DB) ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w", db.dialect.name, err)
	}
	return nil
}

// Ping reports whether the store answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%s not ready: %w", db.dialect.name, err)
	}
	return nil
}

// Dialect names the backend: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name }

// Close closes every connection.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// query runs a read outside any transaction.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.read.QueryContext(ctx, db.dialect.rebind(query), args...)
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, db.dialect.rebind(query), args...)
}

// Tx is one write transaction. It stamps rows with one time and carries
// the request's actor, so that every row it writes agrees.
type Tx struct {
	*sql.Tx
	db    *DB
	now   time.Time
	actor castellan.Principal
	info  castellan.RequestInfo
	// revision is the transaction's revision, taken when it begins.
	revision int64
	// recorded is set by record; a transaction that recorded nothing
	// changed nothing and is rolled back.
	recorded bool
}

// update runs fn in a write transaction and commits it when fn returns nil
// and recorded a change.
//
// The transaction first takes the next revision, locking the one counter
// row until it ends. Writers therefore run one after the other: on
// PostgreSQL each statement after that lock sees every earlier write
// committed (READ COMMITTED), so read-check-write sequences (is the
// organization empty? is this the last owner?) cannot race, no two
// writers wait on each other's rows in opposite orders, and revisions
// become visible in order. Writes to an IAM store are rare next to
// decisions, which never take this lock.
//
// A request with an Idempotency-Key (castellan.WithIdempotency) is
// refused, once the counter is held, if another request has used the key
// (checkIdempotencyKey), and its key is recorded in the commit of its
// change.
func (db *DB) update(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{
		Tx:    sqlTx,
		db:    db,
		now:   db.now().UTC().Truncate(time.Microsecond),
		actor: castellan.Actor(ctx),
		info:  castellan.RequestInfoFrom(ctx),
	}
	defer sqlTx.Rollback()
	err = tx.queryRow(ctx, `UPDATE revision_counter SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&tx.revision)
	if err != nil {
		return fmt.Errorf("take revision: %w", err)
	}
	if err := tx.checkIdempotencyKey(ctx); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if !tx.recorded {
		return nil // nothing changed: the rollback returns the revision
	}
	if err := tx.recordIdempotencyKey(ctx); err != nil {
		return err
	}
	if db.dialect.name == "postgres" {
		// Delivered at commit to every WatchCommits of every replica.
		if _, err := tx.exec(ctx, `SELECT pg_notify('`+commitChannel+`', '')`); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	db.hooksMu.RLock()
	hooks := db.commitHooks
	db.hooksMu.RUnlock()
	for _, fn := range hooks {
		fn(context.WithoutCancel(ctx), tx.revision)
	}
	return nil
}

// unchangedRevision is the revision a write that changes nothing returns:
// the newest committed one (the transaction holds the counter, so no
// other write commits meanwhile), at which everything it would have made
// is visible. The transaction's own revision is rolled back with it.
func (tx *Tx) unchangedRevision() int64 { return tx.revision - 1 }

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.ExecContext(ctx, tx.db.dialect.rebind(query), args...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.QueryRowContext(ctx, tx.db.dialect.rebind(query), args...)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.QueryContext(ctx, tx.db.dialect.rebind(query), args...)
}

// actorID is the actor as stored in created_by / updated_by columns.
func (tx *Tx) actorID() string {
	return string(tx.actor.Type) + ":" + tx.actor.ID
}

// Revision returns the newest committed revision.
func (db *DB) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := db.queryRow(ctx, `SELECT value FROM revision_counter WHERE id = 1`).Scan(&rev)
	return rev, err
}

// Services returns every service of db.
func (db *DB) Services() castellan.Services {
	return castellan.Services{
		Organizations:   db.Organizations(),
		Projects:        db.Projects(),
		Audit:           db.Audit(),
		Tokens:          db.Tokens(),
		Users:           db.Users(),
		Groups:          db.Groups(),
		Grants:          db.Grants(),
		Roles:           db.Roles(),
		ServiceAccounts: db.ServiceAccounts(),
		AccessKeys:      db.AccessKeys(),
		Sessions:        db.Sessions(),
		MFA:             db.MFA(),
		Outbox:          db.Outbox(),
		ChangeLog:       db,
		Idempotency:     db.Idempotency(),
		Catalog:         db.catalog,
	}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }
