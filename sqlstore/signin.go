package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
)

// The sign-in rules of SessionService: checking an attempt, counting
// failures towards the lockout, changing a password.

// Reasons a sign-in fails, as the audit summary and sign_in_failures name
// them.
const (
	failUnknownUser     = "unknown_user"
	failNoPassword      = "no_password"
	failWrongPassword   = "wrong_password"
	failLocked          = "locked"
	failInactive        = "user_not_active"
	failNoConsole       = "no_console_access"
	failIPNotAllowed    = "ip_not_allowed"
	failWrongMFA        = "wrong_mfa_code"
	failCurrentPassword = "wrong_current_password"
	// attemptInFlight is not a failure but the reservation of an attempt
	// whose password is being verified; it counts towards the lockout's
	// threshold until settle replaces it.
	attemptInFlight = "attempt_in_flight"
)

// signInCandidate is the user a login names, with what the sign-in rules
// need.
type signInCandidate struct {
	id, loginID, status, hash string
	consoleAccess             bool
}

// VerifySignIn implements castellan.SessionService.
func (s *SessionService) VerifySignIn(ctx context.Context, in castellan.SignIn) (*castellan.User, error) {
	orgID, err := s.organizationID(ctx, in.Organization)
	if err != nil {
		return nil, err
	}
	var c *signInCandidate
	if orgID != "" {
		if c, err = s.candidate(ctx, orgID, in.Login); err != nil {
			return nil, err
		}
	}
	userID, login, hash := "", in.Login, ""
	if c != nil {
		userID, login, hash = c.id, c.loginID, c.hash
	}
	a, err := s.tryPassword(ctx, orgID, userID, login, hash, in.Password, in.Policy)
	if err != nil {
		return nil, err
	}
	if orgID == "" {
		return nil, errSignInFailed // no organization to audit in
	}
	reason := c.refusal(a)
	var u *castellan.User
	if reason == "" {
		if u, err = s.db.Users().FindUserByID(ctx, orgID, c.id, false); err != nil {
			return nil, err
		}
		// An address outside the allow list gets the one answer and
		// counts towards the lockout: a distinct answer would let anyone
		// confirm a stolen password from anywhere, for free.
		if !u.ConsoleIPAllowed(castellan.RequestInfoFrom(ctx).SourceIP) {
			reason = failIPNotAllowed
		}
	}
	refused, err := s.settle(ctx, a, orgID, userID, login, reason, in.Policy, "")
	if err != nil {
		return nil, err
	}
	if refused {
		return nil, errSignInFailed
	}
	return u, nil
}

// refusal is why the candidate c (nil for a login that names nobody) may
// not sign in after the attempt a, or "" when it may, as far as the
// password and the user's state go.
func (c *signInCandidate) refusal(a passwordAttempt) string {
	switch {
	case c == nil:
		return failUnknownUser
	case !a.admitted:
		return failLocked
	case c.hash == "":
		return failNoPassword
	case !a.right:
		return failWrongPassword
	case c.status != castellan.UserActive:
		return failInactive
	case !c.consoleAccess:
		return failNoConsole
	}
	return ""
}

// passwordAttempt is a password tried on a user, counted (reserved)
// before its verification.
type passwordAttempt struct {
	// id is the reservation's sign_in_failures row; "" when none was made.
	id string
	// admitted is false when the account was locked, or had as many
	// failures and attempts in flight as the policy allows: the password
	// was then not verified.
	admitted bool
	right    bool
}

// tryPassword verifies password against hash (the user's; "" when it has
// none) as an attempt on the user userID of the organization orgID.
//
// The attempt is counted before the slow verification, in one short
// transaction with the lock check: so parallel requests can verify no
// more wrong passwords than the policy allows, however many arrive at
// once. The caller ends the attempt with settle. Unknown organizations
// and users, and refused attempts, verify a dummy hash, so that every
// answer costs one verification.
func (s *SessionService) tryPassword(ctx context.Context, orgID, userID, login, hash, password string, policy castellan.SignInPolicy) (passwordAttempt, error) {
	var a passwordAttempt
	if orgID != "" {
		var err error
		if a, err = s.reserveAttempt(ctx, orgID, userID, login, policy); err != nil {
			return a, err
		}
	}
	if !a.admitted || hash == "" {
		dummy, err := s.dummy()
		if err != nil {
			return a, err
		}
		hash = dummy
	}
	right, err := s.db.passwords.Verify(hash, password)
	if err != nil {
		return a, fmt.Errorf("verify password: %w", err)
	}
	a.right = right && a.admitted
	return a, nil
}

// reserveAttempt counts an attempt on the user before its password is
// verified, unless the account is locked or its counted failures and
// attempts in flight within the window already reach policy.MaxFailures.
// The reservation is bookkeeping, not yet an audited change: settle
// audits the attempt's outcome and turns the reservation into a failure
// or removes it. A reservation that a crash leaves behind counts as a
// failure until the window passes it.
//
// For a login that names nobody (userID "") the queries run on no user,
// for the time they take, and nothing is reserved.
func (s *SessionService) reserveAttempt(ctx context.Context, orgID, userID, login string, policy castellan.SignInPolicy) (passwordAttempt, error) {
	var a passwordAttempt
	err := s.db.bookkeeping(ctx, func(tx *Tx) error {
		n, lockedUntil, err := countFailures(ctx, tx, orgID, userID, policy, true)
		if err != nil || userID == "" || locked(lockedUntil, tx.now) || n >= policy.MaxFailures {
			return err
		}
		a.id, a.admitted = newID(), true
		_, err = tx.exec(ctx, `INSERT INTO sign_in_failures (id, org_id, user_id, login_tried, reason, failed_at, source_ip)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, a.id, orgID, userID, cleanText(login, 254), attemptInFlight, tx.now, tx.info.SourceIP)
		if err != nil {
			return fmt.Errorf("reserve sign-in attempt: %w", err)
		}
		return nil
	})
	return a, err
}

// settle ends the attempt a with its outcome: reason "" when the user may
// go on, which removes the reservation unless the account was locked
// meanwhile (the lock is read again, under the user's row lock, so that
// nothing gets past a lock written while its password was verified);
// else, and then, the failure is recorded in place of the reservation.
// It reports whether the attempt was refused.
func (s *SessionService) settle(ctx context.Context, a passwordAttempt, orgID, userID, login, reason string, policy castellan.SignInPolicy, endSession string) (bool, error) {
	if reason == "" {
		isLocked := false
		err := s.db.bookkeeping(ctx, func(tx *Tx) error {
			var lockedUntil sql.NullTime
			err := tx.queryRow(ctx, `SELECT locked_until FROM users WHERE org_id = ? AND id = ?`+tx.db.dialect.lockExclusive, orgID, userID).Scan(&lockedUntil)
			if err != nil {
				return err
			}
			if isLocked = locked(lockedUntil, tx.now); isLocked {
				return nil
			}
			_, err = tx.exec(ctx, `DELETE FROM sign_in_failures WHERE org_id = ? AND id = ?`, orgID, a.id)
			return err
		})
		if err != nil || !isLocked {
			return false, err
		}
		reason = failLocked
	}
	_, err := s.recordFailure(ctx, orgID, userID, login, reason, policy, endSession, a.id)
	return true, err
}

// locked reports whether a lock until lockedUntil holds at now.
func locked(lockedUntil sql.NullTime, now time.Time) bool {
	return lockedUntil.Valid && now.Before(lockedUntil.Time)
}

// organizationID returns the ID of the organization named by its ID or
// its name; "" when there is none.
func (s *SessionService) organizationID(ctx context.Context, ref string) (string, error) {
	var id string
	err := s.db.queryRow(ctx, `SELECT id FROM organizations WHERE id = ?`, ref).Scan(&id)
	if isNoRows(err) {
		err = s.db.queryRow(ctx, `SELECT id FROM organizations WHERE name = ?`, ref).Scan(&id)
	}
	if isNoRows(err) {
		return "", nil
	}
	return id, err
}

// candidate returns the user whose login ID or email is login, the login
// ID first; nil when there is none.
func (s *SessionService) candidate(ctx context.Context, orgID, login string) (*signInCandidate, error) {
	var (
		c    signInCandidate
		hash sql.NullString
	)
	lower := strings.ToLower(login)
	err := s.db.queryRow(ctx, `SELECT id, login_id, status, console_access, password_hash FROM users
		WHERE org_id = ? AND status <> 'deleted' AND (login_id_lower = ? OR (email_lower = ? AND email_lower <> ''))
		ORDER BY CASE WHEN login_id_lower = ? THEN 0 ELSE 1 END LIMIT 1`, orgID, lower, lower, lower).
		Scan(&c.id, &c.loginID, &c.status, &c.consoleAccess, &hash)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.hash = hash.String
	return &c, nil
}

// countedFailures are the reasons that count towards a lockout: someone
// guessing a secret, or trying a password from an address the user's
// allow list refuses.
var countedFailures = map[string]bool{failWrongPassword: true, failWrongMFA: true, failCurrentPassword: true, failIPNotAllowed: true}

// recordFailure writes and audits one failed attempt on the organization,
// of user userID ("" for a login that names nobody) and, when it counts,
// locks the user once policy.MaxFailures are reached within the window;
// a lockout also ends the session endSession, if not "". The failure
// replaces the reservation attempt, if not "", in the same transaction,
// so that the attempt never stops counting. It reports whether it locked
// the user.
func (s *SessionService) recordFailure(ctx context.Context, orgID, userID, login, reason string, policy castellan.SignInPolicy, endSession, attempt string) (bool, error) {
	isLocked := false
	err := s.db.update(ctx, func(tx *Tx) error {
		if attempt != "" {
			if _, err := tx.exec(ctx, `DELETE FROM sign_in_failures WHERE org_id = ? AND id = ?`, orgID, attempt); err != nil {
				return fmt.Errorf("settle sign-in attempt: %w", err)
			}
		}
		var err error
		isLocked, err = recordFailureTx(ctx, tx, orgID, userID, login, reason, policy, endSession)
		return err
	})
	return isLocked, err
}

// recordFailureTx is recordFailure inside tx.
func recordFailureTx(ctx context.Context, tx *Tx, orgID, userID, login, reason string, policy castellan.SignInPolicy, endSession string) (bool, error) {
	return recordFailureWith(ctx, tx, orgID, userID, login, reason, policy, endSession, nil)
}

// recordFailureWith is recordFailureTx with more entries for the audit
// event's summary.
func recordFailureWith(ctx context.Context, tx *Tx, orgID, userID, login, reason string, policy castellan.SignInPolicy, endSession string,
	more map[string]any) (bool, error) {
	login = cleanText(login, 254)
	id := newID()
	var user any
	if userID != "" {
		user = userID
	}
	_, err := tx.exec(ctx, `INSERT INTO sign_in_failures (id, org_id, user_id, login_tried, reason, failed_at, source_ip)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, orgID, user, login, reason, tx.now, tx.info.SourceIP)
	if err != nil {
		return false, fmt.Errorf("insert sign-in failure: %w", err)
	}
	_, err = tx.record(ctx, change{
		orgID: orgID, action: castellan.ActionSignIn, entityType: "user", entityID: userID, entityName: login,
		summary: withEntries(map[string]any{"outcome": "failure", "reason": reason, "login": login}, more),
		also:    []changedEntity{{"sign_in_failure", id, "create"}},
	})
	// A login that names nobody runs the lockout's queries too, on no
	// user, so that its answer costs what a wrong password's does.
	if err != nil || userID != "" && !countedFailures[reason] {
		return false, err
	}
	return lockIfTooMany(ctx, tx, orgID, userID, login, policy, endSession)
}

// lockIfTooMany locks the user when its counted failures since the window
// began (or since its last success or lockout) reach policy.MaxFailures,
// and ends its unfinished sessions and the session endSession (the one
// that made the last failure), if not "".
func lockIfTooMany(ctx context.Context, tx *Tx, orgID, userID, login string, policy castellan.SignInPolicy, endSession string) (bool, error) {
	n, _, err := countFailures(ctx, tx, orgID, userID, policy, false)
	if err != nil || n < policy.MaxFailures || userID == "" {
		return false, err
	}
	until := tx.now.Add(policy.LockoutPeriod)
	if _, err := tx.exec(ctx, `UPDATE users SET locked_until = ?, failures_since = ? WHERE org_id = ? AND id = ?`, until, until, orgID, userID); err != nil {
		return false, fmt.Errorf("lock user: %w", err)
	}
	ended, err := deleteSessionsWhere(ctx, tx, `org_id = ? AND user_id = ? AND (state <> 'complete' OR id = ?)`, orgID, userID, endSession)
	if err != nil {
		return false, err
	}
	_, err = tx.record(ctx, change{
		orgID: orgID, action: castellan.ActionSignIn, entityType: "user", entityID: userID, entityName: login, operation: "update",
		summary: map[string]any{"outcome": "locked", "failures": n, "lockedUntil": until.Format(time.RFC3339), "endedSessionIds": nonNilSlice(ended)},
		also:    sessionDeletions(ended),
	})
	return true, err
}

// countFailures locks the user's row until tx ends and returns its
// counted failures since the window began (or since its last success or
// lockout, that instant included: attempts racing a success count after
// it), with the attempts in flight when withAttempts, and its lock.
func countFailures(ctx context.Context, tx *Tx, orgID, userID string, policy castellan.SignInPolicy, withAttempts bool) (int, sql.NullTime, error) {
	var lockedUntil, since sql.NullTime
	err := tx.queryRow(ctx, `SELECT locked_until, failures_since FROM users WHERE org_id = ? AND id = ?`+tx.db.dialect.lockExclusive,
		orgID, userID).Scan(&lockedUntil, &since)
	if userID == "" && isNoRows(err) {
		err = nil // no user: the queries are for the time they take
	}
	if err != nil {
		return 0, lockedUntil, err
	}
	from := tx.now.Add(-policy.FailureWindow)
	if since.Valid && since.Time.After(from) {
		from = since.Time
	}
	inFlight := ""
	if withAttempts {
		inFlight = attemptInFlight
	}
	var n int
	err = tx.queryRow(ctx, `SELECT COUNT(*) FROM sign_in_failures WHERE org_id = ? AND user_id = ? AND failed_at >= ? AND reason IN (?, ?, ?, ?, ?)`,
		orgID, userID, from, failWrongPassword, failWrongMFA, failCurrentPassword, failIPNotAllowed, inFlight).Scan(&n)
	return n, lockedUntil, err
}

// RecordMFAFailure implements castellan.SessionService.
func (s *SessionService) RecordMFAFailure(ctx context.Context, orgID, userID string, policy castellan.SignInPolicy) (bool, error) {
	var login string
	err := s.db.queryRow(ctx, `SELECT login_id FROM users WHERE org_id = ? AND id = ?`, orgID, userID).Scan(&login)
	if isNoRows(err) {
		return false, notFound(castellan.CodeUserNotFound, "user", userID)
	}
	if err != nil {
		return false, err
	}
	return s.recordFailure(ctx, orgID, userID, login, failWrongMFA, policy, "", "")
}

// ChangePassword implements castellan.SessionService.
func (s *SessionService) ChangePassword(ctx context.Context, orgID, userID, sessionID, current, next string, requireCurrent bool, policy castellan.SignInPolicy) error {
	login, newHash, err := s.newPasswordHash(ctx, orgID, userID, sessionID, current, next, requireCurrent, policy)
	if err != nil {
		return err
	}
	refused := false
	err = s.db.update(ctx, func(tx *Tx) error {
		var (
			resetRequired bool
			lockedUntil   sql.NullTime
		)
		err := tx.queryRow(ctx, `SELECT password_reset_required, locked_until FROM users WHERE org_id = ? AND id = ? AND status = 'active'`+tx.db.dialect.lockExclusive,
			orgID, userID).Scan(&resetRequired, &lockedUntil)
		if isNoRows(err) {
			return notFound(castellan.CodeUserNotFound, "user", userID)
		}
		if err != nil {
			return err
		}
		// The lock is checked again here, where writers are serialized: a
		// right guess racing the failures that lock the account loses.
		if requireCurrent && locked(lockedUntil, tx.now) {
			refused = true
			_, err := recordFailureTx(ctx, tx, orgID, userID, login, failLocked, policy, sessionID)
			return err
		}
		tx.actor = castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID, SessionID: sessionID}
		_, err = tx.exec(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ?, password_reset_required = FALSE,
			updated_at = ?, updated_by = ?, revision = ? WHERE org_id = ? AND id = ?`,
			newHash, tx.now, tx.now, tx.actorID(), tx.revision, orgID, userID)
		if err != nil {
			return fmt.Errorf("change password: %w", err)
		}
		revoked, err := deleteSessionsWhere(ctx, tx, `org_id = ? AND user_id = ? AND id <> ?`, orgID, userID, sessionID)
		if err != nil {
			return err
		}
		summary := map[string]any{"password": "changed", "revokedSessionIds": nonNilSlice(revoked)}
		if resetRequired {
			summary["passwordResetRequired"] = diff{true, false}
		}
		also := sessionDeletions(revoked)
		res, err := tx.exec(ctx, `UPDATE console_sessions SET state = 'complete' WHERE org_id = ? AND id = ? AND state = 'password_change'`, orgID, sessionID)
		if err != nil {
			return fmt.Errorf("complete session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := setLastLogin(ctx, tx, orgID, userID); err != nil {
				return err
			}
			summary["sessionState"] = diff{castellan.SessionPasswordChange, castellan.SessionComplete}
			also = append(also, changedEntity{"console_session", sessionID, "update"})
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionChangePassword, entityType: "user", entityID: userID, entityName: login, operation: "update",
			summary: summary, also: also,
		})
		return err
	})
	if err == nil && refused {
		err = errWrongCurrentPassword()
	}
	return err
}

// errWrongCurrentPassword is the answer to a wrong current password, and
// to any while the account is locked.
func errWrongCurrentPassword() error {
	return &castellan.Error{Kind: castellan.EUNAUTHENTICATED, Code: castellan.CodeWrongPassword, Message: "the current password is wrong",
		Fields: []castellan.FieldError{{Field: "current", Rule: "match", Message: "is not your current password"}}}
}

// newPasswordHash checks a password change before its transaction (the
// current password when asked, the policy, that the password changes) and
// returns the user's login ID and the new password's hash.
func (s *SessionService) newPasswordHash(ctx context.Context, orgID, userID, sessionID, current, next string, requireCurrent bool, policy castellan.SignInPolicy) (login, newHash string, err error) {
	var hash sql.NullString
	err = s.db.queryRow(ctx, `SELECT login_id, password_hash FROM users WHERE org_id = ? AND id = ? AND status = 'active'`,
		orgID, userID).Scan(&login, &hash)
	if isNoRows(err) || err == nil && !hash.Valid {
		return "", "", notFound(castellan.CodeUserNotFound, "user", userID)
	}
	if err != nil {
		return "", "", err
	}
	if requireCurrent {
		refused, err := s.confirmCurrentPassword(ctx, orgID, userID, login, hash.String, current, policy, sessionID)
		if err != nil {
			return "", "", err
		}
		if refused {
			return "", "", errWrongCurrentPassword()
		}
	}
	if err := castellan.UnsafePassword(castellan.CheckPassword("password", login, next)); err != nil {
		return "", "", err
	}
	if same, err := s.db.passwords.Verify(hash.String, next); err != nil || same {
		if err != nil {
			return "", "", fmt.Errorf("verify password: %w", err)
		}
		return "", "", &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeSamePassword, Message: "password: choose a password other than the current one",
			Fields: []castellan.FieldError{{Field: "password", Rule: "different", Message: "must differ from the current password"}}}
	}
	if newHash, err = s.db.passwords.Hash(next); err != nil {
		return "", "", fmt.Errorf("hash password: %w", err)
	}
	return login, newHash, nil
}

// confirmCurrentPassword checks the password a signed-in user gives to
// confirm a sensitive change (a new password, an account's deletion)
// against hash, its own. The password is an attempt like a sign-in's,
// counted before it is verified. A locked account gets the answer of a
// wrong password, whatever was given, so that a borrowed session cannot
// go on guessing; the failure that locks the account also ends the
// session sessionID, if not "". It reports whether the password was
// refused.
func (s *SessionService) confirmCurrentPassword(ctx context.Context, orgID, userID, login, hash, password string, policy castellan.SignInPolicy, sessionID string) (bool, error) {
	a, err := s.tryPassword(ctx, orgID, userID, login, hash, password, policy)
	if err != nil {
		return false, err
	}
	reason := ""
	switch {
	case !a.admitted:
		reason = failLocked
	case !a.right:
		reason = failCurrentPassword
	}
	return s.settle(ctx, a, orgID, userID, login, reason, policy, sessionID)
}

// cleanText makes text a client sent (a user agent, a login name) fit to
// store: valid UTF-8 without NUL, at most limit bytes.
func cleanText(s string, limit int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// withEntries adds the entries of more to m and returns m.
func withEntries(m, more map[string]any) map[string]any {
	maps.Copy(m, more)
	return m
}
