package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// OrganizationService implements castellan.OrganizationService.
type OrganizationService struct{ db *DB }

var _ castellan.OrganizationService = (*OrganizationService)(nil)

// Organizations returns the organization service of db.
func (db *DB) Organizations() *OrganizationService { return &OrganizationService{db: db} }

const orgColumns = `id, name, description, mfa_required, created_at, created_by, updated_at, updated_by, revision`

func scanOrganization(row scanner) (*castellan.Organization, error) {
	var o castellan.Organization
	if err := row.Scan(&o.ID, &o.Name, &o.Description, &o.MFARequired, &o.CreatedAt, &o.CreatedBy, &o.UpdatedAt, &o.UpdatedBy, &o.Revision); err != nil {
		return nil, err
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return &o, nil
}

// FindOrganizationByID implements castellan.OrganizationService.
func (s *OrganizationService) FindOrganizationByID(ctx context.Context, id string) (*castellan.Organization, error) {
	return findOrganization(ctx, s.db.queryRow, id)
}

// findOrganization reads an organization through queryRow (the reader pool
// or a transaction).
func findOrganization(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, id string) (*castellan.Organization, error) {
	o, err := scanOrganization(queryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeOrgNotFound, "organization", id)
	}
	return o, err
}

// FindOrganizations implements castellan.OrganizationService.
func (s *OrganizationService) FindOrganizations(ctx context.Context, f castellan.OrganizationFilter) ([]*castellan.Organization, string, error) {
	cur, err := decodeCursor(f.PageToken, "organizations", 2)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := `SELECT `+orgColumns+` FROM organizations WHERE 1 = 1`, []any{}
	if f.ID != nil {
		q, args = q+` AND id = ?`, append(args, *f.ID)
	}
	if cur != nil {
		q, args = q+` AND (name > ? OR (name = ? AND id > ?))`, append(args, cur.Key[0], cur.Key[0], cur.Key[1])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY name, id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	orgs, err := collect(rows, scanOrganization)
	if err != nil {
		return nil, "", err
	}
	orgs, next := pageOf(orgs, size, func(o *castellan.Organization) cursor {
		return cursor{List: "organizations", Key: []string{o.Name, o.ID}}
	})
	return orgs, next, nil
}

// CreateOrganization implements castellan.OrganizationService.
func (s *OrganizationService) CreateOrganization(ctx context.Context, oc castellan.OrganizationCreate) (*castellan.Organization, error) {
	if err := oc.Validate(); err != nil {
		return nil, err
	}
	var org *castellan.Organization
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		org, err = createOrganization(ctx, tx, oc)
		if err != nil {
			return err
		}
		org.Revision, err = tx.record(ctx, change{
			orgID: org.ID, action: castellan.ActionCreateOrganization,
			entityType: "organization", entityID: org.ID, entityName: org.Name, operation: "create",
			summary: map[string]any{"name": org.Name, "description": org.Description},
			also:    []changedEntity{{"node", org.ID, "create"}},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return org, nil
}

// createOrganization inserts an organization and its root node, both at
// the transaction's revision.
func createOrganization(ctx context.Context, tx *Tx, oc castellan.OrganizationCreate) (*castellan.Organization, error) {
	rev := tx.revision
	org := &castellan.Organization{
		ID: newID(), Name: oc.Name, Description: oc.Description,
		CreatedAt: tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(), Revision: rev,
	}
	_, err := tx.exec(ctx, `INSERT INTO organizations (`+orgColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		org.ID, org.Name, org.Description, org.MFARequired, org.CreatedAt, org.CreatedBy, org.UpdatedAt, org.UpdatedBy, org.Revision)
	if c := conflict(err, oc.Name); c != nil {
		return nil, c
	}
	if err != nil {
		return nil, fmt.Errorf("insert organization: %w", err)
	}
	_, err = tx.exec(ctx, `INSERT INTO nodes (id, org_id, kind, parent_id, name, description, created_at, created_by, updated_at, updated_by, revision, path)
		VALUES (?, ?, 'root', NULL, 'root', '', ?, ?, ?, ?, ?, ?)`,
		org.ID, org.ID, tx.now, org.CreatedBy, tx.now, org.CreatedBy, rev, nodePath("", org.ID))
	if err != nil {
		return nil, fmt.Errorf("insert root node: %w", err)
	}
	// Every root starts with FullAccess, so that control policies limit
	// nothing until an administrator attaches narrower ones.
	if err := insertAttachment(ctx, tx, org.ID, org.ID, castellan.FullAccessPolicyID); err != nil {
		return nil, err
	}
	return org, nil
}

// UpdateOrganization implements castellan.OrganizationService.
func (s *OrganizationService) UpdateOrganization(ctx context.Context, id string, upd castellan.OrganizationUpdate) (*castellan.Organization, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var org *castellan.Organization
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		org, err = findOrganization(ctx, tx.queryRow, id)
		if err != nil {
			return err
		}
		summary := map[string]any{}
		if upd.Name != nil && *upd.Name != org.Name {
			summary["name"], org.Name = diff{org.Name, *upd.Name}, *upd.Name
		}
		if upd.Description != nil && *upd.Description != org.Description {
			summary["description"], org.Description = diff{org.Description, *upd.Description}, *upd.Description
		}
		if upd.MFARequired != nil && *upd.MFARequired != org.MFARequired {
			summary["mfaRequired"], org.MFARequired = diff{org.MFARequired, *upd.MFARequired}, *upd.MFARequired
		}
		if len(summary) == 0 {
			return nil // nothing changes: no revision, no audit event
		}
		org.Revision = tx.revision
		org.UpdatedAt, org.UpdatedBy = tx.now, tx.actorID()
		_, err = tx.exec(ctx, `UPDATE organizations SET name = ?, description = ?, mfa_required = ?, updated_at = ?, updated_by = ?, revision = ?
			WHERE id = ?`, org.Name, org.Description, org.MFARequired, org.UpdatedAt, org.UpdatedBy, org.Revision, id)
		if c := conflict(err, org.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("update organization: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: id, action: castellan.ActionUpdateOrganization,
			entityType: "organization", entityID: id, entityName: org.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return org, nil
}

// DeleteOrganization implements castellan.OrganizationService.
func (s *OrganizationService) DeleteOrganization(ctx context.Context, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		org, err := findOrganization(ctx, tx.queryRow, id)
		if err != nil {
			return err
		}
		var children int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM nodes WHERE org_id = ? AND kind <> 'root'`, id).Scan(&children); err != nil {
			return err
		}
		if children > 0 {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeOrgNotEmpty,
				"organization %s still has %d projects, OUs or accounts; delete them first", id, children)
		}
		// The root node goes first (the tree never cascades); users, tokens,
		// groups, roles and grants go with the organization (ON DELETE
		// CASCADE); the audit log stays. The change-log row of the
		// organization stands for all of them.
		for _, q := range []string{
			`DELETE FROM policy_attachments WHERE org_id = ?`,
			`DELETE FROM control_policies WHERE org_id = ?`,
			`DELETE FROM account_invitations WHERE org_id = ?`,
		} {
			if _, err := tx.exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete organization's structure: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `DELETE FROM nodes WHERE org_id = ? AND kind = 'root'`, id); err != nil {
			return fmt.Errorf("delete root node: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM organizations WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete organization: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: id, action: castellan.ActionDeleteOrganization,
			entityType: "organization", entityID: id, entityName: org.Name, operation: "delete",
			summary: map[string]any{"name": org.Name},
			also:    []changedEntity{{"node", id, "delete"}},
		})
		return err
	})
	return rev, err
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
