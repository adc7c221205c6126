package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// authzPrincipal is the principal a check is about.
type authzPrincipal struct {
	Type           string `json:"type" enum:"user,serviceAccount" doc:"user or serviceAccount (role identities follow). A service account holds its own grants only, never a group's."`
	ID             string `json:"id" doc:"User or service account ID."`
	OrganizationID string `json:"organizationId" doc:"Organization of the principal."`
	ProjectID      string `json:"projectId,omitempty" doc:"For a principal that authenticated with an access key: the key's project (project_id of the token's introspection). Decisions on scopes inside any other project are then refused with key_project_mismatch."`
}

type AuthzCheck struct {
	Principal authzPrincipal `json:"principal"`
	Action    string         `json:"action" minLength:"3" maxLength:"200" example:"s3e:GetObject"`
	Resource  string         `json:"resource" minLength:"1" maxLength:"400" doc:"organization/<id>, ou/<id>, account/<id>, project/<id> or rn:<service>:<project-id>:<type>/<id>. Inside an account (the account, its projects and their resources) the control policies of the path from the root limit what grants allow; elsewhere they do not apply." example:"rn:s3e:0190d3a8-0000-7000-8000-000000000000:bucket/logs"`
	Context   map[string]any `json:"context,omitempty" doc:"Request attributes (source IP, time, …), the Cedar context control policies' conditions read; unused by grants. Values in Cedar's JSON form: integers, strings, booleans, arrays (sets), objects (records), {\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.0.0.1\"}} for an IP address. A condition naming an attribute the request lacks cannot be evaluated, and a forbid that cannot be evaluated forbids."`
}

// Consistency names the revision a decision must reflect.
type Consistency struct {
	MinRevision int64 `json:"minRevision,omitempty" minimum:"0" doc:"Decide only once this server has applied this revision (a write's Consistency-Token, or the revision of an earlier answer), waiting a bounded time; else 503 revision.not_applied with Retry-After. The Consistency-Token request header does the same."`
}

// decidedAt waits until this process has applied c's revision, if it
// names one, and returns the revision the decision about to be made
// reflects.
func (s *Server) decidedAt(ctx context.Context, c Consistency) (int64, error) {
	if c.MinRevision > 0 {
		if err := web.AwaitRevision(ctx, s.revisions, s.consistencyWait, c.MinRevision); err != nil {
			return 0, err
		}
	}
	return s.revisions.Reflected(), nil
}

type authzResult struct {
	Allowed bool                   `json:"allowed"`
	Reason  string                 `json:"reason" doc:"allowed, operator, no_grant, scope_mismatch, grant_expired, unknown_action, not_in_organization, unknown_principal (no such user or service account in the organization), key_project_mismatch (the resource is outside the principal's key project), control_policy_forbids (grants allow, but a control policy on the path from the root to the resource's account forbids) or control_policy_not_permitted (grants allow, but at one level of that path no attached policy permits)."`
	Policy  *castellan.PolicyMatch `json:"policy,omitempty" doc:"For control_policy_* reasons: the policy that forbade (none for not_permitted) and the node of the path where the refusal happened."`
}

type authorizeOutput struct {
	Body struct {
		Allowed  bool                   `json:"allowed"`
		Reason   string                 `json:"reason" doc:"allowed, operator, no_grant, scope_mismatch, grant_expired, unknown_action, not_in_organization, unknown_principal (no such user or service account in the organization), key_project_mismatch (the resource is outside the principal's key project), control_policy_forbids (grants allow, but a control policy on the path from the root to the resource's account forbids) or control_policy_not_permitted (grants allow, but at one level of that path no attached policy permits)."`
		Policy   *castellan.PolicyMatch `json:"policy,omitempty" doc:"For control_policy_* reasons: the policy that forbade (none for not_permitted) and the node of the path where the refusal happened."`
		Revision int64                  `json:"revision" doc:"The decision reflects every write up to this revision."`
	}
}

type batchOutput struct {
	Body struct {
		Results  []authzResult `json:"results" nullable:"false" doc:"One result per check, in order."`
		Revision int64         `json:"revision"`
	}
}

type explainOutput struct {
	Body struct {
		Allowed  bool                   `json:"allowed"`
		Reason   string                 `json:"reason"`
		Matches  []castellan.GrantMatch `json:"matches,omitempty" doc:"The grants that allow, when allowed."`
		Near     []castellan.GrantMatch `json:"near,omitempty" doc:"When denied: grants of the principal that hold the action on another scope."`
		Policy   *castellan.PolicyMatch `json:"policy,omitempty" doc:"When a control policy refused what the grants in matches allow: the policy that forbade (none for not_permitted) and the node where it is attached."`
		Revision int64                  `json:"revision"`
	}
}

func (s *Server) registerAuthorize() {
	const tag = "Decisions"
	register(s, op{
		id: "authorize", method: http.MethodPost, path: "/v1/authorize", tag: tag,
		action: castellan.ActionAuthorize, errors: []int{http.StatusForbidden},
		summary: "May this principal do this action on this resource?",
		desc:    "For the services of the cloud. The caller needs iam:Authorize on the principal's organization (the Authorization Client role).",
	}, s.authorize)
	register(s, op{
		id: "authorize-batch", method: http.MethodPost, path: "/v1/authorize:batch", tag: tag,
		action: castellan.ActionAuthorize, errors: []int{http.StatusForbidden},
		summary: "Many authorization checks at once", desc: "Up to 1,000 checks; one result each, in order.",
	}, s.authorizeBatch)
	register(s, op{
		id: "authorize-explain", method: http.MethodPost, path: "/v1/authorize:explain", tag: tag,
		action: castellan.ActionAuthorize, errors: []int{http.StatusForbidden},
		summary: "Why is this allowed or denied?",
		desc:    "The grants that allowed (direct or through which group, on which scope) and their roles; when denied, the reason and the grants that hold the action on another scope; when a control policy refused what grants allow, those grants and the policy with the node where it is attached.",
	}, s.authorizeExplain)
}

// request is the check as the decision service takes it; the service
// validates it and checks that the caller may ask.
func (c AuthzCheck) request() castellan.AuthzRequest {
	return castellan.AuthzRequest{
		Principal: castellan.Principal{Type: castellan.PrincipalType(c.Principal.Type), ID: c.Principal.ID,
			OrganizationID: c.Principal.OrganizationID, ProjectID: c.Principal.ProjectID},
		Action: c.Action, Resource: c.Resource, Context: c.Context,
	}
}

type catalogOutput struct {
	Body struct {
		Services []*castellan.Service `json:"services" nullable:"false"`
	}
}

func (s *Server) registerCatalog() {
	register(s, op{
		id: "list-services", method: http.MethodGet, path: "/v1/services", tag: "Catalogue",
		action:  castellan.ActionGetCatalog,
		summary: "The service catalogue", desc: "Every service with its actions and resource types. Open to every authenticated caller; roles are listed per organization.",
	}, s.listServices)
}

type authorizeInput struct {
	AuthzCheck
	Consistency
}

func (s *Server) authorize(ctx context.Context, in *struct{ Body authorizeInput }) (*authorizeOutput, error) {
	rev, err := s.decidedAt(ctx, in.Body.Consistency)
	if err != nil {
		return nil, err
	}
	d, err := s.decisions.Authorize(ctx, in.Body.request())
	if err != nil {
		return nil, err
	}
	out := &authorizeOutput{}
	out.Body.Allowed, out.Body.Reason, out.Body.Policy, out.Body.Revision = d.Allowed, d.Reason, d.Policy, rev
	return out, nil
}

func (s *Server) authorizeBatch(ctx context.Context, in *struct {
	Body struct {
		Checks []AuthzCheck `json:"checks" minItems:"1" maxItems:"1000"`
		Consistency
	}
}) (*batchOutput, error) {
	rev, err := s.decidedAt(ctx, in.Body.Consistency)
	if err != nil {
		return nil, err
	}
	reqs := make([]castellan.AuthzRequest, len(in.Body.Checks))
	for i, c := range in.Body.Checks {
		reqs[i] = c.request()
	}
	decisions, err := s.decisions.AuthorizeBatch(ctx, reqs)
	if err != nil {
		return nil, err
	}
	out := &batchOutput{}
	out.Body.Revision = rev
	for _, d := range decisions {
		out.Body.Results = append(out.Body.Results, authzResult{d.Allowed, d.Reason, d.Policy})
	}
	return out, nil
}

func (s *Server) authorizeExplain(ctx context.Context, in *struct{ Body authorizeInput }) (*explainOutput, error) {
	rev, err := s.decidedAt(ctx, in.Body.Consistency)
	if err != nil {
		return nil, err
	}
	d, err := s.decisions.Explain(ctx, in.Body.request())
	if err != nil {
		return nil, err
	}
	out := &explainOutput{}
	out.Body.Allowed, out.Body.Reason, out.Body.Matches, out.Body.Near, out.Body.Policy, out.Body.Revision = d.Allowed, d.Reason, d.Matches, d.Near, d.Policy, rev
	return out, nil
}

func (s *Server) listServices(ctx context.Context, _ *struct{}) (*catalogOutput, error) {
	out := &catalogOutput{}
	out.Body.Services = s.services.Catalog.Services
	return out, nil
}
