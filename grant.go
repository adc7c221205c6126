package castellan

import (
	"context"
	"time"
)

// SubjectType is the kind of principal a grant is made to.
type SubjectType string

// Subject types.
const (
	SubjectUser           SubjectType = "user"
	SubjectGroup          SubjectType = "group"
	SubjectServiceAccount SubjectType = "serviceAccount"
)

// Subject is who a grant is made to.
type Subject struct {
	Type SubjectType `json:"type" enum:"user,group,serviceAccount"`
	ID   string      `json:"id" doc:"User, group or service account ID."`
}

// Grant binds a role to a subject on a scope. Grants inherit downward: a
// grant on the organization, an OU or an account applies to every node
// below it, and a grant on a project to its resources.
type Grant struct {
	ID             string  `json:"id"`
	OrganizationID string  `json:"organizationId"`
	RoleID         string  `json:"roleId"`
	Scope          string  `json:"scope" doc:"organization/<id>, ou/<id>, account/<id>, project/<id>, rn:<service>:<project-id>:<type>/<id>, or rn:<service>:<project-id>:<type>/* for every resource of that type in the project, present and future."`
	Subject        Subject `json:"subject"`
	// ExpiresAt, when set, is the instant the grant stops counting.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	CreatedBy string     `json:"createdBy"`
	Revision  int64      `json:"revision"`
	// Via is set in lists by subject: the group through which a user holds
	// the grant; nil for direct grants.
	Via *Subject `json:"via,omitempty"`
}

// Active reports whether the grant counts at now: it has no expiry or
// expires after now.
func (g *Grant) Active(now time.Time) bool { return g.ExpiresAt == nil || now.Before(*g.ExpiresAt) }

// GrantCreate is one grant to make.
type GrantCreate struct {
	RoleID    string
	Scope     string
	Subject   Subject
	ExpiresAt *time.Time
}

// GrantFilter selects grants of one organization: those matching every
// field set; with none set, all of them.
type GrantFilter struct {
	Scope *string
	// Subject lists the subject's grants; for a user, also those through
	// its groups (marked with Via).
	Subject   *Subject
	RoleID    *string
	PageSize  int
	PageToken string
}

// GrantService manages grants. Creating and deleting are all-or-nothing
// batches of at most 100.
type GrantService interface {
	// FindGrants lists grants, expired ones included until the sweep
	// removes them.
	FindGrants(ctx context.Context, orgID string, filter GrantFilter) ([]*Grant, string, error)
	// FindGrantsFor returns the grants of any of subjects on any of scopes,
	// for the authorizer.
	FindGrantsFor(ctx context.Context, orgID string, subjects []Subject, scopes []string) ([]*Grant, error)
	// CreateGrants returns EINVALID (request.invalid_field naming the item,
	// request.invalid_scope, grant.role_scope_mismatch,
	// grant.subject_scope_mismatch for a service account granted outside
	// its project), ENOTFOUND (role.not_found, user.not_found,
	// group.not_found, service_account.not_found, project.not_found),
	// or EPRECONDITION (grant.last_owner) when granting again would give the
	// last permanent owner grant an expiry. Granting what exists already
	// with the same expiry is a no-op for that item; a grant that has
	// expired, or whose expiry differs from the one asked for, is replaced
	// by a new one (a new ID, recorded as a delete and a create).
	CreateGrants(ctx context.Context, orgID string, grants []GrantCreate) ([]*Grant, int64, error)
	// FindGrantsByID returns the grants with the IDs, in the order given.
	// Returns ENOTFOUND (grant.not_found) naming the first unknown ID.
	FindGrantsByID(ctx context.Context, orgID string, ids []string) ([]*Grant, error)
	// DeleteGrants returns ENOTFOUND (grant.not_found) for an unknown ID and
	// EPRECONDITION (grant.last_owner) when it would take the last owner
	// away (the Owner rule, OrganizationOwnerRoleID; a grant that expires
	// makes no owner, even while it is live).
	DeleteGrants(ctx context.Context, orgID string, ids []string) (int64, error)
	// SetRoles makes roleIDs exactly the roles subject holds directly on
	// scope (the "Edit role" of a user's or group's IAM roles tab): it
	// grants the missing ones and revokes the others in one transaction (a
	// wanted role held with an expiry, or expired, becomes permanent),
	// with the checks of CreateGrants and DeleteGrants. An empty roleIDs is
	// EINVALID (grant.roles_required): at least one role remains, and
	// RemoveRoles with all removes every one.
	SetRoles(ctx context.Context, orgID string, subject Subject, scope string, roleIDs []string) ([]*Grant, int64, error)
	// RemoveRoles revokes roleIDs from subject on scope ("Remove roles in
	// bulk"), refusing with EINVALID (grant.roles_required) to remove the
	// last one; a role the subject does not hold there is ENOTFOUND
	// (grant.not_found). With all, roleIDs is ignored and every role of the
	// subject on scope goes ("Remove all roles"). Returns EPRECONDITION
	// (grant.last_owner) when it would take the last owner away.
	RemoveRoles(ctx context.Context, orgID string, subject Subject, scope string, roleIDs []string, all bool) (int64, error)
	// DeleteExpiredGrants removes every grant expired at now, with one
	// audit event per organization, and returns how many it removed.
	DeleteExpiredGrants(ctx context.Context) (int, error)
}

// RoleCreate is the input of CreateRole (custom roles).
type RoleCreate struct {
	Name        string
	Description string
	Kind        RoleKind
	Actions     []string
}

// RoleUpdate changes the non-nil fields of a custom role.
type RoleUpdate struct {
	Name        *string
	Description *string
	Actions     []string // nil: unchanged
}

// RoleFilter selects roles: the built-in ones and the organization's own.
type RoleFilter struct {
	Kind      *RoleKind
	PageSize  int
	PageToken string
}

// RoleService manages custom roles and reads built-in ones.
type RoleService interface {
	// FindRoleByID returns a built-in role or one of the organization's;
	// ENOTFOUND (role.not_found).
	FindRoleByID(ctx context.Context, orgID, id string) (*Role, error)
	// FindRoles lists built-in roles first, then custom ones by name.
	FindRoles(ctx context.Context, orgID string, filter RoleFilter) ([]*Role, string, error)
	// CreateRole returns EINVALID (role.unknown_action among the fields) or
	// ECONFLICT (role.name_taken).
	CreateRole(ctx context.Context, orgID string, rc RoleCreate) (*Role, error)
	// UpdateRole returns EINVALID (role.built_in for built-in roles).
	UpdateRole(ctx context.Context, orgID, id string, upd RoleUpdate) (*Role, error)
	// DeleteRole returns EPRECONDITION (role.in_use) while the role is
	// granted, unless force, which deletes its grants in the same
	// transaction.
	DeleteRole(ctx context.Context, orgID, id string, force bool) (int64, error)
}

// AuthzRequest asks whether a principal may perform an action on a
// resource.
type AuthzRequest struct {
	Principal Principal
	Action    string
	// Resource is a scope string: organization/<id>, ou/<id>,
	// account/<id>, project/<id> or a resource name.
	Resource string
	Context  map[string]any
}

// Decision is the answer to an AuthzRequest.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Reason is one of the Reason constants. Authorize answers no_grant
	// where Explain, which also looks at the principal's other grants, can
	// say scope_mismatch.
	Reason string `json:"reason" enum:"allowed,operator,no_grant,scope_mismatch,grant_expired,unknown_action,not_in_organization,unknown_principal,key_project_mismatch,control_policy_forbids,control_policy_not_permitted"`
	// Matches are the grants that allow the action (Explain only).
	Matches []GrantMatch `json:"matches,omitempty"`
	// Near are grants of the principal that hold the action but on a scope
	// that does not contain the resource (Explain only, when denied).
	Near []GrantMatch `json:"near,omitempty"`
	// Policy is the control policy that refused an action the grants
	// allow (reasons control_policy_*), with the node it is attached to.
	Policy *PolicyMatch `json:"policy,omitempty"`
}

// PolicyMatch names the control policy, and the node of the path where
// it is attached, that decided a refusal. For control_policy_not_permitted
// no policy at that node permits the action: PolicyID is empty and Node
// is the level that failed.
type PolicyMatch struct {
	PolicyID   string  `json:"policyId,omitempty"`
	PolicyName string  `json:"policyName,omitempty"`
	Node       NodeRef `json:"node"`
}

// Decision reasons: stable words clients may switch on.
const (
	ReasonAllowed  = "allowed"
	ReasonOperator = "operator"
	// ReasonNoGrant: no grant of the principal holds the action on the
	// resource or above it.
	ReasonNoGrant = "no_grant"
	// ReasonScopeMismatch (Explain only): grants hold the action, but on
	// scopes that do not contain the resource.
	ReasonScopeMismatch = "scope_mismatch"
	// ReasonExpired: a grant would allow, but it has expired.
	ReasonExpired       = "grant_expired"
	ReasonUnknownAction = "unknown_action"
	// ReasonNotInOrganization: the resource is not in the principal's
	// organization.
	ReasonNotInOrganization = "not_in_organization"
	// ReasonUnknownPrincipal: no such active user, or no such service
	// account, in the organization.
	ReasonUnknownPrincipal = "unknown_principal"
	// ReasonKeyProjectMismatch: the caller authenticated with an access
	// key of one project and the resource is inside another; its grants
	// are not looked at.
	ReasonKeyProjectMismatch = "key_project_mismatch"
	// ReasonPolicyForbids: grants allow, but a control policy on the
	// path from the root to the resource's account forbids the action.
	ReasonPolicyForbids = "control_policy_forbids"
	// ReasonPolicyNotPermitted: grants allow, but at one level of the
	// path no attached control policy permits the action.
	ReasonPolicyNotPermitted = "control_policy_not_permitted"
)

// GrantMatch is one grant that decided, with how it reached the principal.
type GrantMatch struct {
	Grant *Grant `json:"grant"`
	Role  string `json:"role"`
	// Path says how: "direct" or "group".
	Path  string   `json:"path" enum:"direct,group"`
	Group *Subject `json:"group,omitempty"`
	Scope string   `json:"scope"`
}

// Authorizer decides. Every API endpoint asks it; so do other services
// through the decision API.
type Authorizer interface {
	// Authorize returns whether the principal may do the action on the
	// resource. Returns EINVALID (request.invalid_scope) for a bad resource.
	Authorize(ctx context.Context, req AuthzRequest) (Decision, error)
	// Explain is Authorize with the grants that allowed, or the near misses
	// when nothing did.
	Explain(ctx context.Context, req AuthzRequest) (Decision, error)
	// Missing returns those of actions the principal does not hold on
	// scope. The hierarchy principle: nobody grants or revokes a role
	// whose actions it does not hold itself.
	Missing(ctx context.Context, p Principal, scope string, actions []string) ([]string, error)
	// SimulateControlPolicy answers what attaching, detaching or
	// replacing the policy at sim.TargetID would take away, without
	// changing anything (see ControlPolicySimulation for what it looks
	// at). Returns EINVALID (request.invalid_field) for a bad operation,
	// target ID or missing replacedPolicyId, (controlpolicy.invalid_target)
	// for a project, (request.invalid_page_token); ENOTFOUND
	// (node.not_found, controlpolicy.not_found); ECONFLICT
	// (controlpolicy.already_attached) and EPRECONDITION
	// (controlpolicy.not_attached, controlpolicy.too_many,
	// controlpolicy.last_attachment) where the change itself would be
	// refused.
	SimulateControlPolicy(ctx context.Context, orgID, policyID string, sim ControlPolicySimulation) (*SimulationResult, error)
	Lookups
}
