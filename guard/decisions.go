package guard

import (
	"context"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// decisions is the guarded decision API. It is a castellan.DecisionService
// rather than a castellan.Authorizer: edges ask about other principals and
// never need Missing, which only the guard's hierarchy principle uses.
type decisions struct {
	g     *guard
	authz castellan.Authorizer
}

var _ castellan.DecisionService = (*decisions)(nil)

// NewDecisions returns the decision API over authz: a caller asks about a
// principal only with iam:Authorize on the principal's organization (the
// Authorization Client role), and only about users and service accounts,
// since an operator or system principal would be allowed everything. A
// simulation of a control policy change is authorized on its target node,
// which raw's nodes find.
func NewDecisions(raw castellan.Services, authz castellan.Authorizer) castellan.DecisionService {
	return &decisions{g: &guard{raw: raw, authz: authz}, authz: authz}
}

// SimulateControlPolicy needs organizations:SimulateControlPolicy on the
// target (whoever may change the guardrails of a node may ask what a
// change would take away there) and organizations:GetControlPolicy on
// the organization, where the policies are: it evaluates the policy.
func (s *decisions) SimulateControlPolicy(ctx context.Context, orgID, policyID string, sim castellan.ControlPolicySimulation) (*castellan.SimulationResult, error) {
	if err := s.g.allowNode(ctx, orgID, "targetId", sim.TargetID, castellan.ActionSimulateControlPolicy); err != nil {
		return nil, err
	}
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionGetControlPolicy); err != nil {
		return nil, err
	}
	return s.authz.SimulateControlPolicy(ctx, orgID, policyID, sim)
}

func (s *decisions) Authorize(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	if err := s.allow(ctx, req, "body", map[string]bool{}); err != nil {
		return castellan.Decision{}, err
	}
	return s.authz.Authorize(ctx, req)
}

func (s *decisions) Explain(ctx context.Context, req castellan.AuthzRequest) (castellan.Decision, error) {
	if err := s.allow(ctx, req, "body", map[string]bool{}); err != nil {
		return castellan.Decision{}, err
	}
	return s.authz.Explain(ctx, req)
}

func (s *decisions) AuthorizeBatch(ctx context.Context, reqs []castellan.AuthzRequest) ([]castellan.Decision, error) {
	callerMay := map[string]bool{}
	out := make([]castellan.Decision, 0, len(reqs))
	for i, req := range reqs {
		if err := s.allow(ctx, req, "checks["+strconv.Itoa(i)+"]", callerMay); err != nil {
			return nil, err
		}
		d, err := s.authz.Authorize(ctx, req)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// allow validates req, naming its fields under field, and checks that the
// caller may ask about the principal's organization. callerMay remembers,
// across the requests of a batch, the organizations the caller may ask
// about.
func (s *decisions) allow(ctx context.Context, req castellan.AuthzRequest, field string, callerMay map[string]bool) error {
	if err := validCheck(req, field); err != nil {
		return err
	}
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	org := req.Principal.OrganizationID
	if c.Type == castellan.PrincipalOperator || callerMay[org] {
		return nil
	}
	scope := castellan.OrganizationScope(org).String()
	d, err := s.authz.Authorize(ctx, castellan.AuthzRequest{Principal: c, Action: string(castellan.ActionAuthorize), Resource: scope})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return denied(castellan.ActionAuthorize, scope)
	}
	callerMay[org] = true
	return nil
}

// validCheck checks the principal asked about and the resource.
func validCheck(req castellan.AuthzRequest, field string) error {
	p := req.Principal
	var fields []castellan.FieldError
	if p.Type != castellan.PrincipalUser && p.Type != castellan.PrincipalServiceAccount {
		fields = append(fields, castellan.FieldError{Field: field + ".principal.type", Rule: "enum", Message: "must be user or serviceAccount"})
	}
	if !castellan.ValidID(p.ID) {
		fields = append(fields, castellan.FieldError{Field: field + ".principal.id", Rule: "format", Message: "must be a UUID"})
	}
	if !castellan.ValidID(p.OrganizationID) {
		fields = append(fields, castellan.FieldError{Field: field + ".principal.organizationId", Rule: "format", Message: "must be a UUID"})
	}
	if p.ProjectID != "" && !castellan.ValidID(p.ProjectID) {
		fields = append(fields, castellan.FieldError{Field: field + ".principal.projectId", Rule: "format", Message: "must be a UUID"})
	}
	if err := castellan.Invalid(fields); err != nil {
		return err
	}
	_, err := castellan.ParseScope(field+".resource", req.Resource)
	return err
}
