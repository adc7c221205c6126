package authz

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/policy"
)

// SimulateControlPolicy implements castellan.Authorizer. It decides as
// Authorize does, from the same grants, groups, roles and policies, but
// evaluates every control policy level twice: as attached now, and with
// the change applied to the target's level in memory. Nothing is
// written.
func (a *Authorizer) SimulateControlPolicy(ctx context.Context, orgID, policyID string, sim castellan.ControlPolicySimulation) (*castellan.SimulationResult, error) {
	after, err := validSimulation(policyID, sim)
	if err != nil {
		return nil, err
	}
	change, err := a.simulatedChange(ctx, orgID, policyID, sim)
	if err != nil {
		return nil, err
	}
	grants, err := a.activeGrants(ctx, orgID)
	if err != nil {
		return nil, err
	}
	scopes, err := a.simulatedScopes(ctx, orgID, sim.TargetID, grants, change)
	if err != nil {
		return nil, err
	}
	principals, err := a.grantHolders(ctx, orgID, grants)
	if err != nil {
		return nil, err
	}
	roles := map[string]*castellan.Role{}
	role := func(id string) (*castellan.Role, error) {
		if r, ok := roles[id]; ok {
			return r, nil
		}
		r, err := a.role(ctx, orgID, id)
		roles[id] = r
		return r, err
	}
	res := &castellan.SimulationResult{}
	var losses []castellan.SimulationLoss
	looked := map[string]bool{}
	for _, p := range principals {
		lost, seen, err := a.principalLosses(ctx, p, grants, scopes, role)
		if err != nil {
			return nil, err
		}
		if len(seen) > 0 {
			res.Principals++
		}
		for _, s := range seen {
			looked[s] = true
		}
		losses = append(losses, lost...)
	}
	res.Scopes = len(looked)
	slices.SortFunc(losses, compareLosses)
	res.Counts = countLosses(losses)
	res.Losses, res.NextPageToken = pageOfLosses(losses, after, castellan.PageSize(sim.PageSize))
	return res, nil
}

// validSimulation checks the fields of a simulation and returns the loss
// after which its page starts (nil for the first page).
func validSimulation(policyID string, sim castellan.ControlPolicySimulation) (*castellan.SimulationLoss, error) {
	var fields []castellan.FieldError
	if !castellan.ValidPolicyID(policyID) {
		fields = append(fields, castellan.FieldError{Field: "policyId", Rule: "format", Message: "must be a UUID or the ID of a system policy"})
	}
	switch sim.Operation {
	case castellan.SimulateAttach, castellan.SimulateDetach:
		if sim.ReplacedPolicyID != "" {
			fields = append(fields, castellan.FieldError{Field: "replacedPolicyId", Rule: "absent", Message: "is for replace only"})
		}
	case castellan.SimulateReplace:
		switch {
		case sim.ReplacedPolicyID == "":
			fields = append(fields, castellan.FieldError{Field: "replacedPolicyId", Rule: "required", Message: "must name the policy that the simulated one replaces"})
		case !castellan.ValidPolicyID(sim.ReplacedPolicyID):
			fields = append(fields, castellan.FieldError{Field: "replacedPolicyId", Rule: "format", Message: "must be a UUID or the ID of a system policy"})
		case sim.ReplacedPolicyID == policyID:
			fields = append(fields, castellan.FieldError{Field: "replacedPolicyId", Rule: "different", Message: "must differ from the simulated policy"})
		}
	default:
		fields = append(fields, castellan.FieldError{Field: "operation", Rule: "enum", Message: "must be attach, detach or replace"})
	}
	if !castellan.ValidID(sim.TargetID) {
		fields = append(fields, castellan.FieldError{Field: "targetId", Rule: "format", Message: "must be a UUID"})
	}
	if err := castellan.Invalid(fields); err != nil {
		return nil, err
	}
	if sim.PageToken == "" {
		return nil, nil
	}
	var key []string
	raw, err := base64.RawURLEncoding.DecodeString(sim.PageToken)
	if err == nil {
		err = json.Unmarshal(raw, &key)
	}
	if err != nil || len(key) != 4 {
		return nil, &castellan.Error{
			Kind: castellan.EINVALID, Code: castellan.CodeInvalidPageToken,
			Message: "the page token was not issued by this simulation",
			Fields:  []castellan.FieldError{{Field: "pageToken", Rule: "format", Message: "must be a nextPageToken returned by the same simulation"}},
		}
	}
	return &castellan.SimulationLoss{Principal: castellan.Subject{Type: castellan.SubjectType(key[0]), ID: key[1]}, Scope: key[2], Action: key[3]}, nil
}

// change is a simulated change of the policies attached to one node.
type change struct {
	target string
	policy *castellan.ControlPolicy
	// replaced is the policy taken away: detach and replace.
	replaced string
	// adds says whether policy is attached: attach and replace.
	adds bool
}

// apply returns levels with the change made at its target's level; the
// levels given are left as they are.
func (c change) apply(levels []policy.Level) []policy.Level {
	out := slices.Clone(levels)
	for i, l := range out {
		if l.Node.ID != c.target {
			continue
		}
		var policies []*castellan.ControlPolicy
		for _, p := range l.Policies {
			if p.ID != c.replaced {
				policies = append(policies, p)
			}
		}
		if c.adds {
			policies = append(policies, c.policy)
		}
		out[i].Policies = policies
	}
	return out
}

// simulatedChange reads the policy and the target and checks that the
// change could be made: what the store would refuse, the simulation
// refuses with the same error.
func (a *Authorizer) simulatedChange(ctx context.Context, orgID, policyID string, sim castellan.ControlPolicySimulation) (change, error) {
	p, err := a.Policies.FindControlPolicyByID(ctx, orgID, policyID)
	if err != nil {
		return change{}, err
	}
	target, err := a.Nodes.FindNodeByID(ctx, orgID, sim.TargetID)
	if err != nil {
		return change{}, err
	}
	if target.Kind == castellan.NodeProject {
		return change{}, castellan.Errorf(castellan.EINVALID, castellan.CodeControlPolicyInvalidTarget,
			"control policies attach to the root, OUs and accounts; %s is a project", target.ID)
	}
	attached, err := a.Policies.FindNodePolicies(ctx, orgID, target.ID)
	if err != nil {
		return change{}, err
	}
	direct := map[string]bool{}
	for _, att := range attached {
		if att.Node.ID == target.ID {
			direct[att.Policy.ID] = true
		}
	}
	notAttached := func(id string) error {
		return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeControlPolicyNotAttached, "control policy %s is not attached to %s", id, target.ID)
	}
	alreadyAttached := castellan.Errorf(castellan.ECONFLICT, castellan.CodeControlPolicyAttached, "control policy %s is already attached to %s", policyID, target.ID)
	c := change{target: target.ID, policy: p}
	switch sim.Operation {
	case castellan.SimulateAttach:
		if direct[policyID] {
			return change{}, alreadyAttached
		}
		if len(direct) >= castellan.MaxPoliciesPerTarget {
			return change{}, castellan.Errorf(castellan.EPRECONDITION, castellan.CodeControlPolicyTooMany,
				"%s has %d control policies attached, the most a node may have", target.ID, len(direct))
		}
		c.adds = true
	case castellan.SimulateDetach:
		if !direct[policyID] {
			return change{}, notAttached(policyID)
		}
		if len(direct) == 1 {
			return change{}, castellan.Errorf(castellan.EPRECONDITION, castellan.CodeControlPolicyLastAttachment,
				"control policy %s is the last one attached to %s; attach another first", policyID, target.ID)
		}
		c.replaced = policyID
	case castellan.SimulateReplace:
		if !direct[sim.ReplacedPolicyID] {
			return change{}, notAttached(sim.ReplacedPolicyID)
		}
		if direct[policyID] {
			return change{}, alreadyAttached
		}
		c.replaced, c.adds = sim.ReplacedPolicyID, true
	}
	return c, nil
}

// activeGrants returns every grant of the organization that counts now.
func (a *Authorizer) activeGrants(ctx context.Context, orgID string) ([]*castellan.Grant, error) {
	var out []*castellan.Grant
	token := ""
	for {
		grants, next, err := a.Grants.FindGrants(ctx, orgID, castellan.GrantFilter{PageSize: castellan.MaxPageSize, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			if g.Active(a.Now()) {
				out = append(out, g)
			}
		}
		if next == "" {
			return out, nil
		}
		token = next
	}
}

// simulatedScope is one scope a simulation decides on, with its control
// policy levels before and after the change.
type simulatedScope struct {
	scope castellan.Scope
	path  []*castellan.Node
	// chain are the scopes whose grants apply to it.
	chain         map[string]bool
	before, after []policy.Level
}

// simulatedScopes returns the scopes a change at target can alter: the
// OUs, accounts and projects of its subtree (the root excepted, which
// control policies do not limit) and the resources that grants name in
// those projects, each with its levels before and after the change.
func (a *Authorizer) simulatedScopes(ctx context.Context, orgID, target string, grants []*castellan.Grant, c change) ([]*simulatedScope, error) {
	above, err := a.Nodes.FindAncestors(ctx, orgID, target)
	if err != nil {
		return nil, err
	}
	nodes, err := a.subtree(ctx, orgID, target)
	if err != nil {
		return nil, err
	}
	byID := map[string]*castellan.Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	// pathOf is the path of a node of the subtree: up to the target
	// through the subtree, then the target's ancestors.
	pathOf := func(n *castellan.Node) []*castellan.Node {
		var path []*castellan.Node
		for ; n.ID != target; n = byID[n.ParentID] {
			path = append(path, n)
		}
		return append(path, above...)
	}
	levels := map[string][]policy.Level{} // by the innermost node policies attach to
	var scopes []*simulatedScope
	add := func(scope castellan.Scope, path []*castellan.Node) error {
		i := LimitedFrom(path)
		if i < 0 {
			return nil
		}
		holder := path[i].ID
		if _, ok := levels[holder]; !ok {
			l, err := a.levels(ctx, orgID, path)
			if err != nil {
				return err
			}
			levels[holder] = l
		}
		chain := map[string]bool{}
		for _, s := range scopeChain(scope, path) {
			chain[s] = true
		}
		scopes = append(scopes, &simulatedScope{scope: scope, path: path, chain: chain,
			before: levels[holder], after: c.apply(levels[holder])})
		return nil
	}
	projects := map[string][]*castellan.Node{}
	for _, n := range nodes {
		if n.Kind == castellan.NodeRoot {
			continue
		}
		path := pathOf(n)
		if n.Kind == castellan.NodeProject {
			projects[n.ID] = path
		}
		if err := add(n.Scope(), path); err != nil {
			return nil, err
		}
	}
	named := map[string]bool{}
	for _, g := range grants {
		scope, err := castellan.ParseScope("scope", g.Scope)
		if err != nil || scope.Kind != castellan.ScopeResource || named[g.Scope] || projects[scope.ID] == nil {
			continue
		}
		named[g.Scope] = true
		if err := add(scope, projects[scope.ID]); err != nil {
			return nil, err
		}
	}
	return scopes, nil
}

// subtree returns every node of the subtree of target, target first.
func (a *Authorizer) subtree(ctx context.Context, orgID, target string) ([]*castellan.Node, error) {
	var out []*castellan.Node
	filter := castellan.TreeFilter{RootID: target, PageSize: castellan.MaxPageSize,
		Kinds: []castellan.NodeKind{castellan.NodeRoot, castellan.NodeOU, castellan.NodeAccount, castellan.NodeProject}}
	for {
		nodes, next, err := a.Nodes.FindTree(ctx, orgID, filter)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
		if next == "" {
			return out, nil
		}
		filter.PageToken = next
	}
}

// grantHolders returns the users and service accounts that hold one of
// grants, directly or as members of a group, in a stable order.
func (a *Authorizer) grantHolders(ctx context.Context, orgID string, grants []*castellan.Grant) ([]castellan.Principal, error) {
	seen := map[castellan.Subject]bool{}
	for _, g := range grants {
		switch g.Subject.Type {
		case castellan.SubjectUser, castellan.SubjectServiceAccount:
			seen[g.Subject] = true
		case castellan.SubjectGroup:
			members, err := a.groupMembers(ctx, orgID, g.Subject.ID)
			if err != nil {
				return nil, err
			}
			for _, m := range members {
				seen[castellan.Subject{Type: castellan.SubjectUser, ID: m}] = true
			}
		}
	}
	subjects := make([]castellan.Subject, 0, len(seen))
	for s := range seen {
		subjects = append(subjects, s)
	}
	slices.SortFunc(subjects, compareSubjects)
	principals := make([]castellan.Principal, len(subjects))
	for i, s := range subjects {
		t := castellan.PrincipalUser
		if s.Type == castellan.SubjectServiceAccount {
			t = castellan.PrincipalServiceAccount
		}
		principals[i] = castellan.Principal{Type: t, ID: s.ID, OrganizationID: orgID}
	}
	return principals, nil
}

// groupMembers returns the user IDs of a group's members.
func (a *Authorizer) groupMembers(ctx context.Context, orgID, groupID string) ([]string, error) {
	var out []string
	filter := castellan.GroupFilter{PageSize: castellan.MaxPageSize}
	for {
		members, next, err := a.Groups.FindGroupMembers(ctx, orgID, groupID, filter)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			out = append(out, m.UserID)
		}
		if next == "" {
			return out, nil
		}
		filter.PageToken = next
	}
}

// principalLosses decides every catalogue action for p on each scope
// where one of its grants applies, before and after the change, and
// returns the losses and the scopes looked at.
func (a *Authorizer) principalLosses(ctx context.Context, p castellan.Principal, grants []*castellan.Grant, scopes []*simulatedScope,
	role func(string) (*castellan.Role, error)) ([]castellan.SimulationLoss, []string, error) {
	subjects, err := a.subjects(ctx, p)
	if errors.Is(err, errUnknownPrincipal) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	holds := map[castellan.Subject]bool{}
	for _, s := range subjects {
		holds[s] = true
	}
	var own []heldGrant
	for _, g := range grants {
		if holds[g.Subject] {
			own = append(own, heldOf(g))
		}
	}
	who := castellan.Subject{Type: castellan.SubjectUser, ID: p.ID}
	if p.Type == castellan.PrincipalServiceAccount {
		who.Type = castellan.SubjectServiceAccount
	}
	var losses []castellan.SimulationLoss
	var seen []string
	for _, s := range scopes {
		var applying []heldGrant
		for _, g := range own {
			if s.chain[g.grant.Scope] {
				applying = append(applying, g)
			}
		}
		if len(applying) == 0 {
			continue
		}
		seen = append(seen, s.scope.String())
		held, err := a.heldRoles(applying, role)
		if err != nil {
			return nil, nil, err
		}
		for _, action := range a.Catalog.Actions() {
			if !anyAllows(held, action) {
				continue
			}
			in := policyInput(p, subjects, action, s.scope, s.path)
			lost, err := losesAction(s, in)
			if err != nil {
				return nil, nil, err
			}
			if lost {
				losses = append(losses, castellan.SimulationLoss{Principal: who, Scope: s.scope.String(), Action: action})
			}
		}
	}
	return losses, seen, nil
}

// losesAction reports whether the policies permit in before the change
// and refuse it after.
func losesAction(s *simulatedScope, in policy.Input) (bool, error) {
	refusal, _, err := policy.Evaluate(s.after, in)
	if err != nil || refusal == nil {
		return false, err
	}
	refusal, _, err = policy.Evaluate(s.before, in)
	return refusal == nil, err
}

func compareSubjects(x, y castellan.Subject) int {
	return cmp.Or(cmp.Compare(x.Type, y.Type), cmp.Compare(x.ID, y.ID))
}

// compareLosses orders losses by principal, scope and action.
func compareLosses(x, y castellan.SimulationLoss) int {
	return cmp.Or(compareSubjects(x.Principal, y.Principal), cmp.Compare(x.Scope, y.Scope), cmp.Compare(x.Action, y.Action))
}

// countLosses counts the sorted losses per action, by action.
func countLosses(losses []castellan.SimulationLoss) []castellan.SimulationCount {
	per := map[string]int{}
	for _, l := range losses {
		per[l.Action]++
	}
	counts := make([]castellan.SimulationCount, 0, len(per))
	for action, n := range per {
		counts = append(counts, castellan.SimulationCount{Action: action, Count: n})
	}
	slices.SortFunc(counts, func(x, y castellan.SimulationCount) int { return cmp.Compare(x.Action, y.Action) })
	return counts
}

// pageOfLosses returns the page of size of the sorted losses that
// follows after (from the first when nil) and the token of the next page.
func pageOfLosses(losses []castellan.SimulationLoss, after *castellan.SimulationLoss, size int) ([]castellan.SimulationLoss, string) {
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(losses, *after, compareLosses)
		if start < len(losses) && compareLosses(losses[start], *after) == 0 {
			start++
		}
	}
	page := append([]castellan.SimulationLoss{}, losses[start:min(start+size, len(losses))]...)
	if start+size >= len(losses) {
		return page, ""
	}
	last := page[len(page)-1]
	token, _ := json.Marshal([]string{string(last.Principal.Type), last.Principal.ID, last.Scope, last.Action})
	return page, base64.RawURLEncoding.EncodeToString(token)
}
