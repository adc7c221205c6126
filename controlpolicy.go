package castellan

import (
	"context"
	"time"
)

// ControlPolicyType says who wrote a control policy.
type ControlPolicyType string

// Control policy types.
const (
	ControlPolicySystem ControlPolicyType = "system"
	ControlPolicyCustom ControlPolicyType = "custom"
)

// ControlPolicy is a guardrail: a Cedar policy set attached to the root,
// OUs and accounts. An action on anything below the root is possible only
// if, at every level from the root down to the innermost OU or account
// above it, the policies attached there permit it and none forbids it.
// Grants give access; control policies only limit it; the root itself
// (the organization's administration) is not limited, nor are the actions
// that read and repair control policies (policy.Exempt).
//
// Policies see the principal as Castellan::User or
// Castellan::ServiceAccount, the action as Action::"<service>:<Verb>"
// (a member of Action::"<service>:*"), and the resource as
// Castellan::Project or <service>::<type> inside its project, account,
// OUs and Castellan::Organization.
type ControlPolicy struct {
	ID string `json:"id"`
	// OrganizationID is empty for system policies.
	OrganizationID string            `json:"organizationId,omitempty"`
	Name           string            `json:"name"`
	Description    string            `json:"description"`
	Type           ControlPolicyType `json:"type" enum:"system,custom"`
	// Document is the Cedar policy set.
	Document  string    `json:"document"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	CreatedBy string    `json:"createdBy,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
	Revision  int64     `json:"revision,omitempty"`
}

// FullAccessPolicyID is the ID of the system policy that permits
// everything; it is attached to every root at creation and is the
// default of new OUs and accounts.
const FullAccessPolicyID = "FullAccess"

// SystemControlPolicies are the policies every organization has.
var SystemControlPolicies = []*ControlPolicy{{
	ID:          FullAccessPolicyID,
	Name:        "FullAccess",
	Description: "Permits every action; attach narrower policies next to it with forbid, or replace it.",
	Type:        ControlPolicySystem,
	Document:    "permit (principal, action, resource);\n",
}}

// SystemControlPolicy returns the system policy of the ID, or nil.
func SystemControlPolicy(id string) *ControlPolicy {
	for _, p := range SystemControlPolicies {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// ValidPolicyID reports whether id can name a control policy: a system
// policy's ID or a UUID.
func ValidPolicyID(id string) bool { return SystemControlPolicy(id) != nil || ValidID(id) }

// validatePolicyIDs checks a list of policy IDs to attach.
func validatePolicyIDs(field string, ids []string) []FieldError {
	var c fieldChecker
	if len(ids) > MaxPoliciesPerTarget {
		c.add(field, "maxItems", "must have at most %d items", MaxPoliciesPerTarget)
	}
	seen := map[string]bool{}
	for i, id := range ids {
		f := field + "[" + itoa(i) + "]"
		switch {
		case !ValidPolicyID(id):
			c.add(f, "format", "must be a UUID or the ID of a system policy")
		case seen[id]:
			c.add(f, "unique", "must not repeat an earlier policy")
		}
		seen[id] = true
	}
	return c.fields
}

// Limits of control policies.
const (
	MaxControlPolicyNameLength = 128
	// MaxControlPolicyDocumentLength bounds a Cedar document in bytes.
	MaxControlPolicyDocumentLength = 10000
	// MaxPoliciesPerTarget bounds the policies attached directly to one
	// node.
	MaxPoliciesPerTarget = 10
)

// ControlPolicyCreate is the input of CreateControlPolicy.
type ControlPolicyCreate struct {
	Name        string
	Description string
	Document    string
}

// ControlPolicyUpdate changes the non-nil fields of a custom policy.
type ControlPolicyUpdate struct {
	Name        *string
	Description *string
	Document    *string
}

// ControlPolicyFilter selects policies: the system ones, then the
// organization's own by name.
type ControlPolicyFilter struct {
	Type      *ControlPolicyType
	PageSize  int
	PageToken string
}

// AttachmentMethod says how a policy applies to a node.
type AttachmentMethod string

// Attachment methods (seed 001: "Connection method").
const (
	AttachedDirect    AttachmentMethod = "direct"
	AttachedInherited AttachmentMethod = "inherited"
)

// PolicyAttachment is a policy as it applies to a node.
type PolicyAttachment struct {
	Policy *ControlPolicy   `json:"policy"`
	Method AttachmentMethod `json:"method" enum:"direct,inherited"`
	// Node is where the policy is attached: the node itself for direct
	// attachments, an ancestor for inherited ones.
	Node       NodeRef   `json:"node"`
	AttachedAt time.Time `json:"attachedAt"`
	AttachedBy string    `json:"attachedBy"`
}

// ControlPolicyService manages control policies and their attachments.
type ControlPolicyService interface {
	// FindControlPolicyByID returns a system policy or one of the
	// organization's; ENOTFOUND (controlpolicy.not_found).
	FindControlPolicyByID(ctx context.Context, orgID, id string) (*ControlPolicy, error)
	// FindControlPolicies lists system policies first, then custom ones
	// by name.
	FindControlPolicies(ctx context.Context, orgID string, filter ControlPolicyFilter) (policies []*ControlPolicy, next string, err error)
	// CreateControlPolicy validates the document (syntax, and the
	// actions and entity types it names against the service catalogue)
	// and reports every error with its line and column. ECONFLICT
	// (controlpolicy.name_taken).
	CreateControlPolicy(ctx context.Context, orgID string, create ControlPolicyCreate) (*ControlPolicy, error)
	// UpdateControlPolicy returns EINVALID (controlpolicy.system) for a
	// system policy; the change applies to every attachment at once.
	UpdateControlPolicy(ctx context.Context, orgID, id string, update ControlPolicyUpdate) (*ControlPolicy, error)
	// DeleteControlPolicy returns EPRECONDITION (controlpolicy.in_use)
	// while it is attached anywhere.
	DeleteControlPolicy(ctx context.Context, orgID, id string) (revision int64, err error)
	// AttachControlPolicy attaches a policy to a root, OU or account.
	// ECONFLICT (controlpolicy.already_attached), EPRECONDITION
	// (controlpolicy.too_many) beyond MaxPoliciesPerTarget, EINVALID
	// (controlpolicy.invalid_target) for a project.
	AttachControlPolicy(ctx context.Context, orgID, policyID, nodeID string) (*PolicyAttachment, error)
	// DetachControlPolicy detaches a directly attached policy.
	// EPRECONDITION (controlpolicy.last_attachment) for the last one of
	// the node: one always stays.
	DetachControlPolicy(ctx context.Context, orgID, policyID, nodeID string) (revision int64, err error)
	// FindNodePolicies lists the policies that apply to a node: direct
	// ones, then inherited ones from the parent up to the root.
	FindNodePolicies(ctx context.Context, orgID, nodeID string) ([]*PolicyAttachment, error)
	// FindPolicyTargets lists the nodes a policy is attached to directly.
	FindPolicyTargets(ctx context.Context, orgID, policyID string) ([]NodeRef, error)
}

// SimulationOperation is the change a simulation tries.
type SimulationOperation string

// Simulation operations.
const (
	SimulateAttach  SimulationOperation = "attach"
	SimulateDetach  SimulationOperation = "detach"
	SimulateReplace SimulationOperation = "replace"
)

// ControlPolicySimulation asks what a change of attachments at a target
// would take away, before it is made.
//
// What it looks at is what the change can alter. Control policies limit
// decisions below the root, and a change at the target reaches its
// subtree; so the scopes are the OUs, accounts and projects of the
// subtree (the target itself unless it is the root), and the resources
// that grants name in those projects. The principals are the users and
// service accounts holding an unexpired grant, their own or through a
// group, that applies to at least one of those scopes: on the scope
// itself, on a node above it (the target, an OU or account between, or
// above the target up to the root) or, for a resource, on every resource
// of its type in the project. For each such principal and scope, every
// catalogue action is decided as Authorize decides it, once with the
// policies as attached and once with the change applied; a loss is an
// action allowed before and refused after. Decisions that the change
// would allow instead are not reported.
type ControlPolicySimulation struct {
	Operation SimulationOperation
	// TargetID is the root, OU or account.
	TargetID string
	// ReplacedPolicyID is the policy that the simulated one replaces
	// (replace only).
	ReplacedPolicyID string
	PageSize         int
	PageToken        string
}

// SimulationLoss is one action a principal would lose on a scope.
type SimulationLoss struct {
	Principal Subject `json:"principal"`
	Scope     string  `json:"scope"`
	Action    string  `json:"action"`
}

// SimulationCount is how many (principal, scope) pairs would lose an
// action.
type SimulationCount struct {
	Action string `json:"action"`
	Count  int    `json:"count"`
}

// SimulationResult answers a simulation: for the principals holding
// grants under the target, the catalogue actions they may do now and
// could not after the change.
type SimulationResult struct {
	// Counts are per action, by action, over the whole answer.
	Counts []SimulationCount `json:"counts" nullable:"false"`
	// Losses is one page of the losses, by principal, scope and action.
	Losses        []SimulationLoss `json:"losses" nullable:"false"`
	NextPageToken string           `json:"nextPageToken,omitempty"`
	// Principals and Scopes count the distinct principals and scopes of
	// the (principal, scope) pairs decided on.
	Principals int `json:"principals"`
	Scopes     int `json:"scopes"`
}

// ValidateControlPolicyName checks a policy name: 1–128 characters, no
// control characters, no surrounding white space, not a system policy's
// name. Names are unique in the organization.
func ValidateControlPolicyName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxControlPolicyNameLength) {
		c.printable(field, name)
	}
	for _, p := range SystemControlPolicies {
		if p.Name == name {
			c.add(field, "reserved", "%q is the name of a system policy", name)
		}
	}
	return c.fields
}

// Validate checks the name and description; the document is checked by
// the store against the service catalogue (package policy).
func (c *ControlPolicyCreate) Validate() []FieldError {
	fields := ValidateControlPolicyName("name", c.Name)
	return append(fields, ValidateLongDescription("description", c.Description)...)
}

// Validate checks the fields being changed but the document.
func (u *ControlPolicyUpdate) Validate() []FieldError {
	var fields []FieldError
	if u.Name != nil {
		fields = append(fields, ValidateControlPolicyName("name", *u.Name)...)
	}
	if u.Description != nil {
		fields = append(fields, ValidateLongDescription("description", *u.Description)...)
	}
	return fields
}
