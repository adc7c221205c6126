package castellan

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// TokenPrefix starts every API token, so that secret scanners can spot
// leaked ones.
const TokenPrefix = "cst_"

// tokenLength is the length of a token: the prefix and 43 base64url
// characters (32 random bytes).
const tokenLength = len(TokenPrefix) + 43

// ValidTokenSyntax reports whether s has the shape of a Castellan token; a
// malformed token is refused before any lookup. It runs on every request,
// so it is a loop rather than a regexp, which cost twice the rest of a
// cached token check.
func ValidTokenSyntax(s string) bool {
	if len(s) != tokenLength || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	for i := len(TokenPrefix); i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var emailPattern = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)

// Input bounds of the credentials an edge reads: longer ones cannot be
// valid, so they are refused before any lookup.
const (
	// MaxEmailLength is the longest email address (RFC 5321's path limit
	// less the angle brackets).
	MaxEmailLength = 254
	// MaxAccessKeyIDInput bounds the key ID of a token exchange.
	MaxAccessKeyIDInput = 64
	// MaxAccessKeySecretInput bounds the secret of a token exchange.
	MaxAccessKeySecretInput = 128
	// MaxTokenInput bounds a token given for introspection.
	MaxTokenInput = 256
	// MaxInvitationTokenInput bounds the token of an invitation link.
	MaxInvitationTokenInput = 100
)

// ValidateEmail checks the syntax of an email address (at most
// MaxEmailLength characters, a local part and a dotted domain).
func ValidateEmail(field, email string) []FieldError {
	var c fieldChecker
	if c.length(field, email, 1, MaxEmailLength) {
		c.match(field, email, emailPattern, "must be an email address like name@example.com")
	}
	return c.fields
}

// Bootstrap is the input of BootstrapOrganization.
type Bootstrap struct {
	OrganizationName string
	OwnerEmail       string
	// OwnerPassword, when set, is the owner's console password; the
	// password policy applies.
	OwnerPassword string
	// PasswordLink, without OwnerPassword, gives the owner a one-time
	// link to set its console password: an invitation valid
	// InvitationValidity, whose mail goes to the outbox with the
	// organization.
	PasswordLink bool
}

// Validate checks the fields: EINVALID for the names, EINVALID
// user.unsafe_password for the password.
func (b *Bootstrap) Validate() error {
	fields := ValidateOrganizationName("org", b.OrganizationName)
	fields = append(fields, ValidateEmail("owner-email", b.OwnerEmail)...)
	if err := Invalid(fields); err != nil || b.OwnerPassword == "" {
		return err
	}
	return UnsafePassword(CheckPassword("owner-password", b.OwnerEmail, b.OwnerPassword))
}

// BootstrapResult is what bootstrap prints once. Token is the only copy of
// the secret; the store keeps its hash.
type BootstrapResult struct {
	OrganizationID string `json:"organizationId"`
	OwnerUserID    string `json:"ownerUserId"`
	Token          string `json:"token"`
	Revision       int64  `json:"revision"`
	// InvitationToken is the token of the owner's password link, when
	// Bootstrap.PasswordLink asked for one.
	InvitationToken string `json:"invitationToken,omitempty"`
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
	// Authenticate returns the principal a token stands for, checked
	// (Credential.Check) against the request RequestInfoFrom(ctx)
	// describes. Returns EUNAUTHENTICATED (auth.unauthenticated) for a
	// malformed, unknown or expired token, or one FindCredential refuses;
	// EFORBIDDEN (auth.source_not_allowed) for a request from outside the
	// user's API allow sources.
	Authenticate(ctx context.Context, token string) (Principal, error)
	// FindCredential reads what a token stands for, without checking it
	// at any time or against any request. Returns EUNAUTHENTICATED
	// (auth.unauthenticated) for a malformed or unknown token, or one
	// whose principal or key may not be used (see Credential).
	FindCredential(ctx context.Context, token string) (*Credential, error)
}

// BearerToken returns the token of an Authorization header value of the
// form "Bearer <token>": the scheme in any case, one space, and a token
// without spaces. ok is false for anything else, so that a malformed
// header is refused before any lookup.
func BearerToken(header string) (token string, ok bool) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// Credential is what a token stands for, as the store has it, with what
// decides at each use whether it may still be used.
//
// The store returns a credential only for a token whose principal is, when
// read, usable: an active user with API access, or an existing service
// account; for a key's token, an enabled key of an existing project. What
// changes without any write, the time and where the request comes from,
// is left to Check, which runs on every request.
type Credential struct {
	Principal Principal
	// TokenID is the ID of a bootstrap or operator token; empty for the
	// token of an access key, which Principal.KeyID names.
	TokenID string
	// ExpiresAt is when the token stops working: its own expiry or its
	// key's, whichever comes first; zero for never.
	ExpiresAt time.Time
	// AllowSources, when not nil, are the only sources the token may be
	// used from: the user's API allow sources, when useApiAllowSource.
	AllowSources []APIAllowSource
}

// TokenRefused is the one error for a token that is malformed, unknown,
// expired or may no longer be used, so that the answer says nothing about
// why.
func TokenRefused() error {
	return Errorf(EUNAUTHENTICATED, CodeUnauthenticated, "a valid bearer token is required")
}

// SourceNotAllowed refuses a request from outside the caller's API allow
// sources; it does not list them.
func SourceNotAllowed() error {
	return Errorf(EFORBIDDEN, CodeSourceNotAllowed, "this credential may not be used from where the request comes from")
}

// Check reports whether the credential may be used at now for a request
// described by info. Returns EUNAUTHENTICATED (auth.unauthenticated) when
// it has expired, or EFORBIDDEN (auth.source_not_allowed) when the request
// comes from outside the allow sources.
func (c *Credential) Check(now time.Time, info RequestInfo) error {
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return TokenRefused()
	}
	if c.AllowSources != nil && !SourceAllowed(c.AllowSources, info) {
		return SourceNotAllowed()
	}
	return nil
}
