package castellan

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// RoleIdentity is an assumable role: a principal of type IamRole that
// people, servers, federated users and cloud services take on for a
// while, as the sub-account API's role users. It is not a Role (a set of
// actions); it is who acts. Each assumption is a RoleSession that records
// its source identity.
type RoleIdentity struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	Name           string `json:"name" doc:"Unique in the organization, case-insensitively."`
	Kind           string `json:"kind" enum:"account,server,sso,service" doc:"Who may assume it: users of the organization (account), servers, federated users (sso) or cloud services."`
	Description    string `json:"description"`
	// RN is the role's resource name, rn:iam:<organization>:role/<id>:
	// the sub-account API's roleNrn.
	RN        string    `json:"rn"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	Revision  int64     `json:"revision"`
}

// Role identity kinds, the role types of the sub-account API.
const (
	RoleKindAccount = "account"
	RoleKindServer  = "server"
	RoleKindSSO     = "sso"
	RoleKindService = "service"
)

// Source identity types: who assumed a role, per kind of role (the
// sub-account API's source identity table).
const (
	// SourceIamUser assumed an account role: ID is the user, Provider
	// the organization (the original's member number).
	SourceIamUser = "IamUser"
	// SourceServer assumed a server role; ID and Provider do not apply.
	SourceServer = "Server"
	// SourceFederatedUser assumed an SSO role: ID is the user at the
	// identity provider, Provider the federation (SSO tenant).
	SourceFederatedUser = "FederatedUser"
	// SourceCloudService assumed a service role: ID is the service's
	// resource, Provider the service.
	SourceCloudService = "NcloudService"
)

// SourceTypeOf is the source identity type of each role identity kind.
var SourceTypeOf = map[string]string{
	RoleKindAccount: SourceIamUser,
	RoleKindServer:  SourceServer,
	RoleKindSSO:     SourceFederatedUser,
	RoleKindService: SourceCloudService,
}

// SourceIdentity is who assumed a role.
type SourceIdentity struct {
	Type     string `json:"type" enum:"IamUser,Server,FederatedUser,NcloudService"`
	ID       string `json:"id"`
	Provider string `json:"provider"`
}

// RoleSession is one assumption of a role identity: a role user of the
// sub-account API (principal type IamRole). Ending it, or deleting its
// role, leaves a tombstone read with includeDeleted.
type RoleSession struct {
	ID             string         `json:"id"`
	OrganizationID string         `json:"organizationId"`
	RoleIdentityID string         `json:"roleIdentityId"`
	RoleName       string         `json:"roleName"`
	RoleRN         string         `json:"roleRn"`
	SourceIdentity SourceIdentity `json:"sourceIdentity"`
	CreatedAt      time.Time      `json:"createdAt"`
	CreatedBy      string         `json:"createdBy"`
	ExpiresAt      time.Time      `json:"expiresAt"`
	Revision       int64          `json:"revision"`
	Deleted        bool           `json:"deleted"`
	DeletedAt      *time.Time     `json:"deletedAt,omitempty"`
}

// Active reports whether the session is neither ended nor expired at now.
func (s *RoleSession) Active(now time.Time) bool { return !s.Deleted && now.Before(s.ExpiresAt) }

// Role identity limits.
const (
	MaxRoleIdentityNameLength        = 64
	MaxRoleIdentityDescriptionLength = 300
	// MaxSourceIdentityLength bounds a source identity's ID and provider.
	MaxSourceIdentityLength = 255
	// RoleSessionLifetime is how long an assumption lasts.
	RoleSessionLifetime = time.Hour
)

// RoleIdentityCreate is the input of CreateRoleIdentity.
type RoleIdentityCreate struct {
	Name        string
	Kind        string
	Description string
}

// roleIdentityNamePattern is the character set of role names on common
// clouds: letters, digits and + = , . @ _ -.
var roleIdentityNamePattern = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]+$`)

// ValidateRoleIdentityName checks a role identity name: 1–64 letters,
// digits and + = , . @ _ -; unique in the organization,
// case-insensitively.
func ValidateRoleIdentityName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxRoleIdentityNameLength) {
		c.match(field, name, roleIdentityNamePattern, "must contain only letters, digits and + = , . @ _ -")
	}
	return c.fields
}

// Validate checks the name, the kind (one of the four) and the
// description (at most 300 characters).
func (rc *RoleIdentityCreate) Validate() error {
	fields := ValidateRoleIdentityName("name", rc.Name)
	if _, ok := SourceTypeOf[rc.Kind]; !ok {
		fields = append(fields, FieldError{Field: "kind", Rule: "enum", Message: "must be one of account, server, sso, service"})
	}
	fields = append(fields, validateDescription("description", rc.Description, MaxRoleIdentityDescriptionLength)...)
	return Invalid(fields)
}

// ValidateFor checks a source identity against the kind of the role it
// assumes: its type must be SourceTypeOf[kind], or the error is EINVALID
// role_session.source_mismatch. A server role's source has no ID nor
// provider; the other kinds need both (an account role's are filled in
// by the service from the caller), each at most 255 printable
// characters.
func (s SourceIdentity) ValidateFor(kind string) error {
	if want := SourceTypeOf[kind]; s.Type != want {
		return &Error{
			Kind: EINVALID, Code: CodeRoleSessionSourceMismatch,
			Message: fmt.Sprintf("sourceIdentity.type: a %s role is assumed by a source of type %q, not %q", kind, want, s.Type),
			Fields:  []FieldError{{Field: "sourceIdentity.type", Rule: "enum", Message: "must be " + want}},
		}
	}
	var c fieldChecker
	for _, f := range []struct{ field, value string }{{"sourceIdentity.id", s.ID}, {"sourceIdentity.provider", s.Provider}} {
		switch {
		case kind == RoleKindServer && f.value != "":
			c.add(f.field, "server", "must be empty for a server role")
		case kind != RoleKindServer && c.length(f.field, f.value, 1, MaxSourceIdentityLength):
			c.printable(f.field, f.value)
		}
	}
	return Invalid(c.fields)
}

// RoleIdentityFilter pages the role identities of an organization.
type RoleIdentityFilter struct {
	PageSize  int
	PageToken string
}

// RoleIdentityService keeps assumable roles and their sessions. Every
// method takes the organization; roles and sessions of another one are
// not found.
type RoleIdentityService interface {
	// CreateRoleIdentity returns EINVALID or ECONFLICT
	// (role_identity.name_taken).
	CreateRoleIdentity(ctx context.Context, orgID string, c RoleIdentityCreate) (*RoleIdentity, error)
	// FindRoleIdentityByID returns ENOTFOUND (role_identity.not_found).
	FindRoleIdentityByID(ctx context.Context, orgID, id string) (*RoleIdentity, error)
	// FindRoleIdentities lists roles by name.
	FindRoleIdentities(ctx context.Context, orgID string, f RoleIdentityFilter) ([]*RoleIdentity, string, error)
	// DeleteRoleIdentity deletes the role and ends its sessions.
	// Returns ENOTFOUND.
	DeleteRoleIdentity(ctx context.Context, orgID, id string) (int64, error)
	// AssumeRoleIdentity starts a session of the role for src, whose
	// type must be SourceTypeOf the role's kind: EINVALID
	// (role_session.source_mismatch) otherwise. An account role's source
	// must be an active user of the organization (ENOTFOUND
	// user.not_found); deleting the user ends its sessions. Returns
	// ENOTFOUND.
	AssumeRoleIdentity(ctx context.Context, orgID, roleID string, src SourceIdentity) (*RoleSession, error)
	// FindRoleSessionByID returns ENOTFOUND (role_session.not_found); an
	// ended session only when includeDeleted.
	FindRoleSessionByID(ctx context.Context, orgID, id string, includeDeleted bool) (*RoleSession, error)
	// EndRoleSession turns the session into a tombstone. Returns
	// ENOTFOUND.
	EndRoleSession(ctx context.Context, orgID, id string) (int64, error)
}
