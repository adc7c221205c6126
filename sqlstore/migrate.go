package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

// migration is one embedded SQL file, named NNNN_description.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(d dialect) ([]migration, error) {
	dir := path.Join("migrations", d.name)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// Migrate applies the migrations the store has not seen, each in its own
// transaction together with its row in schema_migrations, so a migration
// never runs twice and a failed one leaves nothing behind. It returns the
// names of the migrations it applied.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	ms, err := loadMigrations(db.dialect)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range ms {
		ran, err := db.applyMigration(ctx, m)
		if err != nil {
			return applied, err
		}
		if ran {
			applied = append(applied, m.name)
		}
	}
	return applied, nil
}

func (db *DB) applyMigration(ctx context.Context, m migration) (bool, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if db.dialect.migrationLock != "" {
		if _, err := tx.ExecContext(ctx, db.dialect.migrationLock); err != nil {
			return false, fmt.Errorf("lock migrations: %w", err)
		}
	}
	// Created under the lock: replicas starting together on a new
	// PostgreSQL would otherwise race to create it.
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return false, fmt.Errorf("create schema_migrations: %w", err)
	}
	var n int
	q := db.dialect.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`)
	if err := tx.QueryRowContext(ctx, q, m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	q = db.dialect.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`)
	if _, err := tx.ExecContext(ctx, q, m.version, m.name, db.now().UTC().Format("2006-01-02T15:04:05Z")); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return true, nil
}
