package sqlstore_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// migratedSchemas migrates a new SQLite store and a new PostgreSQL store,
// applies to each the statements given for its backend name, each as a
// migration of its own numbered from 9001, and returns both schemas.
func migratedSchemas(t *testing.T, extra map[string][]string) (sqlite, postgres sqlstore.Schema) {
	t.Helper()
	ctx := context.Background()
	schemas := map[string]sqlstore.Schema{}
	for _, b := range sqltest.Backends() {
		db := sqltest.MustOpen(t, b.URL(t), nil)
		for i, stmt := range extra[b.Name] {
			if _, err := db.ApplyMigration(ctx, 9001+i, "drift.sql", stmt); err != nil {
				t.Fatalf("%s: %s: %v", b.Name, stmt, err)
			}
		}
		s, err := db.Schema(ctx)
		if err != nil {
			t.Fatalf("%s: read schema: %v", b.Name, err)
		}
		if len(s) == 0 {
			t.Fatalf("%s: read no tables", b.Name)
		}
		schemas[b.Name] = s
	}
	return schemas["sqlite"], schemas["postgres"]
}

// TestSchemasMatch checks that the SQLite and the PostgreSQL migrations
// build the same schema: tables, columns with their type families,
// nullability and defaults, primary keys, and indexes with their columns,
// uniqueness and predicates.
func TestSchemasMatch(t *testing.T) {
	sqlite, postgres := migratedSchemas(t, nil)
	for _, d := range sqlstore.SchemaDifferences(sqlite, postgres) {
		t.Errorf("schemas differ: %v", d)
	}
	// The reading itself: a few facts each dialect states its own way.
	users := postgres["users"]
	if users == nil {
		t.Fatal("no users table")
	}
	if got, want := users.Columns["console_access"], (sqlstore.SchemaColumn{Family: "bool", NotNull: true, Default: "true"}); got != want {
		t.Errorf("users.console_access: got %+v, want %+v", got, want)
	}
	if got, want := users.Indexes["users_org_email"].Where, "status <> 'deleted' and email_lower <> ''"; got != want {
		t.Errorf("users_org_email predicate: got %q, want %q", got, want)
	}
	if got, want := postgres["change_log"].Columns["id"].Default, "autoincrement"; got != want {
		t.Errorf("change_log.id default: got %q, want %q", got, want)
	}
	if got, want := postgres["audit_events"].Indexes["audit_events_org_revision"].Columns, []string{"org_id", "revision DESC", "id DESC"}; !slices.Equal(got, want) {
		t.Errorf("audit_events_org_revision columns: got %v, want %v", got, want)
	}
}

// TestSchemaDifferencesFindDrift changes one dialect's schema the ways a
// migration written for one dialect only would, each change on its own
// column or index, and checks that the comparison names each change's
// table and column or index, and nothing else.
func TestSchemaDifferencesFindDrift(t *testing.T) {
	drifts := []struct {
		name             string
		sqlite, postgres string
		table, item      string
	}{
		{"column only in PostgreSQL", "", `ALTER TABLE users ADD COLUMN drift_only_pg TEXT`, "users", "drift_only_pg"},
		{"column only in SQLite", `ALTER TABLE groups ADD COLUMN drift_only_lite TEXT NOT NULL DEFAULT ''`, "", "groups", "drift_only_lite"},
		{"type family", `ALTER TABLE roles ADD COLUMN drift_family INTEGER`, `ALTER TABLE roles ADD COLUMN drift_family TEXT`, "roles", "drift_family"},
		{"timestamp without time zone",
			`ALTER TABLE roles ADD COLUMN drift_zone DATETIME`, `ALTER TABLE roles ADD COLUMN drift_zone TIMESTAMP`, "roles", "drift_zone"},
		{"nullability",
			`ALTER TABLE outbox ADD COLUMN drift_null INTEGER NOT NULL DEFAULT 0`, `ALTER TABLE outbox ADD COLUMN drift_null BIGINT DEFAULT 0`, "outbox", "drift_null"},
		{"default",
			`ALTER TABLE outbox ADD COLUMN drift_default TEXT NOT NULL DEFAULT 'a'`, `ALTER TABLE outbox ADD COLUMN drift_default TEXT NOT NULL DEFAULT 'b'`, "outbox", "drift_default"},
		{"index only in SQLite", `CREATE INDEX grants_drift_only ON grants (scope)`, "", "grants", "grants_drift_only"},
		{"index uniqueness",
			`CREATE UNIQUE INDEX grants_drift_unique ON grants (id, scope)`, `CREATE INDEX grants_drift_unique ON grants (id, scope)`, "grants", "grants_drift_unique"},
		{"index order",
			`CREATE INDEX grants_drift_order ON grants (scope, id DESC)`, `CREATE INDEX grants_drift_order ON grants (scope, id)`, "grants", "grants_drift_order"},
		{"index predicate",
			`CREATE INDEX grants_drift_where ON grants (scope) WHERE scope_kind = 'project'`,
			`CREATE INDEX grants_drift_where ON grants (scope) WHERE scope_kind = 'resource'`, "grants", "grants_drift_where"},
		{"unique constraint", "", `ALTER TABLE nodes ADD CONSTRAINT nodes_drift UNIQUE (org_id, name)`, "nodes", "unique(org_id,name)"},
		{"table only in PostgreSQL", "", `CREATE TABLE drift_table (id TEXT PRIMARY KEY)`, "drift_table", ""},
	}
	extra := map[string][]string{}
	want := map[sqlstore.SchemaDifference]string{} // What left empty
	for _, d := range drifts {
		if d.sqlite != "" {
			extra["sqlite"] = append(extra["sqlite"], d.sqlite)
		}
		if d.postgres != "" {
			extra["postgres"] = append(extra["postgres"], d.postgres)
		}
		want[sqlstore.SchemaDifference{Table: d.table, Item: d.item}] = d.name
	}
	sqlite, postgres := migratedSchemas(t, extra)
	for _, d := range sqlstore.SchemaDifferences(sqlite, postgres) {
		where := sqlstore.SchemaDifference{Table: d.Table, Item: d.Item}
		if _, ok := want[where]; !ok {
			t.Errorf("got unexpected difference %v", d)
		}
		delete(want, where)
	}
	for where, name := range want {
		t.Errorf("%s: got no difference, want one at %s %q", name, where.Table, where.Item)
	}
}

// TestMigrationNumbering checks that both dialects have the same
// migrations, numbered 1, 2, … without gaps.
func TestMigrationNumbering(t *testing.T) {
	names := map[string][]string{}
	for _, dialect := range []string{"sqlite", "postgres"} {
		entries, err := os.ReadDir("migrations/" + dialect)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			num, _, _ := strings.Cut(e.Name(), "_")
			if v, err := strconv.Atoi(num); err != nil || v != i+1 {
				t.Errorf("%s migration %s: got number %q, want %04d", dialect, e.Name(), num, i+1)
			}
			names[dialect] = append(names[dialect], e.Name())
		}
	}
	if !slices.Equal(names["sqlite"], names["postgres"]) {
		t.Errorf("got SQLite migrations %v, want PostgreSQL's %v", names["sqlite"], names["postgres"])
	}
}
