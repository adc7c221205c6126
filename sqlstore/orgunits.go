package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/castellan-iam/castellan"
)

// OrgUnitService implements castellan.OrgUnitService on the nodes table.
type OrgUnitService struct{ db *DB }

var _ castellan.OrgUnitService = (*OrgUnitService)(nil)

// OrgUnits returns the organizational unit service of db.
func (db *DB) OrgUnits() *OrgUnitService { return &OrgUnitService{db: db} }

func ouNotFound(id string) error { return notFound(castellan.CodeOUNotFound, "OU", id) }

const ouSelect = `SELECT id, org_id, COALESCE(parent_id, ''), name, description, path,
	created_at, created_by, updated_at, updated_by, revision FROM nodes`

// ouRow is an OU as read, with its materialized path.
type ouRow struct {
	castellan.OrgUnit
	path string
}

func scanOU(row scanner) (*ouRow, error) {
	var o ouRow
	err := row.Scan(&o.ID, &o.OrganizationID, &o.ParentID, &o.Name, &o.Description, &o.path,
		&o.CreatedAt, &o.CreatedBy, &o.UpdatedAt, &o.UpdatedBy, &o.Revision)
	if err != nil {
		return nil, err
	}
	o.Depth = nodeDepth(o.path)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return &o, nil
}

// withPaths returns the OUs with their Path (the nodes above each, the
// root first) from one read of every node above any of them.
func withPaths(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error), orgID string, units []*ouRow) ([]*castellan.OrgUnit, error) {
	args := []any{orgID}
	seen := map[string]bool{}
	for _, u := range units {
		ids := pathIDs(u.path)
		for _, id := range ids[:len(ids)-1] {
			if !seen[id] {
				seen[id] = true
				args = append(args, id)
			}
		}
	}
	out := make([]*castellan.OrgUnit, len(units))
	if len(units) == 0 {
		return out, nil
	}
	rows, err := query(ctx, `SELECT id, kind, name FROM nodes WHERE org_id = ? AND id IN (?`+strings.Repeat(", ?", len(args)-2)+`)`, args...)
	if err != nil {
		return nil, err
	}
	refs, err := collect(rows, func(row scanner) (castellan.NodeRef, error) {
		var r castellan.NodeRef
		return r, row.Scan(&r.ID, &r.Kind, &r.Name)
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]castellan.NodeRef, len(refs))
	for _, r := range refs {
		byID[r.ID] = r
	}
	for i, u := range units {
		ids := pathIDs(u.path)
		u.Path = make([]castellan.NodeRef, 0, len(ids)-1)
		for _, id := range ids[:len(ids)-1] {
			r, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("OU %s: ancestor %s missing", u.ID, id)
			}
			u.Path = append(u.Path, r)
		}
		out[i] = &u.OrgUnit
	}
	return out, nil
}

// findOrgUnit reads an OU of the organization with its path through
// query and queryRow (the reader pool or a transaction).
func findOrgUnit(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error),
	queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) (*castellan.OrgUnit, error) {
	u, err := scanOU(queryRow(ctx, ouSelect+` WHERE org_id = ? AND kind = 'ou' AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, ouNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	units, err := withPaths(ctx, query, orgID, []*ouRow{u})
	if err != nil {
		return nil, err
	}
	return units[0], nil
}

// FindOrgUnitByID implements castellan.OrgUnitService.
func (s *OrgUnitService) FindOrgUnitByID(ctx context.Context, orgID, id string) (*castellan.OrgUnit, error) {
	return findOrgUnit(ctx, s.db.query, s.db.queryRow, orgID, id)
}

// FindOrgUnits implements castellan.OrgUnitService. An unknown parent is
// ENOTFOUND (node.not_found), as for FindChildren.
func (s *OrgUnitService) FindOrgUnits(ctx context.Context, orgID string, f castellan.OrgUnitFilter) ([]*castellan.OrgUnit, string, error) {
	cur, err := decodeCursor(f.PageToken, "orgunits", 2)
	if err != nil {
		return nil, "", err
	}
	q, args := ouSelect+` WHERE org_id = ? AND kind = 'ou'`, []any{orgID}
	if f.ParentID != nil {
		if _, err := findNode(ctx, s.db.queryRow, orgID, *f.ParentID); err != nil {
			return nil, "", err
		}
		q, args = q+` AND parent_id = ?`, append(args, *f.ParentID)
	}
	if cur != nil {
		q, args = q+` AND (name > ? OR (name = ? AND id > ?))`, append(args, cur.Key[0], cur.Key[0], cur.Key[1])
	}
	size := castellan.PageSize(f.PageSize)
	rows, err := s.db.query(ctx, q+` ORDER BY name, id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	found, err := collect(rows, scanOU)
	if err != nil {
		return nil, "", err
	}
	found, next := pageOf(found, size, func(u *ouRow) cursor {
		return cursor{List: "orgunits", Key: []string{u.Name, u.ID}}
	})
	units, err := withPaths(ctx, s.db.query, orgID, found)
	if err != nil {
		return nil, "", err
	}
	return units, next, nil
}

// CreateOrgUnit implements castellan.OrgUnitService.
func (s *OrgUnitService) CreateOrgUnit(ctx context.Context, orgID string, create castellan.OrgUnitCreate) (*castellan.OrgUnit, error) {
	if err := create.Validate(); err != nil {
		return nil, err
	}
	var ou *castellan.OrgUnit
	err := s.db.update(ctx, func(tx *Tx) error {
		n, c, err := createOrgUnit(ctx, tx, orgID, newID(), create)
		if err != nil {
			return err
		}
		if ou, err = findOrgUnit(ctx, tx.query, tx.queryRow, orgID, n.ID); err != nil {
			return err
		}
		_, err = tx.record(ctx, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ou, nil
}

// createOrgUnit inserts a validated OU with the given ID and its policy
// attachments in tx and returns its node with its change.
func createOrgUnit(ctx context.Context, tx *Tx, orgID, id string, c castellan.OrgUnitCreate) (*nodeRow, change, error) {
	if err := lockStructure(ctx, tx, orgID); err != nil {
		return nil, change{}, err
	}
	parent, err := findParent(ctx, tx, orgID, "parentId", c.ParentID, castellan.NodeOU)
	if err != nil {
		return nil, change{}, err
	}
	if parent.Depth+1 > castellan.MaxOUDepth {
		return nil, change{}, castellan.Errorf(castellan.EPRECONDITION, castellan.CodeOUTooDeep,
			"an OU under %s would be %d levels below the root; at most %d are allowed", parent.ID, parent.Depth+1, castellan.MaxOUDepth)
	}
	n, err := insertNode(ctx, tx, orgID, castellan.NodeOU, parent, id, c.Name, c.Description)
	if err != nil {
		return nil, change{}, err
	}
	if err := attachPolicies(ctx, tx, orgID, n.ID, "policyIds", c.PolicyIDs); err != nil {
		return nil, change{}, err
	}
	return n, change{
		orgID: orgID, action: castellan.ActionCreateOrganizationalUnit,
		entityType: "node", entityID: n.ID, entityName: n.Name, operation: "create",
		summary: map[string]any{"kind": n.Kind, "name": n.Name, "description": c.Description, "parentId": parent.ID, "policyIds": policyIDsOrDefault(c.PolicyIDs)},
		also:    attachmentsCreated(n.ID, c.PolicyIDs),
	}, nil
}

// UpdateOrgUnit implements castellan.OrgUnitService. An update that
// changes nothing writes nothing.
func (s *OrgUnitService) UpdateOrgUnit(ctx context.Context, orgID, id string, upd castellan.OrgUnitUpdate) (*castellan.OrgUnit, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	return s.changeOU(ctx, orgID, id, func(tx *Tx) error {
		u, err := scanOU(tx.queryRow(ctx, ouSelect+` WHERE org_id = ? AND kind = 'ou' AND id = ?`+tx.db.dialect.lockExclusive, orgID, id))
		if isNoRows(err) {
			return ouNotFound(id)
		}
		if err != nil {
			return err
		}
		summary := map[string]any{}
		if upd.Name != nil && *upd.Name != u.Name {
			summary["name"], u.Name = diff{u.Name, *upd.Name}, *upd.Name
		}
		if upd.Description != nil && *upd.Description != u.Description {
			summary["description"], u.Description = diff{u.Description, *upd.Description}, *upd.Description
		}
		if len(summary) == 0 {
			return nil
		}
		_, err = tx.exec(ctx, `UPDATE nodes SET name = ?, description = ?, updated_at = ?, updated_by = ?, revision = ? WHERE org_id = ? AND id = ?`,
			u.Name, u.Description, tx.now, tx.actorID(), tx.revision, orgID, id)
		if c := nodeConflict(err, castellan.NodeOU, u.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("update OU: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateOrganizationalUnit,
			entityType: "node", entityID: id, entityName: u.Name, operation: "update", summary: summary,
		})
		return err
	})
}

// changeOU runs change in a transaction and returns the OU id as it is
// afterwards.
func (s *OrgUnitService) changeOU(ctx context.Context, orgID, id string, change func(tx *Tx) error) (*castellan.OrgUnit, error) {
	var ou *castellan.OrgUnit
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := change(tx); err != nil {
			return err
		}
		var err error
		ou, err = findOrgUnit(ctx, tx.query, tx.queryRow, orgID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ou, nil
}

// lockedOU reads the OU id for a change of the tree's shape in tx, which
// holds lockStructure; any other node is ENOTFOUND (ou.not_found).
func lockedOU(ctx context.Context, tx *Tx, orgID, id string) (*nodeRow, error) {
	n, err := findNode(ctx, tx.queryRow, orgID, id)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND || err == nil && n.Kind != castellan.NodeOU {
		return nil, ouNotFound(id)
	}
	return n, err
}

// MoveOrgUnit implements castellan.OrgUnitService. It holds lockStructure
// while it checks the destination, cycles and depth and rewrites the
// subtree's paths, so concurrent moves see each other's result. Moving
// an OU where it is changes nothing.
func (s *OrgUnitService) MoveOrgUnit(ctx context.Context, orgID, id, parentID string) (*castellan.OrgUnit, error) {
	if err := castellan.CheckID("parentId", parentID); err != nil {
		return nil, err
	}
	return s.changeOU(ctx, orgID, id, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		n, err := lockedOU(ctx, tx, orgID, id)
		if err != nil || n.ParentID == parentID {
			return err
		}
		from := n.ParentID
		if err := moveNode(ctx, tx, orgID, n, parentID); err != nil {
			return err
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionMoveOrganizationalUnit,
			entityType: "node", entityID: id, entityName: n.Name, operation: "update",
			summary: map[string]any{"parentId": diff{from, parentID}},
		})
		return err
	})
}

// DeleteOrgUnit implements castellan.OrgUnitService: under lockStructure
// no child can arrive meanwhile, and the OU's row is locked as for its
// deletion so that writers holding it (grants on the OU, attachments)
// finish first and are seen here.
func (s *OrgUnitService) DeleteOrgUnit(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		n, err := lockedOU(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		var children int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM nodes WHERE org_id = ? AND parent_id = ?`, orgID, id).Scan(&children); err != nil {
			return err
		}
		if children > 0 {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeOUNotEmpty,
				"OU %s holds %d OUs, accounts or projects; move or delete them first", id, children)
		}
		var one int
		if err := tx.queryRow(ctx, `SELECT 1 FROM nodes WHERE org_id = ? AND id = ?`+tx.db.dialect.lockDelete, orgID, id).Scan(&one); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `DELETE FROM policy_attachments WHERE org_id = ? AND node_id = ? RETURNING policy_id`, orgID, id)
		if err != nil {
			return fmt.Errorf("detach policies: %w", err)
		}
		policies, err := collect(rows, scanString)
		if err != nil {
			return fmt.Errorf("detach policies: %w", err)
		}
		grants, err := deleteGrantsWhere(ctx, tx, `org_id = ? AND scope = ?`, orgID, castellan.NodeScope(castellan.NodeOU, id).String())
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM nodes WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete OU: %w", err)
		}
		also := grantDeletions(grants)
		for _, p := range policies {
			also = append(also, changedEntity{"policy_attachment", id + "/" + p, "delete"})
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteOrganizationalUnit,
			entityType: "node", entityID: id, entityName: n.Name, operation: "delete",
			summary: map[string]any{"name": n.Name, "parentId": n.ParentID, "detachedPolicyIds": policies, "deletedGrants": grantSummaries(grants)},
			also:    also,
		})
		return err
	})
	return rev, err
}

// policyIDsOrDefault is the policies a new node gets: FullAccess when
// none are named.
func policyIDsOrDefault(ids []string) []string {
	if len(ids) == 0 {
		return []string{castellan.FullAccessPolicyID}
	}
	return ids
}

// attachmentsCreated lists the change-log rows of a new node's policy
// attachments.
func attachmentsCreated(nodeID string, policyIDs []string) []changedEntity {
	var out []changedEntity
	for _, id := range policyIDsOrDefault(policyIDs) {
		out = append(out, changedEntity{"policy_attachment", nodeID + "/" + id, "create"})
	}
	return out
}
