package castellan

import "context"

// ChangeLog reports the store's progress.
type ChangeLog interface {
	// Revision returns the newest committed revision; every write returns
	// the revision it produced, which is never smaller.
	Revision(ctx context.Context) (int64, error)
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
}

// Services is every service a store provides, as the API and the
// conformance suite consume them.
type Services struct {
	Organizations OrganizationService
	Projects      ProjectService
	Audit         AuditService
	Tokens        TokenService
	Users         UserService
	Groups        GroupService
	Grants        GrantService
	Roles         RoleService
	ChangeLog     ChangeLog
	// Catalog is the service catalogue the store validates roles with.
	Catalog *Catalog
}
