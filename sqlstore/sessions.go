package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/castellan-iam/castellan"
)

// SessionService implements castellan.SessionService.
type SessionService struct {
	db *DB
	// dummy is the hash verified for unknown users, so that they take as
	// long as known ones; made on first use with the store's hasher.
	dummy func() (string, error)
}

var _ castellan.SessionService = (*SessionService)(nil)

// Sessions returns the console session service of db.
func (db *DB) Sessions() *SessionService {
	return &SessionService{db: db, dummy: sync.OnceValues(func() (string, error) {
		if db.passwords == nil {
			return "", errors.New("sign in: the store was opened without a password hasher (Options.Passwords)")
		}
		return db.passwords.Hash(rand.Text())
	})}
}

var (
	errSignInFailed = castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed,
		"sign-in failed: the organization, login or password is wrong, or the account may not sign in now")
	errSessionInvalid = castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid,
		"the session has ended; sign in again")
)

func sessionNotFound(id string) error {
	return notFound(castellan.CodeSessionNotFound, "session", id)
}

// newSessionToken returns a fresh session secret and the hash to store.
func newSessionToken() (token, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	token = castellan.SessionTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// CreateSession implements castellan.SessionService.
func (s *SessionService) CreateSession(ctx context.Context, orgID, userID string, state castellan.SessionState, userAgent string, policy castellan.SignInPolicy) (*castellan.NewSession, error) {
	ns := &castellan.NewSession{}
	refused := false
	err := s.db.update(ctx, func(tx *Tx) error {
		var (
			login, federation string
			lockedUntil       sql.NullTime
		)
		err := tx.queryRow(ctx, `SELECT login_id, federation_id, locked_until FROM users WHERE org_id = ? AND id = ? AND status = 'active' AND console_access`+
			tx.db.dialect.lockExclusive, orgID, userID).Scan(&login, &federation, &lockedUntil)
		if isNoRows(err) {
			return notFound(castellan.CodeUserNotFound, "user", userID)
		}
		if err != nil {
			return err
		}
		// The lock is read again where writers are serialized: a right
		// password verified while other attempts locked the account gets
		// no session once the lock is written.
		if locked(lockedUntil, tx.now) {
			refused = true
			_, err := recordFailureTx(ctx, tx, orgID, userID, login, failLocked, policy, "")
			return err
		}
		sess := &castellan.Session{
			ID: newID(), OrganizationID: orgID, UserID: userID, State: state,
			CreatedAt: tx.now, LastSeenAt: tx.now, IdleTimeout: policy.IdleTimeout.Truncate(time.Second),
			ExpiresAt: tx.now.Add(policy.AbsoluteTimeout), SourceIP: tx.info.SourceIP, UserAgent: cleanText(userAgent, 512),
		}
		var hash string
		ns.Token, hash = newSessionToken()
		_, err = tx.exec(ctx, `INSERT INTO console_sessions (id, org_id, user_id, secret_hash, state, created_at, last_seen_at, expires_at,
			idle_timeout_seconds, source_ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, orgID, userID, hash, string(state), sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt,
			int64(sess.IdleTimeout/time.Second), sess.SourceIP, sess.UserAgent)
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		tx.actor = castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID, SessionID: sess.ID}
		also := []changedEntity{{"console_session", sess.ID, "create"}}
		if state == castellan.SessionComplete {
			if err := setLastLogin(ctx, tx, orgID, userID); err != nil {
				return err
			}
			also = append(also, changedEntity{"user", userID, "update"})
		}
		ns.Session = sess
		summary := map[string]any{"outcome": "success", "sessionId": sess.ID, "state": state, "userAgent": sess.UserAgent}
		// A federated user has no password: it signed in through its
		// federation.
		if federation != "" {
			summary["federationId"] = federation
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionSignIn, entityType: "user", entityID: userID, entityName: login,
			summary: summary, also: also,
		})
		return err
	})
	if err == nil && refused {
		err = errSignInFailed
	}
	if err != nil {
		return nil, err
	}
	return ns, nil
}

// signInKeyName is the server_keys row of SignInKey.
const signInKeyName = "console_sign_in"

// SignInKey implements castellan.SessionService. The key is bookkeeping
// of the server, not a change of an organization: it is not audited. Of
// replicas making it at once, the first insert wins and all read it.
func (s *SessionService) SignInKey(ctx context.Context) ([]byte, error) {
	var secret string
	err := s.db.queryRow(ctx, `SELECT secret FROM server_keys WHERE name = ?`, signInKeyName).Scan(&secret)
	if isNoRows(err) {
		var b [32]byte
		rand.Read(b[:]) // never fails (crypto/rand documents it)
		err = s.db.bookkeeping(ctx, func(tx *Tx) error {
			_, err := tx.exec(ctx, `INSERT INTO server_keys (name, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
				signInKeyName, base64.RawURLEncoding.EncodeToString(b[:]), tx.now)
			if err != nil {
				return fmt.Errorf("make sign-in key: %w", err)
			}
			return tx.queryRow(ctx, `SELECT secret FROM server_keys WHERE name = ?`, signInKeyName).Scan(&secret)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read sign-in key: %w", err)
	}
	return base64.RawURLEncoding.DecodeString(secret)
}

// setLastLogin records a completed sign-in, which also restarts the
// failure count. A right password alone does not: whoever knows it could
// otherwise guess second factors without end, a few per sign-in.
func setLastLogin(ctx context.Context, tx *Tx, orgID, userID string) error {
	_, err := tx.exec(ctx, `UPDATE users SET last_login_at = ?, failures_since = ? WHERE org_id = ? AND id = ?`, tx.now, tx.now, orgID, userID)
	if err != nil {
		return fmt.Errorf("set last login: %w", err)
	}
	return nil
}

// sessionColumns are the columns scanSession reads.
const sessionColumns = `id, org_id, user_id, state, created_at, last_seen_at, expires_at, idle_timeout_seconds, source_ip, user_agent`

func scanSession(row scanner) (*castellan.Session, error) {
	var (
		sess castellan.Session
		idle int64
	)
	err := row.Scan(&sess.ID, &sess.OrganizationID, &sess.UserID, &sess.State, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt,
		&idle, &sess.SourceIP, &sess.UserAgent)
	if err != nil {
		return nil, err
	}
	sess.IdleTimeout = time.Duration(idle) * time.Second
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC(), sess.ExpiresAt.UTC()
	return &sess, nil
}

// lastSeenStep is how stale last_seen_at may get before a request moves
// it: one write a minute per session at most.
const lastSeenStep = time.Minute

// AuthenticateSession implements castellan.SessionService.
func (s *SessionService) AuthenticateSession(ctx context.Context, token string) (*castellan.Session, *castellan.User, error) {
	if !castellan.ValidSessionTokenSyntax(token) {
		return nil, nil, errSessionInvalid
	}
	sess, err := scanSession(s.db.queryRow(ctx, `SELECT `+sessionColumns+` FROM console_sessions WHERE secret_hash = ?`, HashToken(token)))
	if isNoRows(err) {
		return nil, nil, errSessionInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.db.now().UTC().Truncate(time.Microsecond)
	if !sess.Live(now) {
		return nil, nil, errSessionInvalid
	}
	u, err := s.db.Users().FindUserByID(ctx, sess.OrganizationID, sess.UserID, false)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, nil, errSessionInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Status != castellan.UserActive || !u.ConsoleAccess {
		return nil, nil, errSessionInvalid
	}
	if now.Sub(sess.LastSeenAt) >= lastSeenStep {
		err := s.db.bookkeeping(ctx, func(tx *Tx) error {
			_, err := tx.exec(ctx, `UPDATE console_sessions SET last_seen_at = ? WHERE id = ?`, tx.now, sess.ID)
			sess.LastSeenAt = tx.now
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("note session use: %w", err)
		}
	}
	return sess, u, nil
}

// AdvanceSession implements castellan.SessionService.
func (s *SessionService) AdvanceSession(ctx context.Context, orgID, sessionID string, state castellan.SessionState) error {
	return s.db.update(ctx, func(tx *Tx) error {
		sess, err := scanSession(tx.queryRow(ctx, `SELECT `+sessionColumns+` FROM console_sessions WHERE org_id = ? AND id = ?`+tx.db.dialect.lockExclusive,
			orgID, sessionID))
		if isNoRows(err) {
			return sessionNotFound(sessionID)
		}
		if err != nil || sess.State == state {
			return err
		}
		tx.actor = castellan.Principal{Type: castellan.PrincipalUser, ID: sess.UserID, OrganizationID: orgID, SessionID: sessionID}
		if _, err := tx.exec(ctx, `UPDATE console_sessions SET state = ? WHERE id = ?`, string(state), sessionID); err != nil {
			return fmt.Errorf("advance session: %w", err)
		}
		also := []changedEntity{{"console_session", sessionID, "update"}}
		if state == castellan.SessionComplete {
			if err := setLastLogin(ctx, tx, orgID, sess.UserID); err != nil {
				return err
			}
			also = append(also, changedEntity{"user", sess.UserID, "update"})
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionSignIn, entityType: "user", entityID: sess.UserID,
			summary: map[string]any{"outcome": "step", "sessionId": sessionID, "state": diff{sess.State, state}},
			also:    also,
		})
		return err
	})
}

// FindSessions implements castellan.SessionService.
func (s *SessionService) FindSessions(ctx context.Context, orgID, userID string) ([]*castellan.Session, error) {
	rows, err := s.db.query(ctx, `SELECT `+sessionColumns+` FROM console_sessions WHERE org_id = ? AND user_id = ? ORDER BY created_at DESC, id DESC`,
		orgID, userID)
	if err != nil {
		return nil, err
	}
	all, err := collect(rows, scanSession)
	if err != nil {
		return nil, err
	}
	now := s.db.now()
	live := []*castellan.Session{}
	for _, sess := range all {
		if sess.Live(now) {
			live = append(live, sess)
		}
	}
	return live, nil
}

// RevokeSession implements castellan.SessionService.
func (s *SessionService) RevokeSession(ctx context.Context, orgID, userID, sessionID string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		ended, err := deleteSessionsWhere(ctx, tx, `org_id = ? AND user_id = ? AND id = ?`, orgID, userID, sessionID)
		if err != nil {
			return err
		}
		if len(ended) == 0 {
			return sessionNotFound(sessionID)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionRevokeUserSession, entityType: "console_session", entityID: sessionID, operation: "delete",
			summary: map[string]any{"userId": userID},
		})
		return err
	})
	return rev, err
}

// RevokeOtherSessions implements castellan.SessionService.
func (s *SessionService) RevokeOtherSessions(ctx context.Context, orgID, userID, keep string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		ended, err := deleteSessionsWhere(ctx, tx, `org_id = ? AND user_id = ? AND id <> ?`, orgID, userID, keep)
		if err != nil {
			return err
		}
		if len(ended) == 0 {
			rev = tx.unchangedRevision()
			return nil
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionRevokeUserSession, entityType: "user", entityID: userID,
			summary: map[string]any{"revokedSessionIds": ended, "keptSessionId": keep},
			also:    sessionDeletions(ended),
		})
		return err
	})
	return rev, err
}

// SignOut implements castellan.SessionService.
func (s *SessionService) SignOut(ctx context.Context, orgID, sessionID string) error {
	return s.db.update(ctx, func(tx *Tx) error {
		var userID string
		err := tx.queryRow(ctx, `DELETE FROM console_sessions WHERE org_id = ? AND id = ? RETURNING user_id`, orgID, sessionID).Scan(&userID)
		if isNoRows(err) {
			return sessionNotFound(sessionID)
		}
		if err != nil {
			return fmt.Errorf("sign out: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionSignOut, entityType: "console_session", entityID: sessionID, operation: "delete",
			summary: map[string]any{"userId": userID},
		})
		return err
	})
}

// DeleteExpiredSessions implements castellan.SessionService.
func (s *SessionService) DeleteExpiredSessions(ctx context.Context) (int, error) {
	var n int64
	err := s.db.bookkeeping(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= ?`, tx.now)
		if err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// deleteSessionsWhere deletes the sessions matching where and returns
// their IDs.
func deleteSessionsWhere(ctx context.Context, tx *Tx, where string, args ...any) ([]string, error) {
	rows, err := tx.query(ctx, `DELETE FROM console_sessions WHERE `+where+` RETURNING id`, args...)
	if err != nil {
		return nil, fmt.Errorf("delete sessions: %w", err)
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("delete sessions: %w", err)
	}
	return ids, nil
}

// revokeUserSessions ends every session of a user that is disabled or
// deleted, in the transaction that does it.
func revokeUserSessions(ctx context.Context, tx *Tx, orgID, userID string) ([]string, error) {
	return deleteSessionsWhere(ctx, tx, `org_id = ? AND user_id = ?`, orgID, userID)
}

func sessionDeletions(ids []string) []changedEntity {
	out := make([]changedEntity, len(ids))
	for i, id := range ids {
		out[i] = changedEntity{"console_session", id, "delete"}
	}
	return out
}
