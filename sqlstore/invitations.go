package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/castellan-iam/castellan"
)

// newInvitationToken returns a fresh invitation token and the hash to
// store for it: 32 random bytes, like API tokens, so SHA-256 suffices.
func newInvitationToken() (token, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	token = castellan.InvitationTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// invite writes an invitation valid castellan.InvitationValidity for each
// user and enqueues its mail (template), in tx. It returns the
// invitation ID of each user. The token exists only in the mail's data:
// the table keeps its hash.
func invite(ctx context.Context, tx *Tx, orgName string, users []*castellan.User, template castellan.MailTemplate) (map[string]string, error) {
	ids, _, err := inviteWithTokens(ctx, tx, orgName, users, template)
	return ids, err
}

// inviteWithTokens is invite that also returns each user's token, for
// the caller that hands the link over itself (bootstrap prints it).
func inviteWithTokens(ctx context.Context, tx *Tx, orgName string, users []*castellan.User, template castellan.MailTemplate) (ids, tokenOf map[string]string, err error) {
	ids, tokenOf = make(map[string]string, len(users)), make(map[string]string, len(users))
	if len(users) == 0 {
		return ids, tokenOf, nil
	}
	expiresAt := tx.now.Add(castellan.InvitationValidity)
	rows := make([][]any, len(users))
	tokens := make([]string, len(users))
	for i, u := range users {
		id := newID()
		token, hash := newInvitationToken()
		ids[u.ID], tokens[i], tokenOf[u.ID] = id, token, token
		rows[i] = []any{id, u.OrganizationID, u.ID, hash, expiresAt, tx.now, tx.actorID()}
	}
	err = tx.insertRows(ctx, `INSERT INTO invitations (id, org_id, user_id, token_hash, expires_at, created_at, created_by) VALUES `, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("insert invitations: %w", err)
	}
	for i, u := range users {
		_, err := tx.enqueueMail(ctx, u.OrganizationID, u.Email, template, map[string]string{
			"name": u.Name, "email": u.Email, "loginId": u.LoginID, "organizationName": orgName,
			"invitationToken": tokens[i], "expiresAt": expiresAt.Format(time.RFC3339),
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return ids, tokenOf, nil
}

// voidInvitations voids the open invitations of a user and returns their
// IDs.
func voidInvitations(ctx context.Context, tx *Tx, orgID, userID string) ([]string, error) {
	rows, err := tx.query(ctx, `UPDATE invitations SET voided_at = ?
		WHERE org_id = ? AND user_id = ? AND used_at IS NULL AND voided_at IS NULL RETURNING id`, tx.now, orgID, userID)
	if err != nil {
		return nil, fmt.Errorf("void invitations: %w", err)
	}
	return collect(rows, scanString)
}

// ResendInvitation implements castellan.UserService.
func (s *UserService) ResendInvitation(ctx context.Context, orgID, id string) (int64, error) {
	return s.reissue(ctx, orgID, id, castellan.ActionResendUserInvitation, castellan.MailInvitation)
}

// Reinvite implements castellan.UserService.
func (s *UserService) Reinvite(ctx context.Context, orgID, id string) (int64, error) {
	return s.reissue(ctx, orgID, id, castellan.ActionReinviteUser, castellan.MailReinvite)
}

// reissue voids the user's open links and issues a new one, mailed with
// template.
func (s *UserService) reissue(ctx context.Context, orgID, id string, action castellan.Action, template castellan.MailTemplate) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		orgName, err := lockOrganizationName(ctx, tx, orgID)
		if err != nil {
			return err
		}
		u, err := s.findUser(ctx, tx, orgID, id, tx.db.dialect.lockExclusive)
		if err != nil {
			return err
		}
		if u.Status != castellan.UserPendingInvitation {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeUserNotPending,
				"user %s is %s: only users with a pending invitation can be invited again", id, u.Status)
		}
		voided, err := voidInvitations(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		ids, err := invite(ctx, tx, orgName, []*castellan.User{u}, template)
		if err != nil {
			return err
		}
		also := []changedEntity{{"invitation", ids[u.ID], "create"}}
		for _, v := range voided {
			also = append(also, changedEntity{"invitation", v, "update"})
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: action, entityType: "user", entityID: id, entityName: u.LoginID,
			summary: map[string]any{"invitationId": ids[u.ID], "voidedInvitationIds": nonNilSlice(voided), "email": u.Email},
			also:    also,
		})
		return err
	})
	return rev, err
}

// invitationState is an invitation with what accepting it needs to know
// of its user.
type invitationState struct {
	id, orgID, userID, loginID, userStatus string
	expiresAt                              time.Time
	used, voided                           bool
	// noPassword is set for a user without a password: an invited one,
	// or a bootstrapped owner given a link to set it.
	noPassword bool
}

func (s *UserService) findInvitation(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, hash, lock string) (*invitationState, error) {
	var (
		st           invitationState
		used, voided sql.NullTime
	)
	err := queryRow(ctx, `SELECT i.id, i.org_id, i.user_id, i.expires_at, i.used_at, i.voided_at, u.login_id, u.status, u.password_hash IS NULL
		FROM invitations i JOIN users u ON u.id = i.user_id AND u.org_id = i.org_id
		WHERE i.token_hash = ?`+lock, hash).Scan(&st.id, &st.orgID, &st.userID, &st.expiresAt, &used, &voided, &st.loginID, &st.userStatus, &st.noPassword)
	if isNoRows(err) {
		return nil, errInvitationInvalid
	}
	if err != nil {
		return nil, err
	}
	st.used, st.voided = used.Valid, voided.Valid
	return &st, nil
}

var errInvitationInvalid = castellan.Errorf(castellan.ENOTFOUND, castellan.CodeInvitationInvalid,
	"this invitation link is not valid: it is unknown, or a newer invitation replaced it")

// usable says why an invitation cannot be accepted at now, or nil.
func (st *invitationState) usable(now time.Time) error {
	switch {
	case st.used:
		return castellan.Errorf(castellan.ECONFLICT, castellan.CodeInvitationUsed, "this invitation link was used already; sign in with your password")
	case st.voided || !st.noPassword || st.userStatus != castellan.UserPendingInvitation && st.userStatus != castellan.UserActive:
		return errInvitationInvalid
	case !now.Before(st.expiresAt):
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeInvitationExpired,
			"this invitation link expired at %s; ask an administrator to resend the invitation", st.expiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// AcceptInvitation implements castellan.UserService. The password is
// checked and hashed before the transaction, which checks the invitation
// again under lock: of two concurrent accepts, one wins and the other gets
// invitation.used.
func (s *UserService) AcceptInvitation(ctx context.Context, token, password string) (*castellan.User, error) {
	if !castellan.ValidInvitationTokenSyntax(token) {
		return nil, errInvitationInvalid
	}
	hash := HashToken(token)
	st, err := s.findInvitation(ctx, s.db.queryRow, hash, "")
	if err != nil {
		return nil, err
	}
	if err := st.usable(s.db.now()); err != nil {
		return nil, err
	}
	if err := castellan.UnsafePassword(castellan.CheckPassword("password", st.loginID, password)); err != nil {
		return nil, err
	}
	if s.db.passwords == nil {
		return nil, errors.New("accept invitation: the store was opened without a password hasher (Options.Passwords)")
	}
	passwordHash, err := s.db.passwords.Hash(password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	var u *castellan.User
	err = s.db.update(ctx, func(tx *Tx) error {
		st, err := s.findInvitation(ctx, tx.queryRow, hash, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		if err := st.usable(tx.now); err != nil {
			return err
		}
		// The invitee acts for itself: the audit log shows the user
		// accepting, not the system.
		tx.actor = castellan.Principal{Type: castellan.PrincipalUser, ID: st.userID, OrganizationID: st.orgID}
		if _, err := tx.exec(ctx, `UPDATE invitations SET used_at = ? WHERE id = ?`, tx.now, st.id); err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		_, err = tx.exec(ctx, `UPDATE users SET status = ?, password_hash = ?, password_changed_at = ?, updated_at = ?, updated_by = ?, revision = ?
			WHERE org_id = ? AND id = ?`,
			castellan.UserActive, passwordHash, tx.now, tx.now, tx.actorID(), tx.revision, st.orgID, st.userID)
		if err != nil {
			return fmt.Errorf("activate user: %w", err)
		}
		if u, err = s.findUser(ctx, tx, st.orgID, st.userID, ""); err != nil {
			return err
		}
		// A bootstrapped owner is active already: only its password is
		// new.
		summary := map[string]any{"invitationId": st.id}
		if st.userStatus != castellan.UserActive {
			summary["status"] = diff{st.userStatus, castellan.UserActive}
		}
		_, err = tx.record(ctx, change{
			orgID: st.orgID, action: castellan.ActionAcceptUserInvitation, entityType: "user", entityID: st.userID, entityName: st.loginID,
			operation: "update",
			summary:   summary,
			also:      []changedEntity{{"invitation", st.id, "update"}},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
