package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/castellan-iam/castellan"
)

// RoleService implements castellan.RoleService: built-in roles come from
// the catalogue, custom roles from the roles table.
type RoleService struct{ db *DB }

var _ castellan.RoleService = (*RoleService)(nil)

// Roles returns the role service of db.
func (db *DB) Roles() *RoleService { return &RoleService{db: db} }

// roleColumns lists the columns scanRole reads; actions, JSON, as text.
func roleColumns(d dialect) string {
	return `id, org_id, name, description, kind, ` + d.jsonText("actions") + `, created_at, created_by, updated_at, updated_by, revision`
}

func scanRole(row scanner) (*castellan.Role, error) {
	var (
		r       castellan.Role
		actions string
	)
	err := row.Scan(&r.ID, &r.OrganizationID, &r.Name, &r.Description, &r.Kind, &actions,
		&r.CreatedAt, &r.CreatedBy, &r.UpdatedAt, &r.UpdatedBy, &r.Revision)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(actions), &r.Actions); err != nil {
		return nil, fmt.Errorf("role %s: actions: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return &r, nil
}

func roleBuiltIn(id string) error {
	return castellan.Errorf(castellan.EINVALID, castellan.CodeRoleBuiltIn, "role %s is built in: it cannot be changed or deleted", id)
}

// builtInRole returns a copy of the catalogue's role with the ID, or nil.
func (db *DB) builtInRole(id string) *castellan.Role {
	r := db.catalog.Role(id)
	if r == nil {
		return nil
	}
	cp := *r
	return &cp
}

// findCustomRole reads a custom role of the organization inside tx, with
// lock (a dialect lock clause) on its row.
func findCustomRole(ctx context.Context, tx *Tx, orgID, id, lock string) (*castellan.Role, error) {
	if !castellan.ValidID(id) {
		return nil, notFound(castellan.CodeRoleNotFound, "role", id)
	}
	r, err := scanRole(tx.queryRow(ctx, `SELECT `+roleColumns(tx.db.dialect)+` FROM roles WHERE org_id = ? AND id = ?`+lock, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeRoleNotFound, "role", id)
	}
	return r, err
}

// FindRoleByID implements castellan.RoleService.
func (s *RoleService) FindRoleByID(ctx context.Context, orgID, id string) (*castellan.Role, error) {
	if r := s.db.builtInRole(id); r != nil {
		return r, nil
	}
	if !castellan.ValidID(id) {
		return nil, notFound(castellan.CodeRoleNotFound, "role", id)
	}
	r, err := scanRole(s.db.queryRow(ctx, `SELECT `+roleColumns(s.db.dialect)+` FROM roles WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeRoleNotFound, "role", id)
	}
	return r, err
}

// FindRoles implements castellan.RoleService. The page token says which
// part the last role came from: the built-in roles (key: the role's ID, in
// catalogue order) or the custom ones (key: name and ID).
func (s *RoleService) FindRoles(ctx context.Context, orgID string, f castellan.RoleFilter) ([]*castellan.Role, string, error) {
	cur, err := decodeCursor(f.PageToken, "roles", 3)
	if err != nil {
		return nil, "", err
	}
	if cur != nil && cur.Key[0] != "builtin" && cur.Key[0] != "custom" {
		return nil, "", castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidPageToken, "page_token was not issued by this list")
	}
	size := castellan.PageSize(f.PageSize)
	var roles []*castellan.Role
	if cur == nil || cur.Key[0] == "builtin" {
		after := ""
		if cur != nil {
			after = cur.Key[1]
		}
		if roles, err = s.builtInPage(f.Kind, after, size+1); err != nil {
			return nil, "", err
		}
	}
	if len(roles) <= size {
		custom, err := s.customPage(ctx, orgID, f.Kind, cur, size+1-len(roles))
		if err != nil {
			return nil, "", err
		}
		roles = append(roles, custom...)
	}
	roles, next := pageOf(roles, size, func(r *castellan.Role) cursor {
		if r.BuiltIn {
			return cursor{List: "roles", Key: []string{"builtin", r.ID, ""}}
		}
		return cursor{List: "roles", Key: []string{"custom", r.Name, r.ID}}
	})
	return roles, next, nil
}

// builtInPage returns up to limit built-in roles of the kind (nil: any)
// that follow the one with ID after ("": from the first).
func (s *RoleService) builtInPage(kind *castellan.RoleKind, after string, limit int) ([]*castellan.Role, error) {
	all := s.db.catalog.Roles
	start := 0
	if after != "" {
		i := slices.IndexFunc(all, func(r *castellan.Role) bool { return r.ID == after })
		if i < 0 {
			return nil, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidPageToken, "page_token was not issued by this list")
		}
		start = i + 1
	}
	var out []*castellan.Role
	for _, r := range all[start:] {
		if len(out) == limit {
			break
		}
		if kind == nil || r.Kind == *kind {
			out = append(out, s.db.builtInRole(r.ID))
		}
	}
	return out, nil
}

// customPage returns up to limit custom roles of the organization by name,
// after the cursor when it points into them.
func (s *RoleService) customPage(ctx context.Context, orgID string, kind *castellan.RoleKind, cur *cursor, limit int) ([]*castellan.Role, error) {
	q, args := `SELECT `+roleColumns(s.db.dialect)+` FROM roles WHERE org_id = ?`, []any{orgID}
	if kind != nil {
		q, args = q+` AND kind = ?`, append(args, string(*kind))
	}
	if cur != nil && cur.Key[0] == "custom" {
		q, args = q+` AND (name > ? OR (name = ? AND id > ?))`, append(args, cur.Key[1], cur.Key[1], cur.Key[2])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY name, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRole)
}

// CreateRole implements castellan.RoleService.
func (s *RoleService) CreateRole(ctx context.Context, orgID string, rc castellan.RoleCreate) (*castellan.Role, error) {
	if err := rc.Validate(s.db.catalog); err != nil {
		return nil, err
	}
	var r *castellan.Role
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		rev := tx.revision
		r = &castellan.Role{
			ID: newID(), OrganizationID: orgID, Name: rc.Name, Description: rc.Description, Kind: rc.Kind,
			Actions:   slices.Clone(rc.Actions),
			CreatedAt: tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(), Revision: rev,
		}
		actions, err := json.Marshal(r.Actions)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO roles (id, org_id, name, description, kind, actions, created_at, created_by, updated_at, updated_by, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.OrganizationID, r.Name, r.Description, string(r.Kind), string(actions), r.CreatedAt, r.CreatedBy, r.UpdatedAt, r.UpdatedBy, r.Revision)
		if c := conflict(err, rc.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("insert role: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateRole,
			entityType: "role", entityID: r.ID, entityName: r.Name, operation: "create",
			summary: map[string]any{"name": r.Name, "description": r.Description, "kind": r.Kind, "actions": r.Actions},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// UpdateRole implements castellan.RoleService. A role's kind never
// changes, so its grants stay grantable where they are.
func (s *RoleService) UpdateRole(ctx context.Context, orgID, id string, upd castellan.RoleUpdate) (*castellan.Role, error) {
	if s.db.catalog.Role(id) != nil {
		return nil, roleBuiltIn(id)
	}
	if err := upd.Validate(s.db.catalog); err != nil {
		return nil, err
	}
	var r *castellan.Role
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if r, err = findCustomRole(ctx, tx, orgID, id, ""); err != nil {
			return err
		}
		summary := map[string]any{}
		if upd.Name != nil && *upd.Name != r.Name {
			summary["name"], r.Name = diff{r.Name, *upd.Name}, *upd.Name
		}
		if upd.Description != nil && *upd.Description != r.Description {
			summary["description"], r.Description = diff{r.Description, *upd.Description}, *upd.Description
		}
		if upd.Actions != nil && !slices.Equal(upd.Actions, r.Actions) {
			summary["actions"], r.Actions = diff{r.Actions, upd.Actions}, slices.Clone(upd.Actions)
		}
		if len(summary) == 0 {
			return nil // nothing changes: no revision, no audit event
		}
		r.Revision = tx.revision
		r.UpdatedAt, r.UpdatedBy = tx.now, tx.actorID()
		actions, err := json.Marshal(r.Actions)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE roles SET name = ?, description = ?, actions = ?, updated_at = ?, updated_by = ?, revision = ?
			WHERE org_id = ? AND id = ?`,
			r.Name, r.Description, string(actions), r.UpdatedAt, r.UpdatedBy, r.Revision, orgID, id)
		if c := conflict(err, r.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("update role: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateRole,
			entityType: "role", entityID: id, entityName: r.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// DeleteRole implements castellan.RoleService.
func (s *RoleService) DeleteRole(ctx context.Context, orgID, id string, force bool) (int64, error) {
	if s.db.catalog.Role(id) != nil {
		return 0, roleBuiltIn(id)
	}
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		// Locked first, so that no grant of the role is made beside the
		// ones counted or deleted here.
		r, err := findCustomRole(ctx, tx, orgID, id, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		var grants []*castellan.Grant
		if force {
			grants, err = deleteGrantsWhere(ctx, tx, `org_id = ? AND role_id = ?`, orgID, id)
			if err != nil {
				return err
			}
		} else {
			var n int
			if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM grants WHERE org_id = ? AND role_id = ?`, orgID, id).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeRoleInUse,
					"role %s is granted %d times; delete the grants first, or delete the role with force", id, n)
			}
		}
		if _, err := tx.exec(ctx, `DELETE FROM roles WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete role: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteRole,
			entityType: "role", entityID: id, entityName: r.Name, operation: "delete",
			summary: map[string]any{"name": r.Name, "deletedGrants": grantSummaries(grants)},
			also:    grantDeletions(grants),
		})
		return err
	})
	return rev, err
}
