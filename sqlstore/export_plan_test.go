package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
)

// Query is a read the store sent to its driver: the text, after rebind,
// and the arguments.
type Query struct {
	SQL  string
	Args []any
}

// QueryLog collects the reads of a DB given to TraceReads.
type QueryLog struct {
	mu      sync.Mutex
	queries []Query
}

// Take returns the reads logged since the last Take and forgets them.
func (l *QueryLog) Take() []Query {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queries
	l.queries = nil
	return q
}

func (l *QueryLog) add(query string, args []driver.NamedValue) {
	values := make([]any, len(args))
	for i, a := range args {
		values[i] = a.Value
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, Query{SQL: query, Args: values})
}

// TraceReads makes db serve its reads outside transactions (the lookups
// of every request) through a pool, on the same driver and database as
// the one it replaces, that logs each query; rawURL is the URL db was
// opened with.
func (db *DB) TraceReads(rawURL string) *QueryLog {
	var log *QueryLog
	db.read, log = db.traced(db.read, db.write, rawURL, sqliteDSN)
	return log
}

// TraceWrites makes db run its transactions through a connection, on the
// same driver and database as the one it replaces, that logs each query
// and each UPDATE and DELETE. A transaction prepares a statement it runs
// again, and those runs are not logged: the first is.
func (db *DB) TraceWrites(rawURL string) *QueryLog {
	var log *QueryLog
	db.write, log = db.traced(db.write, db.read, rawURL, sqliteWriterDSN)
	db.write.SetMaxOpenConns(1)
	return log
}

// traced returns a pool logging its queries, on pool's driver and
// database (rawURL; sqlite turns a SQLite file into its DSN), and closes
// pool unless other shares it.
func (db *DB) traced(pool, other *sql.DB, rawURL string, sqlite func(string) string) (*sql.DB, *QueryLog) {
	dsn := rawURL
	if db.dialect.name == "sqlite" {
		dsn = sqlite(strings.TrimPrefix(rawURL, "sqlite://"))
	}
	log := &QueryLog{}
	traced := sql.OpenDB(tracingConnector{driver: pool.Driver(), dsn: dsn, log: log})
	if pool != other {
		pool.Close()
	}
	return traced, log
}

type tracingConnector struct {
	driver driver.Driver
	dsn    string
	log    *QueryLog
}

func (c tracingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return tracingConn{Conn: conn, log: c.log}, nil
}

func (c tracingConnector) Driver() driver.Driver { return c.driver }

// tracingConn logs the queries it runs; both drivers implement
// QueryerContext, ExecerContext, ConnBeginTx and NamedValueChecker, which
// it passes on.
type tracingConn struct {
	driver.Conn
	log *QueryLog
}

func (c tracingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.log.add(query, args)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c tracingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if verb, _, _ := strings.Cut(strings.TrimSpace(query), " "); verb == "UPDATE" || verb == "DELETE" {
		c.log.add(query, args)
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

// BeginTx passes the options on (the index reads in a repeatable-read
// transaction on PostgreSQL); both drivers implement ConnBeginTx.
func (c tracingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c tracingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if checker, ok := c.Conn.(driver.NamedValueChecker); ok {
		return checker.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Explain returns the lines of the plan of q: SQLite's EXPLAIN QUERY
// PLAN, or PostgreSQL's EXPLAIN with sequential scans disabled, so that a
// table with no usable index still shows a Seq Scan however small the
// test's tables are.
func (db *DB) Explain(ctx context.Context, q Query) ([]string, error) {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if db.dialect.name == "sqlite" {
		rows, err := conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.SQL, q.Args...)
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", q.SQL, err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				return nil, err
			}
			plan = append(plan, detail)
		}
		return plan, rows.Err()
	}
	if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
		return nil, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "RESET enable_seqscan")
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("explain %s: %w", q.SQL, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	return plan, rows.Err()
}
