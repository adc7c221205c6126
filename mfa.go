package castellan

import "context"

// TOTPSetup is a TOTP secret being enrolled: the user adds it to an
// authenticator app (by the otpauth URI, or the QR code of it) and proves
// it with a code before it counts.
type TOTPSetup struct {
	// Secret is the base32 shared secret, for typing in by hand.
	Secret string `json:"secret"`
	// URI is the otpauth://totp/… key URI (issuer Castellan, account the
	// user's login ID).
	URI string `json:"uri"`
	// QRCodePNG is a PNG image of URI.
	QRCodePNG []byte `json:"qrCodePng"`
}

// MFAStatus says whether a user has a second factor and whether one is
// required of it.
type MFAStatus struct {
	// Enrolled is true once a TOTP secret has been confirmed.
	Enrolled bool `json:"enrolled"`
	// Required is true when the user (mfaMandatory) or its organization
	// demands a second factor.
	Required bool `json:"required"`
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int `json:"recoveryCodesLeft"`
}

// RecoveryCodeCount is how many recovery codes an enrolment issues.
const RecoveryCodeCount = 10

// MFAService keeps the second factors of users: TOTP (RFC 6238) and
// single-use recovery codes. WebAuthn/passkeys would be another
// implementation of the same verify step (a Verifier per factor kind), not
// a change of this interface's callers.
type MFAService interface {
	// BeginTOTP creates a pending TOTP secret for an active user,
	// replacing any pending one; the confirmed one, if any, keeps working
	// until ConfirmTOTP replaces it. Returns ENOTFOUND (user.not_found) or
	// EPRECONDITION (auth.mfa_unavailable).
	BeginTOTP(ctx context.Context, orgID, userID string) (*TOTPSetup, error)
	// PendingTOTP returns the pending TOTP secret BeginTOTP created and
	// ConfirmTOTP has not yet confirmed, the same key again; it changes
	// nothing. Returns ENOTFOUND (user.not_found) or EPRECONDITION
	// (auth.mfa_no_pending_setup, or auth.mfa_unavailable when the user
	// is not active).
	PendingTOTP(ctx context.Context, orgID, userID string) (*TOTPSetup, error)
	// ConfirmTOTP checks a code of the pending secret and, when it is
	// right, makes that secret the user's factor and issues
	// RecoveryCodeCount recovery codes, returned this once and stored
	// hashed. password, when not empty, must be the user's current
	// password, checked first: a wrong one is refused (EFORBIDDEN
	// auth.wrong_password) and counts towards the lockout. The guarded
	// service requires it from a signed-in (complete) session, so that a
	// borrowed session cannot put its own factor on the account; at the
	// second-factor step of a sign-in the password was just given.
	// Returns ENOTFOUND (user.not_found), EUNAUTHENTICATED
	// (auth.mfa_failed) or EPRECONDITION (auth.mfa_no_pending_setup, or
	// auth.mfa_unavailable when the user is no longer an active local
	// user).
	ConfirmTOTP(ctx context.Context, orgID, userID, code, password string) ([]string, error)
	// VerifyMFA is the second step of the console sign-in of sessionID:
	// it accepts a TOTP code of the confirmed secret (the current time
	// step or one either side) whose step is newer than the last one
	// accepted, or an unused recovery code, which it uses up.
	//
	// Verifying and counting a failure are one write transaction with
	// the lockout, so that concurrent attempts get no more guesses than
	// policy.MaxFailures: it refuses when sessionID is no longer a
	// session of the user in state mfa_pending (EUNAUTHENTICATED
	// auth.session_invalid, nothing written) and when the account is
	// locked (EUNAUTHENTICATED auth.sign_in_failed, audited, the code not
	// checked). Anything else but a right code, a replayed one included,
	// is recorded and audited as a failed sign-in and counts towards the
	// lockout; it returns EUNAUTHENTICATED auth.mfa_failed, or
	// auth.sign_in_failed when that failure locked the account (which
	// ends the user's unfinished sessions, sessionID among them). Returns
	// EPRECONDITION (auth.mfa_not_enrolled) or ENOTFOUND (user.not_found).
	VerifyMFA(ctx context.Context, orgID, userID, sessionID, code string, policy SignInPolicy) error
	// MFAStatus reports the user's second factor. Returns ENOTFOUND
	// (user.not_found).
	MFAStatus(ctx context.Context, orgID, userID string) (*MFAStatus, error)
	// ResetMFA removes the user's secrets and recovery codes (an
	// administrator's action for a lost device); a user that must use MFA
	// enrols again at its next sign-in. It returns the revision of the
	// reset, or the current one when there was nothing to remove. Returns
	// ENOTFOUND (user.not_found).
	ResetMFA(ctx context.Context, orgID, userID string) (int64, error)
}
