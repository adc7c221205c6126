package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// UpdateUser implements castellan.UserService. An update that changes
// nothing writes nothing.
func (s *UserService) UpdateUser(ctx context.Context, orgID, id string, upd castellan.UserUpdate) (*castellan.User, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var u *castellan.User
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if u, err = s.findUser(ctx, tx, orgID, id, tx.db.dialect.lockExclusive); err != nil {
			return err
		}
		oldStatus := u.Status
		summary := applyUserUpdate(u, upd)
		if len(summary) == 0 {
			return nil // nothing changes: no revision, no audit event
		}
		if err := u.CheckAllowLists(); err != nil {
			return err
		}
		var also []changedEntity
		if u.Status != oldStatus {
			if err := checkStatusChange(u, oldStatus); err != nil {
				return err
			}
			if also, err = restartInvitation(ctx, tx, u, oldStatus, summary); err != nil {
				return err
			}
		}
		if u.Status == castellan.UserDisabled && oldStatus != castellan.UserDisabled {
			ended, err := revokeUserSessions(ctx, tx, orgID, id)
			if err != nil {
				return err
			}
			if len(ended) > 0 {
				summary["revokedSessionIds"] = ended
				also = append(also, sessionDeletions(ended)...)
			}
		}
		if _, emailChanged := summary["email"]; emailChanged && oldStatus == castellan.UserPendingInvitation && u.Status == castellan.UserPendingInvitation {
			// The open link went to the old address: it must not keep
			// working there. The admin sends a new one (reinvite).
			voided, err := voidInvitations(ctx, tx, orgID, id)
			if err != nil {
				return err
			}
			if len(voided) > 0 {
				summary["voidedInvitations"] = voided
			}
		}
		u.Revision, u.UpdatedAt, u.UpdatedBy = tx.revision, tx.now, tx.actorID()
		leavesActive := oldStatus == castellan.UserActive && u.Status != castellan.UserActive
		err = keepAnOwner(ctx, tx, orgID, leavesActive, func() error { return writeUser(ctx, tx, u) })
		if isUniqueViolation(err) {
			return castellan.Errorf(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "a user with email %q already exists in this organization", u.Email)
		}
		if err != nil {
			return err
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateUser,
			entityType: "user", entityID: id, entityName: u.LoginID, operation: "update", summary: summary, also: also,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// applyUserUpdate sets the fields upd changes on u and returns the audit
// summary of what changed.
func applyUserUpdate(u *castellan.User, upd castellan.UserUpdate) map[string]any {
	summary := map[string]any{}
	for _, f := range []struct {
		name     string
		dst, src *string
	}{
		{"email", &u.Email, upd.Email}, {"name", &u.Name, upd.Name}, {"nickname", &u.Nickname, upd.Nickname},
		{"firstName", &u.FirstName, upd.FirstName}, {"middleName", &u.MiddleName, upd.MiddleName},
		{"lastName", &u.LastName, upd.LastName}, {"contactEmail", &u.ContactEmail, upd.ContactEmail},
		{"mobile", &u.Mobile, upd.Mobile}, {"memo", &u.Memo, upd.Memo}, {"status", &u.Status, upd.Status},
	} {
		apply(summary, f.name, f.dst, f.src)
	}
	for _, f := range []struct {
		name     string
		dst, src *bool
	}{
		{"consoleAccess", &u.ConsoleAccess, upd.ConsoleAccess}, {"apiAccess", &u.APIAccess, upd.APIAccess},
		{"mfaMandatory", &u.MFAMandatory, upd.MFAMandatory}, {"passwordResetRequired", &u.PasswordResetRequired, upd.PasswordResetRequired},
		{"useConsolePermitIp", &u.UseConsolePermitIP, upd.UseConsolePermitIP}, {"useApiAllowSource", &u.UseAPIAllowSource, upd.UseAPIAllowSource},
	} {
		apply(summary, f.name, f.dst, f.src)
	}
	if upd.ConsolePermitIPs != nil && !slices.Equal(*upd.ConsolePermitIPs, u.ConsolePermitIPs) {
		next := nonNilSlice(*upd.ConsolePermitIPs)
		summary["consolePermitIps"], u.ConsolePermitIPs = diff{u.ConsolePermitIPs, next}, next
	}
	if upd.APIAllowSources != nil && !slices.Equal(*upd.APIAllowSources, u.APIAllowSources) {
		next := nonNilSlice(*upd.APIAllowSources)
		summary["apiAllowSources"], u.APIAllowSources = diff{u.APIAllowSources, next}, next
	}
	return summary
}

// apply sets *dst to *src when src is set and differs, noting the change.
func apply[T comparable](summary map[string]any, name string, dst, src *T) {
	if src != nil && *src != *dst {
		summary[name], *dst = diff{*dst, *src}, *src
	}
}

// checkStatusChange allows moving between active and disabled, and
// disabling a user whose invitation is pending. (A move away from active
// is then held to the Owner rule.)
func checkStatusChange(u *castellan.User, from string) error {
	if from == castellan.UserPendingInvitation && u.Status != castellan.UserDisabled {
		return &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeUserInvalidStatus,
			Message: "status: the user has not accepted its invitation yet; it becomes active by accepting it (resend the invitation), or may be disabled",
			Fields:  []castellan.FieldError{{Field: "status", Rule: "transition", Message: "cannot become active while the invitation is pending"}}}
	}
	return nil
}

// restartInvitation keeps invitations in step with a status change in
// tx: disabling a user whose invitation is pending voids its links (a
// deprovisioned person must not set a password with one); enabling again
// a user who was invited and never accepted makes it pending again with
// a new invitation, mailed, since it could not sign in otherwise. It
// notes what it did in summary and returns the invitations' change-log
// rows.
func restartInvitation(ctx context.Context, tx *Tx, u *castellan.User, from string, summary map[string]any) ([]changedEntity, error) {
	switch {
	case from == castellan.UserPendingInvitation && u.Status == castellan.UserDisabled:
		voided, err := voidInvitations(ctx, tx, u.OrganizationID, u.ID)
		if err != nil || len(voided) == 0 {
			return nil, err
		}
		summary["voidedInvitations"] = voided
		also := make([]changedEntity, len(voided))
		for i, id := range voided {
			also[i] = changedEntity{"invitation", id, "update"}
		}
		return also, nil
	case from == castellan.UserDisabled && u.Status == castellan.UserActive:
		// Disabled while invited: no password, its links voided (by the
		// disabling), none used and none open. A user who works with API
		// tokens and an open link (a bootstrapped owner) stays active.
		var neverAccepted bool
		err := tx.queryRow(ctx, `SELECT (u.password_hash IS NULL OR u.password_hash = '')
			AND EXISTS (SELECT 1 FROM invitations i WHERE i.org_id = u.org_id AND i.user_id = u.id AND i.voided_at IS NOT NULL)
			AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.org_id = u.org_id AND i.user_id = u.id AND (i.used_at IS NOT NULL OR i.voided_at IS NULL))
			FROM users u WHERE u.org_id = ? AND u.id = ?`, u.OrganizationID, u.ID).Scan(&neverAccepted)
		if err != nil || !neverAccepted {
			return nil, err
		}
		orgName, err := lockOrganizationName(ctx, tx, u.OrganizationID)
		if err != nil {
			return nil, err
		}
		u.Status = castellan.UserPendingInvitation
		ids, err := invite(ctx, tx, orgName, []*castellan.User{u}, castellan.MailReinvite)
		if err != nil {
			return nil, err
		}
		summary["invitationId"] = ids[u.ID]
		summary["status"] = diff{from, castellan.UserPendingInvitation}
		return []changedEntity{{"invitation", ids[u.ID], "create"}}, nil
	}
	return nil, nil
}

// writeUser stores the mutable columns of u.
func writeUser(ctx context.Context, tx *Tx, u *castellan.User) error {
	permitIPs, _ := json.Marshal(u.ConsolePermitIPs) // strings always marshal
	sources, _ := json.Marshal(u.APIAllowSources)
	_, err := tx.exec(ctx, `UPDATE users SET email = ?, email_lower = ?, name = ?, name_lower = ?, nickname = ?,
		first_name = ?, middle_name = ?, last_name = ?, contact_email = ?, mobile = ?, memo = ?, status = ?,
		console_access = ?, api_access = ?, mfa_mandatory = ?, password_reset_required = ?,
		use_console_permit_ip = ?, console_permit_ips = ?, use_api_allow_source = ?, api_allow_sources = ?,
		updated_at = ?, updated_by = ?, revision = ?
		WHERE org_id = ? AND id = ?`,
		u.Email, strings.ToLower(u.Email), u.Name, strings.ToLower(u.Name), u.Nickname,
		u.FirstName, u.MiddleName, u.LastName, u.ContactEmail, u.Mobile, u.Memo, u.Status,
		u.ConsoleAccess, u.APIAccess, u.MFAMandatory, u.PasswordResetRequired,
		u.UseConsolePermitIP, string(permitIPs), u.UseAPIAllowSource, string(sources),
		u.UpdatedAt, u.UpdatedBy, u.Revision, u.OrganizationID, u.ID)
	if err != nil && !isUniqueViolation(err) {
		return fmt.Errorf("update user: %w", err)
	}
	return err
}

// DeleteUser implements castellan.UserService. The row stays as a
// tombstone: ID, login ID, name, creation and deletion; the email and the
// rest of the profile, the password, the second factors and the allow
// lists are erased.
func (s *UserService) DeleteUser(ctx context.Context, orgID, id, confirm string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		orgName, err := lockOrganizationName(ctx, tx, orgID)
		if err != nil {
			return err
		}
		u, err := s.findUser(ctx, tx, orgID, id, tx.db.dialect.lockDelete)
		if err != nil {
			return err
		}
		if confirm != castellan.DeleteUserPhrase && confirm != u.LoginID {
			return &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeConfirmationMismatch,
				Message: "confirm: type \"" + castellan.DeleteUserPhrase + "\" (or the user's login ID) to delete it",
				Fields:  []castellan.FieldError{{Field: "confirm", Rule: "confirmation", Message: "must be \"" + castellan.DeleteUserPhrase + "\" or the user's login ID"}}}
		}
		var removed removedAccess
		err = keepAnOwner(ctx, tx, orgID, u.Status == castellan.UserActive, func() (err error) {
			if removed, err = removeUserAccess(ctx, tx, orgID, id); err != nil {
				return err
			}
			return tombstone(ctx, tx, u)
		})
		if err != nil {
			return err
		}
		if u.Email != "" {
			_, err := tx.enqueueMail(ctx, orgID, u.Email, castellan.MailUserDeleted, map[string]string{
				"name": u.Name, "email": u.Email, "loginId": u.LoginID, "organizationName": orgName,
				"deletedAt": tx.now.Format(time.RFC3339),
			})
			if err != nil {
				return err
			}
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteUser, entityType: "user", entityID: id, entityName: u.LoginID, operation: "delete",
			summary: map[string]any{"loginId": u.LoginID, "email": u.Email, "name": u.Name, "status": u.Status,
				"deletedGrants": grantSummaries(removed.grants), "groupIds": nonNilSlice(removed.groups),
				"tokenCount": len(removed.tokens), "voidedInvitationIds": nonNilSlice(removed.invitations),
				"revokedSessionIds": nonNilSlice(removed.sessions), "deletedAccessKeyIds": nonNilSlice(removed.accessKeys),
				"endedRoleSessionIds": nonNilSlice(removed.roleSessions)},
			also: removed.changes(id),
		})
		return err
	})
	return rev, err
}

// removedAccess is what deleting a user took away.
type removedAccess struct {
	grants                          []*castellan.Grant
	groups, invitations, accessKeys []string
	// roleSessions are the sessions of the account roles it had assumed.
	roleSessions []string
	signedOut
}

func (r removedAccess) changes(userID string) []changedEntity {
	also := grantDeletions(r.grants)
	for _, g := range r.groups {
		also = append(also, changedEntity{"group_member", g + "/" + userID, "delete"})
	}
	for _, i := range r.invitations {
		also = append(also, changedEntity{"invitation", i, "update"})
	}
	also = append(also, accessKeyDeletions(r.accessKeys)...)
	also = append(also, roleSessionDeletions(r.roleSessions)...)
	return append(also, r.signedOut.changes()...)
}

// removeUserAccess removes a user's grants, group memberships and access
// keys, voids its invitations, ends the sessions of the account roles it
// assumed and signs it out.
func removeUserAccess(ctx context.Context, tx *Tx, orgID, id string) (removedAccess, error) {
	var r removedAccess
	var err error
	r.grants, err = deleteGrantsWhere(ctx, tx, `org_id = ? AND subject_type = 'user' AND subject_id = ?`, orgID, id)
	if err != nil {
		return r, err
	}
	rows, err := tx.query(ctx, `DELETE FROM group_members WHERE org_id = ? AND user_id = ? RETURNING group_id`, orgID, id)
	if err != nil {
		return r, fmt.Errorf("delete memberships: %w", err)
	}
	if r.groups, err = collect(rows, scanString); err != nil {
		return r, fmt.Errorf("delete memberships: %w", err)
	}
	if r.invitations, err = voidInvitations(ctx, tx, orgID, id); err != nil {
		return r, err
	}
	r.roleSessions, err = endRoleSessionsWhere(ctx, tx, `org_id = ? AND source_type = ? AND source_id = ?`, orgID, castellan.SourceIamUser, id)
	if err != nil {
		return r, err
	}
	if r.signedOut, err = signOut(ctx, tx, orgID, []string{id}); err != nil {
		return r, err
	}
	// The keys go too, so each gets one delete row rather than the
	// update row of a signed-out key.
	r.signedOut.keys = nil
	r.accessKeys, err = deleteAccessKeysWhere(ctx, tx, `org_id = ? AND owner_type = 'user' AND owner_id = ?`, orgID, id)
	return r, err
}

// tombstone turns u's row into a tombstone and removes its second
// factors.
func tombstone(ctx context.Context, tx *Tx, u *castellan.User) error {
	_, err := tx.exec(ctx, `UPDATE users SET status = 'deleted', deleted_at = ?, email = '', email_lower = '',
		nickname = '', first_name = '', middle_name = '', last_name = '', contact_email = '', mobile = '', memo = '',
		password_hash = NULL, console_access = FALSE, api_access = FALSE, use_console_permit_ip = FALSE, console_permit_ips = '[]',
		use_api_allow_source = FALSE, api_allow_sources = '[]', updated_at = ?, updated_by = ?, revision = ?
		WHERE org_id = ? AND id = ?`, tx.now, tx.now, tx.actorID(), tx.revision, u.OrganizationID, u.ID)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	_, err = deleteMFA(ctx, tx, u.ID)
	return err
}
