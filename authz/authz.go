// Package authz decides whether a principal may perform an action on a
// resource, from the grants, groups and roles of the store, limited by
// the control policies of the accounts. It reads through the castellan
// service interfaces and never sees a backend.
//
// This implementation asks the store on every decision; it is the
// reference for correctness. The in-memory index of the performance issue
// replaces it behind the same castellan.Authorizer interface.
package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// Authorizer implements castellan.Authorizer on the store's services.
//
// A decision is made in two steps. Grants give access: some unexpired
// grant of the principal (directly or through a group) on the resource
// or a node above it must hold the action. Control policies only limit
// it: for every resource below the root (an OU, an account, a project
// wherever it hangs, a resource of a project), every level of the path
// from the root down to the innermost OU or account (or the root, for a
// project directly under it), root first, must have an attached policy
// that permits the action and none that forbids it (package policy). So
// a project moved out of an account stays under its OU's guardrails.
// Decisions on the root itself (the organization's administration) are
// not limited, so that no policy can lock the administrators out of the
// guardrails. Operators bypass both.
type Authorizer struct {
	Grants castellan.GrantService
	Groups castellan.GroupService
	Roles  castellan.RoleService
	// Nodes gives the ancestry of a scope: the nodes whose grants
	// apply to it.
	Nodes castellan.NodeService
	// Policies gives the control policies attached along the path of an
	// account.
	Policies castellan.ControlPolicyService
	// ServiceAccounts tells whether a service account principal exists;
	// without it every service account is an unknown principal.
	ServiceAccounts castellan.ServiceAccountService
	Catalog         *castellan.Catalog
	Now             castellan.Clock
}

var _ castellan.Authorizer = (*Authorizer)(nil)

// Authorize implements castellan.Authorizer.
func (a *Authorizer) Authorize(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	return a.decide(ctx, req, false)
}

// Explain implements castellan.Authorizer.
func (a *Authorizer) Explain(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	return a.decide(ctx, req, true)
}

// Prejudge answers what no grant decides, for every authorizer: a
// malformed resource (the error), the operator (allowed) and an access
// key's caller asking about another project (refused). decided reports
// that d is the answer; otherwise scope is the parsed resource.
func Prejudge(req castellan.AuthzRequest) (scope castellan.Scope, d castellan.Decision, decided bool, err error) {
	scope, err = castellan.ParseScope("resource", req.Resource)
	if err != nil {
		return scope, d, true, err
	}
	p := req.Principal
	if p.Type == castellan.PrincipalOperator || p.Type == castellan.PrincipalSystem {
		return scope, castellan.Decision{Allowed: true, Reason: castellan.ReasonOperator}, true, nil
	}
	if outsideKeyProject(p, scope) {
		return scope, castellan.Decision{Reason: castellan.ReasonKeyProjectMismatch}, true, nil
	}
	return scope, d, false, nil
}

func (a *Authorizer) decide(ctx context.Context, req castellan.AuthzRequest, explain bool) (castellan.Decision, error) {
	scope, d, decided, err := Prejudge(req)
	if decided {
		return d, err
	}
	p := req.Principal
	if !a.Catalog.HasAction(req.Action) {
		return castellan.Decision{Reason: castellan.ReasonUnknownAction}, nil
	}
	path, chain, err := a.ancestry(ctx, p.OrganizationID, scope)
	if err != nil {
		return castellan.Decision{}, err
	}
	if chain == nil {
		return castellan.Decision{Reason: castellan.ReasonNotInOrganization}, nil
	}
	subjects, err := a.subjects(ctx, p)
	if errors.Is(err, errUnknownPrincipal) {
		return castellan.Decision{Reason: castellan.ReasonUnknownPrincipal}, nil
	}
	if err != nil {
		return castellan.Decision{}, err
	}
	grants, err := a.grantsOf(ctx, p.OrganizationID, subjects, chain)
	if err != nil {
		return castellan.Decision{}, err
	}
	d = castellan.Decision{Reason: castellan.ReasonNoGrant}
	now := a.Now()
	expired := false
	for _, g := range grants {
		role, err := a.role(ctx, p.OrganizationID, g.grant.RoleID)
		if err != nil {
			return castellan.Decision{}, err
		}
		if role == nil || !role.Allows(req.Action) {
			continue
		}
		if !g.grant.Active(now) {
			expired = true
			continue
		}
		d.Allowed, d.Reason = true, castellan.ReasonAllowed
		if !explain {
			break
		}
		d.Matches = append(d.Matches, g.match(role))
	}
	switch {
	case d.Allowed:
		in := policyInput(p, subjects, req.Action, scope, path)
		in.Context = req.Context
		return a.limit(ctx, d, in)
	case expired:
		d.Reason = castellan.ReasonExpired
		return d, nil
	case !explain:
		return d, nil
	}
	near, err := a.nearMisses(ctx, p, req.Action, chain)
	if err != nil {
		return castellan.Decision{}, err
	}
	if len(near) > 0 {
		d.Reason, d.Near = castellan.ReasonScopeMismatch, near
	}
	return d, nil
}

// outsideKeyProject reports whether a caller authenticated with an access
// key (p.ProjectID set) asks about a scope inside another project: a
// project, or a resource whose name carries the project. Scopes above
// projects (the organization) are decided by the caller's grants as for
// any other token.
func outsideKeyProject(p castellan.Principal, scope castellan.Scope) bool {
	if p.ProjectID == "" {
		return false
	}
	switch scope.Kind {
	case castellan.ScopeProject, castellan.ScopeResource:
		return scope.ID != p.ProjectID
	}
	return false
}

// ancestry returns the nodes of scope's path, from its node (a
// resource's project) up to the root (none for the root itself), and the
// scopes whose grants apply
// to scope, from scope up to the organization root; the chain is nil
// when scope is not in the organization.
func (a *Authorizer) ancestry(ctx context.Context, orgID string, scope castellan.Scope) ([]*castellan.Node, []string, error) {
	if orgID == "" {
		return nil, nil, nil
	}
	if scope.Kind == castellan.ScopeOrganization {
		if scope.ID != orgID {
			return nil, nil, nil
		}
		// Control policies do not limit the root: no decision on it
		// needs its node.
		return nil, []string{castellan.OrganizationScope(orgID).String()}, nil
	}
	// Every other scope is a node of the organization (a resource names
	// its project): the node must be of the scope's kind.
	nodes, err := a.Nodes.FindAncestors(ctx, orgID, scope.ID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if nodes[0].Kind != scope.NodeKind() {
		return nil, nil, nil
	}
	return nodes, scopeChain(scope, nodes), nil
}

// scopeChain returns the scopes whose grants apply to scope, whose node
// has the ancestry path: scope up to the root.
func scopeChain(scope castellan.Scope, path []*castellan.Node) []string {
	var chain []string
	if scope.Kind == castellan.ScopeResource {
		// A grant on every resource of the type in the project applies
		// to each of them, between the resource and its project.
		chain = append(chain, scope.String())
		if all := scope.Resource.AllOfType(); all != *scope.Resource {
			chain = append(chain, all.String())
		}
	}
	for _, n := range path {
		chain = append(chain, n.Scope().String())
	}
	return chain
}

// errUnknownPrincipal reports a principal that is not a user or service
// account of its organization: it holds nothing.
var errUnknownPrincipal = errors.New("authz: no such user or service account in the organization")

// heldGrant is a grant and how the principal holds it.
type heldGrant struct {
	grant *castellan.Grant
	group *castellan.Subject
}

func (g heldGrant) match(role *castellan.Role) castellan.GrantMatch {
	m := castellan.GrantMatch{Grant: g.grant, Role: role.ID, Path: "direct", Scope: g.grant.Scope}
	if g.group != nil {
		m.Path, m.Group = "group", g.group
	}
	return m
}

// subjects returns the principal and its groups as grant subjects. A
// service account is in no group: it holds its own grants only.
func (a *Authorizer) subjects(ctx context.Context, p castellan.Principal) ([]castellan.Subject, error) {
	if p.Type == castellan.PrincipalServiceAccount {
		return a.serviceAccountSubjects(ctx, p)
	}
	if p.Type != castellan.PrincipalUser {
		return nil, fmt.Errorf("authz: principal type %q cannot hold grants", p.Type)
	}
	subjects := []castellan.Subject{{Type: castellan.SubjectUser, ID: p.ID}}
	groups, err := a.Groups.FindUserGroups(ctx, p.OrganizationID, p.ID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, errUnknownPrincipal
	}
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		subjects = append(subjects, castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID})
	}
	return subjects, nil
}

// serviceAccountSubjects returns the service account as the one subject
// of its grants, or errUnknownPrincipal when the organization has no such
// account (deleted, or never there).
func (a *Authorizer) serviceAccountSubjects(ctx context.Context, p castellan.Principal) ([]castellan.Subject, error) {
	if a.ServiceAccounts == nil {
		return nil, errUnknownPrincipal
	}
	_, err := a.ServiceAccounts.FindServiceAccountByID(ctx, p.OrganizationID, p.ID)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, errUnknownPrincipal
	}
	if err != nil {
		return nil, err
	}
	return []castellan.Subject{{Type: castellan.SubjectServiceAccount, ID: p.ID}}, nil
}

// grantsOf returns the grants of subjects (a principal and its groups)
// on the scopes.
func (a *Authorizer) grantsOf(ctx context.Context, orgID string, subjects []castellan.Subject, scopes []string) ([]heldGrant, error) {
	grants, err := a.Grants.FindGrantsFor(ctx, orgID, subjects, scopes)
	if err != nil {
		return nil, err
	}
	held := make([]heldGrant, len(grants))
	for i, g := range grants {
		held[i] = heldOf(g)
	}
	return held, nil
}

// heldOf is a grant to the principal or one of its groups as the
// principal holds it.
func heldOf(g *castellan.Grant) heldGrant {
	if g.Subject.Type == castellan.SubjectGroup {
		group := g.Subject
		return heldGrant{grant: g, group: &group}
	}
	return heldGrant{grant: g}
}

// nearMisses returns active grants of the principal whose role holds the
// action on a scope outside chain.
func (a *Authorizer) nearMisses(ctx context.Context, p castellan.Principal, action string, chain []string) ([]castellan.GrantMatch, error) {
	inChain := map[string]bool{}
	for _, s := range chain {
		inChain[s] = true
	}
	subject := castellan.Subject{Type: castellan.SubjectUser, ID: p.ID}
	if p.Type == castellan.PrincipalServiceAccount {
		subject.Type = castellan.SubjectServiceAccount
	}
	var near []castellan.GrantMatch
	token := ""
	for {
		grants, next, err := a.Grants.FindGrants(ctx, p.OrganizationID, castellan.GrantFilter{Subject: &subject, PageSize: castellan.MaxPageSize, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			if inChain[g.Scope] || !g.Active(a.Now()) {
				continue
			}
			role, err := a.role(ctx, p.OrganizationID, g.RoleID)
			if err != nil {
				return nil, err
			}
			if role != nil && role.Allows(action) {
				near = append(near, heldGrant{grant: g, group: g.Via}.match(role))
			}
		}
		if next == "" {
			return near, nil
		}
		token = next
	}
}

// role resolves a role ID: built-in from the catalogue, custom from the
// store; nil when the role no longer exists.
func (a *Authorizer) role(ctx context.Context, orgID, id string) (*castellan.Role, error) {
	if r := a.Catalog.Role(id); r != nil {
		return r, nil
	}
	r, err := a.Roles.FindRoleByID(ctx, orgID, id)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, nil
	}
	return r, err
}

// Missing returns the actions among actions that the principal does not
// hold on the scope: the hierarchy principle refuses a grant of a role
// whose actions the grantor lacks. Operators hold everything. It looks at
// grants only: control policies limit what may be done below the root,
// not what may be granted there, so a grantor passes on the roles it
// holds even where a guardrail keeps both from using them.
func (a *Authorizer) Missing(ctx context.Context, p castellan.Principal, scope string, actions []string) ([]string, error) {
	if p.Type == castellan.PrincipalOperator || p.Type == castellan.PrincipalSystem {
		return nil, nil
	}
	parsed, err := castellan.ParseScope("scope", scope)
	if err != nil {
		return nil, err
	}
	if outsideKeyProject(p, parsed) {
		return actions, nil
	}
	_, chain, err := a.ancestry(ctx, p.OrganizationID, parsed)
	if err != nil {
		return nil, err
	}
	if chain == nil {
		return actions, nil
	}
	subjects, err := a.subjects(ctx, p)
	if errors.Is(err, errUnknownPrincipal) {
		return actions, nil
	}
	if err != nil {
		return nil, err
	}
	grants, err := a.grantsOf(ctx, p.OrganizationID, subjects, chain)
	if err != nil {
		return nil, err
	}
	held, err := a.heldRoles(grants, func(id string) (*castellan.Role, error) { return a.role(ctx, p.OrganizationID, id) })
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, action := range actions {
		if !anyAllows(held, action) {
			missing = append(missing, action)
		}
	}
	return missing, nil
}

// heldRoles returns the roles of the grants that are active now, each
// resolved by role (nil for a role that no longer exists).
func (a *Authorizer) heldRoles(grants []heldGrant, role func(id string) (*castellan.Role, error)) ([]*castellan.Role, error) {
	var held []*castellan.Role
	for _, g := range grants {
		if !g.grant.Active(a.Now()) {
			continue
		}
		r, err := role(g.grant.RoleID)
		if err != nil {
			return nil, err
		}
		if r != nil {
			held = append(held, r)
		}
	}
	return held, nil
}

// anyAllows reports whether one of roles allows action.
func anyAllows(roles []*castellan.Role, action string) bool {
	for _, r := range roles {
		if r.Allows(action) {
			return true
		}
	}
	return false
}
