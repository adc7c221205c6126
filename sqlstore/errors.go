package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/castellan-iam/castellan"
	"github.com/jackc/pgx/v5/pgconn"
	litedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// This file is the one place that reads the drivers' errors (model:
// openfga's HandleSQLError). A query that finds no row, a write that
// breaks a unique index and an outage of the store each become the
// castellan error they mean to a caller; the rest of the package asks the
// functions below and never looks at a driver's error itself.

// uniqueConflict is what a violation of one unique index means.
type uniqueConflict struct {
	index string
	// table and columns are how SQLite names the index in its error
	// ("UNIQUE constraint failed: groups.org_id, groups.name");
	// PostgreSQL names the index itself.
	table   string
	columns []string
	code    string
	// message has one %q, for the value that was taken.
	message string
}

// uniqueConflicts lists the unique indexes a write of a caller's value can
// break; TestUniqueConflictsMatchSchema keeps it true to the migrations.
var uniqueConflicts = []uniqueConflict{
	{"organizations_name", "organizations", []string{"name"},
		castellan.CodeOrgNameTaken, "an organization named %q already exists"},
	{"nodes_sibling_name", "nodes", []string{"parent_id", "kind", "name"},
		castellan.CodeProjectNameTaken, "a project named %q already exists in this parent"},
	{"nodes_account_name", "nodes", []string{"org_id", "name"},
		castellan.CodeAccountNameTaken, "an account named %q already exists in this organization"},
	{"control_policies_org_name", "control_policies", []string{"org_id", "name"},
		castellan.CodeControlPolicyNameTaken, "a control policy named %q already exists in this organization"},
	{"groups_org_name", "groups", []string{"org_id", "name"},
		castellan.CodeGroupNameTaken, "a group named %q already exists in this organization"},
	{"roles_org_name", "roles", []string{"org_id", "name"},
		castellan.CodeRoleNameTaken, "a role named %q already exists in this organization"},
	{"role_identities_org_name", "role_identities", []string{"org_id", "name_lower"},
		castellan.CodeRoleIdentityNameTaken, "a role identity named %q already exists in this organization"},
	{"federations_org_name", "federations", []string{"org_id", "name_lower"},
		castellan.CodeFederationNameTaken, "a federation named %q already exists in this organization"},
	{"service_accounts_project_name", "service_accounts", []string{"project_id", "name"},
		castellan.CodeServiceAccountNameTaken, "a service account named %q already exists in this project"},
	{"users_org_email", "users", []string{"org_id", "email_lower"},
		castellan.CodeUserEmailTaken, "a user with email %q already exists in this organization"},
	{"users_org_login", "users", []string{"org_id", "login_id_lower"},
		castellan.CodeUserLoginIDTaken, "a user with login ID %q already exists in this organization"},
}

// conflict returns the ECONFLICT error that err means when it is the
// violation of an index in uniqueConflicts, its message naming value,
// the caller's value for the index (a name, an email); else nil.
func conflict(err error, value string) error {
	if !isUniqueViolation(err) {
		return nil
	}
	index, sqliteColumns := violatedIndex(err)
	for _, c := range uniqueConflicts {
		if index == c.index || sqliteColumns == c.sqliteColumns() {
			return castellan.Errorf(castellan.ECONFLICT, c.code, c.message, value)
		}
	}
	return nil
}

// sqliteColumns is how SQLite's error lists the index's columns.
func (c uniqueConflict) sqliteColumns() string {
	qualified := make([]string, len(c.columns))
	for i, col := range c.columns {
		qualified[i] = c.table + "." + col
	}
	return strings.Join(qualified, ", ")
}

// violatedIndex returns the index a unique violation names on
// PostgreSQL, or the columns it names on SQLite.
func violatedIndex(err error) (index, sqliteColumns string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName, ""
	}
	var liteErr *litedriver.Error
	if errors.As(err, &liteErr) {
		_, columns, _ := strings.Cut(liteErr.Error(), "UNIQUE constraint failed: ")
		columns, _, _ = strings.Cut(columns, " (")
		return "", columns
	}
	return "", ""
}

// isUniqueViolation reports whether err is the violation of a unique
// index or primary key, whichever; conflict says which.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *litedriver.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isNoRows reports whether err says that a query found no row; callers
// answer with the not-found error of what they looked for (notFound), or
// take it as the empty answer.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// isOutage reports whether err says the store cannot be reached or cannot
// write for now, rather than that this request is wrong; the connections
// turn such errors into EUNAVAILABLE (outage.go). SQLite's "busy" is one:
// the driver waited busy_timeout for the lock before it gave up.
func isOutage(err error) bool {
	// database/sql retries ErrBadConn on another connection itself.
	if err == nil || errors.Is(err, driver.ErrBadConn) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),          // insufficient resources: too many connections, disk full
			pgErr.Code == "57P01", pgErr.Code == "57P02", // admin or crash shutdown
			pgErr.Code == "57P03", // cannot connect now (starting up, recovering)
			pgErr.Code == "25006": // read-only transaction: a standby, or default_transaction_read_only
			return true
		}
		return false
	}
	var liteErr *litedriver.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
			// The driver waits busy_timeout before it gives up.
			sqlite3.SQLITE_BUSY:
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		// A bare io.EOF ends rows; wrapped, it is a connection closed by the server.
		err != io.EOF && errors.Is(err, io.EOF)
}
