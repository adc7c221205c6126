package castellan

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Session is a signed-in console session of a user. The browser holds a
// random secret in a cookie; the store keeps its SHA-256 only, and the
// session is known everywhere else by its public ID.
type Session struct {
	// ID is public: lists, revocation and the audit log name it. It is
	// not the cookie's secret.
	ID             string       `json:"id"`
	OrganizationID string       `json:"organizationId"`
	UserID         string       `json:"userId"`
	State          SessionState `json:"state" enum:"mfa_pending,password_change,complete"`
	CreatedAt      time.Time    `json:"createdAt"`
	// LastSeenAt moves at most once a minute.
	LastSeenAt time.Time `json:"lastSeenAt"`
	// IdleTimeout ends the session when it has not been used for that
	// long; ExpiresAt ends it whatever its use.
	IdleTimeout time.Duration `json:"-"`
	ExpiresAt   time.Time     `json:"expiresAt"`
	SourceIP    string        `json:"sourceIp" doc:"Address the session was signed in from."`
	UserAgent   string        `json:"userAgent"`
}

// SessionState is how far a sign-in has come. Only a complete session
// reaches the console; the others reach their step's page only.
type SessionState string

// Session states.
const (
	// SessionMFAPending: the password was right; a second factor (or its
	// enrolment, when required and missing) comes next.
	SessionMFAPending SessionState = "mfa_pending"
	// SessionPasswordChange: the user must choose a new password
	// (passwordResetRequired) before anything else.
	SessionPasswordChange SessionState = "password_change"
	// SessionComplete: signed in.
	SessionComplete SessionState = "complete"
)

// Live reports whether the session may still be used at now.
func (s *Session) Live(now time.Time) bool {
	return now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(s.IdleTimeout))
}

// SessionTokenPrefix starts every session cookie's secret.
const SessionTokenPrefix = "csts_"

// sessionTokenPattern is the prefix and 43 base64url characters (32
// random bytes).
var sessionTokenPattern = regexp.MustCompile(`^csts_[A-Za-z0-9_-]{43}$`)

// ValidSessionTokenSyntax reports whether s has the shape of a session
// secret; a malformed one is refused before any lookup.
func ValidSessionTokenSyntax(s string) bool { return sessionTokenPattern.MatchString(s) }

// SignInPolicy holds the console's sign-in settings, which the operator
// configures.
type SignInPolicy struct {
	// IdleTimeout and AbsoluteTimeout bound each new session.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// MaxFailures failed attempts (passwords and second factors) within
	// FailureWindow lock the account for LockoutPeriod.
	MaxFailures   int
	FailureWindow time.Duration
	LockoutPeriod time.Duration
}

// DefaultSignInPolicy is the policy when the operator sets none.
var DefaultSignInPolicy = SignInPolicy{
	IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
	MaxFailures: 5, FailureWindow: 15 * time.Minute, LockoutPeriod: 15 * time.Minute,
}

// SignIn is a console sign-in attempt.
type SignIn struct {
	// Organization is the organization's name or ID.
	Organization string
	// Login is the user's login ID or email, in any case.
	Login    string
	Password string
	Policy   SignInPolicy
}

// NewSession is a session just created with its secret, which exists
// nowhere else: the cookie gets it, the store keeps its hash.
type NewSession struct {
	Session *Session
	Token   string
}

// ConsoleIPAllowed reports whether the user may use the console from ip:
// always when its allow list is off, else when ip is in one of its
// addresses or CIDRs. An unparsable ip is never allowed.
func (u *User) ConsoleIPAllowed(ip string) bool {
	if !u.UseConsolePermitIP {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, entry := range u.ConsolePermitIPs {
		if !strings.Contains(entry, "/") {
			if a, err := netip.ParseAddr(entry); err == nil && a.Unmap() == addr {
				return true
			}
			continue
		}
		if p, err := netip.ParsePrefix(entry); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// SessionService keeps console sessions and the sign-in rules: password
// check, lockout, the IP allow list at sign-in, password changes. Every
// method takes the organization; sessions of another are not found.
type SessionService interface {
	// VerifySignIn checks an attempt and returns its user, who may sign
	// in; it creates no session. Every path verifies one argon2id hash
	// (a dummy one for unknown users) so that timing tells nothing.
	// Failures of a known organization are audited, wrong passwords count
	// towards the lockout, and so do attempts from an address outside the
	// user's console IP allow list. An attempt is counted before its
	// password is verified, atomically with the lock check, so that
	// parallel attempts verify no more wrong passwords than the policy
	// allows; the rest are refused as locked. Returns EUNAUTHENTICATED
	// (auth.sign_in_failed) for every failure, the refused address
	// included.
	VerifySignIn(ctx context.Context, in SignIn) (*User, error)
	// FindSignInFederation returns the federation a sign-in names by its
	// ID, or by an email whose domain exactly one federation of the
	// installation allows, with its opened client secret. Returns
	// ENOTFOUND (federation.not_found).
	FindSignInFederation(ctx context.Context, ref string) (*FederationClient, error)
	// SignInFederated returns the user an identity provider's verified
	// token names, who may sign in; it creates no session. The user is
	// the federation's by subject; else one added by email and not yet
	// bound, which the subject then binds; else, with autoProvision, a
	// new one. The groups of the federation's mappings follow the
	// token's groups. Refusals are audited (the SSO* reasons and those
	// of password sign-in) and return EUNAUTHENTICATED
	// (auth.sign_in_failed).
	SignInFederated(ctx context.Context, id FederatedIdentity) (*User, error)
	// RefuseFederatedSignIn audits a single sign-on of the federation
	// refused before any user was known (a token that failed
	// verification: reason is one of the SSO* reasons, detail says more)
	// and returns EUNAUTHENTICATED (auth.sign_in_failed), or ENOTFOUND
	// for a federation that is gone.
	RefuseFederatedSignIn(ctx context.Context, federationID, reason, detail string) error
	// CreateSession starts a session of a user VerifySignIn returned, in
	// state. A complete session sets the user's last login and restarts
	// its failure count (a right password alone does not). Returns
	// ENOTFOUND (user.not_found) when the user is no longer active, and
	// EUNAUTHENTICATED (auth.sign_in_failed), audited, when the account
	// was locked since its password was verified.
	CreateSession(ctx context.Context, orgID, userID string, state SessionState, userAgent string, policy SignInPolicy) (*NewSession, error)
	// AuthenticateSession returns the live session of a secret and its
	// user, and notes its use (at most once a minute, not audited).
	// Returns EUNAUTHENTICATED (auth.session_invalid) for an unknown,
	// expired or revoked session, or a user that is not active or has no
	// console access.
	AuthenticateSession(ctx context.Context, token string) (*Session, *User, error)
	// AdvanceSession moves a session to its next state; reaching
	// complete does what a complete CreateSession does. Returns ENOTFOUND
	// (session.not_found).
	AdvanceSession(ctx context.Context, orgID, sessionID string, state SessionState) error
	// RecordMFAFailure counts a wrong second factor (a wrong code at
	// enrolment; VerifyMFA counts its own) towards the lockout and audits
	// it; a lockout ends the user's unfinished sessions.
	// It reports whether the account is now locked.
	RecordMFAFailure(ctx context.Context, orgID, userID string, policy SignInPolicy) (bool, error)
	// ChangePassword sets a new password (policy checked: EINVALID
	// user.unsafe_password, user.same_password), clears
	// passwordResetRequired and revokes the user's other sessions; a
	// session waiting for the change becomes complete. With
	// requireCurrent, current must be the password: else
	// EUNAUTHENTICATED (auth.wrong_password), counted like a failed
	// sign-in; while the account is locked every current password gets
	// that answer, and the failure that locks the account also ends
	// sessionID.
	ChangePassword(ctx context.Context, orgID, userID, sessionID, current, next string, requireCurrent bool, policy SignInPolicy) error
	// SignInKey returns the server's key for the console sign-in form's
	// tokens: 32 random bytes, made on first use, the same for every
	// replica of the store.
	SignInKey(ctx context.Context) ([]byte, error)
	// FindSessions lists the user's live sessions, newest first.
	FindSessions(ctx context.Context, orgID, userID string) ([]*Session, error)
	// RevokeSession ends one session of the user. Returns ENOTFOUND
	// (session.not_found).
	RevokeSession(ctx context.Context, orgID, userID, sessionID string) (int64, error)
	// RevokeOtherSessions ends every session of the user but keep.
	RevokeOtherSessions(ctx context.Context, orgID, userID, keep string) (int64, error)
	// SignOut ends the session, audited as a sign-out. Returns ENOTFOUND
	// (session.not_found).
	SignOut(ctx context.Context, orgID, sessionID string) error
	// DeleteExpiredSessions removes the sessions past their absolute
	// expiry and returns how many. They had ended already, so this is
	// housekeeping, not audited; a session that ended idle goes at its
	// absolute expiry at the latest.
	DeleteExpiredSessions(ctx context.Context) (int, error)
}
