package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// UserService implements castellan.UserService. The users issue extends
// it; today a user is an email in an organization.
type UserService struct{ db *DB }

var _ castellan.UserService = (*UserService)(nil)

// Users returns the user service of db.
func (db *DB) Users() *UserService { return &UserService{db: db} }

const userColumns = `id, org_id, login_id, email, status, created_at, created_by`

func scanUser(row scanner) (*castellan.User, error) {
	var u castellan.User
	if err := row.Scan(&u.ID, &u.OrganizationID, &u.LoginID, &u.Email, &u.Status, &u.CreatedAt, &u.CreatedBy); err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
}

// FindUserByID implements castellan.UserService.
func (s *UserService) FindUserByID(ctx context.Context, orgID, id string) (*castellan.User, error) {
	u, err := scanUser(s.db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = ? AND id = ?`, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(castellan.CodeUserNotFound, "user", id)
	}
	return u, err
}

// CreateUser implements castellan.UserService.
func (s *UserService) CreateUser(ctx context.Context, orgID string, uc castellan.UserCreate) (*castellan.User, error) {
	if err := uc.Validate(); err != nil {
		return nil, err
	}
	var u *castellan.User
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		rev := tx.revision
		u = &castellan.User{
			ID: newID(), OrganizationID: orgID, LoginID: uc.Email, Email: uc.Email, Status: castellan.UserActive,
			CreatedAt: tx.now, CreatedBy: tx.actorID(),
		}
		_, err := tx.exec(ctx, `INSERT INTO users (`+userColumns+`, updated_at, updated_by, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.OrganizationID, u.LoginID, u.Email, u.Status, u.CreatedAt, u.CreatedBy, tx.now, tx.actorID(), rev)
		if isUniqueViolation(err) {
			return castellan.Errorf(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "a user with email %q already exists in this organization", uc.Email)
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: "iam:CreateUser",
			entityType: "user", entityID: u.ID, entityName: u.Email, operation: "create",
			summary: map[string]any{"email": u.Email, "loginId": u.LoginID, "status": u.Status},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// activeUserIDs returns which of ids are active users of the organization,
// locked against deletion until tx ends.
func activeUserIDs(ctx context.Context, tx *Tx, orgID string, ids []string) (map[string]bool, error) {
	in, args := inList(ids)
	rows, err := tx.query(ctx, `SELECT id FROM users WHERE org_id = ? AND status = ? AND id IN `+in+tx.db.dialect.lockKey,
		append([]any{orgID, castellan.UserActive}, args...)...)
	if err != nil {
		return nil, err
	}
	found, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(found))
	for _, id := range found {
		set[id] = true
	}
	return set, nil
}

func scanString(row scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}
