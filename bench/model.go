package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/castellan-iam/castellan"
)

// model is the synthetic organization as numbers: every entity is an
// index, every relation a function of the seed and indices, so that the
// generator streams the items without holding them and the oracle
// computes the expected answer of any check from the same functions.
//
// Nodes are numbered: OUs 0…OUs-1, accounts, then projects, each kind
// with its own index; parents are kept for OUs and accounts (few) and
// computed for projects.
type model struct {
	cfg Config
	cat *castellan.Catalog
	// ouParent is the parent OU of each OU, -1 for the root; ouDepth its
	// level (1 below the root).
	ouParent, ouDepth []int32
	// deep are the OUs at depth ≥ 3 (or the deepest level), where
	// accounts and, without accounts, projects hang.
	deep []int32
	// accountParent is the OU of each account.
	accountParent []int32
	// userProject, groupProject, groupOU and root count the grants of
	// each kind (Config.split).
	userProject, groupProject, groupOU, root int
	// policyAction is the action each control policy forbids, policyOn
	// the node it is attached to (an account, or an OU without
	// accounts).
	policyAction []string
	policyOn     []int32
	// forbidden lists, per account (or OU), the actions its policies
	// forbid.
	forbidden map[int32][]string
	// roles are the built-in roles by ID.
	roles map[string]*castellan.Role
}

// Role choices per grant kind, and the actions checks ask about.
var (
	projectRoles  = []string{"project.member", "project.reader", "services.user", "project.admin"}
	ouRoles       = []string{"project.reader", "project.member"}
	rootRoles     = []string{"organization.reader"}
	resourceRoles = []string{"s3e.viewer", "s3e.editor"}
	checkActions  = []string{
		"compute:StartInstance", "compute:GetInstance", "compute:DeleteInstance", "s3e:GetObject", "s3e:PutObject",
		"network:ListVpcs", "network:DeleteVpc", "registry:PullArtifact", "registry:PushArtifact",
	}
	forbiddenActions = []string{"compute:DeleteInstance", "network:DeleteVpc", "s3e:PutObject", "registry:PushArtifact", "compute:StartInstance"}
	// resourceType is the type of the resources checks name, per
	// service.
	resourceType = map[string]string{"compute": "instance", "s3e": "bucket", "network": "vpc", "registry": "registry"}
)

// Streams of mix: each relation draws from its own.
const (
	streamUserProject = iota + 1
	streamUserProjectRole
	streamGroupProject
	streamGroupProjectRole
	streamGroupOU
	streamGroupOURole
	streamRoot
	streamResourceProject
	streamResourceRole
	streamProjectParent
	streamAccountParent
	streamPolicyOn
)

// mix returns a deterministic pseudo-random number of (seed, stream, i):
// splitmix64.
func (m *model) mix(stream, i int) uint64 {
	z := uint64(m.cfg.Seed)*0x9E3779B97F4A7C15 ^ uint64(stream)<<56 ^ uint64(i)
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (m *model) pick(stream, i, n int) int { return int(m.mix(stream, i) % uint64(n)) }

func newModel(cfg Config, cat *castellan.Catalog) (*model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &model{cfg: cfg, cat: cat, forbidden: map[int32][]string{}, roles: map[string]*castellan.Role{}}
	for _, r := range cat.Roles {
		m.roles[r.ID] = r
	}
	m.userProject, m.groupProject, m.groupOU, m.root = cfg.split()
	// OU i is at depth 1 + i mod Depth; below the first level its parent
	// is an earlier OU one level up.
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 1))
	byDepth := make([][]int32, cfg.Depth+1)
	for i := range cfg.OUs {
		d := 1 + i%cfg.Depth
		parent := int32(-1)
		if d > 1 {
			up := byDepth[d-1]
			parent = up[rng.IntN(len(up))]
		}
		m.ouParent = append(m.ouParent, parent)
		m.ouDepth = append(m.ouDepth, int32(d))
		byDepth[d] = append(byDepth[d], int32(i))
	}
	for d := min(3, cfg.Depth); d <= cfg.Depth; d++ {
		m.deep = append(m.deep, byDepth[d]...)
	}
	slices.Sort(m.deep)
	for a := range cfg.Accounts {
		m.accountParent = append(m.accountParent, m.deep[m.pick(streamAccountParent, a, len(m.deep))])
	}
	for c := range cfg.ControlPolicies {
		action := forbiddenActions[c%len(forbiddenActions)]
		targets := cfg.Accounts
		if targets == 0 {
			targets = cfg.OUs
		}
		on := int32(m.pick(streamPolicyOn, c, targets))
		m.policyAction = append(m.policyAction, action)
		m.policyOn = append(m.policyOn, on)
		if !slices.Contains(m.forbidden[on], action) {
			m.forbidden[on] = append(m.forbidden[on], action)
		}
	}
	for _, ids := range [][]string{projectRoles, ouRoles, rootRoles, resourceRoles} {
		for _, id := range ids {
			if m.roles[id] == nil {
				return nil, fmt.Errorf("bench: the catalogue has no role %s", id)
			}
		}
	}
	return m, nil
}

// access is the number of users that may hold grants: users
// 0…access-1; the others have no access at all.
func (m *model) access() int { return m.cfg.Users - m.cfg.NoAccess }

// projectParent returns the account (or OU, when there are no accounts)
// a project hangs under.
func (m *model) projectParent(p int) (account, ou int32) {
	if m.cfg.Accounts > 0 {
		return int32(m.pick(streamProjectParent, p, m.cfg.Accounts)), -1
	}
	return -1, m.deep[m.pick(streamProjectParent, p, len(m.deep))]
}

// ouPath returns the OUs above a project, the nearest first.
func (m *model) ouPath(p int, buf []int32) []int32 {
	account, ou := m.projectParent(p)
	if account >= 0 {
		ou = m.accountParent[account]
	}
	for ; ou >= 0; ou = m.ouParent[ou] {
		buf = append(buf, ou)
	}
	return buf
}

// The grants, each a function of its index.

func (m *model) userProjectGrant(i int) (user, project int, role string) {
	return i % m.access(), m.pick(streamUserProject, i, m.cfg.Projects), projectRoles[m.pick(streamUserProjectRole, i, len(projectRoles))]
}

func (m *model) groupProjectGrant(j int) (group, project int, role string) {
	return j % m.cfg.Groups, m.pick(streamGroupProject, j, m.cfg.Projects), projectRoles[m.pick(streamGroupProjectRole, j, len(projectRoles))]
}

func (m *model) groupOUGrant(k int) (group, ou int, role string) {
	return k % m.cfg.Groups, m.pick(streamGroupOU, k, m.cfg.OUs), ouRoles[m.pick(streamGroupOURole, k, len(ouRoles))]
}

func (m *model) rootGrant(r int) (user int, role string) {
	return m.pick(streamRoot, r, m.access()), rootRoles[r%len(rootRoles)]
}

// resourceGrant q is on bucket b<q> of a project.
func (m *model) resourceGrant(q int) (user, project int, role string) {
	return q % m.access(), m.pick(streamResourceProject, q, m.cfg.Projects), resourceRoles[m.pick(streamResourceRole, q, len(resourceRoles))]
}

// members returns the users of group g: a run of MembersPerGroup users
// with access, wrapping around.
func (m *model) members(g int, buf []int) []int {
	for k := range m.cfg.MembersPerGroup {
		buf = append(buf, (g*m.cfg.MembersPerGroup+k)%m.access())
	}
	return buf
}

// groupsOf returns the groups of user u (one with access), the inverse
// of members.
func (m *model) groupsOf(u int, buf []int) []int {
	size := m.cfg.Groups * m.cfg.MembersPerGroup
	for pos := u; pos < size; pos += m.access() {
		buf = append(buf, pos/m.cfg.MembersPerGroup)
	}
	return buf
}

// target is what a check asks about: a resource in a project; bucket ≥ 0
// names bucket b<bucket> of resource grant bucket, else a resource of
// the action's service that no grant names.
type target struct {
	project, bucket int
}

// expect returns the reason the reference gives for user u doing action
// on t: allowed, no_grant or control_policy_forbids.
func (m *model) expect(u int, action string, t target) string {
	if u >= m.access() {
		return castellan.ReasonNoGrant
	}
	ous := m.ouPath(t.project, make([]int32, 0, 8))
	allows := func(role string) bool { return m.roles[role].Allows(action) }
	allowed := false
	for i := u; i < m.userProject && !allowed; i += m.access() {
		_, p, role := m.userProjectGrant(i)
		allowed = p == t.project && allows(role)
	}
	for q := u; q < m.cfg.ResourceGrants && !allowed; q += m.access() {
		_, p, role := m.resourceGrant(q)
		allowed = q == t.bucket && p == t.project && allows(role)
	}
	for r := 0; r < m.root && !allowed; r++ {
		user, role := m.rootGrant(r)
		allowed = user == u && allows(role)
	}
	for _, g := range m.groupsOf(u, nil) {
		for j := g; j < m.groupProject && !allowed; j += m.cfg.Groups {
			_, p, role := m.groupProjectGrant(j)
			allowed = p == t.project && allows(role)
		}
		for k := g; k < m.groupOU && !allowed; k += m.cfg.Groups {
			_, ou, role := m.groupOUGrant(k)
			allowed = slices.Contains(ous, int32(ou)) && allows(role)
		}
	}
	if !allowed {
		return castellan.ReasonNoGrant
	}
	if m.forbids(t.project, ous, action) {
		return castellan.ReasonPolicyForbids
	}
	return castellan.ReasonAllowed
}

// forbids reports whether a control policy on the path of project p
// (whose OUs are ous) forbids action.
func (m *model) forbids(p int, ous []int32, action string) bool {
	if m.cfg.Accounts > 0 {
		account, _ := m.projectParent(p)
		return slices.Contains(m.forbidden[account], action)
	}
	for _, ou := range ous {
		if slices.Contains(m.forbidden[ou], action) {
			return true
		}
	}
	return false
}
