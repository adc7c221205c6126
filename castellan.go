// Package castellan is the domain of Castellan, an identity, access and
// organization service for cloud platforms: the entities, their validation,
// the service interfaces that stores implement, and the error vocabulary.
//
// It imports only the standard library. Storage lives in sqlstore, the HTTP
// API in api, and cmd/castellan wires them together.
package castellan

import (
	"context"
	"time"
)

// Clock returns the current time. Services take one so that tests can move
// time without sleeping; production code passes SystemClock.
type Clock func() time.Time

// SystemClock is the wall clock in UTC.
func SystemClock() time.Time { return time.Now().UTC() }

// PrincipalType says what kind of caller a Principal is.
type PrincipalType string

// Principal types.
const (
	// PrincipalOperator is the cloud operator: it manages organizations and
	// belongs to none.
	PrincipalOperator PrincipalType = "operator"
	// PrincipalUser is a user of one organization.
	PrincipalUser PrincipalType = "user"
	// PrincipalServiceAccount is a service account of one project of one
	// organization; it holds its own grants only, never a group's.
	PrincipalServiceAccount PrincipalType = "serviceAccount"
	// PrincipalSystem is Castellan itself (background work, bootstrap).
	PrincipalSystem PrincipalType = "system"
)

// Principal is an authenticated caller.
type Principal struct {
	Type PrincipalType `json:"type"`
	// ID is the user or service account ID, the operator token ID or
	// "castellan" for the system.
	ID string `json:"id"`
	// OrganizationID is empty for operators and the system.
	OrganizationID string `json:"organizationId,omitempty"`
	// KeyID is the access key whose token the caller presented, if any.
	KeyID string `json:"keyId,omitempty"`
	// ProjectID, set for a caller authenticated with an access key, is the
	// key's project: decisions on scopes inside any other project are
	// refused, whatever the caller's grants.
	ProjectID string `json:"projectId,omitempty"`
	// SessionID is the console session the caller signed in with, if any.
	SessionID string `json:"sessionId,omitempty"`
	// SCIMTokenID is the SCIM token the caller presented, if any: it acts
	// as its creator, over SCIM only.
	SCIMTokenID string `json:"scimTokenId,omitempty"`
	// PasswordVerified is set by the console on the principal of the one
	// request in which VerifySignIn accepted the user's password (or
	// SignInFederated its identity provider's verified token): only
	// such a principal (or the operator) starts a console session, so a
	// token or another session cannot mint one. Never read from a token, a
	// cookie or a request body.
	PasswordVerified bool `json:"-"`
}

// RequestInfo describes where a mutation comes from; it is copied into every
// audit event.
type RequestInfo struct {
	RequestID string
	// SourceIP is the client's address: the peer's, or, when the peer is
	// a trusted proxy, the one it forwarded.
	SourceIP string
	// VPC and VPCServer are where a request came from inside the cloud's
	// network, as a trusted gateway reports them; empty otherwise. API
	// allow sources of type VPC and VPC_SERVER match them.
	VPC       string
	VPCServer string
}

type principalKey struct{}
type requestInfoKey struct{}

// WithPrincipal returns a context carrying the authenticated caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller carried by ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithRequestInfo returns a context carrying the request's ID and source.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the request information carried by ctx; the zero
// value when there is none (background work).
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// Actor returns the principal recorded as the actor of a mutation made under
// ctx: the caller, or the system when there is none.
func Actor(ctx context.Context) Principal {
	if p, ok := PrincipalFrom(ctx); ok {
		return p
	}
	return Principal{Type: PrincipalSystem, ID: "castellan"}
}
