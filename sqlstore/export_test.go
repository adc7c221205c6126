package sqlstore

import "context"

// ApplyMigration applies one migration that is not embedded, so tests can
// check what a failing migration leaves behind.
func (db *DB) ApplyMigration(ctx context.Context, version int, name, sql string) (bool, error) {
	return db.applyMigration(ctx, migration{version: version, name: name, sql: sql})
}
