package sqlstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// MFAService implements castellan.MFAService with TOTP and recovery codes.
//
// The TOTP secret is stored in the clear (user_totp): checking a code
// means computing it from the secret, so it cannot be hashed the way
// passwords, tokens and recovery codes are. Reading the table is enough to
// compute codes; the password is still needed besides.
//
// Replay: each factor keeps the last time step it accepted, and a code is
// accepted only for a newer step, by a conditional UPDATE in the write
// transaction, so of concurrent verifications of one code exactly one
// succeeds, and after a code of one step no code of that or an earlier
// step works.
type MFAService struct{ db *DB }

var _ castellan.MFAService = (*MFAService)(nil)

// MFA returns the second-factor service of db.
func (db *DB) MFA() *MFAService { return &MFAService{db: db} }

// TOTP parameters: what every authenticator app assumes (RFC 6238's
// defaults); the key URI states them all the same.
const (
	totpIssuer = "Castellan"
	totpPeriod = 30
	// totpSkew is how many steps either side of the current one a code
	// may be of, for clocks that drift and codes typed late.
	totpSkew = 1
	// qrCodeSize is the width and height of the QR code in pixels.
	qrCodeSize = 256
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// mfaEntity is the change-log entity type of a user's second factors; its
// ID is the user's.
const mfaEntity = "user_mfa"

// mfaUser is what the service reads of a user.
type mfaUser struct {
	id, loginID, status string
}

// lockMFAUser reads a user of the organization that is not deleted and
// keeps it from being deleted until tx ends. Users of other organizations
// are not found.
func lockMFAUser(ctx context.Context, tx *Tx, orgID, userID string) (*mfaUser, error) {
	u := mfaUser{id: userID}
	err := tx.queryRow(ctx, `SELECT login_id, status FROM users WHERE org_id = ? AND id = ? AND status <> ?`+tx.db.dialect.lockKey,
		orgID, userID, castellan.UserDeleted).Scan(&u.loginID, &u.status)
	if isNoRows(err) {
		return nil, notFound(castellan.CodeUserNotFound, "user", userID)
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// canEnrol refuses users that cannot sign in: disabled and invited
// ones. Federated users enrol too: their federation may leave the second
// factor to Castellan (mfaByIdp false).
func (u *mfaUser) canEnrol() error {
	if u.status != castellan.UserActive {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeMFAUnavailable,
			"user %s is not an active user: only those enrol a second factor", u.id)
	}
	return nil
}

func (u *mfaUser) change(orgID string, action castellan.Action, operation string, summary map[string]any) change {
	return change{orgID: orgID, action: action, entityType: mfaEntity, entityID: u.id, entityName: u.loginID, operation: operation, summary: summary}
}

// BeginTOTP implements castellan.MFAService.
func (s *MFAService) BeginTOTP(ctx context.Context, orgID, userID string) (*castellan.TOTPSetup, error) {
	var key *otp.Key
	err := s.db.update(ctx, func(tx *Tx) error {
		u, err := lockMFAUser(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if err := u.canEnrol(); err != nil {
			return err
		}
		key, err = totpKey(u.loginID, nil)
		if err != nil {
			return fmt.Errorf("generate TOTP secret: %w", err)
		}
		_, err = tx.exec(ctx, `INSERT INTO user_totp (user_id, pending_secret, pending_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET pending_secret = excluded.pending_secret, pending_at = excluded.pending_at`,
			userID, key.Secret(), tx.now)
		if err != nil {
			return fmt.Errorf("store pending TOTP secret: %w", err)
		}
		_, err = tx.record(ctx, u.change(orgID, castellan.ActionBeginTOTPEnrolment, "update", nil))
		return err
	})
	if err != nil {
		return nil, err
	}
	// The QR code is drawn after the commit, outside the writer's lock.
	return totpSetup(key)
}

// totpKey is the key of secret (a new random one when nil) for the
// account loginID.
func totpKey(loginID string, secret []byte) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{
		Issuer: totpIssuer, AccountName: loginID, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Secret: secret,
	})
}

// PendingTOTP implements castellan.MFAService. It only reads.
func (s *MFAService) PendingTOTP(ctx context.Context, orgID, userID string) (*castellan.TOTPSetup, error) {
	u := mfaUser{id: userID}
	var pending sql.NullString
	err := s.db.queryRow(ctx, `SELECT u.login_id, u.status, t.pending_secret FROM users u LEFT JOIN user_totp t ON t.user_id = u.id
		WHERE u.org_id = ? AND u.id = ? AND u.status <> ?`, orgID, userID, castellan.UserDeleted).Scan(&u.loginID, &u.status, &pending)
	if isNoRows(err) {
		return nil, notFound(castellan.CodeUserNotFound, "user", userID)
	}
	if err != nil {
		return nil, err
	}
	if err := u.canEnrol(); err != nil {
		return nil, err
	}
	if !pending.Valid {
		return nil, castellan.Errorf(castellan.EPRECONDITION, castellan.CodeMFANoPendingSetup, "no TOTP enrolment is in progress: begin one first")
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(pending.String)
	if err != nil {
		return nil, fmt.Errorf("read pending TOTP secret: %w", err)
	}
	key, err := totpKey(u.loginID, secret)
	if err != nil {
		return nil, fmt.Errorf("TOTP key: %w", err)
	}
	return totpSetup(key)
}

// totpSetup is key with its QR code.
func totpSetup(key *otp.Key) (*castellan.TOTPSetup, error) {
	img, err := key.Image(qrCodeSize, qrCodeSize)
	if err != nil {
		return nil, fmt.Errorf("draw TOTP QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("encode TOTP QR code: %w", err)
	}
	return &castellan.TOTPSetup{Secret: key.Secret(), URI: key.URL(), QRCodePNG: qr.Bytes()}, nil
}

// ConfirmTOTP implements castellan.MFAService. The step of the confirming
// code becomes the last accepted one, so the same code does not then pass
// VerifyMFA.
func (s *MFAService) ConfirmTOTP(ctx context.Context, orgID, userID, code, password string) ([]string, error) {
	if password != "" {
		if err := s.db.confirmPassword(ctx, orgID, userID, password, "a new second factor"); err != nil {
			return nil, err
		}
	}
	var codes []string
	err := s.db.update(ctx, func(tx *Tx) error {
		u, err := lockMFAUser(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if err := u.canEnrol(); err != nil {
			return err
		}
		var pending, confirmed sql.NullString
		err = tx.queryRow(ctx, `SELECT pending_secret, secret FROM user_totp WHERE user_id = ?`, userID).Scan(&pending, &confirmed)
		if isNoRows(err) || err == nil && !pending.Valid {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeMFANoPendingSetup, "no TOTP enrolment is in progress: begin one first")
		}
		if err != nil {
			return fmt.Errorf("read TOTP enrolment: %w", err)
		}
		step, err := matchTOTP(pending.String, code, tx.now, 0)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE user_totp SET secret = pending_secret, last_step = ?, confirmed_at = ?, pending_secret = NULL, pending_at = NULL
			WHERE user_id = ?`, step, tx.now, userID)
		if err != nil {
			return fmt.Errorf("confirm TOTP secret: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM user_recovery_codes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("delete recovery codes: %w", err)
		}
		codes = make([]string, castellan.RecoveryCodeCount)
		rows := make([][]any, len(codes))
		for i := range codes {
			codes[i] = newRecoveryCode()
			rows[i] = []any{userID, hashRecoveryCode(codes[i])}
		}
		if err := tx.insertRows(ctx, `INSERT INTO user_recovery_codes (user_id, code_hash) VALUES `, rows); err != nil {
			return fmt.Errorf("insert recovery codes: %w", err)
		}
		_, err = tx.record(ctx, u.change(orgID, castellan.ActionConfirmTOTPEnrolment, "update",
			map[string]any{"replacedFactor": confirmed.Valid, "recoveryCodes": len(codes)}))
		return err
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// VerifyMFA implements castellan.MFAService. Six digits are a TOTP code;
// anything else is taken for a recovery code.
//
// A refusal is written in the same transaction as the check (writers are
// serialized), and that transaction commits: the error is returned after.
func (s *MFAService) VerifyMFA(ctx context.Context, orgID, userID, sessionID, code string, policy castellan.SignInPolicy) error {
	var refusal error
	err := s.db.update(ctx, func(tx *Tx) error {
		u, err := lockMFAUser(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		var state string
		err = tx.queryRow(ctx, `SELECT state FROM console_sessions WHERE org_id = ? AND id = ? AND user_id = ?`, orgID, sessionID, userID).Scan(&state)
		if isNoRows(err) || err == nil && state != string(castellan.SessionMFAPending) {
			return castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid, "the session is not waiting for a second factor")
		}
		if err != nil {
			return fmt.Errorf("read session: %w", err)
		}
		var lockedUntil sql.NullTime
		if err := tx.queryRow(ctx, `SELECT locked_until FROM users WHERE org_id = ? AND id = ?`, orgID, userID).Scan(&lockedUntil); err != nil {
			return err
		}
		if lockedUntil.Valid && tx.now.Before(lockedUntil.Time) {
			refusal = errSignInFailed
			_, err := recordFailureTx(ctx, tx, orgID, userID, u.loginID, failLocked, policy, sessionID)
			return err
		}
		err = s.verify(ctx, tx, u, orgID, userID, code)
		if castellan.ErrorCode(err) != castellan.CodeMFAFailed {
			return err
		}
		refusal = err
		locked, err := recordFailureTx(ctx, tx, orgID, userID, u.loginID, failWrongMFA, policy, sessionID)
		if locked {
			refusal = errSignInFailed
		}
		return err
	})
	if err != nil {
		return err
	}
	return refusal
}

// verify checks code against the user's factor and recovery codes.
func (s *MFAService) verify(ctx context.Context, tx *Tx, u *mfaUser, orgID, userID, code string) error {
	var secret sql.NullString
	var lastStep int64
	err := tx.queryRow(ctx, `SELECT secret, last_step FROM user_totp WHERE user_id = ?`, userID).Scan(&secret, &lastStep)
	if isNoRows(err) || err == nil && !secret.Valid {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeMFANotEnrolled, "user %s has no second factor", userID)
	}
	if err != nil {
		return fmt.Errorf("read TOTP factor: %w", err)
	}
	if isTOTPCode(code) {
		return verifyTOTP(ctx, tx, u, orgID, secret.String, lastStep, code)
	}
	return useRecoveryCode(ctx, tx, u, orgID, code)
}

// verifyTOTP accepts code when it is of a step newer than lastStep and
// moves the factor's last step to it.
func verifyTOTP(ctx context.Context, tx *Tx, u *mfaUser, orgID, secret string, lastStep int64, code string) error {
	step, err := matchTOTP(secret, code, tx.now, lastStep)
	if err != nil {
		return err
	}
	// The condition repeats the check, so that the step moves only forward
	// whatever else ran since the read.
	res, err := tx.exec(ctx, `UPDATE user_totp SET last_step = ? WHERE user_id = ? AND secret IS NOT NULL AND last_step < ?`, step, u.id, step)
	if err != nil {
		return fmt.Errorf("record TOTP step: %w", err)
	}
	if err := wantOneRow(res); err != nil {
		return err
	}
	_, err = tx.record(ctx, u.change(orgID, castellan.ActionVerifyMFA, "update", map[string]any{"factor": "totp"}))
	return err
}

// useRecoveryCode deletes the recovery code, if the user has it.
func useRecoveryCode(ctx context.Context, tx *Tx, u *mfaUser, orgID, code string) error {
	res, err := tx.exec(ctx, `DELETE FROM user_recovery_codes WHERE user_id = ? AND code_hash = ?`, u.id, hashRecoveryCode(code))
	if err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	if err := wantOneRow(res); err != nil {
		return err
	}
	var left int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM user_recovery_codes WHERE user_id = ?`, u.id).Scan(&left); err != nil {
		return fmt.Errorf("count recovery codes: %w", err)
	}
	_, err = tx.record(ctx, u.change(orgID, castellan.ActionUseRecoveryCode, "update", map[string]any{"factor": "recoveryCode", "recoveryCodesLeft": left}))
	return err
}

// MFAStatus implements castellan.MFAService.
func (s *MFAService) MFAStatus(ctx context.Context, orgID, userID string) (*castellan.MFAStatus, error) {
	var (
		st                      castellan.MFAStatus
		userMandate, orgMandate bool
		enrolled                int
	)
	err := s.db.queryRow(ctx, `SELECT u.mfa_mandatory, o.mfa_required,
			(SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.secret IS NOT NULL),
			(SELECT COUNT(*) FROM user_recovery_codes r WHERE r.user_id = u.id)
		FROM users u JOIN organizations o ON o.id = u.org_id
		WHERE u.org_id = ? AND u.id = ? AND u.status <> ?`, orgID, userID, castellan.UserDeleted).
		Scan(&userMandate, &orgMandate, &enrolled, &st.RecoveryCodesLeft)
	if isNoRows(err) {
		return nil, notFound(castellan.CodeUserNotFound, "user", userID)
	}
	if err != nil {
		return nil, err
	}
	st.Enrolled, st.Required = enrolled > 0, userMandate || orgMandate
	return &st, nil
}

// ResetMFA implements castellan.MFAService. A user with nothing to remove
// is left alone: no revision, no audit event.
func (s *MFAService) ResetMFA(ctx context.Context, orgID, userID string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		u, err := lockMFAUser(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		removed, err := deleteMFA(ctx, tx, userID)
		if err != nil {
			return err
		}
		if !removed.any() {
			rev = tx.unchangedRevision()
			return nil
		}
		rev, err = tx.record(ctx, u.change(orgID, castellan.ActionResetUserMFA, "delete",
			map[string]any{"factorRemoved": removed.factor, "pendingRemoved": removed.pending, "recoveryCodesRemoved": removed.recoveryCodes}))
		return err
	})
	return rev, err
}

// removedMFA is what deleteMFA removed.
type removedMFA struct {
	factor, pending bool
	recoveryCodes   int64
}

func (r removedMFA) any() bool { return r.factor || r.pending || r.recoveryCodes > 0 }

// deleteMFA removes a user's TOTP factor, pending enrolment and recovery
// codes.
func deleteMFA(ctx context.Context, tx *Tx, userID string) (removedMFA, error) {
	var r removedMFA
	var secret, pending sql.NullString
	err := tx.queryRow(ctx, `DELETE FROM user_totp WHERE user_id = ? RETURNING secret, pending_secret`, userID).Scan(&secret, &pending)
	if err != nil && !isNoRows(err) {
		return r, fmt.Errorf("delete TOTP factor: %w", err)
	}
	r.factor, r.pending = secret.Valid, pending.Valid
	res, err := tx.exec(ctx, `DELETE FROM user_recovery_codes WHERE user_id = ?`, userID)
	if err != nil {
		return r, fmt.Errorf("delete recovery codes: %w", err)
	}
	if r.recoveryCodes, err = res.RowsAffected(); err != nil {
		return r, fmt.Errorf("delete recovery codes: %w", err)
	}
	return r, nil
}

// wantOneRow returns nil when the conditional write res took effect, and
// the failed verification when it did not.
func wantOneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("verify MFA: %w", err)
	}
	if n != 1 {
		return errMFAFailed()
	}
	return nil
}

func errMFAFailed() error {
	return castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeMFAFailed, "the code is not valid")
}

// isTOTPCode reports whether code has the shape of a TOTP code: six ASCII
// digits.
func isTOTPCode(code string) bool {
	if len(code) != int(otp.DigitsSix) {
		return false
	}
	for _, c := range []byte(code) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// matchTOTP returns the step of code among the steps around now that are
// newer than after, or the failed verification. Every candidate is
// computed and compared in constant time, so that the time taken says
// nothing about which step, or how much of a code, was right; of two
// matching steps the newest wins.
func matchTOTP(secret, code string, now time.Time, after int64) (int64, error) {
	var step int64
	found := false
	current := now.Unix() / totpPeriod
	for s := current - totpSkew; s <= current+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, fmt.Errorf("compute TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > after {
			step, found = s, true
		}
	}
	if !found {
		return 0, errMFAFailed()
	}
	return step, nil
}

// recoveryCodeEncoding writes recovery codes in lower-case base32, which
// has no 0, 1, 8 or 9 to mistake for letters.
var recoveryCodeEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCode returns a code of 80 random bits as four groups of four
// characters, xxxx-xxxx-xxxx-xxxx. With that much entropy an unsalted
// SHA-256 is as safe to store as a token's.
func newRecoveryCode() string {
	var b [10]byte
	rand.Read(b[:])
	s := recoveryCodeEncoding.EncodeToString(b[:])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// hashRecoveryCode returns the stored form of a recovery code: the
// SHA-256 of it without case, hyphens or spaces, so that a code typed
// either way matches.
func hashRecoveryCode(code string) string {
	normal := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(code))
	return HashToken(normal)
}
