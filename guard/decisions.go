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
	return s.allowAsking(ctx, req.Principal.OrganizationID, callerMay)
}

// allowAsking checks that the caller may ask about the principals of
// organization org: the operator, or iam:Authorize on its root.
func (s *decisions) allowAsking(ctx context.Context, org string, callerMay map[string]bool) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
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
	if err := validPrincipal(req.Principal, field+".principal"); err != nil {
		return err
	}
	_, err := castellan.ParseScope(field+".resource", req.Resource)
	return err
}

// LookupResources needs what Authorize needs: iam:Authorize on the
// principal's organization, whose resources alone it lists.
func (s *decisions) LookupResources(ctx context.Context, req castellan.LookupResourcesRequest) ([]string, string, error) {
	if err := validPrincipal(req.Principal, "principal"); err != nil {
		return nil, "", err
	}
	if err := s.allowAsking(ctx, req.Principal.OrganizationID, map[string]bool{}); err != nil {
		return nil, "", err
	}
	return s.authz.LookupResources(ctx, req)
}

// LookupSubjects tells who holds access through which grants: what
// Explain tells about one principal, about all of them. It needs what
// Explain needs to ask about another principal, iam:Authorize on the
// organization, and lists that organization's subjects alone.
func (s *decisions) LookupSubjects(ctx context.Context, req castellan.LookupSubjectsRequest) ([]castellan.SubjectAccess, string, error) {
	if err := castellan.CheckID("organizationId", req.OrganizationID); err != nil {
		return nil, "", err
	}
	if err := s.allowAsking(ctx, req.OrganizationID, map[string]bool{}); err != nil {
		return nil, "", err
	}
	return s.authz.LookupSubjects(ctx, req)
}

// validPrincipal checks a principal asked about, naming its fields under
// field: a user or service account, by UUIDs.
func validPrincipal(p castellan.Principal, field string) error {
	var fields []castellan.FieldError
	if p.Type != castellan.PrincipalUser && p.Type != castellan.PrincipalServiceAccount {
		fields = append(fields, castellan.FieldError{Field: field + ".type", Rule: "enum", Message: "must be user or serviceAccount"})
	}
	if !castellan.ValidID(p.ID) {
		fields = append(fields, castellan.FieldError{Field: field + ".id", Rule: "format", Message: "must be a UUID"})
	}
	if !castellan.ValidID(p.OrganizationID) {
		fields = append(fields, castellan.FieldError{Field: field + ".organizationId", Rule: "format", Message: "must be a UUID"})
	}
	if p.ProjectID != "" && !castellan.ValidID(p.ProjectID) {
		fields = append(fields, castellan.FieldError{Field: field + ".projectId", Rule: "format", Message: "must be a UUID"})
	}
	return castellan.Invalid(fields)
}
