package authz

import (
	"context"
	"errors"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/policy"
)

// policyInput is what the control policies see of a decision: the
// principal, its groups (the Cedar parents of a user), the action and the
// resource with its path.
func policyInput(p castellan.Principal, subjects []castellan.Subject, action string, scope castellan.Scope, path []*castellan.Node) policy.Input {
	in := policy.Input{Principal: p, Action: action, Resource: scope, Path: path}
	for _, s := range subjects {
		if s.Type == castellan.SubjectGroup {
			in.Groups = append(in.Groups, s.ID)
		}
	}
	return in
}

// limit applies the control policies to d, a decision the grants allow:
// below the root, a level of the path that forbids the action, or
// where nothing permits it, turns it into a refusal that names the
// policy and its node. A stored policy that does not compile is an
// error, never an allow.
func (a *Authorizer) limit(ctx context.Context, d castellan.Decision, in policy.Input) (castellan.Decision, error) {
	levels, err := a.levels(ctx, in.Principal.OrganizationID, in.Path)
	if err != nil || levels == nil {
		return d, err
	}
	refusal, reason, err := policy.Evaluate(levels, in)
	if err != nil {
		return castellan.Decision{}, err
	}
	if refusal != nil {
		d.Allowed, d.Reason, d.Policy = false, reason, refusal
	}
	return d, nil
}

// LimitedFrom returns the index in path (a node first, the root last) of
// the innermost node policies attach to (an account, OU or the root) at
// or above the node, or -1 when the node is the root itself: control
// policies limit everything below the root, wherever it hangs (a project
// moved out of an account stays under the OU's guardrails), and never
// the administration of the organization on its root, so that a policy
// cannot lock the organization out of its own guardrails.
func LimitedFrom(path []*castellan.Node) int {
	if len(path) < 2 {
		return -1
	}
	for i, n := range path {
		if n.Kind != castellan.NodeProject {
			return i
		}
	}
	return -1
}

// levels returns the levels of control policies that limit decisions
// on the node of path: from the root down to the innermost node policies
// attach to, each with the policies attached to that node directly. It
// is nil for the root itself, which control policies do not limit.
func (a *Authorizer) levels(ctx context.Context, orgID string, path []*castellan.Node) ([]policy.Level, error) {
	i := LimitedFrom(path)
	if i < 0 {
		return nil, nil
	}
	if a.Policies == nil {
		return nil, errors.New("authz: no control policy service to limit decisions with")
	}
	attached, err := a.Policies.FindNodePolicies(ctx, orgID, path[i].ID)
	if err != nil {
		return nil, err
	}
	return LevelsOf(path[i:], attached), nil
}

// LevelsOf groups the attachments along above (an account first, the
// root last) into one level per node, root first. A node without
// attachments is a level that permits nothing.
func LevelsOf(above []*castellan.Node, attached []*castellan.PolicyAttachment) []policy.Level {
	byNode := map[string][]*castellan.ControlPolicy{}
	for _, att := range attached {
		byNode[att.Node.ID] = append(byNode[att.Node.ID], att.Policy)
	}
	levels := make([]policy.Level, 0, len(above))
	for i := len(above) - 1; i >= 0; i-- {
		n := above[i]
		levels = append(levels, policy.Level{Node: castellan.NodeRef{ID: n.ID, Kind: n.Kind, Name: n.Name}, Policies: byNode[n.ID]})
	}
	return levels
}
