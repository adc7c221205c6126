package sqlstore

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// PutProjectUnder moves a project under another node (an account), as
// the project moves of the organization's structure will, so that tests
// can fill an account before those exist.
func (db *DB) PutProjectUnder(ctx context.Context, orgID, projectID, parentID string) error {
	return db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		n, err := findNode(ctx, tx.queryRow, orgID, projectID)
		if err != nil {
			return err
		}
		if err := moveNode(ctx, tx, orgID, n, parentID); err != nil {
			return err
		}
		_, err = tx.record(ctx, change{orgID: orgID, action: castellan.ActionUpdateProject, entityType: "project", entityID: projectID,
			entityName: n.Name, operation: "update", summary: map[string]any{"parentId": parentID}})
		return err
	})
}

// SetAccountJoin sets how an account joined and whether it manages its
// organization, which only exclusion and invitations change.
func (db *DB) SetAccountJoin(ctx context.Context, orgID, id string, addition castellan.AccountAdditionType, management bool) error {
	_, err := db.write.ExecContext(ctx, db.dialect.rebind(`UPDATE accounts SET addition_type = ?, management = ? WHERE org_id = ? AND id = ?`),
		string(addition), management, orgID, id)
	return err
}

// SetOrganizationCreator records the user userID as the creator of the
// organization, as an organization created from the console would have
// it.
func (db *DB) SetOrganizationCreator(ctx context.Context, orgID, userID string) error {
	_, err := db.write.ExecContext(ctx, db.dialect.rebind(`UPDATE organizations SET created_by = ? WHERE id = ?`), "user:"+userID, orgID)
	return err
}
