package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/policy"
)

// ControlPolicyService implements castellan.ControlPolicyService: system
// policies come from the code, custom ones from control_policies, and
// attachments from policy_attachments.
type ControlPolicyService struct{ db *DB }

var _ castellan.ControlPolicyService = (*ControlPolicyService)(nil)

// ControlPolicies returns the control policy service of db.
func (db *DB) ControlPolicies() *ControlPolicyService { return &ControlPolicyService{db: db} }

const controlPolicyColumns = `id, org_id, name, description, document, created_at, created_by, updated_at, updated_by, revision`

func scanControlPolicy(row scanner) (*castellan.ControlPolicy, error) {
	p := castellan.ControlPolicy{Type: castellan.ControlPolicyCustom}
	err := row.Scan(&p.ID, &p.OrganizationID, &p.Name, &p.Description, &p.Document,
		&p.CreatedAt, &p.CreatedBy, &p.UpdatedAt, &p.UpdatedBy, &p.Revision)
	if err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

// systemPolicy returns a copy of the system policy with the ID, or nil.
func systemPolicy(id string) *castellan.ControlPolicy {
	p := castellan.SystemControlPolicy(id)
	if p == nil {
		return nil
	}
	cp := *p
	return &cp
}

func controlPolicyNotFound(id string) error {
	return notFound(castellan.CodeControlPolicyNotFound, "control policy", id)
}

// findControlPolicy reads a system policy or one of the organization's
// through queryRow; ENOTFOUND (controlpolicy.not_found).
func findControlPolicy(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) (*castellan.ControlPolicy, error) {
	if p := systemPolicy(id); p != nil {
		return p, nil
	}
	if !castellan.ValidID(id) {
		return nil, controlPolicyNotFound(id)
	}
	p, err := scanControlPolicy(queryRow(ctx, `SELECT `+controlPolicyColumns+` FROM control_policies WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, controlPolicyNotFound(id)
	}
	return p, err
}

// FindControlPolicyByID implements castellan.ControlPolicyService.
func (s *ControlPolicyService) FindControlPolicyByID(ctx context.Context, orgID, id string) (*castellan.ControlPolicy, error) {
	return findControlPolicy(ctx, s.db.queryRow, orgID, id)
}

// FindNodePolicies implements castellan.ControlPolicyService: one read of
// the node's path, one of the attachments along it with their custom
// policies.
func (s *ControlPolicyService) FindNodePolicies(ctx context.Context, orgID, nodeID string) ([]*castellan.PolicyAttachment, error) {
	path, err := ancestors(ctx, s.db.query, s.db.queryRow, orgID, nodeID)
	if err != nil {
		return nil, err
	}
	return nodePolicies(ctx, s.db.query, orgID, path)
}

// nodePolicies returns the policies attached along path (a node first,
// the root last): the node's own as direct, the others as inherited, in
// path order, each node's by attachment time.
func nodePolicies(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error), orgID string, path []*nodeRow) ([]*castellan.PolicyAttachment, error) {
	args := []any{orgID}
	in := ""
	for i, n := range path {
		if i > 0 {
			in += ", "
		}
		in += "?"
		args = append(args, n.ID)
	}
	rows, err := query(ctx, `SELECT a.node_id, a.policy_id, a.attached_at, a.attached_by,
		p.id, p.org_id, p.name, p.description, p.document, p.created_at, p.created_by, p.updated_at, p.updated_by, p.revision
		FROM policy_attachments a LEFT JOIN control_policies p ON p.id = a.policy_id AND p.org_id = a.org_id
		WHERE a.org_id = ? AND a.node_id IN (`+in+`) ORDER BY a.attached_at, a.policy_id`, args...)
	if err != nil {
		return nil, err
	}
	byNode := map[string][]*castellan.PolicyAttachment{}
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var (
				a              castellan.PolicyAttachment
				nodeID, policy string
				id, org, name  sql.NullString
				desc, doc      sql.NullString
				cBy, uBy       sql.NullString
				cAt, uAt       sql.NullTime
				rev            sql.NullInt64
			)
			if err := rows.Scan(&nodeID, &policy, &a.AttachedAt, &a.AttachedBy,
				&id, &org, &name, &desc, &doc, &cAt, &cBy, &uAt, &uBy, &rev); err != nil {
				return err
			}
			a.AttachedAt = a.AttachedAt.UTC()
			if a.Policy = systemPolicy(policy); a.Policy == nil {
				if !id.Valid {
					return fmt.Errorf("attachment of %s to %s: no such policy", policy, nodeID)
				}
				a.Policy = &castellan.ControlPolicy{
					ID: id.String, OrganizationID: org.String, Name: name.String, Description: desc.String,
					Type: castellan.ControlPolicyCustom, Document: doc.String,
					CreatedAt: cAt.Time.UTC(), CreatedBy: cBy.String, UpdatedAt: uAt.Time.UTC(), UpdatedBy: uBy.String, Revision: rev.Int64,
				}
			}
			byNode[nodeID] = append(byNode[nodeID], &a)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, err
	}
	var out []*castellan.PolicyAttachment
	for i, n := range path {
		for _, a := range byNode[n.ID] {
			a.Node = castellan.NodeRef{ID: n.ID, Kind: n.Kind, Name: n.Name}
			a.Method = castellan.AttachedInherited
			if i == 0 {
				a.Method = castellan.AttachedDirect
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// FindPolicyTargets implements castellan.ControlPolicyService.
func (s *ControlPolicyService) FindPolicyTargets(ctx context.Context, orgID, policyID string) ([]castellan.NodeRef, error) {
	if _, err := findControlPolicy(ctx, s.db.queryRow, orgID, policyID); err != nil {
		return nil, err
	}
	rows, err := s.db.query(ctx, `SELECT n.id, n.kind, n.name FROM policy_attachments a JOIN nodes n ON n.id = a.node_id
		WHERE a.org_id = ? AND a.policy_id = ? ORDER BY n.path`, orgID, policyID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row scanner) (castellan.NodeRef, error) {
		var r castellan.NodeRef
		err := row.Scan(&r.ID, &r.Kind, &r.Name)
		return r, err
	})
}

// FindControlPolicies implements castellan.ControlPolicyService: the
// system policies, then the organization's by name. The page token says
// which part the last policy came from.
func (s *ControlPolicyService) FindControlPolicies(ctx context.Context, orgID string, f castellan.ControlPolicyFilter) ([]*castellan.ControlPolicy, string, error) {
	cur, err := decodeCursor(f.PageToken, "controlPolicies", 3)
	if err != nil {
		return nil, "", err
	}
	if cur != nil && cur.Key[0] != "system" && cur.Key[0] != "custom" {
		return nil, "", errBadPageToken()
	}
	size := castellan.PageSize(f.PageSize)
	var out []*castellan.ControlPolicy
	if (cur == nil || cur.Key[0] == "system") && (f.Type == nil || *f.Type == castellan.ControlPolicySystem) {
		past := cur == nil
		for _, p := range castellan.SystemControlPolicies {
			if past {
				out = append(out, systemPolicy(p.ID))
			}
			past = past || p.ID == cur.Key[1]
		}
	}
	if len(out) <= size && (f.Type == nil || *f.Type == castellan.ControlPolicyCustom) {
		q, args := `SELECT `+controlPolicyColumns+` FROM control_policies WHERE org_id = ?`, []any{orgID}
		if cur != nil && cur.Key[0] == "custom" {
			q, args = q+` AND (name > ? OR (name = ? AND id > ?))`, append(args, cur.Key[1], cur.Key[1], cur.Key[2])
		}
		rows, err := s.db.query(ctx, q+` ORDER BY name, id LIMIT ?`, append(args, size+1-len(out))...)
		if err != nil {
			return nil, "", err
		}
		custom, err := collect(rows, scanControlPolicy)
		if err != nil {
			return nil, "", err
		}
		out = append(out, custom...)
	}
	out, next := pageOf(out, size, func(p *castellan.ControlPolicy) cursor {
		if p.Type == castellan.ControlPolicySystem {
			return cursor{List: "controlPolicies", Key: []string{"system", p.ID, ""}}
		}
		return cursor{List: "controlPolicies", Key: []string{"custom", p.Name, p.ID}}
	})
	return out, next, nil
}

// CreateControlPolicy implements castellan.ControlPolicyService.
func (s *ControlPolicyService) CreateControlPolicy(ctx context.Context, orgID string, c castellan.ControlPolicyCreate) (*castellan.ControlPolicy, error) {
	fields := c.Validate()
	fields = append(fields, policy.Check("document", c.Document, s.db.catalog)...)
	if err := invalidDocument(fields); err != nil {
		return nil, err
	}
	var p *castellan.ControlPolicy
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		p = &castellan.ControlPolicy{
			ID: newID(), OrganizationID: orgID, Name: c.Name, Description: c.Description, Type: castellan.ControlPolicyCustom,
			Document: c.Document, CreatedAt: tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(), Revision: tx.revision,
		}
		_, err := tx.exec(ctx, `INSERT INTO control_policies (`+controlPolicyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.OrganizationID, p.Name, p.Description, p.Document, p.CreatedAt, p.CreatedBy, p.UpdatedAt, p.UpdatedBy, p.Revision)
		if c := conflict(err, c.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("insert control policy: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateControlPolicy,
			entityType: "control_policy", entityID: p.ID, entityName: p.Name, operation: "create",
			summary: map[string]any{"name": p.Name, "description": p.Description, "document": p.Document},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// invalidDocument is the error of a create or update with bad fields:
// controlpolicy.invalid_document when the document is among them, so a
// client can tell a policy that does not compile from a bad name.
func invalidDocument(fields []castellan.FieldError) error {
	err := castellan.Invalid(fields)
	if err == nil {
		return nil
	}
	for _, f := range fields {
		if f.Field == "document" {
			e := err.(*castellan.Error)
			e.Code = castellan.CodeControlPolicyInvalid
			return e
		}
	}
	return err
}

func systemPolicyError(id string) error {
	return castellan.Errorf(castellan.EINVALID, castellan.CodeControlPolicySystem, "control policy %s is a system policy: it cannot be changed or deleted", id)
}

// lockCustomPolicy reads a custom policy of the organization in tx with
// lock on its row.
func lockCustomPolicy(ctx context.Context, tx *Tx, orgID, id, lock string) (*castellan.ControlPolicy, error) {
	if castellan.SystemControlPolicy(id) != nil {
		return nil, systemPolicyError(id)
	}
	if !castellan.ValidID(id) {
		return nil, controlPolicyNotFound(id)
	}
	p, err := scanControlPolicy(tx.queryRow(ctx, `SELECT `+controlPolicyColumns+` FROM control_policies WHERE org_id = ? AND id = ?`+lock, orgID, id))
	if isNoRows(err) {
		return nil, controlPolicyNotFound(id)
	}
	return p, err
}

// UpdateControlPolicy implements castellan.ControlPolicyService.
func (s *ControlPolicyService) UpdateControlPolicy(ctx context.Context, orgID, id string, u castellan.ControlPolicyUpdate) (*castellan.ControlPolicy, error) {
	if castellan.SystemControlPolicy(id) != nil {
		return nil, systemPolicyError(id)
	}
	fields := u.Validate()
	if u.Document != nil {
		fields = append(fields, policy.Check("document", *u.Document, s.db.catalog)...)
	}
	if err := invalidDocument(fields); err != nil {
		return nil, err
	}
	var p *castellan.ControlPolicy
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if p, err = lockCustomPolicy(ctx, tx, orgID, id, tx.db.dialect.lockExclusive); err != nil {
			return err
		}
		summary := map[string]any{}
		if u.Name != nil && *u.Name != p.Name {
			summary["name"], p.Name = diff{p.Name, *u.Name}, *u.Name
		}
		if u.Description != nil && *u.Description != p.Description {
			summary["description"], p.Description = diff{p.Description, *u.Description}, *u.Description
		}
		if u.Document != nil && *u.Document != p.Document {
			summary["document"], p.Document = diff{p.Document, *u.Document}, *u.Document
		}
		if len(summary) == 0 {
			return nil
		}
		p.UpdatedAt, p.UpdatedBy, p.Revision = tx.now, tx.actorID(), tx.revision
		_, err = tx.exec(ctx, `UPDATE control_policies SET name = ?, description = ?, document = ?, updated_at = ?, updated_by = ?, revision = ?
			WHERE org_id = ? AND id = ?`, p.Name, p.Description, p.Document, p.UpdatedAt, p.UpdatedBy, p.Revision, orgID, id)
		if c := conflict(err, p.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("update control policy: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateControlPolicy,
			entityType: "control_policy", entityID: id, entityName: p.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeleteControlPolicy implements castellan.ControlPolicyService.
func (s *ControlPolicyService) DeleteControlPolicy(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		// Locked first, so that no attachment is made beside the ones
		// counted here.
		p, err := lockCustomPolicy(ctx, tx, orgID, id, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM policy_attachments WHERE org_id = ? AND policy_id = ?`, orgID, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeControlPolicyInUse,
				"control policy %s is attached to %d nodes; detach it first", id, n)
		}
		if _, err := tx.exec(ctx, `DELETE FROM control_policies WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete control policy: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteControlPolicy,
			entityType: "control_policy", entityID: id, entityName: p.Name, operation: "delete",
			summary: map[string]any{"name": p.Name},
		})
		return err
	})
	return rev, err
}

// attachTarget reads the node a policy is attached to or detached from in
// tx, locking it against deletion: a root, OU or account.
func attachTarget(ctx context.Context, tx *Tx, orgID, nodeID string) (*nodeRow, error) {
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM nodes WHERE org_id = ? AND id = ?`+tx.db.dialect.lockExclusive, orgID, nodeID).Scan(&id)
	if isNoRows(err) {
		return nil, notFound(castellan.CodeNodeNotFound, "node", nodeID)
	}
	if err != nil {
		return nil, err
	}
	n, err := findNode(ctx, tx.queryRow, orgID, nodeID)
	if err != nil {
		return nil, err
	}
	if n.Kind == castellan.NodeProject {
		return nil, castellan.Errorf(castellan.EINVALID, castellan.CodeControlPolicyInvalidTarget,
			"control policies attach to the root, OUs and accounts; %s is a project", nodeID)
	}
	return n, nil
}

// AttachControlPolicy implements castellan.ControlPolicyService.
func (s *ControlPolicyService) AttachControlPolicy(ctx context.Context, orgID, policyID, nodeID string) (*castellan.PolicyAttachment, error) {
	var a *castellan.PolicyAttachment
	err := s.db.update(ctx, func(tx *Tx) error {
		n, err := attachTarget(ctx, tx, orgID, nodeID)
		if err != nil {
			return err
		}
		p := systemPolicy(policyID)
		if p == nil {
			if p, err = lockCustomPolicy(ctx, tx, orgID, policyID, tx.db.dialect.lockKey); err != nil {
				return err
			}
		}
		var attached, same int
		if err := tx.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN policy_id = ? THEN 1 ELSE 0 END), 0)
			FROM policy_attachments WHERE node_id = ?`, policyID, nodeID).Scan(&attached, &same); err != nil {
			return err
		}
		switch {
		case same > 0:
			return castellan.Errorf(castellan.ECONFLICT, castellan.CodeControlPolicyAttached, "control policy %s is already attached to %s", policyID, nodeID)
		case attached >= castellan.MaxPoliciesPerTarget:
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeControlPolicyTooMany,
				"%s has %d control policies attached, the most a node may have", nodeID, attached)
		}
		if err := insertAttachment(ctx, tx, orgID, nodeID, policyID); err != nil {
			return err
		}
		a = &castellan.PolicyAttachment{
			Policy: p, Method: castellan.AttachedDirect, Node: castellan.NodeRef{ID: n.ID, Kind: n.Kind, Name: n.Name},
			AttachedAt: tx.now, AttachedBy: tx.actorID(),
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionAttachControlPolicy,
			entityType: "policy_attachment", entityID: nodeID + "/" + policyID, entityName: p.Name, operation: "create",
			summary: map[string]any{"policyId": policyID, "nodeId": nodeID, "nodeKind": n.Kind},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DetachControlPolicy implements castellan.ControlPolicyService.
func (s *ControlPolicyService) DetachControlPolicy(ctx context.Context, orgID, policyID, nodeID string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		// The node's row lock serializes attachments of the node, so two
		// detaches cannot leave it with none.
		n, err := attachTarget(ctx, tx, orgID, nodeID)
		if err != nil {
			return err
		}
		var attached, same int
		if err := tx.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN policy_id = ? THEN 1 ELSE 0 END), 0)
			FROM policy_attachments WHERE node_id = ?`, policyID, nodeID).Scan(&attached, &same); err != nil {
			return err
		}
		switch {
		case same == 0:
			return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeControlPolicyNotAttached, "control policy %s is not attached to %s", policyID, nodeID)
		case attached == 1:
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeControlPolicyLastAttachment,
				"control policy %s is the last one attached to %s; attach another first", policyID, nodeID)
		}
		if _, err := tx.exec(ctx, `DELETE FROM policy_attachments WHERE node_id = ? AND policy_id = ?`, nodeID, policyID); err != nil {
			return fmt.Errorf("detach control policy: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDetachControlPolicy,
			entityType: "policy_attachment", entityID: nodeID + "/" + policyID, entityName: n.Name, operation: "delete",
			summary: map[string]any{"policyId": policyID, "nodeId": nodeID, "nodeKind": n.Kind},
		})
		return err
	})
	return rev, err
}
