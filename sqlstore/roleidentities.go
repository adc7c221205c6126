package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/castellan-iam/castellan"
)

// RoleIdentityService implements castellan.RoleIdentityService.
type RoleIdentityService struct{ db *DB }

var _ castellan.RoleIdentityService = (*RoleIdentityService)(nil)

// RoleIdentities returns the role identity service of db.
func (db *DB) RoleIdentities() *RoleIdentityService { return &RoleIdentityService{db: db} }

const roleIdentityColumns = `id, org_id, name, kind, description, created_at, created_by, revision`

func scanRoleIdentity(row scanner) (*castellan.RoleIdentity, error) {
	var r castellan.RoleIdentity
	if err := row.Scan(&r.ID, &r.OrganizationID, &r.Name, &r.Kind, &r.Description, &r.CreatedAt, &r.CreatedBy, &r.Revision); err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.RN = roleIdentityRN(r.OrganizationID, r.ID)
	return &r, nil
}

// roleIdentityRN is the resource name of a role identity, the sub-account
// API's roleNrn.
func roleIdentityRN(orgID, id string) string { return "rn:iam:" + orgID + ":role/" + id }

// findRoleIdentity reads a role identity of the organization with lock (a
// dialect lock clause, or "").
func findRoleIdentity(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, orgID, id, lock string) (*castellan.RoleIdentity, error) {
	r, err := scanRoleIdentity(queryRow(ctx, `SELECT `+roleIdentityColumns+` FROM role_identities WHERE org_id = ? AND id = ?`+lock, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeRoleIdentityNotFound, "role identity", id)
	}
	return r, err
}

// CreateRoleIdentity implements castellan.RoleIdentityService.
func (s *RoleIdentityService) CreateRoleIdentity(ctx context.Context, orgID string, c castellan.RoleIdentityCreate) (*castellan.RoleIdentity, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var r *castellan.RoleIdentity
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		id := newID()
		r = &castellan.RoleIdentity{
			ID: id, OrganizationID: orgID, Name: c.Name, Kind: c.Kind, Description: c.Description,
			RN: roleIdentityRN(orgID, id), CreatedAt: tx.now, CreatedBy: tx.actorID(), Revision: tx.revision,
		}
		_, err := tx.exec(ctx, `INSERT INTO role_identities (`+roleIdentityColumns+`, name_lower) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.OrganizationID, r.Name, r.Kind, r.Description, r.CreatedAt, r.CreatedBy, r.Revision, strings.ToLower(r.Name))
		if c := conflict(err, r.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("insert role identity: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateRoleIdentity,
			entityType: "role_identity", entityID: r.ID, entityName: r.Name, operation: "create",
			summary: map[string]any{"name": r.Name, "kind": r.Kind, "description": r.Description},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// FindRoleIdentityByID implements castellan.RoleIdentityService.
func (s *RoleIdentityService) FindRoleIdentityByID(ctx context.Context, orgID, id string) (*castellan.RoleIdentity, error) {
	return findRoleIdentity(ctx, s.db.queryRow, orgID, id, "")
}

// FindRoleIdentities implements castellan.RoleIdentityService; roles come
// by name, case-insensitively.
func (s *RoleIdentityService) FindRoleIdentities(ctx context.Context, orgID string, f castellan.RoleIdentityFilter) ([]*castellan.RoleIdentity, string, error) {
	cur, err := decodeCursor(f.PageToken, "roleIdentities", 1)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := `SELECT `+roleIdentityColumns+` FROM role_identities WHERE org_id = ?`, []any{orgID}
	if cur != nil {
		q, args = q+` AND name_lower > ?`, append(args, cur.Key[0])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY name_lower LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	roles, err := collect(rows, scanRoleIdentity)
	if err != nil {
		return nil, "", err
	}
	roles, next := pageOf(roles, size, func(r *castellan.RoleIdentity) cursor {
		return cursor{List: "roleIdentities", Key: []string{strings.ToLower(r.Name)}}
	})
	return roles, next, nil
}

// DeleteRoleIdentity implements castellan.RoleIdentityService. The role's
// open sessions end in the same transaction, each with its change-log
// row; their tombstones stay.
func (s *RoleIdentityService) DeleteRoleIdentity(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		// Locked first, so that no session starts beside the ones this
		// transaction ends.
		r, err := findRoleIdentity(ctx, tx.queryRow, orgID, id, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		ended, err := endRoleSessionsWhere(ctx, tx, `org_id = ? AND role_identity_id = ?`, orgID, id)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM role_identities WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete role identity: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteRoleIdentity,
			entityType: "role_identity", entityID: id, entityName: r.Name, operation: "delete",
			summary: map[string]any{"name": r.Name, "kind": r.Kind, "endedSessionIds": nonNilSlice(ended)},
			also:    roleSessionDeletions(ended),
		})
		return err
	})
	return rev, err
}

// endRoleSessionsWhere ends, in tx, the open role sessions that match
// where (a condition on role_sessions with args) and returns their IDs.
func endRoleSessionsWhere(ctx context.Context, tx *Tx, where string, args ...any) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT id FROM role_sessions WHERE `+where+` AND deleted_at IS NULL ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("end role sessions: %w", err)
	}
	ended, err := collect(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("end role sessions: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE role_sessions SET deleted_at = ?, revision = ? WHERE `+where+` AND deleted_at IS NULL`,
		append([]any{tx.now, tx.revision}, args...)...); err != nil {
		return nil, fmt.Errorf("end role sessions: %w", err)
	}
	return ended, nil
}

// roleSessionDeletions are the change-log rows of ended role sessions.
func roleSessionDeletions(ids []string) []changedEntity {
	also := make([]changedEntity, len(ids))
	for i, id := range ids {
		also[i] = changedEntity{"role_session", id, "delete"}
	}
	return also
}

// AssumeRoleIdentity implements castellan.RoleIdentityService. The
// session copies the role's name and resource name, so that its
// tombstone still names the role after the role is deleted.
func (s *RoleIdentityService) AssumeRoleIdentity(ctx context.Context, orgID, roleID string, src castellan.SourceIdentity) (*castellan.RoleSession, error) {
	var rs *castellan.RoleSession
	err := s.db.update(ctx, func(tx *Tx) error {
		r, err := findRoleIdentity(ctx, tx.queryRow, orgID, roleID, tx.db.dialect.lockKey)
		if err != nil {
			return err
		}
		if err := src.ValidateFor(r.Kind); err != nil {
			return err
		}
		if r.Kind == castellan.RoleKindAccount {
			if err := lockActiveUser(ctx, tx, orgID, src.ID); err != nil {
				return err
			}
		}
		rs = &castellan.RoleSession{
			ID: newID(), OrganizationID: orgID, RoleIdentityID: r.ID, RoleName: r.Name, RoleRN: r.RN, SourceIdentity: src,
			CreatedAt: tx.now, CreatedBy: tx.actorID(), ExpiresAt: tx.now.Add(castellan.RoleSessionLifetime), Revision: tx.revision,
		}
		_, err = tx.exec(ctx, `INSERT INTO role_sessions (id, org_id, role_identity_id, role_name, role_rn, source_type, source_id, source_provider,
			created_at, created_by, expires_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rs.ID, orgID, rs.RoleIdentityID, rs.RoleName, rs.RoleRN, src.Type, src.ID, src.Provider, rs.CreatedAt, rs.CreatedBy, rs.ExpiresAt, rs.Revision)
		if err != nil {
			return fmt.Errorf("insert role session: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionAssumeRoleIdentity,
			entityType: "role_session", entityID: rs.ID, entityName: r.Name, operation: "create",
			summary: map[string]any{"roleIdentityId": r.ID, "roleName": r.Name, "sourceIdentity": src, "expiresAt": rs.ExpiresAt},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// lockActiveUser holds the row of the active user id, the source of an
// account role's session, until tx ends, so that no session starts beside
// the user's deletion (which ends its sessions); ENOTFOUND when there is
// no such user, or it is not active.
func lockActiveUser(ctx context.Context, tx *Tx, orgID, id string) error {
	var found string
	err := tx.queryRow(ctx, `SELECT id FROM users WHERE org_id = ? AND id = ? AND status = ?`+tx.db.dialect.lockKey,
		orgID, id, castellan.UserActive).Scan(&found)
	if isNoRows(err) {
		return notFound(castellan.CodeUserNotFound, "user", id)
	}
	if err != nil {
		return fmt.Errorf("find the source user: %w", err)
	}
	return nil
}

const roleSessionSelect = `SELECT id, org_id, role_identity_id, role_name, role_rn, source_type, source_id, source_provider,
	created_at, created_by, expires_at, deleted_at, revision FROM role_sessions`

func scanRoleSession(row scanner) (*castellan.RoleSession, error) {
	var rs castellan.RoleSession
	var deletedAt sql.NullTime
	err := row.Scan(&rs.ID, &rs.OrganizationID, &rs.RoleIdentityID, &rs.RoleName, &rs.RoleRN,
		&rs.SourceIdentity.Type, &rs.SourceIdentity.ID, &rs.SourceIdentity.Provider,
		&rs.CreatedAt, &rs.CreatedBy, &rs.ExpiresAt, &deletedAt, &rs.Revision)
	if err != nil {
		return nil, err
	}
	rs.CreatedAt, rs.ExpiresAt = rs.CreatedAt.UTC(), rs.ExpiresAt.UTC()
	rs.DeletedAt = utcPtr(deletedAt)
	rs.Deleted = rs.DeletedAt != nil
	return &rs, nil
}

// FindRoleSessionByID implements castellan.RoleIdentityService. An
// expired session is found (it is not active); an ended one only with
// includeDeleted.
func (s *RoleIdentityService) FindRoleSessionByID(ctx context.Context, orgID, id string, includeDeleted bool) (*castellan.RoleSession, error) {
	q := roleSessionSelect + ` WHERE org_id = ? AND id = ?`
	if !includeDeleted {
		q += ` AND deleted_at IS NULL`
	}
	rs, err := scanRoleSession(s.db.queryRow(ctx, q, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeRoleSessionNotFound, "role session", id)
	}
	return rs, err
}

// EndRoleSession implements castellan.RoleIdentityService. Ending an
// ended session is ENOTFOUND, as reading it without includeDeleted is.
func (s *RoleIdentityService) EndRoleSession(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		rs, err := scanRoleSession(tx.queryRow(ctx, roleSessionSelect+` WHERE org_id = ? AND id = ? AND deleted_at IS NULL`+tx.db.dialect.lockDelete, orgID, id))
		if isNoRows(err) {
			return notFound(castellan.CodeRoleSessionNotFound, "role session", id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE role_sessions SET deleted_at = ?, revision = ? WHERE org_id = ? AND id = ?`,
			tx.now, tx.revision, orgID, id); err != nil {
			return fmt.Errorf("end role session: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionEndRoleSession,
			entityType: "role_session", entityID: id, entityName: rs.RoleName, operation: "delete",
			summary: map[string]any{"roleIdentityId": rs.RoleIdentityID, "roleName": rs.RoleName, "sourceIdentity": rs.SourceIdentity},
		})
		return err
	})
	return rev, err
}
