package sqlstore

import "context"

// ApplyMigration applies one migration that is not embedded, so tests can
// check what a failing migration leaves behind.
func (db *DB) ApplyMigration(ctx context.Context, version int, name, sql string) (bool, error) {
	return db.applyMigration(ctx, migration{version: version, name: name, sql: sql})
}

// Count runs a SELECT COUNT(*) query, so that tests can check rows the
// services do not show (cascades, the change log).
func (db *DB) Count(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := db.queryRow(ctx, query, args...).Scan(&n)
	return n, err
}
