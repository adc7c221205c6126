package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

type simulateBody struct {
	Operation        string `json:"operation" enum:"attach,detach,replace" doc:"The change to try: attach the policy to the target, detach it from the target, or attach it in place of replacedPolicyId."`
	TargetID         string `json:"targetId" doc:"The root (the organization's ID), an OU or an account."`
	ReplacedPolicyID string `json:"replacedPolicyId,omitempty" doc:"replace only: the policy attached to the target that the simulated one replaces."`
}

type simulateOutput struct {
	Body *castellan.SimulationResult
}

func (s *Server) registerSimulate() {
	register(s, op{
		id: "simulate-control-policy", method: http.MethodPost, path: "/v1/organizations/{org}/control-policies/{policy}:simulate", tag: "Decisions",
		action: castellan.ActionSimulateControlPolicy, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Who would lose what if this policy were attached, detached or replaced",
		desc: "Changes nothing. Looks at the accounts below the target (or the target account), their projects and the resources " +
			"that grants name there, and at the users and service accounts whose grants (their own or a group's, on the scope or above it) " +
			"apply to them; decides every catalogue action for each with the policies as attached and with the change made, and lists " +
			"the actions allowed now and refused after, by principal, scope and action, with counts per action. Scopes outside accounts are " +
			"never limited by control policies. The change must be possible: the same errors as attaching or detaching " +
			"(controlpolicy.already_attached, controlpolicy.not_attached, controlpolicy.too_many, controlpolicy.last_attachment). " +
			"The caller needs organizations:SimulateControlPolicy on the target.",
	}, s.simulateControlPolicy)
}

func (s *Server) simulateControlPolicy(ctx context.Context, in *struct {
	OrgPath
	Policy string `path:"policy" doc:"Control policy ID (a UUID, or the ID of a system policy such as FullAccess)."`
	PageParams
	Body simulateBody
}) (*simulateOutput, error) {
	res, err := s.decisions.SimulateControlPolicy(ctx, in.Org, in.Policy, castellan.ControlPolicySimulation{
		Operation: castellan.SimulationOperation(in.Body.Operation), TargetID: in.Body.TargetID,
		ReplacedPolicyID: in.Body.ReplacedPolicyID, PageSize: in.PageSize, PageToken: in.PageToken,
	})
	if err != nil {
		return nil, err
	}
	return &simulateOutput{Body: res}, nil
}
