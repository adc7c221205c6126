package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestMailCounts counts the outbox by state after a mail of each.
func TestMailCounts(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := sqltest.MustOpen(t, b.URL(t), nil)
			org, err := db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
			if err != nil {
				t.Fatal(err)
			}
			outbox := db.Outbox()
			for range 4 {
				if _, err := outbox.EnqueueMailInWrite(ctx, org.OrganizationID, "user@acme.example", castellan.MailInvitation, map[string]string{}, nil); err != nil {
					t.Fatal(err)
				}
			}
			// A rolled-back write leaves no mail to count.
			if _, err := outbox.EnqueueMailInWrite(ctx, org.OrganizationID, "user@acme.example", castellan.MailInvitation, map[string]string{}, errors.New("no")); err == nil {
				t.Fatal("the failing write committed")
			}
			mails, err := outbox.ClaimDueMail(ctx, 3, time.Minute)
			if err != nil || len(mails) != 3 {
				t.Fatalf("claimed %d (%v), want 3", len(mails), err)
			}
			retry := time.Now().Add(time.Hour)
			for _, err := range []error{
				outbox.MarkMailSent(ctx, mails[0].ID),
				outbox.MarkMailFailed(ctx, mails[1].ID, "421 try later", &retry),
				outbox.MarkMailFailed(ctx, mails[2].ID, "550 no such user", nil),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := outbox.CountMail(ctx)
			if want := (sqlstore.MailCounts{Queued: 1, Retried: 1, Sent: 1, Dead: 1}); err != nil || got != want {
				t.Fatalf("got %+v (%v), want %+v", got, err, want)
			}
		})
	}
}

// TestObserveQuery checks that reads and the statements of writes are
// timed, and that the pools report their figures.
func TestObserveQuery(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var mu sync.Mutex
			seen := map[sqlstore.QueryKind]int{}
			db, err := sqlstore.Open(ctx, b.URL(t), sqlstore.Options{Catalog: sqltest.MustCatalog(t), ObserveQuery: func(kind sqlstore.QueryKind, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				if d >= 0 {
					seen[kind]++
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			org, err := db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Organizations().FindOrganizationByID(ctx, org.OrganizationID); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			if seen[sqlstore.QueryRead] == 0 || seen[sqlstore.QueryWrite] == 0 {
				t.Errorf("observed %v, want reads and writes", seen)
			}
			mu.Unlock()
			stats := db.PoolStats()
			want := []string{"write", "read"}
			if db.Dialect() == "postgres" {
				want = []string{"shared"}
			}
			if len(stats) != len(want) {
				t.Fatalf("pools %v, want %v", stats, want)
			}
			for _, name := range want {
				if s, ok := stats[name]; !ok || s.OpenConnections == 0 {
					t.Errorf("pool %s: %+v, want open connections", name, s)
				}
			}
		})
	}
}
