package castellan

import (
	"context"
	"time"
)

// Change is one row of the change log: an entity a write created, updated
// or deleted. A write has one revision and one row per entity it touched;
// deleting an organization is one row of type organization standing for
// everything in it.
type Change struct {
	Revision       int64     `json:"revision"`
	OrganizationID string    `json:"organizationId"`
	EntityType     string    `json:"entityType"`
	EntityID       string    `json:"entityId"`
	Operation      string    `json:"operation" enum:"create,update,delete"`
	OccurredAt     time.Time `json:"occurredAt"`
}

// ChangeLog reports the store's progress. Revisions have no gaps: a write
// that fails or changes nothing leaves none behind.
type ChangeLog interface {
	// Revision returns the newest committed revision; every write returns
	// the revision it produced, which is never smaller.
	Revision(ctx context.Context) (int64, error)
	// Changes returns the rows of the revisions after `after`, at most
	// `revisions` of them, in revision order. Replicas and the
	// authorization index follow the store with it.
	Changes(ctx context.Context, after int64, revisions int) ([]Change, error)
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
}

// Services is every service a store provides, as the API and the
// conformance suite consume them.
type Services struct {
	Organizations OrganizationService
	// Nodes reads the tree: hierarchy view, sub-items, ancestry.
	Nodes NodeService
	// OrgUnits manages organizational units.
	OrgUnits OrgUnitService
	// Accounts manages accounts.
	Accounts AccountService
	// AccountMemberships moves accounts into and out of organizations.
	AccountMemberships AccountMembershipService
	// ControlPolicies manages guardrails and their attachments.
	ControlPolicies ControlPolicyService
	Projects        ProjectService
	Audit           AuditService
	Tokens          TokenService
	Users           UserService
	Groups          GroupService
	Grants          GrantService
	Roles           RoleService
	// ServiceAccounts manages the service accounts of projects.
	ServiceAccounts ServiceAccountService
	// AccessKeys manages access keys and the tokens they exchange for.
	AccessKeys AccessKeyService
	// RoleIdentities keeps assumable roles and their sessions.
	RoleIdentities RoleIdentityService
	// Federations keeps the organizations' identity providers.
	Federations FederationService
	// SCIMTokens keeps the tokens identity providers provision with.
	SCIMTokens SCIMTokenService
	// MFA keeps the users' second factors.
	MFA MFAService
	// Sessions keeps console sessions and the sign-in rules.
	Sessions SessionService
	// Imports loads many objects into an organization at once.
	Imports ImportService
	// Outbox is the sender's side of the mail outbox.
	Outbox    OutboxService
	ChangeLog ChangeLog
	// Idempotency keeps the answers of writes made with an
	// Idempotency-Key.
	Idempotency IdempotencyService
	// DecisionLog keeps the aggregated decisions and answers what
	// principals have not used.
	DecisionLog DecisionLogService
	// Catalog is the service catalogue the store validates roles with.
	Catalog *Catalog
}
