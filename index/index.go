// Package index decides authorization requests from an immutable
// in-memory snapshot of every organization: the node tree, the grants,
// the group memberships, the users and service accounts that may act, the
// custom roles (each compiled once into a set of catalogue actions) and
// the control policies attached along each node's path. A decision reads
// the current snapshot through an atomic pointer: no store access, no
// lock.
//
// The snapshot is kept current as a subscriber of the change feed
// (package changefeed): Apply rebuilds the organizations its changes name
// and swaps in a new snapshot that shares every other organization.
package index

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/policy"
)

// Authorizer implements castellan.Authorizer from the snapshot: Authorize
// gives exactly the Decision of the reference (authz.Authorizer) on the
// state the snapshot was built from. Explain, Missing and
// SimulateControlPolicy are delegated to the reference for now: they read
// the store.
//
// Until the first Reload (changefeed.Feed.Subscribe calls it) the snapshot
// is empty: every principal is unknown.
type Authorizer struct {
	services  castellan.Services
	now       castellan.Clock
	reference *authz.Authorizer

	// actions numbers the catalogue's actions: a role's bit set has bit i
	// for the i-th action of the catalogue.
	actions map[string]int
	// builtIn are the catalogue's roles, compiled once; a snapshot's
	// roles start with them.
	builtIn      []actionSet
	builtInIndex map[string]int32

	snap atomic.Pointer[snapshot]
}

var _ castellan.Authorizer = (*Authorizer)(nil)

// New returns an Authorizer over services (the store's own, unguarded),
// with an empty snapshot, and the reference it delegates to.
func New(services castellan.Services, now castellan.Clock) *Authorizer {
	if now == nil {
		now = castellan.SystemClock
	}
	cat := services.Catalog
	a := &Authorizer{
		services: services, now: now,
		reference: &authz.Authorizer{Grants: services.Grants, Groups: services.Groups, Roles: services.Roles, Nodes: services.Nodes,
			Policies: services.ControlPolicies, ServiceAccounts: services.ServiceAccounts, Catalog: cat, Now: now},
		actions: map[string]int{}, builtInIndex: map[string]int32{},
	}
	for i, action := range cat.Actions() {
		a.actions[action] = i
	}
	for _, r := range cat.Roles {
		a.builtInIndex[r.ID] = int32(len(a.builtIn))
		a.builtIn = append(a.builtIn, a.compile(r))
	}
	a.snap.Store(&snapshot{orgs: map[string]*org{}})
	return a
}

// actionSet holds a role's actions: bit i is the catalogue's i-th action.
type actionSet []uint64

func (s actionSet) has(i int) bool { return s[i/64]&(1<<(uint(i)%64)) != 0 }

// compile expands r's action patterns against the catalogue, once.
func (a *Authorizer) compile(r *castellan.Role) actionSet {
	set := make(actionSet, (len(a.actions)+63)/64)
	for action, i := range a.actions {
		if r.Allows(action) {
			set[i/64] |= 1 << (uint(i) % 64)
		}
	}
	return set
}

// snapshot is every organization's state at some point of the change log.
// It is never changed once published.
type snapshot struct {
	orgs map[string]*org
}

// org is one organization's state. Subjects (users, groups, service
// accounts) are interned: a grant and a membership name them by number.
type org struct {
	nodes map[string]*node
	// grants are the grants on each scope.
	grants map[string][]grant
	users  map[string]*user
	// serviceAccounts are the interned IDs of the service accounts.
	serviceAccounts map[string]int32
	// names are the interned subject IDs.
	names []string
	// roles are the built-in roles, then the organization's custom ones.
	roles []actionSet
}

// node is a node with what decisions on it need, computed once.
type node struct {
	// path is the node and every node above it, the root last.
	path []*castellan.Node
	// chain is the scopes of path: those whose grants apply to the node.
	chain []string
	// levels are the control policies that limit decisions on the node,
	// root first; nil when none do (the root).
	levels []policy.Level
}

// subjectKind is a grant's subject type.
type subjectKind uint8

const (
	subjectUser subjectKind = iota
	subjectGroup
	subjectServiceAccount
)

// grant is a grant as decisions see it.
type grant struct {
	kind    subjectKind
	subject int32
	// role indexes org.roles; -1 for a role that no longer exists.
	role int32
	// expires is the expiry in Unix nanoseconds; 0 for none.
	expires int64
}

// user is a user that may act (not deleted) and its groups, sorted.
type user struct {
	id     int32
	groups []int32
}

// Authorize implements castellan.Authorizer, from the snapshot.
func (a *Authorizer) Authorize(_ context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	scope, d, decided, err := authz.Prejudge(req)
	if decided {
		return d, err
	}
	p := req.Principal
	action, ok := a.actions[req.Action]
	if !ok {
		return castellan.Decision{Reason: castellan.ReasonUnknownAction}, nil
	}
	o := a.snap.Load().orgs[p.OrganizationID]
	target, chain, inOrg := o.locate(p.OrganizationID, scope)
	if !inOrg {
		return castellan.Decision{Reason: castellan.ReasonNotInOrganization}, nil
	}
	var (
		self   int32
		groups []int32
	)
	switch p.Type {
	case castellan.PrincipalServiceAccount:
		id, ok := o.serviceAccount(p.ID)
		if !ok {
			return castellan.Decision{Reason: castellan.ReasonUnknownPrincipal}, nil
		}
		self = id
	case castellan.PrincipalUser:
		u := o.user(p.ID)
		if u == nil {
			return castellan.Decision{Reason: castellan.ReasonUnknownPrincipal}, nil
		}
		self, groups = u.id, u.groups
	default:
		return castellan.Decision{}, fmt.Errorf("authz: principal type %q cannot hold grants", p.Type)
	}
	selfKind := subjectUser
	if p.Type == castellan.PrincipalServiceAccount {
		selfKind = subjectServiceAccount
	}
	now := a.now().UnixNano()
	allowed, expired := false, false
	check := func(scope string) {
		for _, g := range o.grants[scope] {
			switch {
			case g.kind == selfKind && g.subject == self:
			case g.kind == subjectGroup && selfKind == subjectUser && hasGroup(groups, g.subject):
			default:
				continue
			}
			if g.role < 0 || !o.roles[g.role].has(action) {
				continue
			}
			if g.expires != 0 && now >= g.expires {
				expired = true
				continue
			}
			allowed = true
			return
		}
	}
	if scope.Kind == castellan.ScopeResource {
		// A grant on every resource of the type in the project applies
		// to each of them, between the resource and its project.
		check(scope.String())
		if all := scope.Resource.AllOfType(); !allowed && all != *scope.Resource {
			check(all.String())
		}
	}
	for i := 0; i < len(chain) && !allowed; i++ {
		check(chain[i])
	}
	switch {
	case !allowed && expired:
		return castellan.Decision{Reason: castellan.ReasonExpired}, nil
	case !allowed:
		return castellan.Decision{Reason: castellan.ReasonNoGrant}, nil
	}
	d = castellan.Decision{Allowed: true, Reason: castellan.ReasonAllowed}
	if target == nil || target.levels == nil {
		return d, nil
	}
	in := policy.Input{Principal: p, Action: req.Action, Resource: scope, Path: target.path}
	for _, g := range groups {
		in.Groups = append(in.Groups, o.names[g])
	}
	refusal, reason, err := policy.Evaluate(target.levels, in)
	if err != nil {
		return castellan.Decision{}, err
	}
	if refusal != nil {
		d.Allowed, d.Reason, d.Policy = false, reason, refusal
	}
	return d, nil
}

// locate returns the node of scope (nil for the organization itself) and
// the scopes of its node and those above it, up to the root; inOrg is
// false when scope is not in the organization (o may be nil: an
// organization the snapshot does not hold has no nodes).
func (o *org) locate(orgID string, scope castellan.Scope) (target *node, chain []string, inOrg bool) {
	if orgID == "" {
		return nil, nil, false
	}
	if scope.Kind == castellan.ScopeOrganization {
		if scope.ID != orgID {
			return nil, nil, false
		}
		// Control policies do not limit the root: no target.
		if root := o.node(orgID); root != nil {
			return nil, root.chain, true
		}
		return nil, []string{castellan.OrganizationScope(orgID).String()}, true
	}
	n := o.node(scope.ID)
	if n == nil || n.path[0].Kind != scope.NodeKind() {
		return nil, nil, false
	}
	return n, n.chain, true
}

// node returns the node with the ID, or nil.
func (o *org) node(id string) *node {
	if o == nil {
		return nil
	}
	return o.nodes[id]
}

// user returns the user that may act with the ID, or nil.
func (o *org) user(id string) *user {
	if o == nil {
		return nil
	}
	return o.users[id]
}

// serviceAccount returns the interned ID of the service account.
func (o *org) serviceAccount(id string) (int32, bool) {
	if o == nil {
		return 0, false
	}
	n, ok := o.serviceAccounts[id]
	return n, ok
}

// hasGroup reports whether group is among groups (sorted).
func hasGroup(groups []int32, group int32) bool {
	_, found := slices.BinarySearch(groups, group)
	return found
}

// Explain implements castellan.Authorizer through the reference.
func (a *Authorizer) Explain(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	return a.reference.Explain(ctx, req)
}

// Missing implements castellan.Authorizer through the reference.
func (a *Authorizer) Missing(ctx context.Context, p castellan.Principal, scope string, actions []string) ([]string, error) {
	return a.reference.Missing(ctx, p, scope, actions)
}

// SimulateControlPolicy implements castellan.Authorizer through the
// reference.
func (a *Authorizer) SimulateControlPolicy(ctx context.Context, orgID, policyID string, sim castellan.ControlPolicySimulation) (*castellan.SimulationResult, error) {
	return a.reference.SimulateControlPolicy(ctx, orgID, policyID, sim)
}
