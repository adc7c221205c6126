package sqltest

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/google/uuid"
)

// InsertMail writes a pending mail straight into the outbox of the store
// at rawURL, as a write of the store would have enqueued it at createdAt,
// and returns its ID. Tests of the sender and of the mail API use it to
// have mails without depending on which writes send them.
func InsertMail(tb testing.TB, rawURL, orgID, to string, template castellan.MailTemplate, data map[string]string, createdAt time.Time) string {
	tb.Helper()
	db, rebind := openDirect(tb, rawURL)
	defer db.Close()
	body, err := json.Marshal(data)
	if err != nil {
		tb.Fatal(err)
	}
	q := rebind(`INSERT INTO outbox (id, org_id, to_address, template, data, status, attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`)
	id := uuid.Must(uuid.NewV7()).String()
	createdAt = createdAt.UTC().Truncate(time.Microsecond)
	if _, err := db.ExecContext(context.Background(), q, id, orgID, to, string(template), string(body), createdAt, createdAt); err != nil {
		tb.Fatalf("insert mail: %v", err)
	}
	return id
}

// openDirect opens the database at rawURL without the store, and returns
// it with the function that turns a query's ? placeholders into its
// driver's.
func openDirect(tb testing.TB, rawURL string) (*sql.DB, func(string) string) {
	tb.Helper()
	driver, dsn, numbered := "pgx", rawURL, true
	if path, ok := strings.CutPrefix(rawURL, "sqlite://"); ok {
		// The store's own time format, so that times compare as text.
		driver, dsn, numbered = "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_time_format=sqlite", false
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatalf("open %s: %v", rawURL, err)
	}
	rebind := func(q string) string {
		for i := 1; numbered && strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", "$"+strconv.Itoa(i), 1)
		}
		return q
	}
	return db, rebind
}
