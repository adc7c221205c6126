package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/castellan-iam/castellan"
)

// AccountMembershipService implements castellan.AccountMembershipService:
// exclusion of accounts and invitations of existing accounts.
type AccountMembershipService struct{ db *DB }

var _ castellan.AccountMembershipService = (*AccountMembershipService)(nil)

// AccountMemberships returns the account membership service of db.
func (db *DB) AccountMemberships() *AccountMembershipService {
	return &AccountMembershipService{db: db}
}

// ExcludeAccount implements castellan.AccountMembershipService. The
// preconditions are asked of Billing before the transaction (an
// operator's billing system is no part of it); the transaction then
// creates the new organization, moves the account into it, makes its
// root user the Owner and mails the notices.
func (s *AccountMembershipService) ExcludeAccount(ctx context.Context, orgID, id string) (*castellan.Organization, error) {
	a, err := findAccount(ctx, s.db.query, s.db.queryRow, orgID, id)
	if err != nil {
		return nil, err
	}
	facts, err := s.db.accountFacts(ctx, a)
	if err != nil {
		return nil, err
	}
	if err := castellan.Refusal("exclude", castellan.ExclusionChecks(facts)); err != nil {
		return nil, err
	}
	var org *castellan.Organization
	err = s.db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		// Read again under the lock: the account may have been excluded,
		// deleted or made the management account meanwhile.
		a, err := findAccount(ctx, tx.query, tx.queryRow, orgID, id)
		if err != nil {
			return err
		}
		facts.Account = a
		if err := castellan.Refusal("exclude", castellan.ExclusionChecks(facts)); err != nil {
			return err
		}
		oldName, err := lockOrganizationName(ctx, tx, orgID)
		if err != nil {
			return err
		}
		name, err := standaloneName(ctx, tx, a)
		if err != nil {
			return err
		}
		if org, err = createOrganization(ctx, tx, castellan.OrganizationCreate{Name: name}); err != nil {
			return err
		}
		moved, err := moveAccountAcross(ctx, tx, orgID, org.ID, id)
		if err != nil {
			return err
		}
		root, invitation, err := s.db.Accounts().rootUser(ctx, tx, org.ID, a.Email)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE accounts SET management = TRUE, addition_type = ?, root_user_id = ?, joined_at = ? WHERE org_id = ? AND id = ?`,
			string(castellan.AccountCreated), root.ID, tx.now, org.ID, id)
		if err != nil {
			return fmt.Errorf("make account standalone: %w", err)
		}
		grants, err := grantRootUser(ctx, tx, org.ID, id, root.ID, castellan.OrganizationScope(org.ID))
		if err != nil {
			return err
		}
		if err := s.mailExclusion(ctx, tx, orgID, oldName, org, a, facts.Resources.Delegates); err != nil {
			return err
		}
		summary := moved.summary(orgID, org.ID)
		summary["newOrganizationId"], summary["newOrganizationName"], summary["rootUserId"] = org.ID, org.Name, root.ID
		if _, err := tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionExcludeAccount,
			entityType: "node", entityID: id, entityName: a.Name, summary: summary, also: moved.leftChanges(),
		}); err != nil {
			return err
		}
		arrived := append([]changedEntity{{"node", org.ID, "create"}, {"policy_attachment", org.ID + "/" + castellan.FullAccessPolicyID, "create"},
			{"user", root.ID, "create"}, {"invitation", invitation, "create"}}, moved.arrivedChanges()...)
		org.Revision, err = tx.record(ctx, change{
			orgID: org.ID, action: castellan.ActionExcludeAccount,
			entityType: "organization", entityID: org.ID, entityName: org.Name, operation: "create", summary: summary,
			also: append(arrived, grantCreations(grants)...),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return org, nil
}

// standaloneName is the name of the organization an excluded account
// becomes: the account's, or, when an organization has it (names are
// unique in the installation), the account's followed by the start of
// its ID.
func standaloneName(ctx context.Context, tx *Tx, a *castellan.Account) (string, error) {
	var one int
	err := tx.queryRow(ctx, `SELECT 1 FROM organizations WHERE name = ?`, a.Name).Scan(&one)
	if isNoRows(err) {
		return a.Name, nil
	}
	if err != nil {
		return "", err
	}
	return a.Name + " (" + a.ID[:8] + ")", nil
}

// grantRootUser grants the account's root user account.admin on the
// account and, for a standalone account, organization.owner on its
// organization (also, when not the zero scope).
func grantRootUser(ctx context.Context, tx *Tx, orgID, accountID, userID string, also castellan.Scope) ([]*castellan.Grant, error) {
	subject := castellan.Subject{Type: castellan.SubjectUser, ID: userID}
	wanted := []*castellan.Grant{{OrganizationID: orgID, RoleID: castellan.AccountAdminRoleID,
		Scope: castellan.NodeScope(castellan.NodeAccount, accountID).String(), Subject: subject}}
	if also.ID != "" {
		wanted = append(wanted, &castellan.Grant{OrganizationID: orgID, RoleID: castellan.OrganizationOwnerRoleID, Scope: also.String(), Subject: subject})
	}
	byKey := map[grantKey]*castellan.Grant{}
	for _, g := range wanted {
		byKey[keyOf(g)] = g
	}
	return insertNewGrants(ctx, tx, wanted, byKey)
}

// grantCreations are the change-log rows of created grants.
func grantCreations(grants []*castellan.Grant) []changedEntity {
	out := make([]changedEntity, len(grants))
	for i, g := range grants {
		out[i] = changedEntity{"grant", g.ID, "create"}
	}
	return out
}

// mailExclusion enqueues the exclusion notice (seed 001) to the old
// organization's creating administrator (or, when it was not a user
// with an email, its Owners), the account's root user and its
// delegates, each address once.
func (s *AccountMembershipService) mailExclusion(ctx context.Context, tx *Tx, orgID, orgName string, org *castellan.Organization,
	a *castellan.Account, delegates []string) error {
	var createdBy string
	if err := tx.queryRow(ctx, `SELECT created_by FROM organizations WHERE id = ?`, orgID).Scan(&createdBy); err != nil {
		return err
	}
	admins, err := creatingAdministrators(ctx, tx, orgID, createdBy)
	if err != nil {
		return err
	}
	data := map[string]string{"organizationName": orgName, "accountName": a.Name, "accountId": a.ID, "newOrganizationName": org.Name}
	seen := map[string]bool{}
	send := func(mailOrg string, to []string) error {
		for _, address := range to {
			if k := strings.ToLower(address); address != "" && !seen[k] {
				seen[k] = true
				if _, err := tx.enqueueMail(ctx, mailOrg, address, castellan.MailAccountExcluded, data); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := send(orgID, admins); err != nil {
		return err
	}
	return send(org.ID, append([]string{a.Email}, delegates...))
}

// invitationSelect reads invitations with their organization's name.
const invitationSelect = `SELECT i.id, i.org_id, o.name, i.email, i.status, i.account_id, i.created_at, i.created_by, i.responded_at, i.revision
	FROM account_invitations i JOIN organizations o ON o.id = i.org_id`

func scanInvitation(row scanner) (*castellan.AccountInvitation, error) {
	var (
		inv       castellan.AccountInvitation
		responded sql.NullTime
	)
	err := row.Scan(&inv.ID, &inv.OrganizationID, &inv.OrganizationName, &inv.Email, &inv.Status, &inv.AccountID,
		&inv.CreatedAt, &inv.CreatedBy, &responded, &inv.Revision)
	if err != nil {
		return nil, err
	}
	inv.CreatedAt = inv.CreatedAt.UTC()
	if responded.Valid {
		inv.RespondedAt = responded.Time.UTC()
	}
	return &inv, nil
}

func invitationNotFound(id string) error {
	return notFound(castellan.CodeAccountInvitationNotFound, "account invitation", id)
}

// InviteAccounts implements castellan.AccountMembershipService. It looks
// up no account: the emails are root user emails of accounts anywhere,
// and the answer must not tell the inviter which exist.
func (s *AccountMembershipService) InviteAccounts(ctx context.Context, orgID string, emails []string) ([]*castellan.AccountInvitation, error) {
	if err := castellan.ValidateInvitationEmails("emails", emails); err != nil {
		return nil, err
	}
	var out []*castellan.AccountInvitation
	err := s.db.update(ctx, func(tx *Tx) error {
		orgName, err := lockOrganizationName(ctx, tx, orgID)
		if err != nil {
			return err
		}
		lower := make([]string, len(emails))
		for i, e := range emails {
			lower[i] = strings.ToLower(e)
		}
		in, args := inList(lower)
		rows, err := tx.query(ctx, `SELECT email FROM account_invitations WHERE org_id = ? AND status = 'pending' AND email IN `+in,
			append([]any{orgID}, args...)...)
		if err != nil {
			return err
		}
		pending, err := collect(rows, scanString)
		if err != nil {
			return err
		}
		for i, e := range lower {
			for _, p := range pending {
				if p == e {
					return itemError(castellan.ECONFLICT, castellan.CodeAccountInvitationPending, fmt.Sprintf("emails[%d]", i), "unique",
						"an invitation to %s is already pending; cancel it to invite again", e)
				}
			}
		}
		values := make([][]any, len(lower))
		also := make([]changedEntity, len(lower))
		for i, e := range lower {
			inv := &castellan.AccountInvitation{ID: newID(), OrganizationID: orgID, OrganizationName: orgName, Email: e,
				Status: castellan.InvitationPending, CreatedAt: tx.now, CreatedBy: tx.actorID(), Revision: tx.revision}
			out = append(out, inv)
			values[i] = []any{inv.ID, orgID, e, string(inv.Status), inv.CreatedAt, inv.CreatedBy, inv.Revision}
			also[i] = changedEntity{"account_invitation", inv.ID, "create"}
			if _, err := tx.enqueueMail(ctx, orgID, e, castellan.MailAccountInvitation, map[string]string{"organizationName": orgName, "email": e}); err != nil {
				return err
			}
		}
		if err := tx.insertRows(ctx, `INSERT INTO account_invitations (id, org_id, email, status, created_at, created_by, revision) VALUES `, values); err != nil {
			return fmt.Errorf("insert account invitations: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionInviteAccount,
			entityType: "organization", entityID: orgID, entityName: orgName,
			summary: map[string]any{"emails": lower}, also: also,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindAccountInvitations implements castellan.AccountMembershipService.
// IDs are time-ordered, so newest first is descending ID order.
func (s *AccountMembershipService) FindAccountInvitations(ctx context.Context, orgID string, f castellan.AccountInvitationFilter) ([]*castellan.AccountInvitation, string, error) {
	cur, err := decodeCursor(f.PageToken, "accountInvitations", 1)
	if err != nil {
		return nil, "", err
	}
	q, args := invitationSelect+` WHERE i.org_id = ?`, []any{orgID}
	if f.Status != nil {
		switch *f.Status {
		case castellan.InvitationPending, castellan.InvitationAccepted, castellan.InvitationDeclined, castellan.InvitationCancelled:
		default:
			return nil, "", castellan.Invalid([]castellan.FieldError{{Field: "status", Rule: "enum", Message: "must be pending, accepted, declined or cancelled"}})
		}
		q, args = q+` AND i.status = ?`, append(args, string(*f.Status))
	}
	if cur != nil {
		q, args = q+` AND i.id < ?`, append(args, cur.Key[0])
	}
	size := castellan.PageSize(f.PageSize)
	rows, err := s.db.query(ctx, q+` ORDER BY i.id DESC LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	found, err := collect(rows, scanInvitation)
	if err != nil {
		return nil, "", err
	}
	found, next := pageOf(found, size, func(inv *castellan.AccountInvitation) cursor {
		return cursor{List: "accountInvitations", Key: []string{inv.ID}}
	})
	return found, next, nil
}

// CancelAccountInvitation implements castellan.AccountMembershipService.
func (s *AccountMembershipService) CancelAccountInvitation(ctx context.Context, orgID, id string) (*castellan.AccountInvitation, error) {
	var inv *castellan.AccountInvitation
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		inv, err = scanInvitation(tx.queryRow(ctx, invitationSelect+` WHERE i.org_id = ? AND i.id = ?`, orgID, id))
		if isNoRows(err) {
			return invitationNotFound(id)
		}
		if err != nil {
			return err
		}
		if err := setInvitationStatus(ctx, tx, inv, castellan.InvitationCancelled, ""); err != nil {
			return err
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCancelAccountInvitation,
			entityType: "account_invitation", entityID: id, entityName: inv.Email, operation: "update",
			summary: map[string]any{"email": inv.Email, "status": diff{castellan.InvitationPending, castellan.InvitationCancelled}},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// setInvitationStatus ends a pending invitation in tx:
// EPRECONDITION (account_invitation.not_pending) when it is not pending.
func setInvitationStatus(ctx context.Context, tx *Tx, inv *castellan.AccountInvitation, status castellan.AccountInvitationStatus, accountID string) error {
	if inv.Status != castellan.InvitationPending {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeAccountInvitationNotPending,
			"the invitation %s is %s, no longer pending", inv.ID, inv.Status)
	}
	res, err := tx.exec(ctx, `UPDATE account_invitations SET status = ?, account_id = ?, responded_at = ?, responded_by = ?, revision = ?
		WHERE org_id = ? AND id = ? AND status = 'pending'`,
		string(status), accountID, tx.now, tx.actorID(), tx.revision, inv.OrganizationID, inv.ID)
	if err != nil {
		return fmt.Errorf("update account invitation: %w", err)
	}
	// The invitation was read without a lock: an answer or a
	// cancellation that committed meanwhile leaves no pending row.
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update account invitation: %w", err)
	} else if n != 1 {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeAccountInvitationNotPending,
			"the invitation %s was answered or cancelled meanwhile", inv.ID)
	}
	inv.Status, inv.AccountID, inv.RespondedAt, inv.Revision = status, accountID, tx.now, tx.revision
	return nil
}

// receivedWhere selects the invitations addressed to an account of
// organization orgID: its root user email, from other organizations.
const receivedWhere = ` WHERE i.email = ? AND i.org_id <> ?`

// mayAnswer refuses to show or answer invitations for an account that is
// not standalone (its organization's management account) or whose root
// user has not proved the email: an invitation is addressed to an email
// only, and any organization can make a user and an account with any
// email, so only the root user of a standalone account, which exclusion
// made and invited by mail and which accepted that mail, owns it.
// EPRECONDITION (account.not_standalone).
func mayAnswer(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, a *castellan.Account) error {
	if !a.Management {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeAccountNotStandalone,
			"the account %s belongs to an organization; only a standalone account receives invitations to join another", a.ID)
	}
	var status string
	err := queryRow(ctx, `SELECT status FROM users WHERE org_id = ? AND id = ?`, a.OrganizationID, a.RootUserID).Scan(&status)
	if err != nil && !isNoRows(err) {
		return err
	}
	if status != castellan.UserActive {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeAccountNotStandalone,
			"the root user of the account %s has not accepted the invitation mailed to its email yet", a.ID)
	}
	return nil
}

// FindReceivedAccountInvitations implements
// castellan.AccountMembershipService: the pending invitations of other
// organizations addressed to the account's root user email, newest
// first.
func (s *AccountMembershipService) FindReceivedAccountInvitations(ctx context.Context, orgID, accountID string) ([]*castellan.AccountInvitation, error) {
	a, err := findAccount(ctx, s.db.query, s.db.queryRow, orgID, accountID)
	if err != nil {
		return nil, err
	}
	if err := mayAnswer(ctx, s.db.queryRow, a); err != nil {
		return nil, err
	}
	rows, err := s.db.query(ctx, invitationSelect+receivedWhere+` AND i.status = 'pending' ORDER BY i.id DESC`, a.Email, orgID)
	if err != nil {
		return nil, err
	}
	found, err := collect(rows, scanInvitation)
	return nonNilSlice(found), err
}

// RespondToAccountInvitation implements
// castellan.AccountMembershipService. Accepting locks both
// organizations' structure, checks the inviter's account limit, moves
// the account under the inviter's root and makes the inviter's user
// with the email (matched or invited) its root user.
func (s *AccountMembershipService) RespondToAccountInvitation(ctx context.Context, orgID, accountID, invitationID string, accept bool) (*castellan.AccountInvitation, error) {
	var inv *castellan.AccountInvitation
	err := s.db.update(ctx, func(tx *Tx) error {
		a, err := findAccount(ctx, tx.query, tx.queryRow, orgID, accountID)
		if err != nil {
			return err
		}
		if err := mayAnswer(ctx, tx.queryRow, a); err != nil {
			return err
		}
		inv, err = scanInvitation(tx.queryRow(ctx, invitationSelect+receivedWhere+` AND i.id = ?`, a.Email, orgID, invitationID))
		if isNoRows(err) {
			return invitationNotFound(invitationID)
		}
		if err != nil {
			return err
		}
		if !accept {
			if err := setInvitationStatus(ctx, tx, inv, castellan.InvitationDeclined, ""); err != nil {
				return err
			}
			_, err = tx.record(ctx, change{
				orgID: inv.OrganizationID, action: castellan.ActionRespondToAccountInvitation,
				entityType: "account_invitation", entityID: inv.ID, entityName: inv.Email, operation: "update",
				summary: map[string]any{"email": inv.Email, "accountId": accountID, "status": diff{castellan.InvitationPending, castellan.InvitationDeclined}},
			})
			return err
		}
		return s.accept(ctx, tx, a, inv)
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// accept brings the standalone account a into the organization that sent
// inv, in tx.
func (s *AccountMembershipService) accept(ctx context.Context, tx *Tx, a *castellan.Account, inv *castellan.AccountInvitation) error {
	if err := setInvitationStatus(ctx, tx, inv, castellan.InvitationAccepted, a.ID); err != nil {
		return err
	}
	from, to := a.OrganizationID, inv.OrganizationID
	if err := lockStructures(ctx, tx, from, to); err != nil {
		return err
	}
	if err := checkAccountLimit(ctx, tx, to); err != nil {
		return err
	}
	moved, err := moveAccountAcross(ctx, tx, from, to, a.ID)
	if err != nil {
		return err
	}
	root, invitation, err := tx.db.Accounts().rootUser(ctx, tx, to, a.Email)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `UPDATE accounts SET management = FALSE, addition_type = ?, root_user_id = ?, joined_at = ? WHERE org_id = ? AND id = ?`,
		string(castellan.AccountInvited), root.ID, tx.now, to, a.ID)
	if err != nil {
		return fmt.Errorf("join account: %w", err)
	}
	grants, err := grantRootUser(ctx, tx, to, a.ID, root.ID, castellan.Scope{})
	if err != nil {
		return err
	}
	summary := moved.summary(from, to)
	summary["invitationId"], summary["rootUserId"] = inv.ID, root.ID
	if _, err := tx.record(ctx, change{
		orgID: from, action: castellan.ActionRespondToAccountInvitation,
		entityType: "node", entityID: a.ID, entityName: a.Name, summary: summary, also: moved.leftChanges(),
	}); err != nil {
		return err
	}
	arrived := append(moved.arrivedChanges(), grantCreations(grants)...)
	if invitation != "" {
		arrived = append(arrived, changedEntity{"user", root.ID, "create"}, changedEntity{"invitation", invitation, "create"})
	}
	_, err = tx.record(ctx, change{
		orgID: to, action: castellan.ActionRespondToAccountInvitation,
		entityType: "account_invitation", entityID: inv.ID, entityName: inv.Email, operation: "update",
		summary: summary, also: arrived,
	})
	return err
}
