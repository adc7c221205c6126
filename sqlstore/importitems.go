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

// nameTaken refuses a user whose email or login ID a user of the
// organization (or of the batch, registered before it) has.
func (ic *itemContext) nameTaken(item *castellan.ImportItem) error {
	email, login := strings.ToLower(item.User.Email), strings.ToLower(item.User.LoginID)
	if ic.takenEmails[email] && email != "" {
		return itemError(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "email", "unique",
			"a user with email %q already exists in this organization", item.User.Email)
	}
	if ic.takenLogins[login] {
		return itemError(castellan.ECONFLICT, castellan.CodeUserLoginIDTaken, "loginId", "unique",
			"a user with login ID %q already exists in this organization", item.User.LoginID)
	}
	return nil
}

// takeName notes (or, with taken false, forgets) the email and login ID
// of item's user as taken.
func (ic *itemContext) takeName(item *castellan.ImportItem, taken bool) {
	email, login := strings.ToLower(item.User.Email), strings.ToLower(item.User.LoginID)
	ic.takenEmails[email], ic.takenLogins[login] = taken && email != "", taken
}

// registerUser registers one user with its password hash.
func (ic *itemContext) registerUser(ctx context.Context, item *castellan.ImportItem, hash string) ([]change, error) {
	if err := ic.nameTaken(item); err != nil {
		return nil, err
	}
	_, changes, err := insertCheckedRegistrations(ctx, ic.tx, ic.orgID, ic.orgName, []castellan.UserRegistration{*item.User},
		[]string{hash}, []string{item.ID}, castellan.NoPrefix)
	if err == nil {
		ic.takeName(item, true)
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

// sameRun reports whether b joins the run a starts: a run of grants, of
// users, of projects or of memberships of one group is applied at once
// (applyRun).
func sameRun(a, b *castellan.ImportItem) bool {
	switch {
	case a.Grant != nil:
		return b.Grant != nil
	case a.User != nil:
		return b.User != nil
	case a.Membership != nil:
		return b.Membership != nil && b.Membership.GroupID == a.Membership.GroupID
	case a.Project != nil:
		return b.Project != nil
	}
	return false
}

// applyRun applies a run of items (sameRun) at once: each is checked as
// far as it can be without writing (so that a refused item leaves the
// transaction as it was), then those that pass are written by one call of
// the batch operation of their kind in one savepoint, instead of a
// savepoint and a few statements per item. Items that already failed are
// passed over. It returns the run's changes; an error is the store's own
// failure, which ends the import.
func (ic *itemContext) applyRun(ctx context.Context, run []*castellan.ImportItem, hashes map[*castellan.ImportItem]string) ([]change, error) {
	switch {
	case run[0].Grant != nil:
		return ic.applyGrants(ctx, run)
	case run[0].User != nil:
		return ic.registerUsers(ctx, run, hashes)
	case run[0].Membership != nil:
		return ic.addMembers(ctx, run)
	case run[0].Project != nil:
		return ic.createProjects(ctx, run)
	}
	return nil, fmt.Errorf("import: no run of %s items", run[0].Kind)
}

// writeRun writes the checked items of a run by write in one savepoint.
// When write fails, it is undone, undo (if any) runs, and the items are
// applied one at a time, so that each gets its own error.
func (ic *itemContext) writeRun(ctx context.Context, todo []*castellan.ImportItem, hashes map[*castellan.ImportItem]string,
	write func() ([]change, error), undo func()) ([]change, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	if _, err := ic.tx.exec(ctx, `SAVEPOINT import_run`); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	changes, err := write()
	if err == nil {
		if _, err := ic.tx.exec(ctx, `RELEASE SAVEPOINT import_run`); err != nil {
			return nil, fmt.Errorf("release savepoint: %w", err)
		}
		return changes, nil
	}
	if _, rerr := ic.tx.exec(ctx, `ROLLBACK TO SAVEPOINT import_run`); rerr != nil {
		return nil, fmt.Errorf("rollback to savepoint: %w", rerr)
	}
	if undo != nil {
		undo()
	}
	changes = nil
	for _, item := range todo {
		var cs []change
		cs, item.Err = ic.applyInSavepoint(ctx, item, hashes[item])
		if storeFailed(item.Err) {
			return nil, item.Err
		}
		changes = append(changes, cs...)
	}
	return changes, nil
}

// applyGrants applies a run of grant items: each is checked by the grant
// checker, then addGrants inserts the new ones at once. That needs no
// savepoint: once the items are checked, only the store itself can fail
// it, and that ends the import. Renewals of existing grants, which the
// Owner rule can refuse, are written by writeRun.
func (ic *itemContext) applyGrants(ctx context.Context, run []*castellan.ImportItem) ([]change, error) {
	var (
		todo   []*castellan.ImportItem
		wanted []*castellan.Grant
		asked  []castellan.GrantCreate
	)
	for _, item := range run {
		if item.Err == nil {
			asked = append(asked, *item.Grant)
		}
	}
	if err := ic.grants.prefetch(ctx, asked); err != nil {
		return nil, err
	}
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
	if len(todo) == 0 {
		return nil, nil
	}
	add, err := addGrants(ctx, ic.tx, wanted)
	if err != nil {
		return nil, err
	}
	var changes []change
	if c := grantChange(ic.orgID, add.created, nil); c != nil {
		changes = append(changes, *c)
		ic.granted = append(ic.granted, add.created...)
	}
	if len(add.renewed) == 0 {
		return changes, nil
	}
	renewedKeys := map[grantKey]bool{}
	for _, g := range add.renewed {
		renewedKeys[keyOf(g)] = true
	}
	var renewing []*castellan.ImportItem
	for i, item := range todo {
		if renewedKeys[keyOf(wanted[i])] {
			renewing = append(renewing, item)
		}
	}
	granted := len(ic.granted)
	renewals, err := ic.writeRun(ctx, renewing, nil, func() ([]change, error) {
		created, err := renewGrants(ctx, ic.tx, ic.orgID, add.stale, add.renewed, add.byKey)
		if err != nil {
			return nil, err
		}
		ic.granted = append(ic.granted, created...)
		return []change{*grantChange(ic.orgID, created, add.stale)}, nil
	}, func() { ic.granted = ic.granted[:granted] })
	return append(changes, renewals...), err
}

// registerUsers applies a run of user items: each is checked against the
// names taken, then one insertCheckedRegistrations registers them all.
func (ic *itemContext) registerUsers(ctx context.Context, run []*castellan.ImportItem, hashes map[*castellan.ImportItem]string) ([]change, error) {
	var (
		todo   []*castellan.ImportItem
		regs   []castellan.UserRegistration
		hashed []string
		ids    []string
	)
	for _, item := range run {
		if item.Err != nil {
			continue
		}
		if item.Err = ic.nameTaken(item); item.Err == nil {
			ic.takeName(item, true)
			todo, regs = append(todo, item), append(regs, *item.User)
			hashed, ids = append(hashed, hashes[item]), append(ids, item.ID)
		}
	}
	return ic.writeRun(ctx, todo, hashes, func() ([]change, error) {
		_, changes, err := insertCheckedRegistrations(ctx, ic.tx, ic.orgID, ic.orgName, regs, hashed, ids, castellan.NoPrefix)
		return changes, err
	}, func() {
		for _, item := range todo {
			ic.takeName(item, false)
		}
	})
}

// addMembers applies a run of memberships of one group: one
// addGroupMembers adds them all.
func (ic *itemContext) addMembers(ctx context.Context, run []*castellan.ImportItem) ([]change, error) {
	var (
		todo  []*castellan.ImportItem
		users []string
	)
	for _, item := range run {
		if item.Err != nil {
			continue
		}
		m := item.Membership
		if item.Err = castellan.CheckID("groupId", m.GroupID); item.Err == nil {
			item.Err = castellan.CheckID("userId", m.UserID)
		}
		if item.Err == nil {
			todo, users = append(todo, item), append(users, m.UserID)
		}
	}
	return ic.writeRun(ctx, todo, nil, func() ([]change, error) {
		c, err := addGroupMembers(ctx, ic.tx, ic.orgID, run[0].Membership.GroupID, users, func(int) string { return "userId" })
		if err != nil || c == nil {
			return nil, err
		}
		return []change{*c}, nil
	}, nil)
}

// createProjects applies a run of project items: each is validated, then
// one createProjects creates them all.
func (ic *itemContext) createProjects(ctx context.Context, run []*castellan.ImportItem) ([]change, error) {
	var (
		todo []*castellan.ImportItem
		ids  []string
		pcs  []castellan.ProjectCreate
	)
	for _, item := range run {
		if item.Err != nil {
			continue
		}
		if item.Err = item.Project.Validate(); item.Err == nil {
			todo, ids, pcs = append(todo, item), append(ids, item.ID), append(pcs, *item.Project)
		}
	}
	return ic.writeRun(ctx, todo, nil, func() ([]change, error) {
		return createProjects(ctx, ic.tx, ic.orgID, ids, pcs)
	}, nil)
}
