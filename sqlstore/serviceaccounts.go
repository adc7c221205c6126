package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// ServiceAccountService implements castellan.ServiceAccountService.
type ServiceAccountService struct{ db *DB }

var _ castellan.ServiceAccountService = (*ServiceAccountService)(nil)

// ServiceAccounts returns the service account service of db.
func (db *DB) ServiceAccounts() *ServiceAccountService { return &ServiceAccountService{db: db} }

const serviceAccountColumns = `id, org_id, project_id, name, description, created_at, created_by, updated_at, updated_by, revision`

func scanServiceAccount(row scanner) (*castellan.ServiceAccount, error) {
	var a castellan.ServiceAccount
	err := row.Scan(&a.ID, &a.OrganizationID, &a.ProjectID, &a.Name, &a.Description,
		&a.CreatedAt, &a.CreatedBy, &a.UpdatedAt, &a.UpdatedBy, &a.Revision)
	if err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

func serviceAccountNotFound(id string) error {
	return notFound(castellan.CodeServiceAccountNotFound, "service account", id)
}

// FindServiceAccountByID implements castellan.ServiceAccountService.
func (s *ServiceAccountService) FindServiceAccountByID(ctx context.Context, orgID, id string) (*castellan.ServiceAccount, error) {
	a, err := scanServiceAccount(s.db.queryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, serviceAccountNotFound(id)
	}
	return a, err
}

// FindServiceAccounts implements castellan.ServiceAccountService.
func (s *ServiceAccountService) FindServiceAccounts(ctx context.Context, orgID, projectID string, f castellan.ServiceAccountFilter) ([]*castellan.ServiceAccount, string, error) {
	cur, err := decodeCursor(f.PageToken, "serviceAccounts", 2)
	if err != nil {
		return nil, "", err
	}
	if _, err := findProject(ctx, s.db.queryRow, orgID, projectID); err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE org_id = ? AND project_id = ?`, []any{orgID, projectID}
	if cur != nil {
		q, args = q+` AND (name > ? OR (name = ? AND id > ?))`, append(args, cur.Key[0], cur.Key[0], cur.Key[1])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY name, id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	accounts, err := collect(rows, scanServiceAccount)
	if err != nil {
		return nil, "", err
	}
	accounts, next := pageOf(accounts, size, func(a *castellan.ServiceAccount) cursor {
		return cursor{List: "serviceAccounts", Key: []string{a.Name, a.ID}}
	})
	return accounts, next, nil
}

// lockProject checks inside tx that the project is the organization's and
// locks its node with lock (a dialect lock clause) until tx ends: lockKey
// keeps it from being deleted, lockDelete waits for those holding lockKey.
// Returns ENOTFOUND (project.not_found).
func lockProject(ctx context.Context, tx *Tx, orgID, projectID, lock string) error {
	var one int
	err := tx.queryRow(ctx, `SELECT 1 FROM nodes WHERE org_id = ? AND kind = 'project' AND id = ?`+lock, orgID, projectID).Scan(&one)
	if isNoRows(err) {
		return notFound(castellan.CodeProjectNotFound, "project", projectID)
	}
	return err
}

// CreateServiceAccount implements castellan.ServiceAccountService.
func (s *ServiceAccountService) CreateServiceAccount(ctx context.Context, orgID, projectID string, sc castellan.ServiceAccountCreate) (*castellan.ServiceAccount, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	var a *castellan.ServiceAccount
	err := s.db.update(ctx, func(tx *Tx) error {
		var c change
		var err error
		if a, c, err = createServiceAccount(ctx, tx, orgID, projectID, newID(), sc); err != nil {
			return err
		}
		_, err = tx.record(ctx, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// createServiceAccount inserts a validated service account with the
// given ID into a project in tx and returns it with its change.
func createServiceAccount(ctx context.Context, tx *Tx, orgID, projectID, id string, sc castellan.ServiceAccountCreate) (*castellan.ServiceAccount, change, error) {
	if err := lockProject(ctx, tx, orgID, projectID, tx.db.dialect.lockKey); err != nil {
		return nil, change{}, err
	}
	a := &castellan.ServiceAccount{
		ID: id, OrganizationID: orgID, ProjectID: projectID, Name: sc.Name, Description: sc.Description,
		CreatedAt: tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(), Revision: tx.revision,
	}
	_, err := tx.exec(ctx, `INSERT INTO service_accounts (`+serviceAccountColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.OrganizationID, a.ProjectID, a.Name, a.Description, a.CreatedAt, a.CreatedBy, a.UpdatedAt, a.UpdatedBy, a.Revision)
	if c := conflict(err, sc.Name); c != nil {
		return nil, change{}, c
	}
	if err != nil {
		return nil, change{}, fmt.Errorf("insert service account: %w", err)
	}
	return a, change{
		orgID: orgID, action: castellan.ActionCreateServiceAccount,
		entityType: "service_account", entityID: a.ID, entityName: a.Name, operation: "create",
		summary: map[string]any{"name": a.Name, "description": a.Description, "projectId": a.ProjectID},
	}, nil
}

// findServiceAccountIn reads an account of the project inside tx, locked
// with lock (a dialect lock clause) until tx ends.
func findServiceAccountIn(ctx context.Context, tx *Tx, orgID, projectID, id, lock string) (*castellan.ServiceAccount, error) {
	a, err := scanServiceAccount(tx.queryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts
		WHERE org_id = ? AND project_id = ? AND id = ?`+lock, orgID, projectID, id))
	if isNoRows(err) {
		return nil, serviceAccountNotFound(id)
	}
	return a, err
}

// UpdateServiceAccount implements castellan.ServiceAccountService.
func (s *ServiceAccountService) UpdateServiceAccount(ctx context.Context, orgID, projectID, id string, upd castellan.ServiceAccountUpdate) (*castellan.ServiceAccount, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var a *castellan.ServiceAccount
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if a, err = findServiceAccountIn(ctx, tx, orgID, projectID, id, ""); err != nil {
			return err
		}
		summary := map[string]any{}
		if upd.Name != nil && *upd.Name != a.Name {
			summary["name"], a.Name = diff{a.Name, *upd.Name}, *upd.Name
		}
		if upd.Description != nil && *upd.Description != a.Description {
			summary["description"], a.Description = diff{a.Description, *upd.Description}, *upd.Description
		}
		if len(summary) == 0 {
			return nil // nothing changes: no revision, no audit event
		}
		a.Revision = tx.revision
		a.UpdatedAt, a.UpdatedBy = tx.now, tx.actorID()
		_, err = tx.exec(ctx, `UPDATE service_accounts SET name = ?, description = ?, updated_at = ?, updated_by = ?, revision = ?
			WHERE org_id = ? AND project_id = ? AND id = ?`,
			a.Name, a.Description, a.UpdatedAt, a.UpdatedBy, a.Revision, orgID, projectID, id)
		if c := conflict(err, a.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("update service account: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateServiceAccount,
			entityType: "service_account", entityID: id, entityName: a.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteServiceAccount implements castellan.ServiceAccountService. Its
// grants go in the same transaction, each with its change-log row, so that
// every replica revokes them at the account's revision.
func (s *ServiceAccountService) DeleteServiceAccount(ctx context.Context, orgID, projectID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		// Locked first, so that no grant is added beside the ones this
		// transaction deletes (CreateGrants locks the account it checks).
		a, err := findServiceAccountIn(ctx, tx, orgID, projectID, id, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		grants, err := deleteGrantsWhere(ctx, tx, `org_id = ? AND subject_type = 'serviceAccount' AND subject_id = ?`, orgID, id)
		if err != nil {
			return err
		}
		keys, err := deleteAccessKeysWhere(ctx, tx, `org_id = ? AND owner_type = 'serviceAccount' AND owner_id = ?`, orgID, id)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM service_accounts WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete service account: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteServiceAccount,
			entityType: "service_account", entityID: id, entityName: a.Name, operation: "delete",
			summary: map[string]any{"name": a.Name, "projectId": a.ProjectID, "deletedGrants": grantSummaries(grants), "deletedAccessKeyIds": nonNilSlice(keys)},
			also:    append(grantDeletions(grants), accessKeyDeletions(keys)...),
		})
		return err
	})
	return rev, err
}

// deleteProjectServiceAccounts deletes the service accounts of a project
// and every grant they hold, for DeleteProject, and returns both so that
// the deletion's audit event and change-log rows name them.
func deleteProjectServiceAccounts(ctx context.Context, tx *Tx, orgID, projectID string) ([]*castellan.ServiceAccount, []*castellan.Grant, error) {
	rows, err := tx.query(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE org_id = ? AND project_id = ? ORDER BY name`+tx.db.dialect.lockDelete,
		orgID, projectID)
	if err != nil {
		return nil, nil, err
	}
	accounts, err := collect(rows, scanServiceAccount)
	if err != nil || len(accounts) == 0 {
		return nil, nil, err
	}
	grants, err := deleteGrantsWhere(ctx, tx, `org_id = ? AND subject_type = 'serviceAccount' AND subject_id IN
		(SELECT id FROM service_accounts WHERE org_id = ? AND project_id = ?)`, orgID, orgID, projectID)
	if err != nil {
		return nil, nil, err
	}
	if _, err := tx.exec(ctx, `DELETE FROM service_accounts WHERE org_id = ? AND project_id = ?`, orgID, projectID); err != nil {
		return nil, nil, fmt.Errorf("delete service accounts: %w", err)
	}
	return accounts, grants, nil
}

// serviceAccountDeletions are the change-log rows of deleted accounts.
func serviceAccountDeletions(accounts []*castellan.ServiceAccount) []changedEntity {
	out := make([]changedEntity, len(accounts))
	for i, a := range accounts {
		out[i] = changedEntity{"service_account", a.ID, "delete"}
	}
	return out
}

// serviceAccountSummaries is how deleted accounts appear in audit
// summaries.
func serviceAccountSummaries(accounts []*castellan.ServiceAccount) []map[string]string {
	out := make([]map[string]string, len(accounts))
	for i, a := range accounts {
		out[i] = map[string]string{"id": a.ID, "name": a.Name}
	}
	return out
}

// subjectMayHold applies the scope rule of service accounts to a grant of
// sub on scope (see castellan.ServiceAccount.CanHoldOn); users and groups
// may hold grants anywhere in the organization. It runs after subject
// found the subject.
func (c *grantChecker) subjectMayHold(ctx context.Context, field string, sub castellan.Subject, scope castellan.Scope) error {
	if sub.Type != castellan.SubjectServiceAccount {
		return nil
	}
	a, ok := c.accounts[sub.ID]
	if !ok {
		var err error
		a, err = scanServiceAccount(c.tx.queryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE org_id = ? AND id = ?`, c.orgID, sub.ID))
		if err != nil {
			return fmt.Errorf("read service account %s: %w", sub.ID, err)
		}
		if c.accounts == nil {
			c.accounts = map[string]*castellan.ServiceAccount{}
		}
		c.accounts[sub.ID] = a
	}
	if err := a.CanHoldOn(scope); err != nil {
		var e *castellan.Error
		if !errors.As(err, &e) {
			return err
		}
		return itemError(e.Kind, e.Code, field, "subjectScope", "%s", e.Message)
	}
	return nil
}
