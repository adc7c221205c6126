package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// ProjectService implements castellan.ProjectService on the nodes table.
type ProjectService struct{ db *DB }

var _ castellan.ProjectService = (*ProjectService)(nil)

// Projects returns the project service of db.
func (db *DB) Projects() *ProjectService { return &ProjectService{db: db} }

const projectColumns = `id, org_id, parent_id, name, description, created_at, created_by, updated_at, updated_by, revision`

func scanProject(row scanner) (*castellan.Project, error) {
	var p castellan.Project
	err := row.Scan(&p.ID, &p.OrganizationID, &p.ParentID, &p.Name, &p.Description,
		&p.CreatedAt, &p.CreatedBy, &p.UpdatedAt, &p.UpdatedBy, &p.Revision)
	if err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

// FindProjectByID implements castellan.ProjectService.
func (s *ProjectService) FindProjectByID(ctx context.Context, orgID, id string) (*castellan.Project, error) {
	return findProject(ctx, s.db.queryRow, orgID, id)
}

// findProject reads one project of the organization through queryRow (the
// reader pool or a transaction).
func findProject(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) (*castellan.Project, error) {
	p, err := scanProject(queryRow(ctx, `SELECT `+projectColumns+` FROM nodes WHERE org_id = ? AND kind = 'project' AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, notFound(castellan.CodeProjectNotFound, "project", id)
	}
	return p, err
}

// FindProjects implements castellan.ProjectService.
func (s *ProjectService) FindProjects(ctx context.Context, orgID string, f castellan.ProjectFilter) ([]*castellan.Project, string, error) {
	cur, err := decodeCursor(f.PageToken, "projects", 2)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := `SELECT `+projectColumns+` FROM nodes WHERE org_id = ? AND kind = 'project'`, []any{orgID}
	if cur != nil {
		q, args = q+` AND (name > ? OR (name = ? AND id > ?))`, append(args, cur.Key[0], cur.Key[0], cur.Key[1])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY name, id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	projects, err := collect(rows, scanProject)
	if err != nil {
		return nil, "", err
	}
	projects, next := pageOf(projects, size, func(p *castellan.Project) cursor {
		return cursor{List: "projects", Key: []string{p.Name, p.ID}}
	})
	return projects, next, nil
}

// lockOrganization reads the organization's root inside tx, so that a
// concurrent deletion of the organization and this write cannot both
// succeed. Returns ENOTFOUND (organization.not_found).
func lockOrganization(ctx context.Context, tx *Tx, orgID string) error {
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM organizations WHERE id = ?`+tx.db.dialect.lockKey, orgID).Scan(&id)
	if isNoRows(err) {
		return notFound(castellan.CodeOrgNotFound, "organization", orgID)
	}
	return err
}

// CreateProject implements castellan.ProjectService. The new node
// changes the tree's shape, so the write holds lockStructure: a
// concurrent move or deletion of the parent OU or account waits.
func (s *ProjectService) CreateProject(ctx context.Context, orgID string, pc castellan.ProjectCreate) (*castellan.Project, error) {
	if err := pc.Validate(); err != nil {
		return nil, err
	}
	var p *castellan.Project
	err := s.db.update(ctx, func(tx *Tx) error {
		var c change
		var err error
		if p, c, err = createProject(ctx, tx, orgID, newID(), pc); err != nil {
			return err
		}
		_, err = tx.record(ctx, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// createProject inserts a validated project with the given ID in tx and
// returns it with its change.
func createProject(ctx context.Context, tx *Tx, orgID, id string, pc castellan.ProjectCreate) (*castellan.Project, change, error) {
	if err := lockStructure(ctx, tx, orgID); err != nil {
		return nil, change{}, err
	}
	parent, err := findParent(ctx, tx, orgID, "parentId", cmp.Or(pc.ParentID, orgID), castellan.NodeProject)
	if err != nil {
		return nil, change{}, err
	}
	if _, err := insertNode(ctx, tx, orgID, castellan.NodeProject, parent, id, pc.Name, pc.Description); err != nil {
		return nil, change{}, err
	}
	p := newProject(tx, orgID, parent.ID, id, pc)
	return p, projectCreated(p), nil
}

// createProjects inserts validated projects with the given IDs in tx,
// one read per parent and one insert for all, and returns their changes.
// The first error fails them all: the caller (a bulk import) then
// creates them one at a time with createProject, whose errors say which.
func createProjects(ctx context.Context, tx *Tx, orgID string, ids []string, pcs []castellan.ProjectCreate) ([]change, error) {
	if err := lockStructure(ctx, tx, orgID); err != nil {
		return nil, err
	}
	parents := map[string]*nodeRow{}
	rows := make([][]any, len(pcs))
	changes := make([]change, len(pcs))
	for i, pc := range pcs {
		parentID := cmp.Or(pc.ParentID, orgID)
		parent, ok := parents[parentID]
		if !ok {
			var err error
			if parent, err = findParent(ctx, tx, orgID, "parentId", parentID, castellan.NodeProject); err != nil {
				return nil, err
			}
			parents[parentID] = parent
		}
		rows[i] = newNodeRow(tx, orgID, castellan.NodeProject, parent, ids[i], pc.Name).values(tx, pc.Description)
		changes[i] = projectCreated(newProject(tx, orgID, parent.ID, ids[i], pc))
	}
	if err := tx.insertRows(ctx, nodeInsert, rows); err != nil {
		return nil, fmt.Errorf("insert projects: %w", err)
	}
	return changes, nil
}

// newProject is the project a create makes, stamped by tx.
func newProject(tx *Tx, orgID, parentID, id string, pc castellan.ProjectCreate) *castellan.Project {
	return &castellan.Project{
		ID: id, OrganizationID: orgID, ParentID: parentID, Name: pc.Name, Description: pc.Description,
		CreatedAt: tx.now, CreatedBy: tx.actorID(), UpdatedAt: tx.now, UpdatedBy: tx.actorID(), Revision: tx.revision,
	}
}

// projectCreated is the change of a project's creation.
func projectCreated(p *castellan.Project) change {
	return change{
		orgID: p.OrganizationID, action: castellan.ActionCreateProject,
		entityType: "project", entityID: p.ID, entityName: p.Name, operation: "create",
		summary: map[string]any{"name": p.Name, "description": p.Description, "parentId": p.ParentID},
	}
}

// MoveProject implements castellan.ProjectService under lockStructure, as
// every change of the tree's shape.
func (s *ProjectService) MoveProject(ctx context.Context, orgID, id, parentID string) (*castellan.Project, error) {
	if err := castellan.CheckID("parentId", parentID); err != nil {
		return nil, err
	}
	var p *castellan.Project
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		var err error
		if p, err = findProject(ctx, tx.queryRow, orgID, id); err != nil {
			return err
		}
		if p.ParentID == parentID {
			return nil
		}
		node, err := findNode(ctx, tx.queryRow, orgID, id)
		if err != nil {
			return err
		}
		if err := moveNode(ctx, tx, orgID, node, parentID); err != nil {
			return err
		}
		summary := map[string]any{"parentId": diff{p.ParentID, parentID}}
		p.ParentID, p.UpdatedAt, p.UpdatedBy, p.Revision = parentID, tx.now, tx.actorID(), tx.revision
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionMoveProject,
			entityType: "project", entityID: id, entityName: p.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdateProject implements castellan.ProjectService.
func (s *ProjectService) UpdateProject(ctx context.Context, orgID, id string, upd castellan.ProjectUpdate) (*castellan.Project, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var p *castellan.Project
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		p, err = findProject(ctx, tx.queryRow, orgID, id)
		if err != nil {
			return err
		}
		summary := map[string]any{}
		if upd.Name != nil && *upd.Name != p.Name {
			summary["name"], p.Name = diff{p.Name, *upd.Name}, *upd.Name
		}
		if upd.Description != nil && *upd.Description != p.Description {
			summary["description"], p.Description = diff{p.Description, *upd.Description}, *upd.Description
		}
		if len(summary) == 0 {
			return nil
		}
		p.Revision = tx.revision
		p.UpdatedAt, p.UpdatedBy = tx.now, tx.actorID()
		_, err = tx.exec(ctx, `UPDATE nodes SET name = ?, description = ?, updated_at = ?, updated_by = ?, revision = ? WHERE org_id = ? AND kind = 'project' AND id = ?`,
			p.Name, p.Description, p.UpdatedAt, p.UpdatedBy, p.Revision, orgID, id)
		if c := conflict(err, p.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("update project: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateProject,
			entityType: "project", entityID: id, entityName: p.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeleteProject implements castellan.ProjectService.
func (s *ProjectService) DeleteProject(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		r, err := removeProject(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteProject,
			entityType: "project", entityID: id, entityName: r.project.Name, operation: "delete",
			summary: r.summary(),
			also:    r.changes(),
		})
		return err
	})
	return rev, err
}

// projectRemoval is a deleted project with what went with it.
type projectRemoval struct {
	project  *castellan.Project
	accounts []*castellan.ServiceAccount
	grants   []*castellan.Grant
	keys     []string
}

// removeProject deletes the project id of the organization in tx with its
// service accounts (and every grant they hold), the access keys of the
// project, whoever holds them, and the grants on the project and its
// resources. The caller records the change with the removal's summary
// and changes.
func removeProject(ctx context.Context, tx *Tx, orgID, id string) (*projectRemoval, error) {
	p, err := findProject(ctx, tx.queryRow, orgID, id)
	if err != nil {
		return nil, err
	}
	// Locking the node as for its deletion waits for the writers that
	// checked it (CreateGrants and CreateServiceAccount hold it locked),
	// so that their grants and accounts are seen here.
	if err := lockProject(ctx, tx, orgID, id, tx.db.dialect.lockDelete); err != nil {
		return nil, err
	}
	r := &projectRemoval{project: p}
	// The project's service accounts go with it, with every grant they
	// hold, before the node they reference.
	accounts, accountGrants, err := deleteProjectServiceAccounts(ctx, tx, orgID, id)
	if err != nil {
		return nil, err
	}
	r.accounts = accounts
	if r.keys, err = deleteAccessKeysWhere(ctx, tx, `org_id = ? AND project_id = ?`, orgID, id); err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, `DELETE FROM nodes WHERE org_id = ? AND kind = 'project' AND id = ?`, orgID, id); err != nil {
		return nil, fmt.Errorf("delete project: %w", err)
	}
	// Grants on the project and its resources go with it.
	grants, err := deleteGrantsWhere(ctx, tx, `org_id = ? AND (scope = ? OR (scope_kind = 'resource' AND scope LIKE ?))`,
		orgID, castellan.ProjectScope(id).String(), "rn:%:"+id+":%")
	if err != nil {
		return nil, err
	}
	r.grants = append(accountGrants, grants...)
	return r, nil
}

// summary is the audit summary of the removal.
func (r *projectRemoval) summary() map[string]any {
	summary := map[string]any{"name": r.project.Name, "deletedGrants": grantSummaries(r.grants)}
	if len(r.accounts) > 0 {
		summary["deletedServiceAccounts"] = serviceAccountSummaries(r.accounts)
	}
	if len(r.keys) > 0 {
		summary["deletedAccessKeyIds"] = r.keys
	}
	return summary
}

// changes are the change-log rows of what went with the project (the
// project's own row is the caller's).
func (r *projectRemoval) changes() []changedEntity {
	also := append(serviceAccountDeletions(r.accounts), grantDeletions(r.grants)...)
	return append(also, accessKeyDeletions(r.keys)...)
}
