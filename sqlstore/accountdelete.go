package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// DeleteAccount implements castellan.AccountService. The caller confirms
// with its own password (an attempt counted towards its lockout as the
// console's change-password form counts it) and the account's name
// typed; the operator, who has no password, confirms with the name only.
// Then, in one transaction under the structure lock: the deletion
// preconditions (castellan.DeletionChecks over the store's Billing and
// ResourceInventory), the account's projects with what deleting a project
// removes, the grants on the account, its policy attachments, its row and
// node, and a notice by mail to the organization's creating administrator
// (or, when the organization was not created by one of its users with an
// email, to its owners), the account's root user and its delegates, each
// address once.
//
// Returns ENOTFOUND (account.not_found), EFORBIDDEN (auth.wrong_password)
// for a wrong password or a caller without one (a service account), EINVALID
// (account.name_mismatch) for a wrong name and EPRECONDITION with the
// code of the first unmet precondition.
func (s *AccountService) DeleteAccount(ctx context.Context, orgID, id string, confirm castellan.AccountDeletion) (int64, error) {
	if _, err := s.FindAccountByID(ctx, orgID, id); err != nil {
		return 0, err
	}
	if err := s.confirmPassword(ctx, orgID, confirm.Password); err != nil {
		return 0, err
	}
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		a, err := findAccount(ctx, tx.query, tx.queryRow, orgID, id)
		if err != nil {
			return err
		}
		if confirm.Name != a.Name {
			return itemError(castellan.EINVALID, castellan.CodeAccountNameMismatch, "name", "match",
				"type the account's name exactly to confirm its deletion")
		}
		facts, err := s.db.accountFacts(ctx, a)
		if err != nil {
			return err
		}
		if err := castellan.Refusal("delete", castellan.DeletionChecks(facts)); err != nil {
			return err
		}
		removed, err := removeAccount(ctx, tx, a)
		if err != nil {
			return err
		}
		notified, err := notifyAccountDeleted(ctx, tx, a, facts.Resources.Delegates)
		if err != nil {
			return err
		}
		removed.summary["notified"] = notified
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteAccount,
			entityType: "node", entityID: id, entityName: a.Name, operation: "delete",
			summary: removed.summary, also: removed.also,
		})
		return err
	})
	return rev, err
}

// confirmPassword checks the caller's password for a deletion: the
// operator has none and needs none; any other caller must be an active
// user of the organization with a password, and a wrong one counts
// towards the user's lockout.
func (s *AccountService) confirmPassword(ctx context.Context, orgID, password string) error {
	const what = "the deletion of an account"
	p, ok := castellan.PrincipalFrom(ctx)
	if ok && p.Type == castellan.PrincipalOperator {
		return nil
	}
	if !ok || p.Type != castellan.PrincipalUser || p.OrganizationID != orgID {
		return wrongPassword(what)
	}
	return s.db.confirmPassword(ctx, orgID, p.ID, password, what)
}

// confirmPassword checks that password is the current password of
// userID, an active user with one, to confirm what (a change outside a
// sign-in form); a wrong one counts towards the user's lockout, and the
// failure that locks the account also ends the caller's session, so that
// a borrowed session cannot go on once it has guessed too often.
// Returns EFORBIDDEN (auth.wrong_password).
func (db *DB) confirmPassword(ctx context.Context, orgID, userID, password, what string) error {
	var (
		login string
		hash  sql.NullString
	)
	err := db.queryRow(ctx, `SELECT login_id, password_hash FROM users WHERE org_id = ? AND id = ? AND status = 'active'`,
		orgID, userID).Scan(&login, &hash)
	if isNoRows(err) || err == nil && !hash.Valid {
		return wrongPassword(what)
	}
	if err != nil {
		return err
	}
	p, _ := castellan.PrincipalFrom(ctx)
	refused, err := db.Sessions().confirmCurrentPassword(ctx, orgID, userID, login, hash.String, password, db.signIn, p.SessionID)
	if err != nil {
		return err
	}
	if refused {
		e := wrongPassword(what)
		e.Message = "the password is wrong"
		return e
	}
	return nil
}

// wrongPassword is the refusal of a confirmation by password, saying
// who may confirm what.
func wrongPassword(what string) *castellan.Error {
	return &castellan.Error{Kind: castellan.EFORBIDDEN, Code: castellan.CodeWrongPassword, Message: "only a user with a password can confirm " + what,
		Fields: []castellan.FieldError{{Field: "password", Rule: "match", Message: "is not your password"}}}
}

// accountRemoval is the audit summary and the change-log rows of an
// account's deletion.
type accountRemoval struct {
	summary map[string]any
	also    []changedEntity
}

// removeAccount deletes the account a in tx with everything in it: its
// projects (as DeleteProject removes them), the grants on it, its policy
// attachments, its row and its node.
func removeAccount(ctx context.Context, tx *Tx, a *castellan.Account) (*accountRemoval, error) {
	orgID := a.OrganizationID
	n, err := findNode(ctx, tx.queryRow, orgID, a.ID)
	if err != nil {
		return nil, err
	}
	rows, err := tx.query(ctx, `SELECT id FROM nodes WHERE org_id = ? AND kind = 'project' AND path >= ? AND path < ? ORDER BY path DESC`,
		orgID, n.path, subtreeUpper(n.path))
	if err != nil {
		return nil, err
	}
	projectIDs, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	r := &accountRemoval{summary: map[string]any{"kind": castellan.NodeAccount, "name": a.Name, "email": a.Email, "parentId": a.ParentID}}
	projects := []map[string]any{}
	for _, pid := range projectIDs {
		p, err := removeProject(ctx, tx, orgID, pid)
		if err != nil {
			return nil, err
		}
		summary := p.summary()
		summary["id"] = pid
		projects = append(projects, summary)
		r.also = append(append(r.also, changedEntity{"project", pid, "delete"}), p.changes()...)
	}
	grants, err := deleteGrantsWhere(ctx, tx, `org_id = ? AND scope = ?`, orgID, castellan.NodeScope(castellan.NodeAccount, a.ID).String())
	if err != nil {
		return nil, err
	}
	rows, err = tx.query(ctx, `DELETE FROM policy_attachments WHERE org_id = ? AND node_id = ? RETURNING policy_id`, orgID, a.ID)
	if err != nil {
		return nil, fmt.Errorf("detach the account's policies: %w", err)
	}
	policyIDs, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	slices.Sort(policyIDs)
	if _, err := tx.exec(ctx, `DELETE FROM accounts WHERE org_id = ? AND id = ?`, orgID, a.ID); err != nil {
		return nil, fmt.Errorf("delete account: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM nodes WHERE org_id = ? AND kind = 'account' AND id = ?`, orgID, a.ID); err != nil {
		return nil, fmt.Errorf("delete account node: %w", err)
	}
	r.summary["deletedProjects"] = projects
	r.summary["deletedGrants"] = grantSummaries(grants)
	r.summary["detachedPolicyIds"] = nonNilSlice(policyIDs)
	r.also = append(r.also, grantDeletions(grants)...)
	for _, pid := range policyIDs {
		r.also = append(r.also, changedEntity{"policy_attachment", a.ID + "/" + pid, "delete"})
	}
	return r, nil
}

// notifyAccountDeleted enqueues the deletion notice of the account a to
// the organization's creating administrator (its owners when that is not
// a user of the organization with an email), the account's root user and
// the delegates, each address once, and returns the addresses.
func notifyAccountDeleted(ctx context.Context, tx *Tx, a *castellan.Account, delegates []string) ([]string, error) {
	orgID := a.OrganizationID
	var orgName, createdBy string
	if err := tx.queryRow(ctx, `SELECT name, created_by FROM organizations WHERE id = ?`, orgID).Scan(&orgName, &createdBy); err != nil {
		return nil, err
	}
	admins, err := creatingAdministrators(ctx, tx, orgID, createdBy)
	if err != nil {
		return nil, err
	}
	var to []string
	seen := map[string]bool{}
	for _, addr := range slices.Concat(admins, []string{a.Email}, delegates) {
		if k := strings.ToLower(addr); addr != "" && !seen[k] {
			seen[k] = true
			to = append(to, addr)
		}
	}
	data := map[string]string{"organizationName": orgName, "accountName": a.Name, "accountId": a.ID, "deletedAt": tx.now.Format(time.RFC3339)}
	for _, addr := range to {
		if _, err := tx.enqueueMail(ctx, orgID, addr, castellan.MailAccountDeleted, data); err != nil {
			return nil, err
		}
	}
	return to, nil
}

// creatingAdministrators returns the email of the user who created the
// organization (createdBy, an actor "user:<id>") when it is a user of the
// organization with an email, else the emails of the organization's
// owners: an organization bootstrapped by the operator has no creating
// user, and its owners administer it.
func creatingAdministrators(ctx context.Context, tx *Tx, orgID, createdBy string) ([]string, error) {
	if userID, ok := strings.CutPrefix(createdBy, string(castellan.PrincipalUser)+":"); ok {
		var email string
		err := tx.queryRow(ctx, `SELECT email FROM users WHERE org_id = ? AND id = ? AND status <> 'deleted' AND email <> ''`, orgID, userID).Scan(&email)
		if err == nil {
			return []string{email}, nil
		}
		if !isNoRows(err) {
			return nil, err
		}
	}
	role, scope := castellan.OrganizationOwnerRoleID, castellan.OrganizationScope(orgID).String()
	rows, err := tx.query(ctx, `SELECT email FROM users WHERE org_id = ? AND email <> '' AND id IN (`+ownersQuery+`) ORDER BY email`,
		orgID, orgID, role, scope, orgID, role, scope)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanString)
}
