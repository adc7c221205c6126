package index

import (
	"slices"
	"sync/atomic"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/policy"
)

// snapshot is every organization's state at some point of the change log.
// It is never changed once published (but for the verdicts its limits
// memoize).
type snapshot struct {
	// revision is the newest revision the snapshot reflects: every change
	// up to it has been applied (later ones may show too: an entity is
	// read as it is when its change is applied).
	revision int64
	orgs     map[string]*org
}

// org is one organization's state. Subjects (users, groups, service
// accounts) are interned: numbered in names. Nodes are numbered (node);
// a grant's scope is numbered: a node's number, or for a resource the
// number scopes gives it, after the nodes'. Everything that changes without a rebuild of the organization
// is in tables copied a shard at a time, or append-only slices (names,
// arena) whose older snapshots see their own shorter length.
type org struct {
	id string
	// nodes numbers the nodes by ID; node holds them by number. Both
	// change by rebuilding the organization only.
	nodes map[string]int32
	node  []nodeInfo
	root  int32
	// roles are the built-in roles, then the organization's custom ones;
	// roleIndex numbers them by ID.
	roles     []actionSet
	roleIndex map[string]int32

	// scopes numbers the resource scopes that hold grants; nextScope is
	// the next number.
	scopes    *table[string, int32]
	nextScope int32
	// nodeGrants are each node's grants and grants each resource
	// scope's, sorted by subject.
	nodeGrants nodeLists
	grants     *table[int32, []grant]
	// grantIDs locates each grant by ID (grantKey), for its removal.
	grantIDs *table[[16]byte, grantRef]

	// subjects interns subject IDs; names[n] is the ID of subject n.
	subjects *table[string, int32]
	names    []string
	// users are the users that may act; their groups are runs of arena.
	users *table[string, user]
	arena []int32
	// garbage counts the entries of arena no user points at any more.
	garbage int
	// serviceAccounts are the service accounts' subject numbers.
	serviceAccounts *table[string, int32]
}

// nodeInfo is a node with what decisions on it need, computed once.
type nodeInfo struct {
	node   *castellan.Node
	parent int32
	// limit is the number of the node whose limits apply to decisions
	// here (authz.LimitedFrom); -1 for none (the root).
	limit int32
	// limits are set on the nodes limit names.
	limits *limits
}

// limits are the control policy levels that limit decisions below a
// node, and the verdicts memoized per action when they depend on the
// action only.
type limits struct {
	levels     []policy.Level
	actionOnly bool
	// verdicts[action] is the memoized verdict; nil until first asked.
	verdicts []atomic.Pointer[verdict]
}

// verdict is the outcome of policy.Evaluate: refusal nil for a pass.
type verdict struct {
	refusal *castellan.PolicyMatch
	reason  string
}

// Subject kinds, in the top bits of a subject key.
const (
	subjectUser uint32 = iota << 30
	subjectGroup
	subjectServiceAccount
	subjectNumber = 1<<30 - 1
)

// grant is a grant as decisions see it: 16 bytes, no pointer.
type grant struct {
	// subject is the subject's kind | its number.
	subject uint32
	// role indexes org.roles; -1 for a role that does not exist.
	role int32
	// expires is the expiry in Unix nanoseconds; 0 for none.
	expires int64
}

// grantRef is where a grant is, to remove it: a grant is unique by
// (scope, subject, role) in its organization.
type grantRef struct {
	scope   int32
	subject uint32
	role    int32
}

// user is a user that may act: its subject number and its groups,
// arena[off:off+n], sorted.
type user struct {
	subject int32
	off, n  int32
}

func (o *org) groupsOf(u user) []int32 { return o.arena[u.off : u.off+u.n] }

// list returns the grants of a scope number.
func (o *org) list(scope int32) []grant {
	if int(scope) < len(o.node) {
		return o.nodeGrants.get(scope)
	}
	list, _ := o.grants.get(scope)
	return list
}

// actionSet holds a role's actions: bit i is the catalogue's i-th action.
type actionSet []uint64

func (s actionSet) has(i int) bool { return s[i/64]&(1<<(uint(i)%64)) != 0 }

// linearMax is the length of a scope's grant list up to which a decision
// reads it whole rather than binary-searching each of its subjects.
const linearMax = 32

// check reads the grants of one scope for the principal's key self and
// (users only) its groups: allowed when one holds the action at now;
// expired when only expired ones do.
func (o *org) check(list []grant, self uint32, groups []int32, action int, now int64) (allowed, expired bool) {
	if len(list) <= linearMax {
		for _, g := range list {
			if g.subject != self && (g.subject&^subjectNumber != subjectGroup || !hasGroup(groups, int32(g.subject&subjectNumber))) {
				continue
			}
			if o.holds(g, action, now, &expired) {
				return true, expired
			}
		}
		return false, expired
	}
	if o.checkSubject(list, self, action, now, &expired) {
		return true, expired
	}
	for _, group := range groups {
		if o.checkSubject(list, subjectGroup|uint32(group), action, now, &expired) {
			return true, expired
		}
	}
	return false, expired
}

// checkSubject binary-searches list for the grants of subject.
func (o *org) checkSubject(list []grant, subject uint32, action int, now int64, expired *bool) bool {
	i, _ := slices.BinarySearchFunc(list, subject, func(g grant, s uint32) int { return cmpUint(g.subject, s) })
	for ; i < len(list) && list[i].subject == subject; i++ {
		if o.holds(list[i], action, now, expired) {
			return true
		}
	}
	return false
}

// holds reports whether g allows action at now, noting in expired a grant
// that would but has expired.
func (o *org) holds(g grant, action int, now int64, expired *bool) bool {
	if g.role < 0 || !o.roles[g.role].has(action) {
		return false
	}
	if g.expires != 0 && now >= g.expires {
		*expired = true
		return false
	}
	return true
}

func cmpUint(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hasGroup reports whether group is among groups (sorted).
func hasGroup(groups []int32, group int32) bool {
	_, found := slices.BinarySearch(groups, group)
	return found
}

// locate returns the number of the target's node; ok is false when the
// target is not a node of the organization of its kind.
func (o *org) locate(orgID string, t target) (n int32, ok bool) {
	if t.kind == castellan.ScopeOrganization && t.id != orgID {
		return 0, false
	}
	n, ok = o.nodes[t.id]
	if !ok || o.node[n].node.Kind != t.nodeKind() {
		return 0, false
	}
	return n, true
}

// principal returns the principal's subject key and (users) its groups;
// ok is false when the organization has no such principal that may act.
func (o *org) principal(p castellan.Principal) (self uint32, groups []int32, ok bool) {
	switch p.Type {
	case castellan.PrincipalServiceAccount:
		n, ok := o.serviceAccounts.get(p.ID)
		return subjectServiceAccount | uint32(n), nil, ok
	case castellan.PrincipalUser:
		u, ok := o.users.get(p.ID)
		if !ok {
			return 0, nil, false
		}
		return subjectUser | uint32(u.subject), o.groupsOf(u), true
	}
	return 0, nil, false
}

// path returns the node and those above it, the root last, as
// policy.Input wants them.
func (o *org) path(n int32) []*castellan.Node {
	var path []*castellan.Node
	for ; n >= 0; n = o.node[n].parent {
		path = append(path, o.node[n].node)
	}
	return path
}
