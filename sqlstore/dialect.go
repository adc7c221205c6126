package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
)

// dialect holds what differs between SQLite and PostgreSQL. Queries are
// written once with ? placeholders.
type dialect struct {
	name string
	// numbered placeholders ($1, $2, …) instead of ?.
	numbered bool
	// lock serializes migrations across processes; empty when the write
	// transaction already does (SQLite's BEGIN IMMEDIATE).
	migrationLock string
	// lockKey is appended to a SELECT whose row must not be deleted until
	// commit (other writers may still read and update it); SQLite needs
	// nothing, its one writer holds the database lock.
	lockKey string
	// lockExclusive is appended to a SELECT of a row that serializes
	// writers which must see each other's effects (the last-owner rule);
	// plain readers and lockKey holders are not blocked.
	lockExclusive string
	// lockDelete is appended to a SELECT of a row about to be deleted with
	// what hangs off it (a group's members and grants): it waits for, and
	// then blocks, the writers that hold lockKey on the row.
	lockDelete string
	// jsonCast turns a JSON column into text for scanning ("%s::text").
	jsonCast string
	// lockSkip is appended to a SELECT of queue rows to take: it locks the
	// rows it returns and passes over those another transaction holds, so
	// concurrent takers get disjoint rows (the outbox). SQLite's one
	// writer needs nothing.
	lockSkip string
}

var (
	sqlite   = dialect{name: "sqlite", jsonCast: "%s"}
	postgres = dialect{
		name: "postgres", numbered: true,
		migrationLock: "SELECT pg_advisory_xact_lock(7031985)",
		lockKey:       " FOR KEY SHARE",
		lockExclusive: " FOR NO KEY UPDATE",
		lockDelete:    " FOR UPDATE",
		jsonCast:      "%s::text",
		lockSkip:      " FOR UPDATE SKIP LOCKED",
	}
)

// byKey returns column (the organization of a row, org_id) for a query
// that finds rows by their key: "org_id = ? AND id IN (…)". SQLite keeps
// no statistics (nothing runs ANALYZE there) and guesses that an index's
// equality picks a few rows, so for a long IN list it walks the index of
// the organization, all its rows, rather than the listed keys: the reads
// of a 50,000-grant import grew with the square of its size. A unary +
// keeps SQLite from using an index for the column; PostgreSQL has its
// statistics and needs none of this.
func (d dialect) byKey(column string) string {
	if d.name == sqlite.name {
		return "+" + column
	}
	return column
}

// rebind rewrites ? placeholders for the dialect. Queries in this package
// never contain ? inside literals.
func (d dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// jsonText returns the expression that reads JSON column as text.
func (d dialect) jsonText(column string) string { return fmt.Sprintf(d.jsonCast, column) }
