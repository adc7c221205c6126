package sqlstore

import (
	"context"
	"database/sql"

	"github.com/castellan-iam/castellan"
)

// OrgUnitService implements castellan.OrgUnitService on the nodes table.
type OrgUnitService struct{ db *DB }

// OrgUnits returns the organizational unit service of db.
func (db *DB) OrgUnits() *OrgUnitService { return &OrgUnitService{db: db} }

func ouNotFound(id string) error { return notFound(castellan.CodeOUNotFound, "OU", id) }

// orgUnitOf makes the OU of an ancestry whose first node is an OU.
func orgUnitOf(chain []*nodeRow, description, createdBy, updatedBy string) *castellan.OrgUnit {
	n := chain[0]
	return &castellan.OrgUnit{
		ID: n.ID, OrganizationID: n.OrganizationID, ParentID: n.ParentID, Name: n.Name, Description: description,
		Depth: n.Depth, Path: nodeRefs(chain), CreatedAt: n.CreatedAt, CreatedBy: createdBy,
		UpdatedAt: n.UpdatedAt, UpdatedBy: updatedBy, Revision: n.Revision,
	}
}

// findOrgUnit reads an OU of the organization with its path through
// query and queryRow (the reader pool or a transaction).
func findOrgUnit(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error),
	queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) (*castellan.OrgUnit, error) {
	var description, createdBy, updatedBy string
	err := queryRow(ctx, `SELECT description, created_by, updated_by FROM nodes WHERE org_id = ? AND kind = 'ou' AND id = ?`, orgID, id).
		Scan(&description, &createdBy, &updatedBy)
	if isNoRows(err) {
		return nil, ouNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	chain, err := ancestors(ctx, query, queryRow, orgID, id)
	if err != nil {
		return nil, err
	}
	return orgUnitOf(chain, description, createdBy, updatedBy), nil
}

// FindOrgUnitByID implements castellan.OrgUnitService.
func (s *OrgUnitService) FindOrgUnitByID(ctx context.Context, orgID, id string) (*castellan.OrgUnit, error) {
	return findOrgUnit(ctx, s.db.query, s.db.queryRow, orgID, id)
}

// CreateOrgUnit implements castellan.OrgUnitService.
func (s *OrgUnitService) CreateOrgUnit(ctx context.Context, orgID string, c castellan.OrgUnitCreate) (*castellan.OrgUnit, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var ou *castellan.OrgUnit
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		parent, err := findParent(ctx, tx, orgID, "parentId", c.ParentID, castellan.NodeOU)
		if err != nil {
			return err
		}
		if parent.Depth+1 > castellan.MaxOUDepth {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeOUTooDeep,
				"an OU under %s would be %d levels below the root; at most %d are allowed", parent.ID, parent.Depth+1, castellan.MaxOUDepth)
		}
		n, err := insertNode(ctx, tx, orgID, castellan.NodeOU, parent, newID(), c.Name, c.Description)
		if err != nil {
			return err
		}
		if err := attachPolicies(ctx, tx, orgID, n.ID, "policyIds", c.PolicyIDs); err != nil {
			return err
		}
		chain, err := ancestors(ctx, tx.query, tx.queryRow, orgID, n.ID)
		if err != nil {
			return err
		}
		ou = orgUnitOf(chain, c.Description, tx.actorID(), tx.actorID())
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateOrganizationalUnit,
			entityType: "node", entityID: n.ID, entityName: n.Name, operation: "create",
			summary: map[string]any{"kind": n.Kind, "name": n.Name, "description": c.Description, "parentId": parent.ID, "policyIds": policyIDsOrDefault(c.PolicyIDs)},
			also:    attachmentsCreated(n.ID, c.PolicyIDs),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return ou, nil
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
