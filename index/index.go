// Package index decides authorization requests from an immutable
// in-memory snapshot of every organization: the node tree (nodes
// numbered, each with its parent's number), the grants (16-byte values in
// per-scope lists sorted by subject), the users that may act with their
// groups (runs of one shared arena), the service accounts, the custom
// roles (each compiled once into a set of catalogue actions) and the
// control policies that limit each node. A decision reads the current
// snapshot through an atomic pointer: no store access, no lock, no
// allocation (but for control policies that depend on more than the
// action, which Cedar evaluates per request).
//
// The snapshot is kept current as a subscriber of the change feed
// (package changefeed). Reload bulk-loads every organization through
// castellan.AuthzSource; Apply re-reads just the grants, users and
// service accounts its changes name and copies only the table shards they
// touch, and rebuilds an organization whose tree, roles or control
// policies changed.
package index

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/policy"
)

// Authorizer implements castellan.Authorizer from the snapshot: Authorize
// and Missing give exactly the answers of the reference (authz.Authorizer)
// on the state the snapshot reflects. Explain and SimulateControlPolicy
// are delegated to the reference: they read the store.
//
// A refusal by a control policy may share its Decision.Policy with other
// decisions: callers must not change it.
//
// Until the first Reload (changefeed.Feed.Subscribe calls it) the snapshot
// is empty: every organization is unknown.
type Authorizer struct {
	source    castellan.AuthzSource
	now       castellan.Clock
	reference *authz.Authorizer

	// ReferUnknown, set before the Authorizer is used, has the reference
	// decide on a principal or organization the snapshot does not hold.
	// A server sets it: its principals were authenticated, so one the
	// snapshot does not know was made by a write the feed has not yet
	// brought (another process's, such as `castellan bootstrap` beside a
	// running server on SQLite, which only polling announces). Asking the
	// store then answers at once and correctly, where waiting for the
	// feed would hold the request up to a poll interval, or refuse it;
	// and it costs only those rare requests the store reads, which is
	// what every request cost before the index. Tests comparing the index
	// with the reference leave it off, so that the index's own answers
	// are compared.
	ReferUnknown bool

	// actions numbers the catalogue's actions: a role's bit set has bit i
	// for the i-th action of the catalogue.
	actions map[string]int
	// builtIn are the catalogue's roles, compiled once; a snapshot's
	// roles start with them.
	builtIn      []actionSet
	builtInIndex map[string]int32
	seed         maphash.Seed

	// writeMu orders the writers of snap (Apply and Reload).
	writeMu sync.Mutex
	snap    atomic.Pointer[snapshot]
}

var _ castellan.Authorizer = (*Authorizer)(nil)

// New returns an Authorizer that loads from source, with an empty
// snapshot, and its reference on services (the store's own, unguarded).
func New(source castellan.AuthzSource, services castellan.Services, now castellan.Clock) *Authorizer {
	if now == nil {
		now = castellan.SystemClock
	}
	cat := services.Catalog
	a := &Authorizer{
		source: source, now: now,
		reference: &authz.Authorizer{Grants: services.Grants, Groups: services.Groups, Roles: services.Roles, Nodes: services.Nodes,
			Policies: services.ControlPolicies, ServiceAccounts: services.ServiceAccounts, Catalog: cat, Now: now},
		actions: map[string]int{}, builtInIndex: map[string]int32{}, seed: maphash.MakeSeed(),
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

// Revision returns the newest revision of the change log the snapshot
// reflects.
func (a *Authorizer) Revision() int64 { return a.snap.Load().revision }

// Authorize implements castellan.Authorizer, from the snapshot.
func (a *Authorizer) Authorize(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	t, ok := parseTarget(req.Resource)
	if !ok {
		// Malformed, or a shape the quick parser leaves to ParseScope.
		scope, d, decided, err := authz.Prejudge(req)
		if decided {
			return d, err
		}
		return a.decide(ctx, req, targetOf(scope))
	}
	p := req.Principal
	switch {
	case p.Type == castellan.PrincipalOperator || p.Type == castellan.PrincipalSystem:
		return castellan.Decision{Allowed: true, Reason: castellan.ReasonOperator}, nil
	case p.ProjectID != "" && (t.kind == castellan.ScopeProject || t.kind == castellan.ScopeResource) && t.id != p.ProjectID:
		// authz.Prejudge: an access key's caller asks about another
		// project.
		return castellan.Decision{Reason: castellan.ReasonKeyProjectMismatch}, nil
	}
	return a.decide(ctx, req, t)
}

// decide is Authorize after authz.Prejudge.
func (a *Authorizer) decide(ctx context.Context, req castellan.AuthzRequest, t target) (castellan.Decision, error) {
	p := req.Principal
	action, ok := a.actions[req.Action]
	if !ok {
		return castellan.Decision{Reason: castellan.ReasonUnknownAction}, nil
	}
	if p.OrganizationID == "" {
		return castellan.Decision{Reason: castellan.ReasonNotInOrganization}, nil
	}
	o := a.snap.Load().orgs[p.OrganizationID]
	if o == nil {
		if a.ReferUnknown {
			return a.reference.Authorize(ctx, req)
		}
		// The reference finds no node, but takes the organization's own
		// scope on its word and then no principal.
		if t.kind == castellan.ScopeOrganization && t.id == p.OrganizationID {
			return castellan.Decision{Reason: castellan.ReasonUnknownPrincipal}, nil
		}
		return castellan.Decision{Reason: castellan.ReasonNotInOrganization}, nil
	}
	n, inOrg := o.locate(p.OrganizationID, t)
	if !inOrg {
		return castellan.Decision{Reason: castellan.ReasonNotInOrganization}, nil
	}
	if p.Type != castellan.PrincipalUser && p.Type != castellan.PrincipalServiceAccount {
		return castellan.Decision{}, fmt.Errorf("authz: principal type %q cannot hold grants", p.Type)
	}
	self, groups, known := o.principal(p)
	if !known {
		if a.ReferUnknown {
			return a.reference.Authorize(ctx, req)
		}
		return castellan.Decision{Reason: castellan.ReasonUnknownPrincipal}, nil
	}
	allowed, expired := o.grantsAllow(a.seed, t, n, self, groups, action, a.now().UnixNano())
	switch {
	case !allowed && expired:
		return castellan.Decision{Reason: castellan.ReasonExpired}, nil
	case !allowed:
		return castellan.Decision{Reason: castellan.ReasonNoGrant}, nil
	}
	d := castellan.Decision{Allowed: true, Reason: castellan.ReasonAllowed}
	if t.kind == castellan.ScopeOrganization || o.node[n].limit < 0 {
		return d, nil
	}
	v, err := o.limit(n, action, req, groups, t)
	if err != nil {
		return castellan.Decision{}, err
	}
	if v.refusal != nil {
		d.Allowed, d.Reason, d.Policy = false, v.reason, v.refusal
	}
	return d, nil
}

// grantsAllow reads the grants of the target and of every node from n up
// to the root, in the reference's order, until one allows the action.
func (o *org) grantsAllow(seed maphash.Seed, t target, n int32, self uint32, groups []int32, action int, now int64) (allowed, expired bool) {
	check := func(scope int32) bool {
		ok, exp := o.check(o.list(scope), self, groups, action, now)
		expired = expired || exp
		return ok
	}
	if t.resource != "" {
		// A grant on every resource of the type in the project applies
		// to each of them, between the resource and its project.
		if scope, ok := o.scopes.get(t.resource); ok && check(scope) {
			return true, expired
		}
		if !t.allOfType() {
			if scope, ok := o.resourceScope(seed, t); ok && check(scope) {
				return true, expired
			}
		}
	}
	for ; n >= 0; n = o.node[n].parent {
		if check(n) {
			return true, expired
		}
	}
	return false, expired
}

// resourceScope returns the number of the scope of every resource of the
// target's type, looked up without building its name.
func (o *org) resourceScope(seed maphash.Seed, t target) (int32, bool) {
	var buf [castellan.MaxScopeLength + 1]byte
	key := append(append(buf[:0], t.resource[:t.slash+1]...), castellan.AllResources...)
	scope, ok := o.scopes.shards[maphash.Bytes(seed, key)&o.scopes.mask][string(key)]
	return scope, ok
}

// limit returns the verdict of the control policies on a decision the
// grants allow on node n, memoized per action when it depends on the
// action only.
func (o *org) limit(n int32, action int, req castellan.AuthzRequest, groups []int32, t target) (*verdict, error) {
	l := o.node[o.node[n].limit].limits
	// A verdict read the request's context, when it carries one.
	memo := l.actionOnly && len(req.Context) == 0
	if memo {
		if v := l.verdicts[action].Load(); v != nil {
			return v, nil
		}
	}
	scope := castellan.Scope{Kind: t.kind, ID: t.id}
	if t.resource != "" {
		parsed, err := castellan.ParseScope("resource", t.resource)
		if err != nil {
			return nil, err
		}
		scope = parsed
	}
	in := policy.Input{Principal: req.Principal, Action: req.Action, Resource: scope, Path: o.path(n), Context: req.Context}
	for _, g := range groups {
		in.Groups = append(in.Groups, o.names[g])
	}
	refusal, reason, err := policy.Evaluate(l.levels, in)
	if err != nil {
		return nil, err
	}
	v := &verdict{refusal: refusal, reason: reason}
	if memo {
		l.verdicts[action].Store(v)
	}
	return v, nil
}

// Missing implements castellan.Authorizer from the snapshot: the actions
// among actions that no active grant of the principal on the scope or
// above holds (the hierarchy principle; control policies aside, as in the
// reference).
func (a *Authorizer) Missing(ctx context.Context, p castellan.Principal, scope string, actions []string) ([]string, error) {
	if p.Type == castellan.PrincipalOperator || p.Type == castellan.PrincipalSystem {
		return nil, nil
	}
	parsed, err := castellan.ParseScope("scope", scope)
	if err != nil {
		return nil, err
	}
	for _, action := range actions {
		if _, ok := a.actions[action]; !ok {
			// Only the reference matches a role's patterns against an
			// action outside the catalogue.
			return a.reference.Missing(ctx, p, scope, actions)
		}
	}
	t := targetOf(parsed)
	if p.ProjectID != "" && (t.kind == castellan.ScopeProject || t.kind == castellan.ScopeResource) && t.id != p.ProjectID {
		return actions, nil
	}
	o := a.snap.Load().orgs[p.OrganizationID]
	if o == nil && a.ReferUnknown && p.OrganizationID != "" {
		return a.reference.Missing(ctx, p, scope, actions)
	}
	if o == nil {
		return actions, nil
	}
	n, inOrg := o.locate(p.OrganizationID, t)
	if !inOrg {
		return actions, nil
	}
	if p.Type != castellan.PrincipalUser && p.Type != castellan.PrincipalServiceAccount {
		return nil, fmt.Errorf("authz: principal type %q cannot hold grants", p.Type)
	}
	self, groups, known := o.principal(p)
	if !known && a.ReferUnknown {
		return a.reference.Missing(ctx, p, scope, actions)
	}
	if !known {
		return actions, nil
	}
	now := a.now().UnixNano()
	var missing []string
	for _, action := range actions {
		if allowed, _ := o.grantsAllow(a.seed, t, n, self, groups, a.actions[action], now); !allowed {
			missing = append(missing, action)
		}
	}
	return missing, nil
}

// Explain implements castellan.Authorizer through the reference.
func (a *Authorizer) Explain(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	return a.reference.Explain(ctx, req)
}

// SimulateControlPolicy implements castellan.Authorizer through the
// reference.
func (a *Authorizer) SimulateControlPolicy(ctx context.Context, orgID, policyID string, sim castellan.ControlPolicySimulation) (*castellan.SimulationResult, error) {
	return a.reference.SimulateControlPolicy(ctx, orgID, policyID, sim)
}
