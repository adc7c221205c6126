package sqlstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Thresholds of RefreshStatistics: a table is analyzed again once this
// many rows changed since its last analysis, and at least this fraction
// of its rows.
const (
	staleStatisticsRows     = 500
	staleStatisticsFraction = 0.1
)

// RefreshStatistics analyzes the tables of the store whose planner
// statistics went stale: PostgreSQL plans every query from them, and a
// table that grew from a few rows to tens of thousands (a bulk load of
// grants) under statistics taken when it was small gets plans that cost
// several times what they should (BenchmarkGetProjectAfterWrites: 0.6 ms
// before, 2.4–3.4 ms after 20,000 writes, 0.6 ms again after ANALYZE).
// Autovacuum does this where it runs, but it may be off or lag behind a
// burst; castellan serve calls this every minute. It returns how many
// tables it analyzed. SQLite keeps no planner statistics unless asked
// (ANALYZE), and its plans do not drift: it does nothing there.
func (db *DB) RefreshStatistics(ctx context.Context) (int, error) {
	if db.dialect.name != postgres.name {
		return 0, nil
	}
	rows, err := db.read.QueryContext(ctx, `SELECT relname FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND n_mod_since_analyze >= $1 AND n_mod_since_analyze >= $2 * GREATEST(n_live_tup, 1)
		ORDER BY relname`, staleStatisticsRows, staleStatisticsFraction)
	if err != nil {
		return 0, fmt.Errorf("find stale statistics: %w", err)
	}
	tables, err := collect(rows, scanString)
	if err != nil {
		return 0, fmt.Errorf("find stale statistics: %w", err)
	}
	for i, table := range tables {
		if _, err := db.write.ExecContext(ctx, `ANALYZE `+pgx.Identifier{table}.Sanitize()); err != nil {
			return i, fmt.Errorf("analyze %s: %w", table, err)
		}
	}
	return len(tables), nil
}
