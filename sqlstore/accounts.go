package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/castellan-iam/castellan"
)

// AccountService implements castellan.AccountService on the nodes and
// accounts tables.
type AccountService struct{ db *DB }

// Accounts returns the account service of db.
func (db *DB) Accounts() *AccountService { return &AccountService{db: db} }

func accountNotFound(id string) error { return notFound(castellan.CodeAccountNotFound, "account", id) }

// accountSelect reads an account: its node, its accounts row.
const accountSelect = `SELECT n.created_by, n.updated_by, a.email, a.root_user_id, a.iam_role_name, a.addition_type, a.management
	FROM nodes n JOIN accounts a ON a.id = n.id`

// findAccount reads an account of the organization with its path through
// query and queryRow (the reader pool or a transaction).
func findAccount(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error),
	queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) (*castellan.Account, error) {
	var a castellan.Account
	err := queryRow(ctx, accountSelect+` WHERE n.org_id = ? AND n.kind = 'account' AND n.id = ?`, orgID, id).
		Scan(&a.CreatedBy, &a.UpdatedBy, &a.Email, &a.RootUserID, &a.IAMRoleName, &a.AdditionType, &a.Management)
	if isNoRows(err) {
		return nil, accountNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	chain, err := ancestors(ctx, query, queryRow, orgID, id)
	if err != nil {
		return nil, err
	}
	n := chain[0]
	a.ID, a.OrganizationID, a.ParentID, a.Name, a.JoinedAt = n.ID, n.OrganizationID, n.ParentID, n.Name, n.JoinedAt
	a.Path, a.CreatedAt, a.UpdatedAt, a.Revision = nodeRefs(chain), n.CreatedAt, n.UpdatedAt, n.Revision
	return &a, nil
}

// FindAccountByID implements castellan.AccountService.
func (s *AccountService) FindAccountByID(ctx context.Context, orgID, id string) (*castellan.Account, error) {
	return findAccount(ctx, s.db.query, s.db.queryRow, orgID, id)
}

// CreateAccount implements castellan.AccountService. In one transaction:
// the account's node and row, its root user (the organization's user with
// the email, or a new one invited by mail to set a password), the grant
// of account.admin on the account to the root user, and the policy
// attachments.
func (s *AccountService) CreateAccount(ctx context.Context, orgID string, c castellan.AccountCreate) (*castellan.Account, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var a *castellan.Account
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		var count int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE org_id = ?`, orgID).Scan(&count); err != nil {
			return err
		}
		if count >= s.db.maxAccounts {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeAccountLimitReached,
				"the organization holds %d accounts, the most it may have", count)
		}
		parent, err := findParent(ctx, tx, orgID, "parentId", c.ParentID, castellan.NodeAccount)
		if err != nil {
			return err
		}
		n, err := insertNode(ctx, tx, orgID, castellan.NodeAccount, parent, newID(), c.Name, "")
		if err != nil {
			return err
		}
		root, invitation, err := s.rootUser(ctx, tx, orgID, c.Email)
		if err != nil {
			return err
		}
		email := strings.ToLower(c.Email)
		_, err = tx.exec(ctx, `INSERT INTO accounts (id, org_id, email, root_user_id, iam_role_name, addition_type, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			n.ID, orgID, email, root.ID, c.IAMRoleName, string(castellan.AccountCreated), tx.now)
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		if err := attachPolicies(ctx, tx, orgID, n.ID, "policyIds", c.PolicyIDs); err != nil {
			return err
		}
		grant := &castellan.Grant{
			OrganizationID: orgID, RoleID: castellan.AccountAdminRoleID, Scope: n.Scope().String(),
			Subject: castellan.Subject{Type: castellan.SubjectUser, ID: root.ID},
		}
		if _, err := insertNewGrants(ctx, tx, []*castellan.Grant{grant}, map[grantKey]*castellan.Grant{keyOf(grant): grant}); err != nil {
			return err
		}
		if a, err = findAccount(ctx, tx.query, tx.queryRow, orgID, n.ID); err != nil {
			return err
		}
		also := append(attachmentsCreated(n.ID, c.PolicyIDs), changedEntity{"grant", grant.ID, "create"})
		if invitation != "" {
			also = append(also, changedEntity{"user", root.ID, "create"}, changedEntity{"invitation", invitation, "create"})
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateAccount,
			entityType: "node", entityID: n.ID, entityName: n.Name, operation: "create",
			summary: map[string]any{"kind": n.Kind, "name": n.Name, "email": email, "iamRoleName": c.IAMRoleName, "parentId": parent.ID,
				"rootUserId": root.ID, "rootUserCreated": invitation != "", "policyIds": policyIDsOrDefault(c.PolicyIDs)},
			also: also,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// rootUser returns the organization's user with the email (matched, not
// duplicated), or creates one waiting for its invitation, whose mail it
// enqueues; invitation is the new invitation's ID, "" for a matched user.
func (s *AccountService) rootUser(ctx context.Context, tx *Tx, orgID, email string) (*castellan.User, string, error) {
	var id, status string
	err := tx.queryRow(ctx, `SELECT id, status FROM users WHERE org_id = ? AND email_lower = ?`+tx.db.dialect.lockKey,
		orgID, strings.ToLower(email)).Scan(&id, &status)
	switch {
	case err == nil && status != castellan.UserDeleted:
		return &castellan.User{ID: id}, "", nil
	case err == nil:
		return nil, "", itemError(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "email", "unique",
			"the user with email %q was deleted; restore it or use another email", email)
	case !isNoRows(err):
		return nil, "", err
	}
	orgName, err := lockOrganizationName(ctx, tx, orgID)
	if err != nil {
		return nil, "", err
	}
	u := newUser(tx, orgID, castellan.UserRegistration{LoginID: email, Email: email, ConsoleAccess: true, APIAccess: true})
	u.Status = castellan.UserPendingInvitation
	if err := insertUsers(ctx, tx, []userRow{{user: u}}); err != nil {
		return nil, "", err
	}
	invitations, err := invite(ctx, tx, orgName, []*castellan.User{u}, castellan.MailInvitation)
	if err != nil {
		return nil, "", err
	}
	return u, invitations[u.ID], nil
}
