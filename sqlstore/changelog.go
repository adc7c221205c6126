package sqlstore

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// Changes implements castellan.ChangeLog. Revisions commit in order and
// without gaps, so the revisions after `after` are after+1, after+2, …
func (db *DB) Changes(ctx context.Context, after int64, revisions int) ([]castellan.Change, error) {
	if revisions <= 0 {
		return nil, nil
	}
	rows, err := db.query(ctx, `SELECT revision, org_id, entity_type, entity_id, operation, occurred_at
		FROM change_log WHERE revision > ? AND revision <= ? ORDER BY revision, id`, after, after+int64(revisions))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row scanner) (castellan.Change, error) {
		var c castellan.Change
		err := row.Scan(&c.Revision, &c.OrganizationID, &c.EntityType, &c.EntityID, &c.Operation, &c.OccurredAt)
		c.OccurredAt = c.OccurredAt.UTC()
		return c, err
	})
}
