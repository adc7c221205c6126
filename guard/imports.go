package guard

import (
	"context"
	"slices"

	"github.com/castellan-iam/castellan"
)

// imports guards bulk imports: the caller needs organizations:Import on
// the organization, and each item the authorization of its single
// operation, hierarchy principle included, checked right before the
// store applies the item's batch.
type imports struct {
	g    *guard
	next castellan.ImportService
}

var _ castellan.ImportService = (*imports)(nil)

func (s *imports) BeginImport(ctx context.Context, orgID string, opts castellan.ImportOptions) (castellan.Importer, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionImport); err != nil {
		return nil, err
	}
	im := &importer{g: s.g, orgID: orgID}
	opts.Authorize = im.authorizeBatch
	return s.next.BeginImport(ctx, orgID, opts)
}

// importer authorizes the items of one import a batch at a time, right
// before the store applies the batch. The checks repeat (every user is
// iam:CreateUser on the organization, every grant on a project
// iam:SetGrants there), so their answers are kept for the batch, and for
// the batch only: a stream may stay open long, and the rights of the
// caller, the roles of a group or the place of a node may change meanwhile.
type importer struct {
	g     *guard
	orgID string
	// parents are the nodes the batch creates, with their parents: an
	// item on such a node is authorized on its nearest existing ancestor,
	// whence it inherits the caller's grants.
	parents map[string]string
	nodes   map[string]nodeAnswer
	checks  map[checkKey]error
	// read are the nodes the batch names, read at once before its
	// checks: a node asked for and not found is nil.
	read map[string]*castellan.Node
}

type nodeAnswer struct {
	scope castellan.Scope
	err   error
}

// checkKey names one check: an action (or, for the hierarchy principle,
// a role) on a scope.
type checkKey struct{ what, scope string }

// authorizeBatch is castellan.ImportOptions.Authorize: it refuses the
// items of one batch the caller may not create, with fresh answers.
func (im *importer) authorizeBatch(ctx context.Context, items []*castellan.ImportItem) {
	im.parents, im.nodes, im.checks = map[string]string{}, map[string]nodeAnswer{}, map[checkKey]error{}
	im.readNodes(ctx, items)
	for _, item := range items {
		if item.Err == nil {
			item.Err = im.authorize(ctx, item)
		}
	}
}

// readNodes reads the existing nodes the items name (parents, projects,
// scopes) MaxFindNodes at a time, instead of one read per node. A read
// that fails leaves its nodes to be read one at a time.
func (im *importer) readNodes(ctx context.Context, items []*castellan.ImportItem) {
	im.read = map[string]*castellan.Node{}
	created := map[string]bool{im.orgID: true}
	for _, item := range items {
		if item.OrgUnit != nil || item.Project != nil {
			created[item.ID] = true
		}
	}
	var ids []string
	want := func(id string) {
		if _, seen := im.read[id]; !seen && !created[id] && castellan.ValidID(id) {
			im.read[id], ids = nil, append(ids, id)
		}
	}
	for _, item := range items {
		switch {
		case item.Err != nil:
		case item.OrgUnit != nil:
			want(item.OrgUnit.ParentID)
		case item.Project != nil:
			want(item.Project.ParentID)
		case item.ServiceAccount != nil:
			want(item.ServiceAccount.ProjectID)
		case item.Grant != nil:
			if scope, err := castellan.ParseScope("scope", item.Grant.Scope); err == nil && scope.Kind != castellan.ScopeOrganization {
				want(scope.ID)
			}
		}
	}
	for chunk := range slices.Chunk(ids, castellan.MaxFindNodes) {
		found, err := im.g.raw.Nodes.FindNodesByID(ctx, im.orgID, chunk)
		if err != nil {
			for _, id := range chunk {
				delete(im.read, id)
			}
			continue
		}
		for _, n := range found {
			im.read[n.ID] = n
		}
	}
}

// settled reports whether err is an answer to keep for the batch: an
// allowance or a refusal, not a failure that may pass.
func settled(err error) bool {
	kind := castellan.ErrorKind(err)
	return err == nil || kind == castellan.EFORBIDDEN || kind == castellan.ENOTFOUND
}

// authorize checks what the single operation of item checks.
func (im *importer) authorize(ctx context.Context, item *castellan.ImportItem) error {
	switch {
	case item.OrgUnit != nil:
		im.parents[item.ID] = item.OrgUnit.ParentID
		return im.allowOnNode(ctx, castellan.ActionCreateOrganizationalUnit, "parentId", item.OrgUnit.ParentID)
	case item.Project != nil:
		parent := item.Project.ParentID
		if parent == "" {
			parent = im.orgID
		}
		im.parents[item.ID] = parent
		return im.allowOnNode(ctx, castellan.ActionCreateProject, "parentId", parent)
	case item.User != nil:
		return im.allow(ctx, castellan.ActionCreateUser, castellan.OrganizationScope(im.orgID))
	case item.Group != nil:
		return im.allow(ctx, castellan.ActionCreateGroup, castellan.OrganizationScope(im.orgID))
	case item.Membership != nil:
		return im.allowMembership(ctx, item.Membership.GroupID, item.Refs)
	case item.ServiceAccount != nil:
		return im.allowOnNode(ctx, castellan.ActionCreateServiceAccount, "projectId", item.ServiceAccount.ProjectID)
	case item.Grant != nil:
		return im.allowGrant(ctx, item.Grant)
	}
	return nil
}

// allow is guard.allow, once per action and scope.
func (im *importer) allow(ctx context.Context, action castellan.Action, scope castellan.Scope) error {
	key := checkKey{string(action), scope.String()}
	if err, ok := im.checks[key]; ok {
		return err
	}
	err := im.g.allow(ctx, im.orgID, action, scope, scopeNotFound(scope))
	if settled(err) {
		im.checks[key] = err
	}
	return err
}

// allowOnNode is allow on the node id names, or, for a node of this
// import, on its nearest existing ancestor.
func (im *importer) allowOnNode(ctx context.Context, action castellan.Action, field, id string) error {
	scope, err := im.nodeScope(ctx, field, id)
	if err != nil {
		return err
	}
	return im.allow(ctx, action, scope)
}

// nodeScope is the scope of the node id names (field in errors), or of
// the nearest existing ancestor of a node this import creates. A node of
// another organization is not found.
func (im *importer) nodeScope(ctx context.Context, field, id string) (castellan.Scope, error) {
	for {
		parent, ok := im.parents[id]
		if !ok {
			break
		}
		id = parent
	}
	if id == im.orgID {
		return castellan.OrganizationScope(id), nil
	}
	if a, ok := im.nodes[id]; ok {
		return a.scope, a.err
	}
	var a nodeAnswer
	if a.err = castellan.CheckID(field, id); a.err == nil {
		n, read := im.read[id]
		switch {
		case !read:
			n, a.err = im.g.raw.Nodes.FindNodeByID(ctx, im.orgID, id)
		case n == nil:
			a.err = castellan.Errorf(castellan.ENOTFOUND, castellan.CodeNodeNotFound, "node %s not found", id)
		}
		if a.err == nil {
			a.scope = n.Scope()
		}
	}
	a.err = castellan.WithField(a.err, castellan.ENOTFOUND, field, "exists")
	if settled(a.err) {
		im.nodes[id] = a
	}
	return a.scope, a.err
}

// allowMembership is the check of adding members to the group: for a
// group of this import, iam:AddGroupMembers on the organization; for an
// existing group, also the hierarchy principle on the roles the group
// holds, which the new member gets.
func (im *importer) allowMembership(ctx context.Context, groupID string, refs []castellan.ImportRef) error {
	for _, r := range refs {
		if r.Field == "groupId" {
			return im.allow(ctx, castellan.ActionAddGroupMembers, castellan.OrganizationScope(im.orgID))
		}
	}
	key := checkKey{"group", groupID}
	if err, ok := im.checks[key]; ok {
		return err
	}
	err := castellan.WithField((&groups{g: im.g}).allowGroupChange(ctx, im.orgID, groupID, castellan.ActionAddGroupMembers),
		castellan.ENOTFOUND, "groupId", "exists")
	if settled(err) {
		im.checks[key] = err
	}
	return err
}

// allowGrant is the check of one grant: iam:SetGrants on its scope and
// the hierarchy principle. A scope that does not parse or a role that
// does not exist are left to the store, whose errors name the field.
func (im *importer) allowGrant(ctx context.Context, grant *castellan.GrantCreate) error {
	scope, err := castellan.ParseScope("scope", grant.Scope)
	if err != nil {
		return nil
	}
	if scope.Kind != castellan.ScopeOrganization {
		node, err := im.nodeScope(ctx, "scope", scope.ID)
		if castellan.ErrorKind(err) == castellan.ENOTFOUND {
			return castellan.WithField(castellan.NodeNotFound(scope.NodeKind(), scope.ID), castellan.ENOTFOUND, "scope", "exists")
		}
		if err != nil {
			return err
		}
		if _, isNew := im.parents[scope.ID]; isNew {
			scope = node // not granted anywhere yet: it inherits
		}
	}
	if err := im.allow(ctx, castellan.ActionSetGrants, scope); err != nil {
		return err
	}
	key := checkKey{"role " + grant.RoleID, scope.String()}
	if err, ok := im.checks[key]; ok {
		return err
	}
	role, err := im.g.raw.Roles.FindRoleByID(ctx, im.orgID, grant.RoleID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil
	}
	if err == nil {
		err = im.g.holds(ctx, scope.String(), role.ID, role.Actions, "roleId")
	}
	if settled(err) {
		im.checks[key] = err
	}
	return err
}
