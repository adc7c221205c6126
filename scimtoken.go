package castellan

import (
	"context"
	"regexp"
	"time"
)

// SCIMToken is the bearer token an identity provider provisions an
// organization's users and groups with, over SCIM 2.0
// (/scim/v2/organizations/{org}/…). It is good for SCIM only, and acts as
// the user who created it (ActorUserID), through the guarded services:
// it may do what that user may, and stops working when the user is no
// longer active or the token is deleted or expires.
type SCIMToken struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	Name           string `json:"name"`
	// FederationID, when set, makes the users the token creates
	// federated users of that federation, who sign in through it; when
	// empty they are local users, mailed an invitation.
	FederationID string     `json:"federationId,omitempty"`
	ActorUserID  string     `json:"actorUserId" doc:"The user the token acts as: its creator."`
	CreatedAt    time.Time  `json:"createdAt"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
	Revision     int64      `json:"revision"`
}

// NewSCIMToken is a token just created with its secret, shown once.
type NewSCIMToken struct {
	SCIMToken *SCIMToken `json:"scimToken"`
	Secret    string     `json:"secret" doc:"The bearer token for the identity provider; shown only now."`
}

// SCIMTokenPrefix starts every SCIM token.
const SCIMTokenPrefix = "cscim_"

var scimTokenPattern = regexp.MustCompile(`^cscim_[A-Za-z0-9_-]{43}$`)

// ValidSCIMTokenSyntax reports whether s has the shape of a SCIM token.
func ValidSCIMTokenSyntax(s string) bool { return scimTokenPattern.MatchString(s) }

// SCIM token limits.
const (
	MaxSCIMTokenNameLength = 100
	// MaxSCIMTokenDays is the longest validity; 0 days asks for it.
	MaxSCIMTokenDays = 730
)

// SCIMTokenCreate is the input of CreateSCIMToken.
type SCIMTokenCreate struct {
	Name         string
	FederationID string
	// ValidDays is how long the token works: 1–730 days, 0 for 730.
	ValidDays int
}

// Validate checks every field.
func (c *SCIMTokenCreate) Validate() error {
	var f fieldChecker
	if f.length("name", c.Name, 1, MaxSCIMTokenNameLength) {
		f.printable("name", c.Name)
	}
	if c.FederationID != "" {
		f.fields = append(f.fields, checkIDField("federationId", c.FederationID)...)
	}
	if c.ValidDays < 0 || c.ValidDays > MaxSCIMTokenDays {
		f.add("validDays", "range", "must be between 1 and %d (0: %d)", MaxSCIMTokenDays, MaxSCIMTokenDays)
	}
	return Invalid(f.fields)
}

// SCIMTokenService keeps the organizations' SCIM tokens.
type SCIMTokenService interface {
	// CreateSCIMToken makes a token acting as the calling user, who must
	// be a user of the organization (EINVALID scim_token.needs_user
	// otherwise) and active (ENOTFOUND user.not_found otherwise).
	// Returns ENOTFOUND (federation.not_found).
	CreateSCIMToken(ctx context.Context, orgID string, c SCIMTokenCreate) (*NewSCIMToken, error)
	// FindSCIMTokens lists the organization's tokens, newest first.
	FindSCIMTokens(ctx context.Context, orgID string) ([]*SCIMToken, error)
	// DeleteSCIMToken revokes a token at once. Returns ENOTFOUND
	// (scim_token.not_found).
	DeleteSCIMToken(ctx context.Context, orgID, id string) (int64, error)
	// AuthenticateSCIM returns the token a secret is, with the principal
	// it acts as (its actor, SCIMTokenID set). Returns EUNAUTHENTICATED
	// (auth.unauthenticated) for a malformed, unknown, expired or deleted
	// token, or one whose actor is no longer an active user with API
	// access; EFORBIDDEN (auth.source_not_allowed) for a request from
	// outside the actor's API allow sources.
	AuthenticateSCIM(ctx context.Context, secret string) (*SCIMToken, Principal, error)
}
