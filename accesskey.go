package castellan

import (
	"context"
	"regexp"
	"time"
)

// AccessKey lets a program (or a person's script) call the API as a user
// or a service account of one project: its ID and secret exchange for a
// short-lived bearer token (POST /v1/tokens). The secret is shown once, at
// creation; the store keeps its SHA-256 only.
type AccessKey struct {
	// ID is the key ID, "CAK" and 20 base32 characters; it is not secret.
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	ProjectID      string `json:"projectId"`
	// ProjectName is read with the key, for lists; empty in a key just
	// created.
	ProjectName string     `json:"projectName,omitempty"`
	Owner       Subject    `json:"owner"`
	Name        string     `json:"name"`
	Status      string     `json:"status" enum:"enabled,disabled"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	CreatedBy   string     `json:"createdBy"`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty"`
	Revision    int64      `json:"revision"`
}

// Access key statuses.
const (
	AccessKeyEnabled  = "enabled"
	AccessKeyDisabled = "disabled"
)

// MaxAccessKeysPerProject is how many keys one principal may hold in one
// project, so that a key can be rotated (create the new, switch, delete
// the old) and no more pile up.
const MaxAccessKeysPerProject = 2

// AccessTokenLifetime is how long a token from an access key lives.
const AccessTokenLifetime = time.Hour

// Expired reports whether the key has expired at now.
func (k *AccessKey) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// NewAccessKey is a created key with its secret, the only time the secret
// leaves the store.
type NewAccessKey struct {
	AccessKey
	Secret string `json:"secret" doc:"The secret, shown once: store it now."`
}

var (
	accessKeyIDPattern     = regexp.MustCompile(`^CAK[A-Z2-7]{20}$`)
	accessKeySecretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

// ValidAccessKeyID reports whether s has the shape of a key ID.
func ValidAccessKeyID(s string) bool { return accessKeyIDPattern.MatchString(s) }

// ValidAccessKeySecret reports whether s has the shape of a secret (32
// random bytes, base64url without padding); a malformed one is refused
// before any lookup.
func ValidAccessKeySecret(s string) bool { return accessKeySecretPattern.MatchString(s) }

// MaxAccessKeyNameLength is the longest access key name.
const MaxAccessKeyNameLength = 100

// ValidateAccessKeyName checks a key name: 1–100 printable characters.
func ValidateAccessKeyName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxAccessKeyNameLength) {
		c.printable(field, name)
	}
	return c.fields
}

// AccessKeyCreate is the input of CreateAccessKey.
type AccessKeyCreate struct {
	Owner     Subject
	ProjectID string
	Name      string
	ExpiresAt *time.Time
}

// Validate checks the fields that need no store.
func (c *AccessKeyCreate) Validate() error {
	fields := ValidateAccessKeyName("name", c.Name)
	if c.Owner.Type != SubjectUser && c.Owner.Type != SubjectServiceAccount {
		fields = append(fields, FieldError{Field: "owner.type", Rule: "enum", Message: "must be user or serviceAccount"})
	}
	return Invalid(fields)
}

// AccessKeyUpdate changes the non-nil fields of a key.
type AccessKeyUpdate struct {
	Name   *string
	Status *string
}

// Validate checks the fields being changed.
func (u *AccessKeyUpdate) Validate() error {
	var fields []FieldError
	if u.Name != nil {
		fields = ValidateAccessKeyName("name", *u.Name)
	}
	if u.Status != nil && *u.Status != AccessKeyEnabled && *u.Status != AccessKeyDisabled {
		fields = append(fields, FieldError{Field: "status", Rule: "enum", Message: "must be enabled or disabled"})
	}
	return Invalid(fields)
}

// AccessKeyFilter selects the keys of an organization.
type AccessKeyFilter struct {
	// Owner, when set, keeps the keys of one principal.
	Owner *Subject
	// ProjectID, when set, keeps the keys of one project.
	ProjectID *string
	// Expired, when set, keeps the expired (true) or unexpired keys.
	Expired   *bool
	PageSize  int
	PageToken string
}

// AccessToken is a bearer token issued for an access key.
type AccessToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	TokenType string    `json:"tokenType"`
}

// TokenIntrospection is the RFC 7662 answer about a token. An inactive
// token carries nothing else.
type TokenIntrospection struct {
	Active        bool   `json:"active"`
	Subject       string `json:"sub,omitempty"`
	Organization  string `json:"org,omitempty"`
	PrincipalType string `json:"principal_type,omitempty"`
	KeyID         string `json:"key_id,omitempty"`
	ProjectID     string `json:"project_id,omitempty"`
	ExpiresAt     int64  `json:"exp,omitempty"`
	IssuedAt      int64  `json:"iat,omitempty"`
}

// AccessKeyService manages access keys and the tokens they exchange for.
type AccessKeyService interface {
	// CreateAccessKey creates an enabled key for an existing, active owner
	// in the project (a service account's own project only). Returns
	// EINVALID (an expiresAt not in the future: rule "future"), ENOTFOUND
	// (project.not_found, user.not_found, service_account.not_found),
	// EPRECONDITION (access_key.api_access_disabled) for a user whose
	// apiAccess is off, or ECONFLICT (access_key.limit_reached) when the
	// owner already has MaxAccessKeysPerProject unexpired keys there.
	// Turning a user's apiAccess off later keeps its keys: they and their
	// tokens are refused until it is turned on again.
	CreateAccessKey(ctx context.Context, orgID string, c AccessKeyCreate) (*NewAccessKey, error)
	// FindAccessKeyByID returns ENOTFOUND (access_key.not_found).
	FindAccessKeyByID(ctx context.Context, orgID, id string) (*AccessKey, error)
	// FindAccessKeys lists the keys of the organization, newest first.
	// Returns EINVALID (request.invalid_page_token).
	FindAccessKeys(ctx context.Context, orgID string, f AccessKeyFilter) ([]*AccessKey, string, error)
	// UpdateAccessKey renames, disables or enables a key; disabling it
	// refuses its tokens from the next request. Returns EINVALID or
	// ENOTFOUND (access_key.not_found).
	UpdateAccessKey(ctx context.Context, orgID, id string, u AccessKeyUpdate) (*AccessKey, error)
	// DeleteAccessKey deletes the key and its tokens. Returns ENOTFOUND
	// (access_key.not_found).
	DeleteAccessKey(ctx context.Context, orgID, id string) (int64, error)
	// ExchangeAccessKey issues a token for a key ID and secret. Every
	// failure (unknown key, wrong secret, disabled or expired key, owner
	// gone, inactive or without API access) is the same EUNAUTHENTICATED
	// (auth.unauthenticated). A right secret presented from outside the
	// owner's API allow sources (RequestInfoFrom(ctx)) is EFORBIDDEN
	// (auth.source_not_allowed).
	ExchangeAccessKey(ctx context.Context, keyID, secret string) (*AccessToken, error)
	// NoteKeysUsed sets the lastUsedAt of each key to its time in used,
	// unless it is already later; unknown keys are skipped. It is
	// bookkeeping: no revision, no audit event, no change-log row.
	NoteKeysUsed(ctx context.Context, used map[string]time.Time) error
	// IntrospectToken describes a token issued for an access key; any
	// other token, or one that would be refused, is inactive.
	IntrospectToken(ctx context.Context, token string) (*TokenIntrospection, error)
	// VerifyAccessKeySignature authenticates a request signed with a
	// key's secret: signature must be the standard base64 of
	// HMAC-SHA256(secret, message), compared in constant time. The
	// secret comes from its sealed copy (SecretSealer): keys created
	// without one cannot sign. It returns the principal a token of the
	// key would stand for. Every failure (unknown key, no sealed secret,
	// wrong signature, disabled or expired key, owner gone, inactive or
	// without API access) is the same EUNAUTHENTICATED
	// (auth.unauthenticated); a right signature from outside the owner's
	// API allow sources is EFORBIDDEN (auth.source_not_allowed).
	VerifyAccessKeySignature(ctx context.Context, keyID string, message []byte, signature string) (Principal, error)
}

// SecretSealer keeps the secrets that must be read back (an access key's,
// to verify signatures) sealed under an operator's key-encryption key:
// AES-256-GCM, with the key's ID stored beside each sealed secret so that
// the operator can rotate keys. aad binds a sealed secret to its row (the
// access key ID), so that sealed values cannot be swapped between rows.
type SecretSealer interface {
	// Seal returns the ID of the key it used (the current one) and the
	// nonce and ciphertext.
	Seal(plaintext, aad []byte) (keyID string, sealed []byte, err error)
	// Open returns the plaintext; an unknown key ID or a sealed value
	// that does not authenticate is an error.
	Open(keyID string, sealed, aad []byte) ([]byte, error)
	// CurrentKeyID is the key Seal uses.
	CurrentKeyID() string
}
