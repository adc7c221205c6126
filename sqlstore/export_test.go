package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

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

// TablesHolding returns the tables with a row whose text holds needle in
// any column, so that tests can prove a secret is stored nowhere.
func (db *DB) TablesHolding(ctx context.Context, needle string) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.dialect.name == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.query(ctx, q)
	if err != nil {
		return nil, err
	}
	tables, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	var holding []string
	for _, table := range tables {
		found, err := db.tableHolds(ctx, table, needle)
		if err != nil {
			return nil, err
		}
		if found {
			holding = append(holding, table)
		}
	}
	return holding, nil
}

func (db *DB) tableHolds(ctx context.Context, table, needle string) (bool, error) {
	rows, err := db.query(ctx, `SELECT * FROM `+table)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	values := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range values {
		ptrs[i] = &values[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return false, err
		}
		for _, v := range values {
			var text string
			switch v := v.(type) {
			case []byte:
				text = string(v)
			case string:
				text = v
			default:
				text = fmt.Sprint(v)
			}
			if strings.Contains(text, needle) {
				return true, nil
			}
		}
	}
	return false, rows.Err()
}

// SetListenHeartbeat shortens the heartbeat of WatchCommits, so that a test
// of a silent connection need not wait for the default.
func (db *DB) SetListenHeartbeat(d time.Duration) { db.listenHeartbeat = d }

// PutUnder moves a node under parentID, as the structure's move does,
// so that tests can hang projects under accounts.
func (db *DB) PutUnder(ctx context.Context, orgID, id, parentID string) error {
	return db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		n, err := findNode(ctx, tx.queryRow, orgID, id)
		if err != nil {
			return err
		}
		if err := moveNode(ctx, tx, orgID, n, parentID); err != nil {
			return err
		}
		_, err = tx.record(ctx, change{orgID: orgID, action: "test:PutUnder", entityType: "node", entityID: id, operation: "update"})
		return err
	})
}
