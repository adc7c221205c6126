package index

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
)

// ignored are the change-log entity types no decision depends on.
var ignored = map[string]bool{
	"api_token": true, "access_key": true, "invitation": true, "user_mfa": true,
	"console_session": true, "account_invitation": true,
	// A group is its members and its grants: deleting one records a row
	// for each of them, which Apply follows.
	"group": true,
}

// applied are the entity types Apply re-reads in place; any other type
// (a node, a project, a role, a control policy or attachment, the
// organization) rebuilds the organization.
var applied = map[string]bool{"grant": true, "user": true, "group_member": true, "service_account": true}

// maxInPlace is the number of changes of one organization in one batch
// above which Apply rebuilds the organization rather than re-reading each
// entity.
const maxInPlace = 20000

// Apply implements changefeed.Subscriber: it re-reads, in one state of
// the store, the grants, users (with their groups) and service accounts
// the changes name, and publishes a snapshot that copies only the table
// shards they touch; an organization whose tree, roles or control
// policies changed (or with very many changes) is rebuilt. Every other
// organization is shared with the previous snapshot.
func (a *Authorizer) Apply(ctx context.Context, changes []castellan.Change) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	byOrg := map[string][]castellan.Change{}
	for _, c := range changes {
		if c.OrganizationID != "" && !ignored[c.EntityType] {
			byOrg[c.OrganizationID] = append(byOrg[c.OrganizationID], c)
		}
	}
	old := a.snap.Load()
	next := &snapshot{revision: max(old.revision, changes[len(changes)-1].Revision), orgs: old.orgs}
	if len(byOrg) > 0 {
		next.orgs = maps.Clone(old.orgs)
		err := a.source.ReadAuthz(ctx, func(r castellan.AuthzReader) error {
			for id, cs := range byOrg {
				o, err := a.applyOrg(r, old.orgs[id], id, cs)
				if err != nil {
					return err
				}
				if o == nil {
					delete(next.orgs, id)
				} else {
					next.orgs[id] = o
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	a.snap.Store(next)
	return nil
}

// applyOrg returns the organization after changes cs.
func (a *Authorizer) applyOrg(r castellan.AuthzReader, old *org, id string, cs []castellan.Change) (*org, error) {
	rebuild := old == nil || len(cs) > maxInPlace
	var grants, users, accounts []string
	for _, c := range cs {
		switch c.EntityType {
		case "grant":
			grants = append(grants, c.EntityID)
		case "user":
			users = append(users, c.EntityID)
		case "group_member":
			if _, user, ok := strings.Cut(c.EntityID, "/"); ok {
				users = append(users, user)
			}
		case "service_account":
			accounts = append(accounts, c.EntityID)
		}
		rebuild = rebuild || !applied[c.EntityType]
	}
	if rebuild {
		return a.load(r, id)
	}
	e := old.edit()
	if err := e.grants(r, unique(grants)); err != nil {
		return nil, err
	}
	if err := e.users(r, unique(users)); err != nil {
		return nil, err
	}
	if err := e.serviceAccounts(r, unique(accounts)); err != nil {
		return nil, err
	}
	o := e.done()
	if o.garbage > 1024 && o.garbage > len(o.arena)/2 {
		return a.load(r, id)
	}
	return o, nil
}

func unique(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// orgEdit is a copy of an organization being changed.
type orgEdit struct {
	o                     *org
	scopes, subjects, sas *tableEdit[string, int32]
	userTable             *tableEdit[string, user]
	lists                 *tableEdit[int32, []grant]
	nodeLists             *nodeListsEdit
	ids                   *tableEdit[[16]byte, grantRef]
}

func (o *org) edit() *orgEdit {
	next := *o
	return &orgEdit{o: &next, scopes: o.scopes.edit(), subjects: o.subjects.edit(), sas: o.serviceAccounts.edit(),
		userTable: o.users.edit(), lists: o.grants.edit(), nodeLists: o.nodeGrants.edit(), ids: o.grantIDs.edit()}
}

func (e *orgEdit) done() *org {
	o := e.o
	o.scopes, o.subjects, o.serviceAccounts = e.scopes.done(), e.subjects.done(), e.sas.done()
	o.users, o.grants, o.grantIDs = e.userTable.done(), e.lists.done(), e.ids.done()
	o.nodeGrants = e.nodeLists.c
	return o
}

// grants re-reads the grants with the IDs: each is removed from where it
// was, and put back as it is now if it still exists.
func (e *orgEdit) grants(r castellan.AuthzReader, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		key := grantKey(id)
		if ref, ok := e.ids.t.get(key); ok {
			e.remove(ref)
			e.ids.delete(key)
		}
	}
	o := e.o
	return r.Grants(o.id, ids, func(g castellan.AuthzGrant) error {
		scope, ok := o.scopeOf(g.Scope, e.scopes)
		if !ok {
			return nil
		}
		entry := o.grantOf(g, e.subjects)
		list := e.list(scope)
		i, _ := slices.BinarySearchFunc(list, entry.subject, func(g grant, s uint32) int { return cmpUint(g.subject, s) })
		e.setList(scope, slices.Insert(slices.Clip(list), i, entry))
		e.ids.set(grantKey(g.ID), grantRef{scope: scope, subject: entry.subject, role: entry.role})
		return nil
	})
}

// remove takes the grant ref names out of its scope's list, copied.
func (e *orgEdit) remove(ref grantRef) {
	list := e.list(ref.scope)
	i := slices.IndexFunc(list, func(g grant) bool { return g.subject == ref.subject && g.role == ref.role })
	if i >= 0 {
		e.setList(ref.scope, slices.Delete(slices.Clone(list), i, i+1))
	}
}

// list returns the grants of a scope number in the edit.
func (e *orgEdit) list(scope int32) []grant {
	if int(scope) < len(e.o.node) {
		return e.nodeLists.c.get(scope)
	}
	list, _ := e.lists.t.get(scope)
	return list
}

// setList sets the grants of a scope number; an empty list is none.
func (e *orgEdit) setList(scope int32, list []grant) {
	switch {
	case int(scope) < len(e.o.node):
		if len(list) == 0 {
			list = nil
		}
		e.nodeLists.set(scope, list)
	case len(list) == 0:
		e.lists.delete(scope)
	default:
		e.lists.set(scope, list)
	}
}

// users re-reads the users with the IDs and their groups.
func (e *orgEdit) users(r castellan.AuthzReader, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	o := e.o
	for _, id := range ids {
		if u, ok := e.userTable.t.get(id); ok {
			o.garbage += int(u.n)
			e.userTable.delete(id)
		}
	}
	active := map[string][]int32{}
	if err := r.Users(o.id, ids, func(id string) error { active[id] = nil; return nil }); err != nil {
		return err
	}
	err := r.Memberships(o.id, ids, func(userID, groupID string) error {
		if groups, ok := active[userID]; ok {
			active[userID] = append(groups, e.intern(groupID))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id, groups := range active {
		e.userTable.set(id, o.addUser(e.intern(id), groups))
	}
	return nil
}

// serviceAccounts re-reads the service accounts with the IDs.
func (e *orgEdit) serviceAccounts(r castellan.AuthzReader, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		e.sas.delete(id)
	}
	return r.ServiceAccounts(e.o.id, ids, func(id string) error {
		e.sas.set(id, e.intern(id))
		return nil
	})
}

// intern returns the subject number of an ID, numbering it if new.
func (e *orgEdit) intern(id string) int32 { return e.o.intern(e.subjects, id) }
