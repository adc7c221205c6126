package castellan

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// AccountAdditionType says how an account came into its organization.
type AccountAdditionType string

// Account addition types (seed 001: "Additional type").
const (
	AccountCreated AccountAdditionType = "created"
	AccountInvited AccountAdditionType = "invited"
)

// Account is a node of kind account: the unit a customer's workloads
// and bills belong to, under the root or an OU, holding projects. Its
// root user is a user of the organization with the account's email.
type Account struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	// ParentID is the root (the organization's ID) or an OU.
	ParentID string `json:"parentId"`
	Name     string `json:"name"`
	// Email is the root user's email.
	Email string `json:"email"`
	// RootUserID is the user of the organization who is the account's
	// root user.
	RootUserID string `json:"rootUserId"`
	// IAMRoleName names the role created in a new account that the
	// organization's administrators assume to administer it; empty for
	// invited accounts.
	IAMRoleName  string              `json:"iamRoleName,omitempty"`
	AdditionType AccountAdditionType `json:"additionType" enum:"created,invited"`
	// Management marks the account that manages its organization: it is
	// neither deleted nor excluded.
	Management bool `json:"management"`
	// JoinedAt is the creation, or the acceptance of the invitation.
	JoinedAt time.Time `json:"joinedAt"`
	// Path is the nodes above the account, the root first.
	Path      []NodeRef `json:"path" nullable:"false"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	UpdatedAt time.Time `json:"updatedAt"`
	UpdatedBy string    `json:"updatedBy"`
	Revision  int64     `json:"revision"`
}

// Limits of accounts (seed 001).
const (
	MinAccountNameLength  = 3
	MaxAccountNameLength  = 30
	MaxIAMRoleNameLength  = 64
	MaxAccountInvitations = 10
	// MaxAccountDelegates is the most delegate emails an account's
	// attributes hold.
	MaxAccountDelegates = 20
	// DefaultMaxAccounts is the number of accounts an organization may
	// hold unless the operator configures another ("You can add up to
	// 200 accounts").
	DefaultMaxAccounts = 200
)

// AccountNameRule and IAMRoleNameRule say the patterns in words.
const (
	AccountNameRule = "must contain only letters, digits, spaces and + = - _ @ [ ] ( ) , ."
	IAMRoleNameRule = "must contain only English letters, digits and + = - _ @ , ."
)

var (
	accountNamePattern = regexp.MustCompile(`^[\p{L}\p{N} +=\-_@\[\](),.]*$`)
	iamRoleNamePattern = regexp.MustCompile(`^[A-Za-z0-9+=\-_@,.]*$`)
)

// ValidateAccountName checks an account name: 3–30 letters (any script,
// as the seed allows Korean), digits, spaces and +=-_@[](),. with no
// surrounding white space.
func ValidateAccountName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, MinAccountNameLength, MaxAccountNameLength) {
		c.match(field, name, accountNamePattern, AccountNameRule)
		if len(c.fields) == 0 && strings.TrimSpace(name) != name {
			c.add(field, "pattern", "must not begin or end with white space")
		}
	}
	return c.fields
}

// ValidateIAMRoleName checks an IAM role name: 1–64 English letters,
// digits and +=-_@,.
func ValidateIAMRoleName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxIAMRoleNameLength) {
		c.match(field, name, iamRoleNamePattern, IAMRoleNameRule)
	}
	return c.fields
}

// AccountCreate is the input of CreateAccount: a new account with a new
// (or the matching existing) root user.
type AccountCreate struct {
	// ParentID is the root (the organization's ID) or an OU.
	ParentID string
	Name     string
	Email    string
	// EmailConfirmation must equal Email ("Check email").
	EmailConfirmation string
	IAMRoleName       string
	// PolicyIDs are the control policies attached at creation; empty
	// means FullAccess.
	PolicyIDs []string
}

// Validate checks every field and reports all failures at once.
func (c *AccountCreate) Validate() error {
	fields := ValidateAccountName("name", c.Name)
	fields = append(fields, checkIDField("parentId", c.ParentID)...)
	fields = append(fields, ValidateEmail("email", c.Email)...)
	if c.EmailConfirmation != c.Email {
		fields = append(fields, FieldError{Field: "emailConfirmation", Rule: "match", Message: "must equal email"})
	}
	fields = append(fields, ValidateIAMRoleName("iamRoleName", c.IAMRoleName)...)
	fields = append(fields, validatePolicyIDs("policyIds", c.PolicyIDs)...)
	return Invalid(fields)
}

// AccountUpdate changes the non-nil fields of an account.
type AccountUpdate struct {
	Name *string
}

// Validate checks the fields being changed.
func (u *AccountUpdate) Validate() error {
	if u.Name == nil {
		return nil
	}
	return Invalid(ValidateAccountName("name", *u.Name))
}

// AccountFilter selects accounts of one organization.
type AccountFilter struct {
	// ParentID restricts the list to the children of one node.
	ParentID  *string
	PageSize  int
	PageToken string
}

// AccountDeletion is what the caller types to delete an account: its own
// password and the account's name.
type AccountDeletion struct {
	Password string
	// Name must equal the account's name.
	Name string
}

// AccountInvitationStatus is the state of an invitation of an existing
// account.
type AccountInvitationStatus string

// Account invitation states.
const (
	InvitationPending   AccountInvitationStatus = "pending"
	InvitationAccepted  AccountInvitationStatus = "accepted"
	InvitationDeclined  AccountInvitationStatus = "declined"
	InvitationCancelled AccountInvitationStatus = "cancelled"
)

// AccountInvitation invites an existing account, by its root user email,
// to join an organization. The account's root user accepts or declines;
// the inviting organization may cancel while it is pending.
type AccountInvitation struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	// OrganizationName is the inviting organization's name, as the
	// invited root user sees it.
	OrganizationName string                  `json:"organizationName"`
	Email            string                  `json:"email"`
	Status           AccountInvitationStatus `json:"status" enum:"pending,accepted,declined,cancelled"`
	// AccountID is the account that accepted; empty before.
	AccountID   string    `json:"accountId,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy"`
	RespondedAt time.Time `json:"respondedAt,omitzero"`
	Revision    int64     `json:"revision"`
}

// AccountInvitationFilter selects invitations.
type AccountInvitationFilter struct {
	Status    *AccountInvitationStatus
	PageSize  int
	PageToken string
}

// ValidateInvitationEmails checks the emails of one invitation request:
// 1–10 valid, distinct addresses.
func ValidateInvitationEmails(field string, emails []string) error {
	var c fieldChecker
	switch {
	case len(emails) == 0:
		c.add(field, "required", "must name at least one root user email")
	case len(emails) > MaxAccountInvitations:
		c.add(field, "maxItems", "must name at most %d emails at once", MaxAccountInvitations)
	}
	seen := map[string]bool{}
	for i, e := range emails {
		f := field + "[" + itoa(i) + "]"
		c.fields = append(c.fields, ValidateEmail(f, e)...)
		if k := strings.ToLower(e); seen[k] {
			c.add(f, "unique", "must not repeat an earlier email")
		} else {
			seen[k] = true
		}
	}
	return Invalid(c.fields)
}

// AccountAttributes are the facts about an account that the operator's
// billing and inventory systems know. The default Billing and
// ResourceInventory read them; the operator sets them by API.
type AccountAttributes struct {
	PaymentMethodRegistered bool `json:"paymentMethodRegistered" doc:"A payment method is registered for the account."`
	CreditAssigned          bool `json:"creditAssigned" doc:"Credit is assigned to the account."`
	ResourcesInUse          int  `json:"resourcesInUse" minimum:"0" doc:"Number of resources the account has in use."`
	IdentityCenterDelegated bool `json:"identityCenterDelegated" doc:"Authority over the account is delegated by an identity center."`
	// CloudControl is "none", "registering" or "registered".
	CloudControl string `json:"cloudControl" enum:"none,registering,registered" doc:"Registration of the account in Cloud Control."`
	// Delegates are the emails of users who hold delegation for the
	// account; they get its deletion and exclusion notices.
	Delegates []string  `json:"delegates" nullable:"false" maxItems:"20"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// Cloud Control states of an account.
const (
	CloudControlNone        = "none"
	CloudControlRegistering = "registering"
	CloudControlRegistered  = "registered"
)

// Validate checks the attributes.
func (a *AccountAttributes) Validate() error {
	var c fieldChecker
	if a.ResourcesInUse < 0 {
		c.add("resourcesInUse", "minimum", "must not be negative")
	}
	switch a.CloudControl {
	case CloudControlNone, CloudControlRegistering, CloudControlRegistered:
	default:
		c.add("cloudControl", "enum", "must be none, registering or registered")
	}
	if len(a.Delegates) > MaxAccountDelegates {
		c.add("delegates", "maxItems", "must have at most %d items", MaxAccountDelegates)
	}
	for i, e := range a.Delegates {
		c.fields = append(c.fields, ValidateEmail("delegates["+itoa(i)+"]", e)...)
	}
	return Invalid(c.fields)
}

// BillingFacts are what exclusion and deletion ask of billing.
type BillingFacts struct {
	PaymentMethodRegistered bool
	CreditAssigned          bool
}

// Billing tells the preconditions of exclusion and deletion that belong
// to the cloud's billing system.
type Billing interface {
	AccountBilling(ctx context.Context, orgID, accountID string) (BillingFacts, error)
}

// ResourceFacts are what deletion asks of the cloud's inventory.
type ResourceFacts struct {
	ResourcesInUse          int
	IdentityCenterDelegated bool
	CloudControl            string
	// Delegates are emails of users with delegation for the account.
	Delegates []string
}

// ResourceInventory tells what an account has in use and who else acts
// for it.
type ResourceInventory interface {
	AccountResources(ctx context.Context, orgID, accountID string) (ResourceFacts, error)
}

// SettlementLocation is the time zone of the cost settlement date
// (Asia/Seoul, GMT+09:00, which keeps no daylight saving time).
var SettlementLocation = time.FixedZone("Asia/Seoul", 9*60*60)

// IsSettlementDay reports whether t falls on the cost settlement date:
// the 1st of a month in Asia/Seoul time.
func IsSettlementDay(t time.Time) bool { return t.In(SettlementLocation).Day() == 1 }

// AccountService manages the accounts of an organization. Structural
// changes are serialized per organization with those of OUs.
type AccountService interface {
	// FindAccountByID returns ENOTFOUND (account.not_found).
	FindAccountByID(ctx context.Context, orgID, id string) (*Account, error)
	// FindAccounts lists accounts by name, then ID.
	FindAccounts(ctx context.Context, orgID string, filter AccountFilter) (accounts []*Account, next string, err error)
	// CreateAccount creates an account, its root user (or matches the
	// organization's user with the email) with an invitation mail, the
	// grant that makes the root user administer the account, and the
	// policy attachments. EPRECONDITION (account.limit_reached) at the
	// organization's account limit, or (user.limit_reached) when a new
	// root user would pass its user limit; ECONFLICT (account.name_taken).
	CreateAccount(ctx context.Context, orgID string, create AccountCreate) (*Account, error)
	// UpdateAccount renames an account.
	UpdateAccount(ctx context.Context, orgID, id string, update AccountUpdate) (*Account, error)
	// MoveAccount puts the account (with its projects) under parentID:
	// the root or an OU.
	MoveAccount(ctx context.Context, orgID, id, parentID string) (*Account, error)
	// DeleteAccount deletes the account and everything in it and sends
	// its deletion notice. The caller confirms with its own password (a
	// wrong one counts towards its lockout); the operator, which has no
	// password, is exempt. Refused with EPRECONDITION and the failed
	// precondition's code, with EFORBIDDEN (auth.wrong_password) for a
	// wrong password or a caller without one and EINVALID
	// (account.name_mismatch) for a wrong typed name.
	DeleteAccount(ctx context.Context, orgID, id string, confirm AccountDeletion) (revision int64, err error)

	// FindAccountPreconditions returns the checklists of the account's
	// exclusion and deletion as they stand now. ENOTFOUND
	// (account.not_found).
	FindAccountPreconditions(ctx context.Context, orgID, id string) (*AccountPreconditions, error)

	// FindAccountAttributes returns the billing and inventory facts.
	FindAccountAttributes(ctx context.Context, orgID, id string) (*AccountAttributes, error)
	// SetAccountAttributes replaces them (the operator's systems).
	SetAccountAttributes(ctx context.Context, orgID, id string, attrs AccountAttributes) (*AccountAttributes, error)
}

// AccountMembershipService moves accounts into and out of organizations:
// exclusion makes an account standalone, and an invitation, once its
// root user accepts, brings a standalone account into the inviting
// organization.
type AccountMembershipService interface {
	// ExcludeAccount makes the account standalone: a new organization
	// whose root holds the account (with its projects, their service
	// accounts and keys) and whose Owner is its root user. Refused with
	// EPRECONDITION and the failed precondition's code (seed 001: a
	// payment method, no credit, not on the settlement date). Returns
	// the new organization.
	ExcludeAccount(ctx context.Context, orgID, id string) (*Organization, error)
	// InviteAccounts invites existing accounts by root user email, at
	// most MaxAccountInvitations at once; each gets a mail.
	InviteAccounts(ctx context.Context, orgID string, emails []string) ([]*AccountInvitation, error)
	// FindAccountInvitations lists the organization's invitations, newest
	// first.
	FindAccountInvitations(ctx context.Context, orgID string, filter AccountInvitationFilter) (invitations []*AccountInvitation, next string, err error)
	// CancelAccountInvitation cancels a pending invitation.
	// EPRECONDITION (account_invitation.not_pending) otherwise.
	CancelAccountInvitation(ctx context.Context, orgID, id string) (*AccountInvitation, error)
	// FindReceivedAccountInvitations lists the pending invitations
	// addressed to the root user email of the account accountID of
	// organization orgID.
	FindReceivedAccountInvitations(ctx context.Context, orgID, accountID string) ([]*AccountInvitation, error)
	// RespondToAccountInvitation accepts or declines, for the account
	// accountID of orgID, an invitation addressed to its root user
	// email. Accepting moves the account (with its projects) into the
	// inviting organization; only a standalone account (its
	// organization's management account) may accept, and
	// EPRECONDITION (user.limit_reached) refuses it when its root user
	// would be a new user past the inviting organization's user limit.
	RespondToAccountInvitation(ctx context.Context, orgID, accountID, invitationID string, accept bool) (*AccountInvitation, error)
}

// AccountFacts are what exclusion and deletion of an account are decided
// on.
type AccountFacts struct {
	Account   *Account
	Billing   BillingFacts
	Resources ResourceFacts
	// Now is the time of the request; the settlement date is in
	// Asia/Seoul time.
	Now time.Time
}

// AccountPreconditions are the checklists of an account's exclusion and
// deletion, as the console shows them before either.
type AccountPreconditions struct {
	Exclusion []PreconditionCheck `json:"exclusion" nullable:"false"`
	Deletion  []PreconditionCheck `json:"deletion" nullable:"false"`
}

// PreconditionCheck is one precondition of exclusion or deletion and
// whether the account meets it; the console shows them as a checklist.
type PreconditionCheck struct {
	// Code is the error code of a refusal by this precondition.
	Code        string `json:"code"`
	Description string `json:"description"`
	Met         bool   `json:"met"`
}

// ExclusionChecks are the preconditions of excluding an account (seed
// 001): a payment method is registered, no credit is assigned, and it is
// not the cost settlement date; and it is not the management account,
// which is its organization (a standalone account stays what it is).
func ExclusionChecks(f AccountFacts) []PreconditionCheck {
	return []PreconditionCheck{
		{CodeAccountNoPaymentMethod, "A payment method is registered for the account.", f.Billing.PaymentMethodRegistered},
		{CodeAccountCreditAssigned, "No credit is assigned to the account.", !f.Billing.CreditAssigned},
		{CodeAccountSettlementDay, "It is not the cost settlement date (the 1st of the month, Asia/Seoul time).", !IsSettlementDay(f.Now)},
		{CodeAccountManagement, "The account is not the organization's management account.", !f.Account.Management},
	}
}

// DeletionChecks are the preconditions of deleting an account (seed
// 001): not the settlement date, no resources in use, no delegation by an
// identity center, no credit, not the management account, not joined by
// invitation, and not registering or registered in Cloud Control.
func DeletionChecks(f AccountFacts) []PreconditionCheck {
	return []PreconditionCheck{
		{CodeAccountSettlementDay, "It is not the cost settlement date (the 1st of the month, Asia/Seoul time).", !IsSettlementDay(f.Now)},
		{CodeAccountResourcesInUse, "The account has no resources in use.", f.Resources.ResourcesInUse == 0},
		{CodeAccountDelegated, "No authority over the account is delegated by an identity center.", !f.Resources.IdentityCenterDelegated},
		{CodeAccountCreditAssigned, "No credit is assigned to the account.", !f.Billing.CreditAssigned},
		{CodeAccountManagement, "The account is not the organization's management account.", !f.Account.Management},
		{CodeAccountJoinedByInvite, "The account was created in the organization, not joined by invitation.", f.Account.AdditionType != AccountInvited},
		{CodeAccountUnderCloudControl, "The account is not registering or registered in Cloud Control.", f.Resources.CloudControl == "" || f.Resources.CloudControl == CloudControlNone},
	}
}

// Refusal returns nil when every check is met, else an EPRECONDITION
// error with the code of the first unmet check and one field error per
// unmet check (field "accountId", the ID argument; rule its code), so that a client can
// show all of them at once. what names the operation ("exclude").
func Refusal(what string, checks []PreconditionCheck) error {
	var unmet []FieldError
	for _, c := range checks {
		if !c.Met {
			unmet = append(unmet, FieldError{Field: "accountId", Rule: c.Code, Message: c.Description})
		}
	}
	if len(unmet) == 0 {
		return nil
	}
	msg := "cannot " + what + " the account: " + unmet[0].Message
	if len(unmet) > 1 {
		msg += " (and " + itoa(len(unmet)-1) + " more unmet preconditions)"
	}
	msg = strings.Replace(msg, ": ", ": not met: ", 1)
	return &Error{Kind: EPRECONDITION, Code: unmet[0].Rule, Message: msg, Fields: unmet}
}
