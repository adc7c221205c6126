package index

import (
	"context"
	"maps"
	"slices"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
)

// ignored are the change-log entity types no decision depends on: their
// changes rebuild nothing. A type not listed rebuilds its organization.
var ignored = map[string]bool{
	"api_token": true, "access_key": true, "invitation": true, "user_mfa": true,
	"console_session": true, "account_invitation": true,
}

// Apply implements changefeed.Subscriber: it rebuilds, from the store,
// every organization the changes name, and publishes a snapshot that
// shares every other one. Rebuilding a whole organization per batch is a
// first step: a change of one grant costs a reload of its organization.
func (a *Authorizer) Apply(ctx context.Context, changes []castellan.Change) error {
	touched := map[string]bool{}
	for _, c := range changes {
		if c.OrganizationID != "" && !ignored[c.EntityType] {
			touched[c.OrganizationID] = true
		}
	}
	if len(touched) == 0 {
		return nil
	}
	old := a.snap.Load()
	next := &snapshot{orgs: maps.Clone(old.orgs)}
	for id := range touched {
		o, err := a.load(ctx, id)
		if err != nil {
			return err
		}
		if o == nil {
			delete(next.orgs, id)
		} else {
			next.orgs[id] = o
		}
	}
	a.snap.Store(next)
	return nil
}

// Reload implements changefeed.Subscriber: it rebuilds every
// organization.
func (a *Authorizer) Reload(ctx context.Context) error {
	next := &snapshot{orgs: map[string]*org{}}
	err := pages(func(token string) ([]*castellan.Organization, string, error) {
		return a.services.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{PageSize: castellan.MaxPageSize, PageToken: token})
	}, func(item *castellan.Organization) error {
		o, err := a.load(ctx, item.ID)
		if o != nil {
			next.orgs[item.ID] = o
		}
		return err
	})
	if err != nil {
		return err
	}
	a.snap.Store(next)
	return nil
}

// pages calls each on every item of every page find returns.
func pages[T any](find func(token string) ([]T, string, error), each func(T) error) error {
	token := ""
	for {
		items, next, err := find(token)
		if err != nil {
			return err
		}
		for _, item := range items {
			if err := each(item); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// loader builds one organization.
type loader struct {
	a    *Authorizer
	ctx  context.Context
	id   string
	o    *org
	ids  map[string]int32
	role map[string]int32
}

// intern returns the number of a subject ID.
func (l *loader) intern(id string) int32 {
	if n, ok := l.ids[id]; ok {
		return n
	}
	n := int32(len(l.o.names))
	l.ids[id] = n
	l.o.names = append(l.o.names, id)
	return n
}

// load reads the organization from the store; nil when it has no root
// (no such organization).
func (a *Authorizer) load(ctx context.Context, orgID string) (*org, error) {
	l := &loader{a: a, ctx: ctx, id: orgID, ids: map[string]int32{}, role: maps.Clone(a.builtInIndex), o: &org{
		nodes: map[string]*node{}, grants: map[string][]grant{}, users: map[string]*user{},
		serviceAccounts: map[string]int32{}, roles: slices.Clip(a.builtIn),
	}}
	s := a.services
	var tree []*castellan.Node
	err := pages(func(token string) ([]*castellan.Node, string, error) {
		return s.Nodes.FindTree(ctx, orgID, castellan.TreeFilter{PageSize: castellan.MaxPageSize, PageToken: token,
			Kinds: []castellan.NodeKind{castellan.NodeRoot, castellan.NodeOU, castellan.NodeAccount, castellan.NodeProject}})
	}, func(n *castellan.Node) error { tree = append(tree, n); return nil })
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, step := range []func([]*castellan.Node) error{l.nodes, l.principals, l.roles, l.grants} {
		if err := step(tree); err != nil {
			return nil, err
		}
	}
	return l.o, nil
}

// nodes indexes the tree (parents listed before their children) with each
// node's path, chain and control policy levels.
func (l *loader) nodes(tree []*castellan.Node) error {
	o := l.o
	for _, n := range tree {
		path := []*castellan.Node{n}
		if parent := o.nodes[n.ParentID]; parent != nil {
			path = append(path, parent.path...)
		}
		chain := make([]string, len(path))
		for i, p := range path {
			chain[i] = p.Scope().String()
		}
		o.nodes[n.ID] = &node{path: path, chain: chain}
	}
	for _, n := range tree {
		entry := o.nodes[n.ID]
		i := authz.LimitedFrom(entry.path)
		if i < 0 {
			continue
		}
		at := o.nodes[entry.path[i].ID]
		if err := l.policies(entry.path[i:], at); err != nil {
			return err
		}
		entry.levels = at.levels
	}
	return nil
}

// policies sets the levels of at, the node first of above, from its
// attachments and those above it.
func (l *loader) policies(above []*castellan.Node, at *node) error {
	if at.levels != nil {
		return nil
	}
	attached, err := l.a.services.ControlPolicies.FindNodePolicies(l.ctx, l.id, above[0].ID)
	if err != nil {
		return err
	}
	at.levels = authz.LevelsOf(above, attached)
	return nil
}

// principals indexes the users that may act with their groups, and the
// service accounts of every project.
func (l *loader) principals(tree []*castellan.Node) error {
	s, ctx, o := l.a.services, l.ctx, l.o
	err := pages(func(token string) ([]*castellan.User, string, error) {
		return s.Users.FindUsers(ctx, l.id, castellan.UserFilter{PageSize: castellan.MaxPageSize, PageToken: token})
	}, func(u *castellan.User) error {
		if u.Status != castellan.UserDeleted {
			o.users[u.ID] = &user{id: l.intern(u.ID)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = pages(func(token string) ([]*castellan.Group, string, error) {
		return s.Groups.FindGroups(ctx, l.id, castellan.GroupFilter{PageSize: castellan.MaxPageSize, PageToken: token})
	}, func(g *castellan.Group) error {
		id := l.intern(g.ID)
		return pages(func(token string) ([]*castellan.GroupMember, string, error) {
			return s.Groups.FindGroupMembers(ctx, l.id, g.ID, castellan.GroupFilter{PageSize: castellan.MaxPageSize, PageToken: token})
		}, func(m *castellan.GroupMember) error {
			if u := o.users[m.UserID]; u != nil {
				u.groups = append(u.groups, id)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, u := range o.users {
		slices.Sort(u.groups)
	}
	for _, n := range tree {
		if n.Kind != castellan.NodeProject {
			continue
		}
		err := pages(func(token string) ([]*castellan.ServiceAccount, string, error) {
			return s.ServiceAccounts.FindServiceAccounts(ctx, l.id, n.ID, castellan.ServiceAccountFilter{PageSize: castellan.MaxPageSize, PageToken: token})
		}, func(sa *castellan.ServiceAccount) error {
			o.serviceAccounts[sa.ID] = l.intern(sa.ID)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// roles compiles the organization's custom roles.
func (l *loader) roles([]*castellan.Node) error {
	return pages(func(token string) ([]*castellan.Role, string, error) {
		return l.a.services.Roles.FindRoles(l.ctx, l.id, castellan.RoleFilter{PageSize: castellan.MaxPageSize, PageToken: token})
	}, func(r *castellan.Role) error {
		if _, builtIn := l.role[r.ID]; !builtIn {
			l.role[r.ID] = int32(len(l.o.roles))
			l.o.roles = append(l.o.roles, l.a.compile(r))
		}
		return nil
	})
}

// grants indexes every grant by scope, expired ones included: they count
// until their second, and then give the grant_expired reason.
func (l *loader) grants([]*castellan.Node) error {
	return pages(func(token string) ([]*castellan.Grant, string, error) {
		return l.a.services.Grants.FindGrants(l.ctx, l.id, castellan.GrantFilter{PageSize: castellan.MaxPageSize, PageToken: token})
	}, func(g *castellan.Grant) error {
		entry := grant{subject: l.intern(g.Subject.ID), role: -1}
		switch g.Subject.Type {
		case castellan.SubjectGroup:
			entry.kind = subjectGroup
		case castellan.SubjectServiceAccount:
			entry.kind = subjectServiceAccount
		}
		if r, ok := l.role[g.RoleID]; ok {
			entry.role = r
		}
		if g.ExpiresAt != nil {
			entry.expires = g.ExpiresAt.UnixNano()
		}
		l.o.grants[g.Scope] = append(l.o.grants[g.Scope], entry)
		return nil
	})
}
