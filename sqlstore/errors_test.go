package sqlstore_test

import (
	"slices"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore"
)

// TestUniqueConflictsMatchSchema checks that every index the store
// translates to a conflict code is a unique index of both migrated
// schemas, on the table and columns the translation names: SQLite's
// errors name the columns, PostgreSQL's the index, and a renamed index
// or a changed column list would otherwise turn a conflict into an
// internal error.
func TestUniqueConflictsMatchSchema(t *testing.T) {
	sqlite, postgres := migratedSchemas(t, nil)
	for name, schema := range map[string]sqlstore.Schema{"sqlite": sqlite, "postgres": postgres} {
		for _, c := range sqlstore.UniqueConflictIndexes() {
			table := schema[c.Table]
			if table == nil {
				t.Errorf("%s: %s (%s): got no table %s", name, c.Index, c.Code, c.Table)
				continue
			}
			index, ok := table.Indexes[c.Index]
			if !ok || !index.Unique || !slices.Equal(index.Columns, c.Columns) {
				t.Errorf("%s: %s (%s): got %+v (found %v), want a unique index on %v", name, c.Index, c.Code, index, ok, c.Columns)
			}
		}
	}
}
