package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"sync/atomic"

	"github.com/castellan-iam/castellan"
)

// An outage of the store (the server is down or unreachable, the
// connection was cut, the database is read-only, locked past the busy
// timeout or cannot be opened) is no bug of Castellan: callers should
// retry later and operators should look at the database. Every driver
// error passes through the connections of openDB, which turn such errors
// into castellan errors of kind EUNAVAILABLE, code store.unavailable, with
// the driver's error as cause. The store's own wrapping (fmt.Errorf with
// %w) keeps them: castellan.ErrorKind finds the kind with errors.As.

// outages translates the driver errors of one store and counts the
// outages among them.
type outages struct {
	count atomic.Uint64
}

// translate returns err as an EUNAVAILABLE error when it is an outage, and
// err itself otherwise.
func (o *outages) translate(err error) error {
	if !isOutage(err) {
		return err
	}
	o.count.Add(1)
	return &castellan.Error{Kind: castellan.EUNAVAILABLE, Code: castellan.CodeStoreUnavailable,
		Message: "the store is unavailable; retry later", Err: err}
}

// openDB is sql.OpenDB over connections whose errors o translates.
func (o *outages) openDB(c driver.Connector) *sql.DB {
	return sql.OpenDB(outageConnector{Connector: c, outages: o})
}

type outageConnector struct {
	driver.Connector
	outages *outages
}

func (c outageConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, c.outages.translate(err)
	}
	return &outageConn{conn: conn, outages: c.outages}, nil
}

// outageConn passes every call to conn and translates its errors. It
// implements the optional interfaces database/sql looks for, answering as
// database/sql does for a connection without them when conn lacks one.
// Prepared statements are passed through untranslated: the store never
// prepares one (both drivers execute and query directly).
type outageConn struct {
	conn    driver.Conn
	outages *outages
}

var (
	_ driver.ConnBeginTx        = (*outageConn)(nil)
	_ driver.ConnPrepareContext = (*outageConn)(nil)
	_ driver.ExecerContext      = (*outageConn)(nil)
	_ driver.QueryerContext     = (*outageConn)(nil)
	_ driver.Pinger             = (*outageConn)(nil)
	_ driver.NamedValueChecker  = (*outageConn)(nil)
	_ driver.SessionResetter    = (*outageConn)(nil)
	_ driver.Validator          = (*outageConn)(nil)
)

func (c *outageConn) Prepare(query string) (driver.Stmt, error) {
	s, err := c.conn.Prepare(query)
	return s, c.outages.translate(err)
}

func (c *outageConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	p, ok := c.conn.(driver.ConnPrepareContext)
	if !ok {
		return c.Prepare(query)
	}
	s, err := p.PrepareContext(ctx, query)
	return s, c.outages.translate(err)
}

func (c *outageConn) Close() error { return c.conn.Close() }

func (c *outageConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *outageConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = c.conn.Begin()
	}
	if err != nil {
		return nil, c.outages.translate(err)
	}
	return outageTx{tx: tx, outages: c.outages}, nil
}

func (c *outageConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := e.ExecContext(ctx, query, args)
	return r, c.outages.translate(err)
}

func (c *outageConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		return nil, c.outages.translate(err)
	}
	return outageRows{Rows: rows, outages: c.outages}, nil
}

func (c *outageConn) Ping(ctx context.Context) error {
	if p, ok := c.conn.(driver.Pinger); ok {
		return c.outages.translate(p.Ping(ctx))
	}
	return nil
}

func (c *outageConn) CheckNamedValue(v *driver.NamedValue) error {
	if n, ok := c.conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(v)
	}
	return driver.ErrSkip // database/sql's default conversion
}

func (c *outageConn) ResetSession(ctx context.Context) error {
	if r, ok := c.conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *outageConn) IsValid() bool {
	if v, ok := c.conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type outageTx struct {
	tx      driver.Tx
	outages *outages
}

func (t outageTx) Commit() error   { return t.outages.translate(t.tx.Commit()) }
func (t outageTx) Rollback() error { return t.outages.translate(t.tx.Rollback()) }

// outageRows translates the errors of reading rows: a connection can
// fail half way through a result. It hides the column-type interfaces of
// the drivers' rows, which the store does not use.
type outageRows struct {
	driver.Rows
	outages *outages
}

func (r outageRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == io.EOF {
		return err
	}
	return r.outages.translate(err)
}
