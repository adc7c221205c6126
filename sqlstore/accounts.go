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
var _ castellan.AccountService = (*AccountService)(nil)

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
		if err := checkAccountLimit(ctx, tx, orgID); err != nil {
			return err
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

// checkAccountLimit refuses one more account in the organization at its
// limit (db.maxAccounts), in tx, which holds lockStructure on it.
// EPRECONDITION (account.limit_reached).
func checkAccountLimit(ctx context.Context, tx *Tx, orgID string) error {
	var count int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE org_id = ?`, orgID).Scan(&count); err != nil {
		return err
	}
	if count >= tx.db.maxAccounts {
		return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeAccountLimitReached,
			"the organization holds %d accounts, the most it may have", count)
	}
	return nil
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
	if err := checkUserLimit(ctx, tx, orgID, 1); err != nil {
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

// accountListSelect reads accounts for a list, with their paths.
const accountListSelect = `SELECT n.id, n.org_id, COALESCE(n.parent_id, ''), n.name, n.path, n.created_at, n.created_by,
	n.updated_at, n.updated_by, n.revision, a.email, a.root_user_id, a.iam_role_name, a.addition_type, a.management, a.joined_at
	FROM nodes n JOIN accounts a ON a.id = n.id`

// listedAccount is an account as a list reads it, with its path.
type listedAccount struct {
	castellan.Account
	path string
}

func scanListedAccount(row scanner) (*listedAccount, error) {
	var a listedAccount
	err := row.Scan(&a.ID, &a.OrganizationID, &a.ParentID, &a.Name, &a.path, &a.CreatedAt, &a.CreatedBy,
		&a.UpdatedAt, &a.UpdatedBy, &a.Revision, &a.Email, &a.RootUserID, &a.IAMRoleName, &a.AdditionType, &a.Management, &a.JoinedAt)
	if err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt, a.JoinedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC(), a.JoinedAt.UTC()
	return &a, nil
}

// FindAccounts implements castellan.AccountService: a page by name, then
// ID, with each account's path read in one more query for the page.
func (s *AccountService) FindAccounts(ctx context.Context, orgID string, f castellan.AccountFilter) ([]*castellan.Account, string, error) {
	cur, err := decodeCursor(f.PageToken, "accounts", 2)
	if err != nil {
		return nil, "", err
	}
	q, args := accountListSelect+` WHERE n.org_id = ? AND n.kind = 'account'`, []any{orgID}
	if f.ParentID != nil {
		if _, err := findNode(ctx, s.db.queryRow, orgID, *f.ParentID); err != nil {
			return nil, "", err
		}
		q, args = q+` AND n.parent_id = ?`, append(args, *f.ParentID)
	}
	if cur != nil {
		q, args = q+` AND (n.name > ? OR (n.name = ? AND n.id > ?))`, append(args, cur.Key[0], cur.Key[0], cur.Key[1])
	}
	size := castellan.PageSize(f.PageSize)
	rows, err := s.db.query(ctx, q+` ORDER BY n.name, n.id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	found, err := collect(rows, scanListedAccount)
	if err != nil {
		return nil, "", err
	}
	found, next := pageOf(found, size, func(a *listedAccount) cursor {
		return cursor{List: "accounts", Key: []string{a.Name, a.ID}}
	})
	accounts, err := s.withPaths(ctx, orgID, found)
	if err != nil {
		return nil, "", err
	}
	return accounts, next, nil
}

// withPaths fills the paths of listed accounts from one read of the
// nodes above them.
func (s *AccountService) withPaths(ctx context.Context, orgID string, listed []*listedAccount) ([]*castellan.Account, error) {
	above := map[string]bool{}
	var args []any
	for _, a := range listed {
		ids := pathIDs(a.path)
		for _, id := range ids[:len(ids)-1] {
			if !above[id] {
				above[id] = true
				args = append(args, id)
			}
		}
	}
	byID := map[string]*nodeRow{}
	if len(args) > 0 {
		rows, err := s.db.query(ctx, nodeSelect+` WHERE n.org_id = ? AND n.id IN (?`+strings.Repeat(", ?", len(args)-1)+`)`, append([]any{orgID}, args...)...)
		if err != nil {
			return nil, err
		}
		nodes, err := collect(rows, scanNode)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			byID[n.ID] = n
		}
	}
	out := make([]*castellan.Account, len(listed))
	for i, a := range listed {
		ids := pathIDs(a.path)
		a.Path = make([]castellan.NodeRef, 0, len(ids)-1)
		for _, id := range ids[:len(ids)-1] {
			n, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("account %s: ancestor %s missing", a.ID, id)
			}
			a.Path = append(a.Path, castellan.NodeRef{ID: n.ID, Kind: n.Kind, Name: n.Name})
		}
		out[i] = &a.Account
	}
	return out, nil
}

// UpdateAccount implements castellan.AccountService.
func (s *AccountService) UpdateAccount(ctx context.Context, orgID, id string, u castellan.AccountUpdate) (*castellan.Account, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	var a *castellan.Account
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if a, err = findAccount(ctx, tx.query, tx.queryRow, orgID, id); err != nil {
			return err
		}
		if u.Name == nil || *u.Name == a.Name {
			return nil
		}
		summary := map[string]any{"name": diff{a.Name, *u.Name}}
		a.Name, a.UpdatedAt, a.UpdatedBy, a.Revision = *u.Name, tx.now, tx.actorID(), tx.revision
		_, err = tx.exec(ctx, `UPDATE nodes SET name = ?, updated_at = ?, updated_by = ?, revision = ? WHERE org_id = ? AND kind = 'account' AND id = ?`,
			a.Name, a.UpdatedAt, a.UpdatedBy, a.Revision, orgID, id)
		if c := nodeConflict(err, castellan.NodeAccount, a.Name); c != nil {
			return c
		}
		if err != nil {
			return fmt.Errorf("rename account: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateAccount,
			entityType: "node", entityID: id, entityName: a.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// MoveAccount implements castellan.AccountService: under the structure
// lock, the account goes under the root or an OU with its projects.
func (s *AccountService) MoveAccount(ctx context.Context, orgID, id, parentID string) (*castellan.Account, error) {
	if err := castellan.CheckID("parentId", parentID); err != nil {
		return nil, err
	}
	var a *castellan.Account
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockStructure(ctx, tx, orgID); err != nil {
			return err
		}
		n, err := findNode(ctx, tx.queryRow, orgID, id)
		if castellan.ErrorKind(err) == castellan.ENOTFOUND || err == nil && n.Kind != castellan.NodeAccount {
			return accountNotFound(id)
		}
		if err != nil {
			return err
		}
		from := n.ParentID
		if from != parentID {
			if err := moveNode(ctx, tx, orgID, n, parentID); err != nil {
				return err
			}
			_, err = tx.record(ctx, change{
				orgID: orgID, action: castellan.ActionMoveAccount,
				entityType: "node", entityID: id, entityName: n.Name, operation: "update",
				summary: map[string]any{"parentId": diff{from, parentID}},
			})
			if err != nil {
				return err
			}
		}
		a, err = findAccount(ctx, tx.query, tx.queryRow, orgID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}
