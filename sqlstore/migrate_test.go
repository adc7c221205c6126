package sqlstore_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func TestMigrate(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.URL(t)
			db := sqltest.MustOpen(t, url, nil)

			// Opening again applies nothing: each migration runs once.
			again, err := sqlstore.Open(ctx, url, sqlstore.Options{SkipMigrate: true, Catalog: sqltest.MustCatalog(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if applied, err := again.Migrate(ctx); err != nil || len(applied) != 0 {
				t.Fatalf("second migrate applied %v (%v), want nothing", applied, err)
			}

			// A migration that fails half way, at run time after its first
			// statements ran, leaves no table and no record.
			_, err = db.ApplyMigration(ctx, 9001, "9001_broken.sql",
				`CREATE TABLE half_done (id INTEGER PRIMARY KEY); INSERT INTO half_done (id) VALUES (1); INSERT INTO half_done (id) VALUES (1)`)
			if err == nil {
				t.Fatal("broken migration succeeded")
			}
			if ran, err := db.ApplyMigration(ctx, 9001, "9001_fixed.sql", `SELECT 1`); err != nil || !ran {
				t.Fatalf("the failed migration left its record: ran=%v err=%v", ran, err)
			}
			ran, err := db.ApplyMigration(ctx, 9002, "9002_probe.sql", `CREATE TABLE half_done (id INTEGER PRIMARY KEY)`)
			if err != nil || !ran {
				t.Fatalf("table of the failed migration survived it: ran=%v err=%v", ran, err)
			}
			ran, err = db.ApplyMigration(ctx, 9002, "9002_probe.sql", `CREATE TABLE half_done (id INTEGER PRIMARY KEY)`)
			if err != nil || ran {
				t.Fatalf("migration 9002 ran twice: ran=%v err=%v", ran, err)
			}
		})
	}
}
