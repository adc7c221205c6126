package castellan

import (
	"context"
	"regexp"
	"time"
)

// User is a person of one organization: a local user who signs in with a
// login ID and password, or a federated one who signs in through the
// organization's identity provider. The fields follow the user and group
// management seed and the sub-account API.
type User struct {
	ID             string `json:"id" doc:"User UUID, unique in the installation."`
	OrganizationID string `json:"organizationId"`
	LoginID        string `json:"loginId" doc:"Login ID, unique in the organization among users that are not deleted (case-insensitive)."`
	Email          string `json:"email" doc:"ID email, unique in the organization among users that are not deleted (case-insensitive); empty for a user registered with a password and no email, and on a tombstone."`
	Name           string `json:"name"`
	Nickname       string `json:"nickname" doc:"Name used within the organization."`
	FirstName      string `json:"firstName"`
	MiddleName     string `json:"middleName"`
	LastName       string `json:"lastName"`
	ContactEmail   string `json:"contactEmail" doc:"Verified contact email address."`
	Mobile         string `json:"mobile" doc:"Mobile phone number, E.164 (+821012345678)."`
	Memo           string `json:"memo" doc:"Notes, at most 300 bytes."`
	Status         string `json:"status" enum:"active,pending_invitation,disabled,deleted"`
	AccountType    string `json:"accountType" enum:"local,federated"`
	FederationID   string `json:"federationId" doc:"The identity federation of a federated user; empty for local users."`
	ConsoleAccess  bool   `json:"consoleAccess"`
	APIAccess      bool   `json:"apiAccess"`
	MFAMandatory   bool   `json:"mfaMandatory"`
	// PasswordResetRequired makes the user choose a new password at the
	// next console login.
	PasswordResetRequired bool             `json:"passwordResetRequired"`
	UseConsolePermitIP    bool             `json:"useConsolePermitIp"`
	ConsolePermitIPs      []string         `json:"consolePermitIps" nullable:"false" doc:"CIDRs the console may be used from, when useConsolePermitIp."`
	UseAPIAllowSource     bool             `json:"useApiAllowSource"`
	APIAllowSources       []APIAllowSource `json:"apiAllowSources" nullable:"false" doc:"Sources the API may be used from, when useApiAllowSource."`
	// OrganizationRoleCount and GroupCount are the list columns of the
	// seed: roles granted to the user directly on the organization, and
	// groups it belongs to.
	OrganizationRoleCount int        `json:"organizationRoleCount"`
	GroupCount            int        `json:"groupCount"`
	LastLoginAt           *time.Time `json:"lastLoginAt,omitempty"`
	RegisteredAt          time.Time  `json:"registeredAt"`
	CreatedAt             time.Time  `json:"createdAt"`
	CreatedBy             string     `json:"createdBy"`
	UpdatedAt             time.Time  `json:"updatedAt"`
	UpdatedBy             string     `json:"updatedBy"`
	Revision              int64      `json:"revision"`
	// Deleted marks a tombstone: it keeps the ID, login ID and name, and
	// is read only with includeDeleted.
	Deleted   bool       `json:"deleted"`
	DeletedAt *time.Time `json:"deletedAt,omitempty"`
}

// User statuses.
const (
	UserActive = "active"
	// UserPendingInvitation has not set its initial password yet and
	// cannot sign in.
	UserPendingInvitation = "pending_invitation"
	UserDisabled          = "disabled"
	// UserDeleted is a tombstone.
	UserDeleted = "deleted"
)

// Account types.
const (
	AccountLocal     = "local"
	AccountFederated = "federated"
)

// APIAllowSource is one source the API may be called from.
type APIAllowSource struct {
	Type   string `json:"type" enum:"IP,VPC,VPC_SERVER"`
	Source string `json:"source" doc:"IP: an address or CIDR; VPC: the VPC ID; VPC_SERVER: the server instance number."`
}

// API allow source types.
const (
	SourceIP        = "IP"
	SourceVPC       = "VPC"
	SourceVPCServer = "VPC_SERVER"
)

// RegistrationMode says how a new local user gets its first password.
type RegistrationMode string

// Registration modes.
const (
	// ModeInvitation mails the user a link, valid InvitationValidity,
	// with which it sets its initial password; the user is
	// pending_invitation until then.
	ModeInvitation RegistrationMode = "invitation"
	// ModePassword sets the password now: given by the administrator or
	// generated and returned once.
	ModePassword RegistrationMode = "password"
)

// InvitationValidity is how long an invitation link works.
const InvitationValidity = 7 * 24 * time.Hour

// UserRegistration is one user to register.
type UserRegistration struct {
	LoginID      string
	Email        string
	Name         string
	Nickname     string
	FirstName    string
	MiddleName   string
	LastName     string
	ContactEmail string
	Mobile       string
	Memo         string
	// AccountType is local (the default when empty) or federated.
	AccountType string
	// FederationID is required for federated users, who have no password
	// and get no invitation: they are active at once.
	FederationID string
	// Mode is required for local users and must be empty for federated
	// ones.
	Mode RegistrationMode
	// Password is the initial password in password mode, unless
	// GeneratePassword.
	Password         string
	GeneratePassword bool
	// Disabled registers the user disabled (password and federated modes;
	// the sub-account API's active: false).
	Disabled              bool
	ConsoleAccess         bool
	APIAccess             bool
	MFAMandatory          bool
	PasswordResetRequired bool
	UseConsolePermitIP    bool
	ConsolePermitIPs      []string
	UseAPIAllowSource     bool
	APIAllowSources       []APIAllowSource
}

// RegisteredUser is a user just registered. GeneratedPassword is set when
// the password was generated: it is shown this once and never stored.
type RegisteredUser struct {
	User              *User
	GeneratedPassword string
}

// UserUpdate changes the non-nil fields of a user. The login ID never
// changes; Status may move between active and disabled, and a user whose
// invitation is pending may be disabled (its links voided; enabled again,
// it is invited anew).
type UserUpdate struct {
	Email                 *string
	Name                  *string
	Nickname              *string
	FirstName             *string
	MiddleName            *string
	LastName              *string
	ContactEmail          *string
	Mobile                *string
	Memo                  *string
	Status                *string
	ConsoleAccess         *bool
	APIAccess             *bool
	MFAMandatory          *bool
	PasswordResetRequired *bool
	UseConsolePermitIP    *bool
	ConsolePermitIPs      *[]string
	UseAPIAllowSource     *bool
	APIAllowSources       *[]APIAllowSource
}

// User list sort keys and orders.
const (
	SortRegisteredAt = "registeredAt"
	SortLoginID      = "loginId"
	SortName         = "name"
	OrderAsc         = "asc"
	OrderDesc        = "desc"
)

// MaxUserQueryLength bounds UserFilter.Query, the text search of the user
// list.
const MaxUserQueryLength = 100

// DeleteUserPhrase is what an administrator types to confirm a user's
// deletion, in the seed's words; the user's login ID confirms it too
// (the API's first form, kept for its clients).
const DeleteUserPhrase = "Delete user from organization"

// UserFilter selects users of one organization. Without Status, every
// user but tombstones is listed; Status "deleted" lists only tombstones.
type UserFilter struct {
	Status *string
	// GroupID lists only members of the group.
	GroupID *string
	// Query matches users whose login ID, email or name starts with it,
	// case-insensitively.
	Query *string
	// Sort is registeredAt (the default), loginId or name; Order is asc
	// or desc (the default for registeredAt: newest first).
	Sort      string
	Order     string
	PageSize  int
	PageToken string
}

// UserCreate is the input of CreateUser: an active user without a
// password, known by its email, which is also its login ID.
type UserCreate struct {
	Email string
}

// Validate checks the email.
func (uc *UserCreate) Validate() error { return Invalid(ValidateEmail("email", uc.Email)) }

// InvitationTokenPrefix starts every invitation token, so that secret
// scanners can spot leaked links.
const InvitationTokenPrefix = "csti_"

// invitationTokenPattern is the prefix and 43 base64url characters (32
// random bytes).
var invitationTokenPattern = regexp.MustCompile(`^csti_[A-Za-z0-9_-]{43}$`)

// ValidInvitationTokenSyntax reports whether s has the shape of an
// invitation token; a malformed one is refused before any lookup.
func ValidInvitationTokenSyntax(s string) bool { return invitationTokenPattern.MatchString(s) }

// UserService manages the users of organizations. Every method takes the
// organization; users of another organization are not found.
type UserService interface {
	// FindUserByID returns ENOTFOUND (user.not_found); a tombstone only
	// when includeDeleted.
	FindUserByID(ctx context.Context, orgID, id string, includeDeleted bool) (*User, error)
	// FindUsers lists users with their organization role and group
	// counts. Returns EINVALID for a bad sort, order, status or page
	// token.
	FindUsers(ctx context.Context, orgID string, filter UserFilter) ([]*User, string, error)
	// CreateUser creates an active user without a password from an email
	// (its login ID too), as bootstrap does. Returns EINVALID, ECONFLICT
	// (user.email_taken) or EPRECONDITION (user.limit_reached) as
	// RegisterUsers.
	CreateUser(ctx context.Context, orgID string, uc UserCreate) (*User, error)
	// RegisterUser registers one user, naming fields by their names
	// (loginId).
	// Returns what RegisterUsers does.
	RegisterUser(ctx context.Context, orgID string, reg UserRegistration) (*RegisteredUser, error)
	// RegisterUsers registers up to 100 users in one transaction, all or
	// nothing; errors name the item (users[3].loginId). Returns
	// EINVALID (request.invalid_field, request.too_many_items,
	// user.unsafe_password), ENOTFOUND (organization.not_found) or
	// ECONFLICT (user.email_taken, user.login_id_taken) for an email or
	// login ID already in the organization or twice in the request, or
	// EPRECONDITION (user.limit_reached) when the batch would take the
	// organization's users past the store's limit (sqlstore.Options.MaxUsers;
	// deleted users do not count), in which case no user is added.
	// The email is optional in password mode (users without one never
	// conflict), required in invitation mode and for federated users.
	// Invited users get a mail (MailInvitation), federated users not
	// registered disabled one with the sign-in link and their
	// federation ID (MailFederatedWelcome); passwords are hashed before
	// the transaction.
	RegisterUsers(ctx context.Context, orgID string, regs []UserRegistration) ([]*RegisteredUser, error)
	// UpdateUser returns ENOTFOUND, EINVALID (user.invalid_status for a
	// status other than active or disabled, or a change from
	// pending_invitation), ECONFLICT (user.email_taken) or EPRECONDITION
	// (grant.last_owner when disabling the last owner, as
	// OrganizationOwnerRoleID defines it).
	UpdateUser(ctx context.Context, orgID, id string, upd UserUpdate) (*User, error)
	// DeleteUser turns the user into a tombstone and removes its grants,
	// group memberships, tokens and invitations in one transaction; its
	// login ID and email may then be reused. confirm must be
	// DeleteUserPhrase, typed exactly, or the user's login ID: EINVALID
	// (user.confirmation_mismatch). Returns ENOTFOUND or
	// EPRECONDITION (grant.last_owner) for the last owner.
	DeleteUser(ctx context.Context, orgID, id, confirm string) (int64, error)
	// ResendInvitation voids the user's open invitation links and mails a
	// new one (MailInvitation). Reinvite does the same with the reinvite
	// mail (MailReinvite). Both return ENOTFOUND or EPRECONDITION
	// (user.not_pending_invitation) for a user that is not
	// pending_invitation.
	ResendInvitation(ctx context.Context, orgID, id string) (int64, error)
	Reinvite(ctx context.Context, orgID, id string) (int64, error)
	// AcceptInvitation sets the initial password of the invited user and
	// makes it active; a link works once. Returns ENOTFOUND
	// (invitation.invalid) for an unknown or voided token, ECONFLICT
	// (invitation.used), EPRECONDITION (invitation.expired) after
	// InvitationValidity, or EINVALID (user.unsafe_password).
	AcceptInvitation(ctx context.Context, token, password string) (*User, error)
}

// PasswordHasher turns passwords into the strings the store keeps and
// checks passwords against them. Hash is slow on purpose (argon2id).
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches hash, in time that does
	// not depend on where they differ.
	Verify(hash, password string) (bool, error)
}
