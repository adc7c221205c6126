package sqlstore

import (
	"context"

	"github.com/castellan-iam/castellan"
)

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
