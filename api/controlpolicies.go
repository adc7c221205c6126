package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// ControlPolicyPath names one control policy of one organization: a
// custom policy's UUID or a system policy's ID (FullAccess).
type ControlPolicyPath struct {
	Org    string `path:"org" doc:"Organization ID (a UUID)."`
	Policy string `path:"policy" doc:"Control policy ID: a UUID, or the ID of a system policy such as FullAccess."`
}

type controlPolicyOutput struct{ Body *castellan.ControlPolicy }

type controlPolicyCreateBody struct {
	Name        string `json:"name" minLength:"1" maxLength:"128" doc:"Unique in the organization (case-sensitive); not the name of a system policy." example:"deny-instance-stop"`
	Description string `json:"description,omitempty" maxLength:"1000" doc:"Free text."`
	Document    string `json:"document" minLength:"1" maxLength:"10000" doc:"Cedar policy set (at most 10,000 bytes). Its actions and entity types must be the service catalogue's; errors name their line and column." example:"forbid (principal, action == Action::\"compute:StopInstance\", resource);"`
}

type controlPolicyUpdateBody struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"128" doc:"New name."`
	Description *string `json:"description,omitempty" maxLength:"1000" doc:"New description."`
	Document    *string `json:"document,omitempty" minLength:"1" maxLength:"10000" doc:"New Cedar policy set; it applies at once wherever the policy is attached."`
}

type listControlPoliciesOutput struct {
	Body struct {
		ControlPolicies []*castellan.ControlPolicy `json:"controlPolicies" nullable:"false"`
		NextPageToken   string                     `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

type attachmentBody struct {
	NodeID string `json:"nodeId" doc:"ID of the root (the organization's ID), an OU or an account."`
}

type attachmentOutput struct{ Body *castellan.PolicyAttachment }

type policyTargetsOutput struct {
	Body struct {
		Targets []castellan.NodeRef `json:"targets" nullable:"false" doc:"The nodes the policy is attached to directly, in tree order."`
	}
}

type nodePoliciesOutput struct {
	Body struct {
		ControlPolicies []*castellan.PolicyAttachment `json:"controlPolicies" nullable:"false" doc:"Policies attached to the node (direct), then those of its ancestors from the parent up to the root (inherited)."`
	}
}

func (s *Server) registerControlPolicies() {
	const tag = "Control policies"
	const base = "/v1/organizations/{org}/control-policies"
	register(s, op{
		id: "create-control-policy", method: http.MethodPost, path: base, tag: tag,
		action: castellan.ActionCreateControlPolicy, status: http.StatusCreated, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Create a control policy",
		desc: "Creates a custom policy. A document that does not compile, or names an action or entity type the service catalogue does not know, " +
			"fails with controlpolicy.invalid_document and one error per problem, each message starting with its line and column. " +
			"The name must be free (controlpolicy.name_taken).",
	}, s.createControlPolicy)
	register(s, op{
		id: "list-control-policies", method: http.MethodGet, path: base, tag: tag,
		action: castellan.ActionListControlPolicies, errors: []int{http.StatusNotFound},
		summary: "List control policies", desc: "The system policies, then the organization's own by name.",
	}, s.listControlPolicies)
	register(s, op{
		id: "get-control-policy", method: http.MethodGet, path: base + "/{policy}", tag: tag,
		action: castellan.ActionGetControlPolicy, errors: []int{http.StatusNotFound},
		summary: "Get a control policy", desc: "The policy with its Cedar document.",
	}, s.getControlPolicy)
	register(s, op{
		id: "update-control-policy", method: http.MethodPatch, path: base + "/{policy}", tag: tag,
		action: castellan.ActionUpdateControlPolicy, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Update a control policy",
		desc: "Changes the fields present in the body of a custom policy; a new document applies at once wherever the policy is attached. " +
			"System policies cannot change (controlpolicy.system).",
	}, s.updateControlPolicy)
	register(s, op{
		id: "delete-control-policy", method: http.MethodDelete, path: base + "/{policy}", tag: tag,
		action: castellan.ActionDeleteControlPolicy, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete a control policy", desc: "Deletes a custom policy that is attached nowhere (else controlpolicy.in_use); system policies stay (controlpolicy.system).",
	}, s.deleteControlPolicy)
	register(s, op{
		id: "list-control-policy-targets", method: http.MethodGet, path: base + "/{policy}/targets", tag: tag,
		action: castellan.ActionListControlPolicyTargets, errors: []int{http.StatusNotFound},
		summary: "List the targets of a control policy", desc: "The root, OUs and accounts the policy is attached to directly.",
	}, s.listControlPolicyTargets)
	register(s, op{
		id: "attach-control-policy", method: http.MethodPost, path: base + "/{policy}:attach", tag: tag,
		action: castellan.ActionAttachControlPolicy, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Attach a control policy",
		desc: "Attaches the policy to the root, an OU or an account (a project is no target: controlpolicy.invalid_target). " +
			"Fails with controlpolicy.already_attached, or controlpolicy.too_many beyond 10 policies on the node.",
	}, s.attachControlPolicy)
	register(s, op{
		id: "detach-control-policy", method: http.MethodPost, path: base + "/{policy}:detach", tag: tag,
		action: castellan.ActionDetachControlPolicy, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Detach a control policy",
		desc: "Detaches a policy attached directly to the node (else controlpolicy.not_attached). " +
			"The last policy of a node stays (controlpolicy.last_attachment): attach its replacement first.",
	}, s.detachControlPolicy)
	register(s, op{
		id: "list-node-control-policies", method: http.MethodGet, path: "/v1/organizations/{org}/nodes/{node}/control-policies", tag: tag,
		action: castellan.ActionListAttachedControlPolicies, errors: []int{http.StatusNotFound},
		summary: "List the control policies of a node",
		desc: "The policies tab of the root, an OU or an account: the policies attached to it directly, then those it inherits, " +
			"each with the node it is attached to and the connection method (direct or inherited).",
	}, s.listNodeControlPolicies)
}

func (s *Server) createControlPolicy(ctx context.Context, in *struct {
	OrgPath
	Body controlPolicyCreateBody
}) (*controlPolicyOutput, error) {
	p, err := s.services.ControlPolicies.CreateControlPolicy(ctx, in.Org, castellan.ControlPolicyCreate{
		Name: in.Body.Name, Description: in.Body.Description, Document: in.Body.Document})
	if err != nil {
		return nil, err
	}
	return &controlPolicyOutput{Body: p}, nil
}

func (s *Server) listControlPolicies(ctx context.Context, in *struct {
	OrgPath
	PageParams
	Type string `query:"type" enum:"system,custom" doc:"Only the system or only the custom policies."`
}) (*listControlPoliciesOutput, error) {
	filter := castellan.ControlPolicyFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Type != "" {
		t := castellan.ControlPolicyType(in.Type)
		filter.Type = &t
	}
	policies, next, err := s.services.ControlPolicies.FindControlPolicies(ctx, in.Org, filter)
	if err != nil {
		return nil, err
	}
	out := &listControlPoliciesOutput{}
	out.Body.ControlPolicies, out.Body.NextPageToken = nonNil(policies), next
	return out, nil
}

func (s *Server) getControlPolicy(ctx context.Context, in *ControlPolicyPath) (*controlPolicyOutput, error) {
	p, err := s.services.ControlPolicies.FindControlPolicyByID(ctx, in.Org, in.Policy)
	if err != nil {
		return nil, err
	}
	return &controlPolicyOutput{Body: p}, nil
}

func (s *Server) updateControlPolicy(ctx context.Context, in *struct {
	ControlPolicyPath
	Body controlPolicyUpdateBody
}) (*controlPolicyOutput, error) {
	p, err := s.services.ControlPolicies.UpdateControlPolicy(ctx, in.Org, in.Policy, castellan.ControlPolicyUpdate{
		Name: in.Body.Name, Description: in.Body.Description, Document: in.Body.Document})
	if err != nil {
		return nil, err
	}
	return &controlPolicyOutput{Body: p}, nil
}

func (s *Server) deleteControlPolicy(ctx context.Context, in *ControlPolicyPath) (*revisionOutput, error) {
	rev, err := s.services.ControlPolicies.DeleteControlPolicy(ctx, in.Org, in.Policy)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

func (s *Server) listControlPolicyTargets(ctx context.Context, in *ControlPolicyPath) (*policyTargetsOutput, error) {
	targets, err := s.services.ControlPolicies.FindPolicyTargets(ctx, in.Org, in.Policy)
	if err != nil {
		return nil, err
	}
	out := &policyTargetsOutput{}
	out.Body.Targets = nonNil(targets)
	return out, nil
}

func (s *Server) attachControlPolicy(ctx context.Context, in *struct {
	ControlPolicyPath
	Body attachmentBody
}) (*attachmentOutput, error) {
	a, err := s.services.ControlPolicies.AttachControlPolicy(ctx, in.Org, in.Policy, in.Body.NodeID)
	if err != nil {
		return nil, err
	}
	return &attachmentOutput{Body: a}, nil
}

func (s *Server) detachControlPolicy(ctx context.Context, in *struct {
	ControlPolicyPath
	Body attachmentBody
}) (*revisionOutput, error) {
	rev, err := s.services.ControlPolicies.DetachControlPolicy(ctx, in.Org, in.Policy, in.Body.NodeID)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

func (s *Server) listNodeControlPolicies(ctx context.Context, in *struct {
	OrgPath
	Node string `path:"node" doc:"ID of the root (the organization's ID), an OU or an account."`
}) (*nodePoliciesOutput, error) {
	attachments, err := s.services.ControlPolicies.FindNodePolicies(ctx, in.Org, in.Node)
	if err != nil {
		return nil, err
	}
	out := &nodePoliciesOutput{}
	out.Body.ControlPolicies = nonNil(attachments)
	return out, nil
}
