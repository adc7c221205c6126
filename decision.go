package castellan

import "context"

// DecisionService is the decision API as the edges offer it to the cloud's
// other services: it asks the Authorizer about a principal on behalf of a
// caller, the principal in the context, who must hold iam:Authorize on the
// organization of the principal asked about. The operator may ask about
// anyone. Unlike the Authorizer, which decides for whoever the code asks
// about and also answers Missing for the hierarchy principle, it never
// answers a caller who may not ask.
//
// Every method returns EUNAUTHENTICATED without a caller, EINVALID
// (request.invalid_field) for a principal that is not a user or service
// account or a malformed ID, EINVALID (request.invalid_scope) for a bad
// resource, and EFORBIDDEN (permission_denied) when the caller may not
// ask about the principal's organization.
type DecisionService interface {
	// Authorize returns whether req.Principal may do req.Action on
	// req.Resource.
	Authorize(ctx context.Context, req AuthzRequest) (Decision, error)
	// Explain is Authorize with the grants that allowed, or the near
	// misses when nothing did.
	Explain(ctx context.Context, req AuthzRequest) (Decision, error)
	// AuthorizeBatch decides reqs in order, one decision each; the
	// caller's right to ask is checked once per organization. The first
	// refused or invalid request ends the batch with its error.
	AuthorizeBatch(ctx context.Context, reqs []AuthzRequest) ([]Decision, error)
	// SimulateControlPolicy is Authorizer.SimulateControlPolicy for a
	// caller who holds organizations:SimulateControlPolicy on the
	// target node; a target of another organization is ENOTFOUND
	// (node.not_found).
	SimulateControlPolicy(ctx context.Context, orgID, policyID string, sim ControlPolicySimulation) (*SimulationResult, error)
	// LookupResources is Lookups.LookupResources for a caller who may
	// ask about req.Principal, as Authorize.
	LookupResources(ctx context.Context, req LookupResourcesRequest) ([]string, string, error)
	// LookupSubjects is Lookups.LookupSubjects for a caller who holds
	// iam:Authorize on req.OrganizationID: what Explain tells about a
	// principal, it tells about every one.
	LookupSubjects(ctx context.Context, req LookupSubjectsRequest) ([]SubjectAccess, string, error)
}

type readScopeKey struct{}

// WithReadScope returns a context whose reads of roles are authorized on
// scope (organization/<id>, project/<id> or a resource name) instead of
// on the organization: whoever grants roles on a project (a Project
// Admin) reads them there. Edges set it from their request; the guard
// checks the caller there.
func WithReadScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, readScopeKey{}, scope)
}

// ReadScopeFrom returns the scope set by WithReadScope, or "" for the
// organization.
func ReadScopeFrom(ctx context.Context) string {
	scope, _ := ctx.Value(readScopeKey{}).(string)
	return scope
}
