package index

import (
	"cmp"
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/policy"
	"github.com/google/uuid"
)

// Reload implements changefeed.Subscriber: it loads every organization
// from one state of the store.
func (a *Authorizer) Reload(ctx context.Context) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	next := &snapshot{orgs: map[string]*org{}}
	err := a.source.ReadAuthz(ctx, func(r castellan.AuthzReader) error {
		next.revision = r.Revision()
		var ids []string
		if err := r.Organizations(func(id string) error { ids = append(ids, id); return nil }); err != nil {
			return err
		}
		for _, id := range ids {
			o, err := a.load(r, id)
			if err != nil {
				return err
			}
			if o != nil {
				next.orgs[id] = o
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.snap.Store(next)
	return nil
}

// loader builds one organization from a reader.
type loader struct {
	a *Authorizer
	r castellan.AuthzReader
	o *org
}

// load reads the organization with a few streaming reads; nil when it
// has no root (no such organization).
func (a *Authorizer) load(r castellan.AuthzReader, orgID string) (*org, error) {
	l := &loader{a: a, r: r, o: &org{id: orgID, nodes: map[string]int32{}, root: -1,
		roles: slices.Clip(a.builtIn), roleIndex: a.builtInIndex}}
	if err := l.tree(); err != nil || l.o.root < 0 {
		return nil, err
	}
	for _, step := range []func() error{l.policies, l.roles, l.principals, l.grants} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return l.o, nil
}

// tree numbers the nodes and links each to its parent.
func (l *loader) tree() error {
	o := l.o
	err := l.r.Nodes(o.id, func(n castellan.AuthzNode) error {
		o.nodes[n.ID] = int32(len(o.node))
		o.node = append(o.node, nodeInfo{node: &castellan.Node{ID: n.ID, OrganizationID: o.id, Kind: n.Kind, ParentID: n.ParentID, Name: n.Name}})
		return nil
	})
	if err != nil {
		return err
	}
	for i := range o.node {
		info := &o.node[i]
		info.parent = -1
		if parent, ok := o.nodes[info.node.ParentID]; ok && info.node.ParentID != "" {
			info.parent = parent
		}
		if info.node.Kind == castellan.NodeRoot {
			o.root = int32(i)
		}
	}
	return nil
}

// policies sets each node's limit (authz.LimitedFrom) and the levels of
// every limiting node.
func (l *loader) policies() error {
	o := l.o
	attached := map[string][]*castellan.ControlPolicy{}
	err := l.r.Attachments(o.id, func(nodeID string, p *castellan.ControlPolicy) error {
		attached[nodeID] = append(attached[nodeID], p)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range o.node {
		o.node[i].limit = -1
		if o.node[i].parent < 0 {
			continue // the root: not limited
		}
		n := int32(i)
		for o.node[n].node.Kind == castellan.NodeProject && o.node[n].parent >= 0 {
			n = o.node[n].parent
		}
		o.node[i].limit = n
		if o.node[n].limits == nil {
			o.node[n].limits = l.limits(n, attached)
		}
	}
	return nil
}

// limits builds the levels of limiting node n as authz.LevelsOf does.
func (l *loader) limits(n int32, attached map[string][]*castellan.ControlPolicy) *limits {
	var above []*castellan.PolicyAttachment
	path := l.o.path(n)
	for _, node := range path {
		for _, p := range attached[node.ID] {
			above = append(above, &castellan.PolicyAttachment{Node: castellan.NodeRef{ID: node.ID, Kind: node.Kind, Name: node.Name}, Policy: p})
		}
	}
	levels := authz.LevelsOf(path, above)
	return &limits{levels: levels, actionOnly: policy.ActionOnly(levels), verdicts: make([]atomic.Pointer[verdict], len(l.a.actions))}
}

// roles compiles the organization's custom roles.
func (l *loader) roles() error {
	o := l.o
	return l.r.Roles(o.id, func(r *castellan.Role) error {
		if _, builtIn := o.roleIndex[r.ID]; builtIn {
			return nil
		}
		if len(o.roleIndex) == len(l.a.builtInIndex) {
			o.roleIndex = maps.Clone(o.roleIndex)
		}
		o.roleIndex[r.ID] = int32(len(o.roles))
		o.roles = append(o.roles, l.a.compile(r))
		return nil
	})
}

// principals loads the users that may act with their groups, and the
// service accounts.
func (l *loader) principals() error {
	o := l.o
	subjects := newTable[string, int32](0, hashString(l.a.seed)).edit()
	intern := func(id string) int32 { return o.intern(subjects, id) }
	active := map[string]int32{}
	if err := l.r.Users(o.id, nil, func(id string) error { active[id] = intern(id); return nil }); err != nil {
		return err
	}
	groups := map[int32][]int32{}
	err := l.r.Memberships(o.id, nil, func(userID, groupID string) error {
		if u, ok := active[userID]; ok {
			groups[u] = append(groups[u], intern(groupID))
		}
		return nil
	})
	if err != nil {
		return err
	}
	users := build[string, user](len(active), hashString(l.a.seed))
	for id, n := range active {
		users.set(id, o.addUser(n, groups[n]))
	}
	var sas []string
	if err := l.r.ServiceAccounts(o.id, nil, func(id string) error { sas = append(sas, id); return nil }); err != nil {
		return err
	}
	accounts := build[string, int32](len(sas), hashString(l.a.seed))
	for _, id := range sas {
		accounts.set(id, intern(id))
	}
	o.subjects, o.users, o.serviceAccounts = subjects.done(), users.done(), accounts.done()
	return nil
}

// addUser appends the user's groups to the arena.
func (o *org) addUser(subject int32, groups []int32) user {
	slices.Sort(groups)
	groups = slices.Compact(groups)
	u := user{subject: subject, off: int32(len(o.arena)), n: int32(len(groups))}
	o.arena = append(o.arena, groups...)
	return u
}

// grants loads every grant, expired ones included: they count until their
// second, and then give the grant_expired reason.
func (l *loader) grants() error {
	o := l.o
	type placed struct {
		key   [16]byte
		scope int32
		g     grant
	}
	var all []placed
	scopes := newTable[string, int32](0, hashString(l.a.seed)).edit()
	o.nextScope = int32(len(o.node))
	subjects := o.subjects.edit()
	err := l.r.Grants(o.id, nil, func(g castellan.AuthzGrant) error {
		scope, ok := o.scopeOf(g.Scope, scopes)
		if !ok {
			return nil
		}
		entry := o.grantOf(g, subjects)
		all = append(all, placed{key: grantKey(g.ID), scope: scope, g: entry})
		return nil
	})
	if err != nil {
		return err
	}
	o.subjects, o.scopes = subjects.done(), scopes.done()
	slices.SortFunc(all, func(x, y placed) int {
		return cmp.Or(cmp.Compare(x.scope, y.scope), cmp.Compare(x.g.subject, y.g.subject))
	})
	lists := build[int32, []grant](int(o.nextScope)-len(o.node), hashNumber)
	o.nodeGrants = newNodeLists(len(o.node))
	ids := build[[16]byte, grantRef](len(all), hashID)
	list := make([]grant, len(all))
	for i, p := range all {
		list[i] = p.g
		ids.set(p.key, grantRef{scope: p.scope, subject: p.g.subject, role: p.g.role})
	}
	for start := 0; start < len(all); {
		end := start + 1
		for end < len(all) && all[end].scope == all[start].scope {
			end++
		}
		if scope := all[start].scope; int(scope) < len(o.node) {
			o.nodeGrants[scope>>chunkBits][scope&(1<<chunkBits-1)] = list[start:end:end]
		} else {
			lists.set(scope, list[start:end:end])
		}
		start = end
	}
	o.grants, o.grantIDs = lists.done(), ids.done()
	return nil
}

// scopeOf returns the number of a grant's scope: its node's, or its
// resource's (numbered now if new). ok is false for a scope no decision
// can reach: malformed, or a node the organization does not have (of its
// kind); a change of the tree rebuilds the organization, which reads the
// grant again.
func (o *org) scopeOf(scope string, scopes *tableEdit[string, int32]) (int32, bool) {
	t, ok := parseTarget(scope)
	if !ok {
		return 0, false
	}
	if t.resource == "" {
		return o.locate(o.id, t)
	}
	if n, ok := scopes.t.get(scope); ok {
		return n, true
	}
	n := o.nextScope
	o.nextScope++
	scopes.set(scope, n)
	return n, true
}

// grantOf is the entry of g, its subject interned.
func (o *org) grantOf(g castellan.AuthzGrant, subjects *tableEdit[string, int32]) grant {
	n := o.intern(subjects, g.Subject.ID)
	entry := grant{subject: subjectUser | uint32(n), role: -1}
	switch g.Subject.Type {
	case castellan.SubjectGroup:
		entry.subject = subjectGroup | uint32(n)
	case castellan.SubjectServiceAccount:
		entry.subject = subjectServiceAccount | uint32(n)
	}
	if r, ok := o.roleIndex[g.RoleID]; ok {
		entry.role = r
	}
	if g.ExpiresAt != nil {
		entry.expires = g.ExpiresAt.UnixNano()
	}
	return entry
}

// intern returns the subject number of an ID, numbering it if new.
func (o *org) intern(subjects *tableEdit[string, int32], id string) int32 {
	if n, ok := subjects.t.get(id); ok {
		return n
	}
	n := int32(len(o.names))
	o.names = append(o.names, id)
	subjects.set(id, n)
	return n
}

// grantKey is a grant ID in 16 bytes: the UUID, or for an ID that is not
// one, the start of its SHA-256.
func grantKey(id string) [16]byte {
	if u, err := uuid.Parse(id); err == nil {
		return u
	}
	sum := sha256.Sum256([]byte(id))
	return [16]byte(sum[:16])
}
