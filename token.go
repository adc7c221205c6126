package castellan

import (
	"context"
	"regexp"
)

// TokenPrefix starts every API token, so that secret scanners can spot
// leaked ones.
const TokenPrefix = "cst_"

// tokenPattern is the shape of a token: the prefix and 43 base64url
// characters (32 random bytes).
var tokenPattern = regexp.MustCompile(`^cst_[A-Za-z0-9_-]{43}$`)

// ValidTokenSyntax reports whether s has the shape of a Castellan token; a
// malformed token is refused before any lookup.
func ValidTokenSyntax(s string) bool { return tokenPattern.MatchString(s) }

var emailPattern = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)

// ValidateEmail checks the syntax of an email address (at most 254
// characters, a local part and a dotted domain).
func ValidateEmail(field, email string) []FieldError {
	var c fieldChecker
	if c.length(field, email, 1, 254) {
		c.match(field, email, emailPattern, "must be an email address like name@example.com")
	}
	return c.fields
}

// Bootstrap is the input of BootstrapOrganization.
type Bootstrap struct {
	OrganizationName string
	OwnerEmail       string
}

// Validate checks both fields.
func (b *Bootstrap) Validate() error {
	fields := ValidateOrganizationName("org", b.OrganizationName)
	fields = append(fields, ValidateEmail("owner-email", b.OwnerEmail)...)
	return Invalid(fields)
}

// BootstrapResult is what bootstrap prints once. Token is the only copy of
// the secret; the store keeps its hash.
type BootstrapResult struct {
	OrganizationID string `json:"organizationId"`
	OwnerUserID    string `json:"ownerUserId"`
	Token          string `json:"token"`
	Revision       int64  `json:"revision"`
}

// OperatorToken is a newly created operator token; Token is shown once.
type OperatorToken struct {
	ID       string `json:"id"`
	Token    string `json:"token"`
	Revision int64  `json:"revision"`
}

// TokenService issues and checks API bearer tokens.
type TokenService interface {
	// BootstrapOrganization creates an organization, its root node, its
	// first owner and an API token for the owner, in one transaction.
	// Returns EINVALID or ECONFLICT (organization.name_taken).
	BootstrapOrganization(ctx context.Context, b Bootstrap) (*BootstrapResult, error)
	// CreateOperatorToken issues a token for the operator.
	CreateOperatorToken(ctx context.Context) (*OperatorToken, error)
	// CreateUserToken issues a bearer token for an active user of the
	// organization; the access-keys issue replaces it. Returns ENOTFOUND
	// (user.not_found).
	CreateUserToken(ctx context.Context, orgID, userID string) (string, error)
	// Authenticate returns the principal a token stands for. Returns
	// EUNAUTHENTICATED (auth.unauthenticated) for a malformed, unknown or
	// expired token, or one whose user is no longer active.
	Authenticate(ctx context.Context, token string) (Principal, error)
}
