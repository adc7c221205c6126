// Package sqlstore implements Castellan's services on database/sql, for
// SQLite (modernc.org/sqlite, pure Go) and PostgreSQL (pgx). One
// implementation serves both; a small dialect type holds the differences.
// Driver errors are translated to castellan errors here and nowhere else.
package sqlstore

import (
	"cmp"
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
	"github.com/jackc/pgx/v5/stdlib"
	litedriver "modernc.org/sqlite"
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
	// path is the SQLite file, for errors; empty for PostgreSQL.
	path string
	// listenHeartbeat is how long WatchCommits's connection may stay
	// silent before it must answer a ping (defaultListenHeartbeat).
	listenHeartbeat time.Duration
	// outages translates the errors of both pools (outage.go).
	outages *outages
	// commitHooks run after every committed write (OnCommit).
	hooksMu     sync.RWMutex
	commitHooks []func(ctx context.Context, revision int64)
	// observeQuery is Options.ObserveQuery.
	observeQuery func(kind QueryKind, d time.Duration)
	// maxAccounts is Options.MaxAccounts.
	maxAccounts int
	// maxUsers is Options.MaxUsers.
	maxUsers int
	// billing and inventory answer the preconditions of excluding and
	// deleting accounts (Options.Billing, Options.Inventory).
	billing   castellan.Billing
	inventory castellan.ResourceInventory
	// signIn is Options.SignIn.
	signIn castellan.SignInPolicy
	// sealer is Options.Sealer; nil creates access keys that cannot sign.
	sealer castellan.SecretSealer
	// decoy is a secret sealed at Open, which verifying the signature of
	// a key without a sealed secret opens instead (sealedsecrets.go).
	decoy sealedSecret
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

// defaultListenHeartbeat is how long WatchCommits waits for a
// notification before it checks that its connection still answers: a
// connection whose peer vanished without closing it (a half-open TCP
// connection) would otherwise wait for the kernel's keepalive, which
// takes hours.
const defaultListenHeartbeat = 5 * time.Second

// WatchCommits calls fn after writes of any process are committed to the
// store, until ctx ends or the connection fails, which it returns at once:
// on PostgreSQL it LISTENs on its own connection, and calls fn once when
// it starts listening, for what was committed before. fn should read the
// change log (a notification carries nothing) and must be quick: while it
// runs, notifications wait. The connection's application_name is the
// URL's (or "castellan") followed by " listen", so that operators can
// tell it apart in pg_stat_activity; when no notification has come for
// a heartbeat (5 s), a ping checks that the connection is still alive. On
// SQLite, whose other processes nothing announces, it returns nil at once;
// polling Changes covers them.
func (db *DB) WatchCommits(ctx context.Context, fn func()) error {
	if db.url == "" {
		return nil
	}
	config, err := pgx.ParseConfig(db.url)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	config.RuntimeParams["application_name"] = cmp.Or(config.RuntimeParams["application_name"], "castellan") + " listen"
	conn, err := pgx.ConnectConfig(ctx, config)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+commitChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fn()
	for {
		wait, cancel := context.WithTimeout(ctx, db.listenHeartbeat)
		_, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			fn()
		case ctx.Err() != nil:
			return fmt.Errorf("listen: %w", ctx.Err())
		case wait.Err() != nil && !conn.IsClosed():
			// Quiet for a heartbeat: the connection must still answer.
			ping, cancel := context.WithTimeout(ctx, db.listenHeartbeat)
			err := conn.Ping(ping)
			cancel()
			if err != nil {
				return fmt.Errorf("listen: heartbeat: %w", err)
			}
		default:
			return fmt.Errorf("listen: %w", err)
		}
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
	// ObserveQuery, when set, is told how long each statement took, for
	// metrics; it runs on the caller's goroutine and must be quick.
	ObserveQuery func(kind QueryKind, d time.Duration)
	// MaxAccounts is the most accounts an organization may hold; 0
	// means castellan.DefaultMaxAccounts.
	MaxAccounts int
	// MaxUsers is the most users, not counting tombstones, an
	// organization may hold; 0 means no limit.
	MaxUsers int
	// Billing and Inventory tell the preconditions of excluding and
	// deleting accounts; nil means the account attributes the operator
	// sets through the API (AttributeFacts).
	Billing   castellan.Billing
	Inventory castellan.ResourceInventory
	// SignIn is the lockout policy that counts the wrong passwords given
	// to confirm a change outside a sign-in form (an account's
	// deletion); the zero value means castellan.DefaultSignInPolicy.
	SignIn castellan.SignInPolicy
	// Sealer seals the secret of each new access key, so that the key can
	// sign requests (VerifyAccessKeySignature); without it, new keys only
	// exchange for tokens. RotateSealedSecrets seals the existing ones
	// again under its current key.
	Sealer castellan.SecretSealer
}

// QueryKind tells the statements ObserveQuery times apart.
type QueryKind string

// The kinds of statements.
const (
	// QueryRead is a query outside transactions.
	QueryRead QueryKind = "read"
	// QueryWrite is a statement of a write transaction.
	QueryWrite QueryKind = "write"
)

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
	db.observeQuery = opts.ObserveQuery
	db.maxAccounts = cmp.Or(opts.MaxAccounts, castellan.DefaultMaxAccounts)
	db.maxUsers = opts.MaxUsers
	db.billing, db.inventory = opts.Billing, opts.Inventory
	db.signIn = opts.SignIn
	if db.signIn == (castellan.SignInPolicy{}) {
		db.signIn = castellan.DefaultSignInPolicy
	}
	if db.billing == nil {
		db.billing = AttributeFacts{db: db}
	}
	if db.inventory == nil {
		db.inventory = AttributeFacts{db: db}
	}
	db.now = opts.Clock
	if db.now == nil {
		db.now = castellan.SystemClock
	}
	if err := db.setSealer(opts.Sealer); err != nil {
		db.Close()
		return nil, err
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
		if err := checkSQLiteFile(path); err != nil {
			return nil, err
		}
		return openSQLite(path)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return nil, fmt.Errorf("database URL: %w", err)
		}
		config, err := pgx.ParseConfig(rawURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		o := &outages{}
		pool := o.openDB(stdlib.GetConnector(*config))
		pool.SetMaxOpenConns(32)
		pool.SetMaxIdleConns(32)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{dialect: postgres, write: pool, read: pool, url: rawURL, outages: o, listenHeartbeat: defaultListenHeartbeat}, nil
	}
	return nil, fmt.Errorf("database URL %q: want sqlite://<path> or postgres://…", rawURL)
}

// sqliteDSN is the modernc.org/sqlite data source name of the file at path.
func sqliteDSN(path string) string {
	// WAL lets readers run beside the one writer; the busy timeout covers
	// other processes (castellan migrate next to a server).
	// _time_format=sqlite stores times as "2006-01-02 15:04:05.999999999-07:00",
	// which SQLite's date functions read; all times are UTC, so the text
	// sorts as the times do. temp_store(memory) keeps savepoint journals
	// (one per item of a bulk import) off the disk: 1.6× the import's rate.
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=temp_store(memory)&_pragma=mmap_size(1073741824)&_time_format=sqlite"
}

// sqliteWriterDSN is the data source name of the one writing connection.
// _txlock=immediate takes the write lock at BEGIN so a transaction never
// fails half way on lock upgrade. The writer keeps 64 MiB of pages
// (SQLite's default is 2 MiB): a batch of an import touches thousands of
// index pages, and a smaller cache spills them to the WAL in the middle
// of the transaction, to be written there again.
func sqliteWriterDSN(path string) string {
	return sqliteDSN(path) + "&_txlock=immediate&_pragma=cache_size(-65536)"
}

func openSQLite(path string) (*DB, error) {
	dsn := sqliteDSN(path)
	o := &outages{}
	writer, err := litedriver.NewConnector(sqliteWriterDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write := o.openDB(writer)
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	reader, err := litedriver.NewConnector(dsn + "&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	read := o.openDB(reader)
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	return &DB{dialect: sqlite, write: write, read: read, path: path, outages: o}, nil
}

func (db *DB) ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		if db.path != "" {
			return fmt.Errorf("open sqlite database %s: %w", db.path, err)
		}
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

// UnavailableErrors counts the store's operations that failed because the
// store was unavailable (castellan.EUNAVAILABLE), for metrics.
func (db *DB) UnavailableErrors() uint64 { return db.outages.count.Load() }

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

// PoolStats returns the figures of the connection pools by name: "write"
// and "read" for SQLite, "shared" for PostgreSQL's one pool.
func (db *DB) PoolStats() map[string]sql.DBStats {
	if db.read == db.write {
		return map[string]sql.DBStats{"shared": db.write.Stats()}
	}
	return map[string]sql.DBStats{"write": db.write.Stats(), "read": db.read.Stats()}
}

// timed tells ObserveQuery how long a statement begun at start took.
func (db *DB) timed(kind QueryKind, start time.Time) {
	if db.observeQuery != nil {
		db.observeQuery(kind, time.Since(start))
	}
}

// query runs a read outside any transaction.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	defer db.timed(QueryRead, time.Now())
	return db.read.QueryContext(ctx, db.dialect.rebind(query), args...)
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	defer db.timed(QueryRead, time.Now())
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
	// stmts are the statements the transaction ran more than once, kept
	// prepared (SQLite only, see stmt); seen are those it ran once.
	stmts map[string]*sql.Stmt
	seen  map[string]bool
}

// maxTxStmts bounds the statements a transaction keeps prepared: queries
// built for lists of varying length are each a statement of their own.
const maxTxStmts = 256

// stmt returns query prepared, when the transaction runs it for the
// second time or more, else nil. modernc.org/sqlite parses a statement at
// every run unless it was prepared, and parsing costs more than running
// the short statements of a bulk import (a savepoint, an insert, a
// lookup by key: 6 s of a 24 s import). pgx caches prepared statements
// per connection by itself, so PostgreSQL needs none of this.
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if tx.db.dialect.name != sqlite.name {
		return nil
	}
	if st, ok := tx.stmts[query]; ok {
		return st
	}
	if !tx.seen[query] {
		if tx.seen == nil {
			tx.seen, tx.stmts = map[string]bool{}, map[string]*sql.Stmt{}
		}
		if len(tx.seen) < 4*maxTxStmts {
			tx.seen[query] = true
		}
		return nil
	}
	if len(tx.stmts) >= maxTxStmts {
		return nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil // the run without it reports the error
	}
	tx.stmts[query] = st // closed with the transaction
	return st
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
	castellan.NoteWriteRevision(ctx, tx.revision)
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
	defer tx.db.timed(QueryWrite, time.Now())
	query = tx.db.dialect.rebind(query)
	if st := tx.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	defer tx.db.timed(QueryWrite, time.Now())
	query = tx.db.dialect.rebind(query)
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	defer tx.db.timed(QueryWrite, time.Now())
	query = tx.db.dialect.rebind(query)
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
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
		Organizations:      db.Organizations(),
		Nodes:              db.Nodes(),
		OrgUnits:           db.OrgUnits(),
		ControlPolicies:    db.ControlPolicies(),
		Accounts:           db.Accounts(),
		AccountMemberships: db.AccountMemberships(),
		Projects:           db.Projects(),
		Audit:              db.Audit(),
		Tokens:             db.Tokens(),
		Users:              db.Users(),
		Groups:             db.Groups(),
		Grants:             db.Grants(),
		Roles:              db.Roles(),
		ServiceAccounts:    db.ServiceAccounts(),
		AccessKeys:         db.AccessKeys(),
		Sessions:           db.Sessions(),
		MFA:                db.MFA(),
		Outbox:             db.Outbox(),
		Imports:            db.Imports(),
		RoleIdentities:     db.RoleIdentities(),
		Federations:        db.Federations(),
		SCIMTokens:         db.SCIMTokens(),
		ChangeLog:          db,
		Idempotency:        db.Idempotency(),
		DecisionLog:        db.DecisionLog(),
		Catalog:            db.catalog,
	}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }
