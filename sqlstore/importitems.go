package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/castellan-iam/castellan"
)

// itemContext applies the items of one import batch in its transaction,
// with the checks and writes of each item's single operation.
type itemContext struct {
	tx      *Tx
	orgID   string
	orgName string
	grants  *grantChecker
	// takenEmails and takenLogins are the lower-case emails and login IDs
	// of the organization's users, read once for the batch's users and
	// kept up to date as it registers them.
	takenEmails, takenLogins map[string]bool
	// granted are the grants the batch created, for its audit event.
	granted []*castellan.Grant
}

// readRegisteredNames fills takenEmails and takenLogins for the users of
// items: one query per importNamesChunk users instead of one per user
// (and not one for all, whose parameters SQLite would not take).
func (ic *itemContext) readRegisteredNames(ctx context.Context, items []*castellan.ImportItem) error {
	ic.takenEmails, ic.takenLogins = map[string]bool{}, map[string]bool{}
	emails, logins := []string{""}, []string{""}
	read := func() error {
		taken, logs, err := registeredNames(ctx, ic.tx, ic.orgID, emails, logins)
		maps.Copy(ic.takenEmails, taken)
		maps.Copy(ic.takenLogins, logs)
		emails, logins = emails[:1], logins[:1]
		return err
	}
	for _, item := range items {
		if item.Err == nil && item.User != nil {
			emails, logins = append(emails, strings.ToLower(item.User.Email)), append(logins, strings.ToLower(item.User.LoginID))
			if len(emails) > importNamesChunk {
				if err := read(); err != nil {
					return err
				}
			}
		}
	}
	if len(emails) == 1 {
		return nil
	}
	return read()
}

// importNamesChunk is the number of users whose names one query reads.
const importNamesChunk = 500

// registerUser registers one user with its password hash.
func (ic *itemContext) registerUser(ctx context.Context, item *castellan.ImportItem, hash string) ([]change, error) {
	email, login := strings.ToLower(item.User.Email), strings.ToLower(item.User.LoginID)
	if ic.takenEmails[email] && email != "" {
		return nil, itemError(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "email", "unique",
			"a user with email %q already exists in this organization", item.User.Email)
	}
	if ic.takenLogins[login] {
		return nil, itemError(castellan.ECONFLICT, castellan.CodeUserLoginIDTaken, "loginId", "unique",
			"a user with login ID %q already exists in this organization", item.User.LoginID)
	}
	_, changes, err := insertCheckedRegistrations(ctx, ic.tx, ic.orgID, ic.orgName, []castellan.UserRegistration{*item.User},
		[]string{hash}, []string{item.ID})
	if err == nil {
		ic.takenEmails[email], ic.takenLogins[login] = email != "", true
	}
	return changes, err
}

// applyInSavepoint applies item in a savepoint of the transaction and
// returns its changes; when it fails, the savepoint is rolled back, so
// the transaction goes on as if the item had never been tried (on
// PostgreSQL a failed statement would otherwise abort the transaction).
func (ic *itemContext) applyInSavepoint(ctx context.Context, item *castellan.ImportItem, hash string) ([]change, error) {
	if _, err := ic.tx.exec(ctx, `SAVEPOINT import_item`); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	changes, err := ic.apply(ctx, item, hash)
	if err != nil {
		err = castellan.WithField(err, castellan.ECONFLICT, "name", "unique")
		if _, rerr := ic.tx.exec(ctx, `ROLLBACK TO SAVEPOINT import_item`); rerr != nil {
			return nil, fmt.Errorf("rollback to savepoint: %w", rerr)
		}
		return nil, err
	}
	if _, err := ic.tx.exec(ctx, `RELEASE SAVEPOINT import_item`); err != nil {
		return nil, fmt.Errorf("release savepoint: %w", err)
	}
	return changes, nil
}

// apply applies one item: what its single operation checks and writes.
func (ic *itemContext) apply(ctx context.Context, item *castellan.ImportItem, hash string) ([]change, error) {
	tx, orgID := ic.tx, ic.orgID
	switch {
	case item.OrgUnit != nil:
		if err := item.OrgUnit.Validate(); err != nil {
			return nil, err
		}
		_, c, err := createOrgUnit(ctx, tx, orgID, item.ID, *item.OrgUnit)
		return []change{c}, err
	case item.Project != nil:
		if err := item.Project.Validate(); err != nil {
			return nil, err
		}
		_, c, err := createProject(ctx, tx, orgID, item.ID, *item.Project)
		return []change{c}, err
	case item.User != nil:
		return ic.registerUser(ctx, item, hash)
	case item.Group != nil:
		if err := item.Group.Validate(); err != nil {
			return nil, err
		}
		_, c, err := createGroup(ctx, tx, orgID, item.ID, *item.Group)
		return []change{c}, err
	case item.Membership != nil:
		m := item.Membership
		if err := castellan.CheckID("groupId", m.GroupID); err != nil {
			return nil, err
		}
		if err := castellan.CheckID("userId", m.UserID); err != nil {
			return nil, err
		}
		c, err := addGroupMembers(ctx, tx, orgID, m.GroupID, []string{m.UserID}, func(int) string { return "userId" })
		if err != nil || c == nil {
			return nil, castellan.WithField(err, castellan.ENOTFOUND, "groupId", "exists")
		}
		return []change{*c}, nil
	case item.ServiceAccount != nil:
		sa := item.ServiceAccount
		if err := castellan.CheckID("projectId", sa.ProjectID); err != nil {
			return nil, err
		}
		if err := sa.Validate(); err != nil {
			return nil, err
		}
		_, c, err := createServiceAccount(ctx, tx, orgID, sa.ProjectID, item.ID, sa.ServiceAccountCreate)
		return []change{c}, castellan.WithField(err, castellan.ENOTFOUND, "projectId", "exists")
	case item.Grant != nil:
		g, err := ic.grants.item(ctx, 0, *item.Grant)
		if err != nil {
			return nil, err
		}
		_, c, err := writeGrants(ctx, tx, orgID, []*castellan.Grant{g})
		if err != nil || c == nil {
			return nil, err
		}
		ic.granted = append(ic.granted, g)
		return []change{*c}, nil
	}
	return nil, fmt.Errorf("import item of line %d has no %s", item.Line, item.Kind)
}

// applyGrants applies a run of grant items at once: each is checked
// (reads only, so a refused item leaves the transaction as it was), then
// the grants of those that pass are written by one writeGrants in one
// savepoint, instead of a savepoint, a lookup and an insert per item.
// When that write fails, it is undone and the items are applied one at a
// time, so that each gets its own error. Items that already failed are
// passed over. It returns the run's changes; an error is the store's own
// failure, which ends the import.
func (ic *itemContext) applyGrants(ctx context.Context, run []*castellan.ImportItem) ([]change, error) {
	var (
		todo   []*castellan.ImportItem
		wanted []*castellan.Grant
	)
	for _, item := range run {
		if item.Err != nil {
			continue
		}
		g, err := ic.grants.item(ctx, 0, *item.Grant)
		if storeFailed(err) {
			return nil, err
		}
		if item.Err = err; err == nil {
			todo, wanted = append(todo, item), append(wanted, g)
		}
	}
	if len(wanted) == 0 {
		return nil, nil
	}
	if _, err := ic.tx.exec(ctx, `SAVEPOINT import_grants`); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	standing, c, err := writeGrants(ctx, ic.tx, ic.orgID, wanted)
	if err != nil {
		if _, rerr := ic.tx.exec(ctx, `ROLLBACK TO SAVEPOINT import_grants`); rerr != nil {
			return nil, fmt.Errorf("rollback to savepoint: %w", rerr)
		}
		var changes []change
		for _, item := range todo {
			var cs []change
			cs, item.Err = ic.applyInSavepoint(ctx, item, "")
			if storeFailed(item.Err) {
				return nil, item.Err
			}
			changes = append(changes, cs...)
		}
		return changes, nil
	}
	if _, err := ic.tx.exec(ctx, `RELEASE SAVEPOINT import_grants`); err != nil {
		return nil, fmt.Errorf("release savepoint: %w", err)
	}
	if c == nil {
		return nil, nil
	}
	for i, g := range wanted {
		if standing[i] == g { // written now, not one that stood already
			ic.granted = append(ic.granted, g)
		}
	}
	return []change{*c}, nil
}
