package castellan

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Federation is an OpenID Connect identity provider of one organization:
// its federated users sign in there instead of with a password. Its ID is
// the "federation ID" users type at sign-in (seed 003). The client secret
// is write-only: it is sealed in the store and never returned.
type Federation struct {
	ID             string `json:"id" doc:"The federation ID users give at sign-in."`
	OrganizationID string `json:"organizationId"`
	Name           string `json:"name" doc:"Unique in the organization, case-insensitively."`
	Description    string `json:"description"`
	Issuer         string `json:"issuer" doc:"The provider's issuer URL; its discovery document is at <issuer>/.well-known/openid-configuration."`
	ClientID       string `json:"clientId"`
	// HasClientSecret tells whether a secret is set; the secret itself is
	// never returned.
	HasClientSecret bool     `json:"hasClientSecret"`
	Scopes          []string `json:"scopes" nullable:"false" doc:"Scopes asked for; openid is always among them."`
	EmailClaim      string   `json:"emailClaim" doc:"The ID token claim holding the user's email."`
	NameClaim       string   `json:"nameClaim" doc:"The claim holding the user's display name."`
	GroupsClaim     string   `json:"groupsClaim" doc:"The claim holding the user's groups, for groupMappings."`
	AllowedDomains  []string `json:"allowedDomains" nullable:"false" doc:"Email domains this federation's users may have; empty: any."`
	AutoProvision   bool     `json:"autoProvision" doc:"Create a user at its first sign-in; otherwise an administrator adds it first."`
	MFAByIdP        bool     `json:"mfaByIdp" doc:"The provider's sign-in stands for the second factor; otherwise Castellan's TOTP applies as for local users."`
	TrustEmail      bool     `json:"trustEmail" doc:"The provider vouches for every email it issues (Entra ID sends no email_verified): its email claim binds added users and provisions new ones. Otherwise only email_verified true does, and only for the email claim."`
	// GroupMappings put the users whose groups claim holds a value in a
	// Castellan group, and take them out when it no longer does, at each
	// sign-in.
	GroupMappings []GroupMapping `json:"groupMappings" nullable:"false"`
	CreatedAt     time.Time      `json:"createdAt"`
	CreatedBy     string         `json:"createdBy"`
	UpdatedAt     time.Time      `json:"updatedAt"`
	UpdatedBy     string         `json:"updatedBy"`
	Revision      int64          `json:"revision"`
}

// GroupMapping maps one value of the groups claim to a group of the
// organization.
type GroupMapping struct {
	Claim   string `json:"claim" doc:"A value of the groups claim."`
	GroupID string `json:"groupId"`
}

// Federation limits.
const (
	MaxFederationNameLength   = 100
	MaxIssuerLength           = 512
	MaxClientIDLength         = 255
	MaxClientSecretLength     = 1024
	MaxFederationScopes       = 20
	MaxAllowedDomains         = 50
	MaxGroupMappings          = 100
	MaxGroupMappingClaimValue = 255
	// MaxClaimNameLength bounds the names of the claims.
	MaxClaimNameLength = 100
)

// Default claim names.
const (
	DefaultEmailClaim  = "email"
	DefaultNameClaim   = "name"
	DefaultGroupsClaim = "groups"
)

var (
	// scopePattern is RFC 6749's scope-token.
	scopePattern = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,100}$`)
	// claimPattern names a claim of an ID token.
	claimPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,100}$`)
	// clientIDPattern is printable ASCII without spaces.
	clientIDPattern = regexp.MustCompile(`^[\x21-\x7E]+$`)
	domainPattern   = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// ValidateFederationName checks a federation name: 1–100 printable
// characters without surrounding white space.
func ValidateFederationName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxFederationNameLength) {
		c.printable(field, name)
	}
	return c.fields
}

// ValidateIssuer checks an issuer URL: https, with a host, no query or
// fragment. Plain http is accepted for a loopback host only (127.0.0.1,
// ::1, localhost), for a provider on the same machine in development.
func ValidateIssuer(field, issuer string) []FieldError {
	var c fieldChecker
	if !c.length(field, issuer, 1, MaxIssuerLength) {
		return c.fields
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		c.add(field, "format", "must be a URL like https://idp.example.com with no query or fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
	default:
		c.add(field, "https", "must use https (plain http only for a provider on 127.0.0.1, ::1 or localhost)")
	}
	return c.fields
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FederationCreate is the input of CreateFederation. Empty claim names
// take their defaults; Scopes always gain openid.
type FederationCreate struct {
	Name           string
	Description    string
	Issuer         string
	ClientID       string
	ClientSecret   string
	Scopes         []string
	EmailClaim     string
	NameClaim      string
	GroupsClaim    string
	AllowedDomains []string
	AutoProvision  bool
	MFAByIdP       bool
	TrustEmail     bool
	GroupMappings  []GroupMapping
}

// Normalize fills the defaults: the claims' names, openid among the
// scopes (first), domains in lower case.
func (fc *FederationCreate) Normalize() {
	fc.EmailClaim = cmp.Or(fc.EmailClaim, DefaultEmailClaim)
	fc.NameClaim = cmp.Or(fc.NameClaim, DefaultNameClaim)
	fc.GroupsClaim = cmp.Or(fc.GroupsClaim, DefaultGroupsClaim)
	fc.Scopes = normalScopes(fc.Scopes)
	fc.AllowedDomains = lowerAll(fc.AllowedDomains)
}

// normalScopes puts openid first and drops repeats.
func normalScopes(scopes []string) []string {
	out := []string{"openid"}
	for _, s := range scopes {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func lowerAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}

// Validate checks every field as given (before Normalize) and reports
// all failures at once.
func (fc *FederationCreate) Validate() error {
	fields := ValidateFederationName("name", fc.Name)
	fields = append(fields, ValidateDescription("description", fc.Description)...)
	fields = append(fields, ValidateIssuer("issuer", fc.Issuer)...)
	fields = append(fields, validateClientID("clientId", fc.ClientID)...)
	fields = append(fields, validateClientSecret("clientSecret", fc.ClientSecret)...)
	fields = append(fields, validateScopes("scopes", fc.Scopes)...)
	for _, claim := range []struct{ field, value, def string }{
		{"emailClaim", fc.EmailClaim, DefaultEmailClaim}, {"nameClaim", fc.NameClaim, DefaultNameClaim},
		{"groupsClaim", fc.GroupsClaim, DefaultGroupsClaim},
	} {
		fields = append(fields, validateClaim(claim.field, cmp.Or(claim.value, claim.def))...)
	}
	fields = append(fields, validateDomains("allowedDomains", fc.AllowedDomains)...)
	fields = append(fields, validateGroupMappings("groupMappings", fc.GroupMappings)...)
	fields = append(fields, provisionFields(fc.AutoProvision, fc.AllowedDomains)...)
	return Invalid(fields)
}

// provisionFields refuses provisioning with no allowed domain: with a
// public provider, anyone in the world could make themselves a user.
func provisionFields(autoProvision bool, domains []string) []FieldError {
	if autoProvision && len(domains) == 0 {
		return []FieldError{{Field: "allowedDomains", Rule: "required", Message: "must list at least one domain when autoProvision is on"}}
	}
	return nil
}

// Check checks the rules between the fields of a federation as an update
// leaves it. Returns EINVALID.
func (f *Federation) Check() error {
	return Invalid(provisionFields(f.AutoProvision, f.AllowedDomains))
}

// ChangesSignIn reports whether the update changes who may sign in
// through the federation, or how: its provider, client, claims, domains,
// provisioning, second factor, email trust or group mappings. Such a
// change can hand the federation's users to another provider, so it is
// an owner's (see the guard).
func (u *FederationUpdate) ChangesSignIn() bool {
	return u.Issuer != nil || u.ClientID != nil || u.ClientSecret != nil || u.EmailClaim != nil || u.GroupsClaim != nil ||
		u.AllowedDomains != nil || u.AutoProvision != nil || u.MFAByIdP != nil || u.TrustEmail != nil || u.GroupMappings != nil || u.Scopes != nil
}

func validateClientID(field, id string) []FieldError {
	var c fieldChecker
	if c.length(field, id, 1, MaxClientIDLength) {
		c.match(field, id, clientIDPattern, "must be printable ASCII without spaces")
	}
	return c.fields
}

func validateClientSecret(field, secret string) []FieldError {
	var c fieldChecker
	if c.length(field, secret, 0, MaxClientSecretLength) && secret != "" {
		c.match(field, secret, clientIDPattern, "must be printable ASCII without spaces")
	}
	return c.fields
}

func validateScopes(field string, scopes []string) []FieldError {
	var c fieldChecker
	if len(scopes) > MaxFederationScopes {
		c.add(field, "maxItems", "must list at most %d scopes", MaxFederationScopes)
		return c.fields
	}
	for i, s := range scopes {
		c.match(fmt.Sprintf("%s[%d]", field, i), s, scopePattern, "must be a scope of 1–100 printable characters without spaces, quotes or backslashes")
	}
	return c.fields
}

func validateClaim(field, claim string) []FieldError {
	var c fieldChecker
	c.match(field, claim, claimPattern, "must be a claim name of 1–100 letters, digits and _ . : / -")
	return c.fields
}

func validateDomains(field string, domains []string) []FieldError {
	var c fieldChecker
	if len(domains) > MaxAllowedDomains {
		c.add(field, "maxItems", "must list at most %d domains", MaxAllowedDomains)
		return c.fields
	}
	for i, d := range domains {
		if len(d) > 253 || !domainPattern.MatchString(strings.ToLower(d)) {
			c.add(fmt.Sprintf("%s[%d]", field, i), "format", "must be a domain name like example.com")
		}
	}
	return c.fields
}

func validateGroupMappings(field string, mappings []GroupMapping) []FieldError {
	var c fieldChecker
	if len(mappings) > MaxGroupMappings {
		c.add(field, "maxItems", "must list at most %d mappings", MaxGroupMappings)
		return c.fields
	}
	for i, m := range mappings {
		item := fmt.Sprintf("%s[%d]", field, i)
		if c.length(item+".claim", m.Claim, 1, MaxGroupMappingClaimValue) {
			c.printable(item+".claim", m.Claim)
		}
		c.fields = append(c.fields, checkIDField(item+".groupId", m.GroupID)...)
	}
	return c.fields
}

// FederationUpdate changes the non-nil fields of a federation. An empty
// ClientSecret removes the secret (a public client, with PKCE only).
type FederationUpdate struct {
	Name           *string
	Description    *string
	Issuer         *string
	ClientID       *string
	ClientSecret   *string
	Scopes         *[]string
	EmailClaim     *string
	NameClaim      *string
	GroupsClaim    *string
	AllowedDomains *[]string
	AutoProvision  *bool
	MFAByIdP       *bool
	TrustEmail     *bool
	GroupMappings  *[]GroupMapping
}

// Apply changes f as the update says, normalizing as FederationCreate
// does, and reports whether anything changed (a new secret always
// does).
func (u *FederationUpdate) Apply(f *Federation) bool {
	before := *f
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.Name, u.Name)
	set(&f.Description, u.Description)
	set(&f.Issuer, u.Issuer)
	set(&f.ClientID, u.ClientID)
	set(&f.EmailClaim, u.EmailClaim)
	set(&f.NameClaim, u.NameClaim)
	set(&f.GroupsClaim, u.GroupsClaim)
	if u.Scopes != nil {
		f.Scopes = normalScopes(*u.Scopes)
	}
	if u.AllowedDomains != nil {
		f.AllowedDomains = lowerAll(*u.AllowedDomains)
	}
	if u.AutoProvision != nil {
		f.AutoProvision = *u.AutoProvision
	}
	if u.MFAByIdP != nil {
		f.MFAByIdP = *u.MFAByIdP
	}
	if u.TrustEmail != nil {
		f.TrustEmail = *u.TrustEmail
	}
	if u.GroupMappings != nil {
		f.GroupMappings = slices.Clone(*u.GroupMappings)
	}
	if u.ClientSecret != nil {
		f.HasClientSecret = *u.ClientSecret != ""
	}
	return u.ClientSecret != nil || !reflect.DeepEqual(before, *f)
}

// Validate checks the fields being changed.
func (u *FederationUpdate) Validate() error {
	var fields []FieldError
	check := func(field string, v *string, fn func(string, string) []FieldError) {
		if v != nil {
			fields = append(fields, fn(field, *v)...)
		}
	}
	check("name", u.Name, ValidateFederationName)
	check("description", u.Description, ValidateDescription)
	check("issuer", u.Issuer, ValidateIssuer)
	check("clientId", u.ClientID, validateClientID)
	check("clientSecret", u.ClientSecret, validateClientSecret)
	check("emailClaim", u.EmailClaim, validateClaim)
	check("nameClaim", u.NameClaim, validateClaim)
	check("groupsClaim", u.GroupsClaim, validateClaim)
	if u.Scopes != nil {
		fields = append(fields, validateScopes("scopes", *u.Scopes)...)
	}
	if u.AllowedDomains != nil {
		fields = append(fields, validateDomains("allowedDomains", *u.AllowedDomains)...)
	}
	if u.GroupMappings != nil {
		fields = append(fields, validateGroupMappings("groupMappings", *u.GroupMappings)...)
	}
	return Invalid(fields)
}

// AllowsEmail reports whether a user with email may belong to the
// federation: any email when AllowedDomains is empty, else one whose
// domain is listed.
func (f *Federation) AllowsEmail(email string) bool {
	if len(f.AllowedDomains) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	return at >= 0 && slices.Contains(f.AllowedDomains, strings.ToLower(email[at+1:]))
}

// FederationFilter selects federations of one organization.
type FederationFilter struct {
	PageSize  int
	PageToken string
}

// FederationService manages the identity federations of organizations.
// Every method takes the organization; a federation of another one is not
// found.
type FederationService interface {
	// FindFederationByID returns ENOTFOUND (federation.not_found).
	FindFederationByID(ctx context.Context, orgID, id string) (*Federation, error)
	// FindFederations lists the organization's federations by name.
	FindFederations(ctx context.Context, orgID string, filter FederationFilter) ([]*Federation, string, error)
	// CreateFederation returns EINVALID (a client secret on a store
	// without a key-encryption key: federation.secret_not_sealable),
	// ENOTFOUND (group.not_found for a mapping's group) or ECONFLICT
	// (federation.name_taken).
	CreateFederation(ctx context.Context, orgID string, fc FederationCreate) (*Federation, error)
	// UpdateFederation returns what CreateFederation does and ENOTFOUND
	// (federation.not_found). An update that changes nothing writes
	// nothing.
	UpdateFederation(ctx context.Context, orgID, id string, upd FederationUpdate) (*Federation, error)
	// DeleteFederation returns EPRECONDITION (federation.in_use) while
	// users that are not deleted belong to it: they would have no way to
	// sign in. Returns ENOTFOUND (federation.not_found).
	DeleteFederation(ctx context.Context, orgID, id string) (int64, error)
}

// FederationClient is what the sign-in flow needs of a federation: the
// provider's settings and the opened client secret ("" for a public
// client).
type FederationClient struct {
	Federation   *Federation
	ClientSecret string
}

// FederatedIdentity is a user as an identity provider's verified ID
// token describes it.
type FederatedIdentity struct {
	FederationID string
	// Subject is the token's sub: the user at the provider, for good.
	Subject string
	Email   string
	// EmailVerified is false only when the token says email_verified:
	// false; such an email binds no user and provisions none.
	EmailVerified bool
	Name          string
	Groups        []string
	// Policy is the sign-in policy the refusals count under.
	Policy SignInPolicy
}

// Reasons a single sign-on is refused, as the audit events name them,
// beside the ones of password sign-in (locked, user_not_active,
// no_console_access, ip_not_allowed).
const (
	SSOProviderError   = "sso_provider_error"
	SSOStateMismatch   = "sso_state_mismatch"
	SSOIssuerMismatch  = "sso_issuer_mismatch"
	SSOTokenInvalid    = "sso_token_invalid"
	SSOTokenExpired    = "sso_token_expired"
	SSOWrongAudience   = "sso_wrong_audience"
	SSOWrongNonce      = "sso_wrong_nonce"
	SSODomainNotAllow  = "sso_domain_not_allowed"
	SSOUserNotAdded    = "sso_user_not_added"
	SSOUserDeleted     = "sso_user_deleted"
	SSOEmailTaken      = "sso_email_taken"
	SSONoEmail         = "sso_no_email"
	SSOEmailUnverified = "sso_email_unverified"
)
