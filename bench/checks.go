package bench

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/castellan-iam/castellan"
)

// Check categories: how a check was picked. The expected answer is the
// oracle's (model.expect), whatever the category.
const (
	CategoryDirect   = "direct"
	CategoryGroupOU  = "group-ou"
	CategoryResource = "resource"
	CategoryDenied   = "denied"
	CategoryPolicy   = "policy"
)

// check is one question with its expected reason, by model indices.
type check struct {
	category string
	user     int
	action   string
	target   target
	// resourceID names the resource of a check that is not on a bucket
	// of a resource grant.
	resourceID int
	expect     string
}

// categories returns the mix's categories, in the order checks cycle
// through them.
func (m *model) categories() []string {
	if m.cfg.Mix == "peer" {
		return []string{CategoryDirect, CategoryGroupOU, CategoryDenied}
	}
	return []string{CategoryDirect, CategoryGroupOU, CategoryResource, CategoryDenied, CategoryPolicy}
}

// checks picks cfg.Checks checks, cycling through the mix's categories;
// each has the oracle's expectation.
func (m *model) checks() []check {
	rng := rand.New(rand.NewPCG(uint64(m.cfg.Seed), 2))
	under := m.projectsUnderOUs()
	cats := m.categories()
	out := make([]check, 0, m.cfg.Checks)
	for n := 0; len(out) < m.cfg.Checks && n < 20*m.cfg.Checks; n++ {
		c, ok := m.pickCheck(rng, cats[n%len(cats)], under)
		if !ok {
			continue
		}
		c.resourceID = n
		c.expect = m.expect(c.user, c.action, c.target)
		out = append(out, c)
	}
	return out
}

// projectsUnderOUs lists, per OU, the projects below it at the distance
// the mix's group-ou checks want: 3–5 levels (peer), any (standard).
func (m *model) projectsUnderOUs() map[int32][]int32 {
	least, most := 1, 10
	if m.cfg.Mix == "peer" {
		least, most = 3, 5
	}
	under := map[int32][]int32{}
	var buf []int32
	for p := range m.cfg.Projects {
		buf = m.ouPath(p, buf[:0])
		// The nearest OU is one level up, or two below an account.
		first := 1
		if m.cfg.Accounts > 0 {
			first = 2
		}
		for i, ou := range buf {
			if d := first + i; d >= least && d <= most {
				under[ou] = append(under[ou], int32(p))
			}
		}
	}
	return under
}

// pickCheck picks a check of the category; false when none could be
// found in a bounded number of tries.
func (m *model) pickCheck(rng *rand.Rand, category string, under map[int32][]int32) (check, bool) {
	c := check{category: category, target: target{bucket: -1}}
	for range 1000 {
		switch category {
		case CategoryDirect:
			i := rng.IntN(m.userProject)
			u, p, role := m.userProjectGrant(i)
			c.user, c.target.project, c.action = u, p, m.actionOf(rng, role, m.allowedOn(p))
		case CategoryGroupOU:
			k := rng.IntN(m.groupOU)
			g, ou, role := m.groupOUGrant(k)
			projects := under[int32(ou)]
			if len(projects) == 0 {
				continue
			}
			members := m.members(g, nil)
			p := int(projects[rng.IntN(len(projects))])
			c.user, c.target.project, c.action = members[rng.IntN(len(members))], p, m.actionOf(rng, role, m.allowedOn(p))
		case CategoryResource:
			q := rng.IntN(m.cfg.ResourceGrants)
			u, p, role := m.resourceGrant(q)
			c.user, c.target, c.action = u, target{project: p, bucket: q}, m.actionOf(rng, role, m.allowedOn(p))
		case CategoryDenied:
			// Half from users with no access, half from users with
			// access where they have none.
			c.action = checkActions[rng.IntN(len(checkActions))]
			c.target.project = rng.IntN(m.cfg.Projects)
			if rng.IntN(2) == 0 {
				c.user = m.access() + rng.IntN(m.cfg.NoAccess)
				return c, true
			}
			c.user = rng.IntN(m.access())
			if m.expect(c.user, c.action, c.target) != castellan.ReasonNoGrant {
				continue
			}
		case CategoryPolicy:
			i := rng.IntN(m.userProject)
			u, p, role := m.userProjectGrant(i)
			forbidden := func(a string) bool { return !m.allowedOn(p)(a) }
			c.user, c.target.project, c.action = u, p, m.actionOf(rng, role, forbidden)
		}
		if c.action != "" && (category == CategoryDenied || m.expect(c.user, c.action, c.target) == wantOf(category)) {
			return c, true
		}
	}
	return c, false
}

// wantOf is the answer a category's checks are picked for.
func wantOf(category string) string {
	switch category {
	case CategoryDenied:
		return castellan.ReasonNoGrant
	case CategoryPolicy:
		return castellan.ReasonPolicyForbids
	}
	return castellan.ReasonAllowed
}

// allowedOn returns whether the control policies on project p's path
// leave an action alone.
func (m *model) allowedOn(p int) func(string) bool {
	ous := m.ouPath(p, nil)
	return func(action string) bool { return !m.forbids(p, ous, action) }
}

// actionOf picks one of the check actions the role allows and keep
// accepts; "" when there is none.
func (m *model) actionOf(rng *rand.Rand, role string, keep func(string) bool) string {
	var ok []string
	for _, a := range checkActions {
		if m.roles[role].Allows(a) && keep(a) {
			ok = append(ok, a)
		}
	}
	if len(ok) == 0 {
		return ""
	}
	return ok[rng.IntN(len(ok))]
}

// refs returns the references of the users and projects the checks name,
// sorted: their IDs are needed to ask.
func refs(checks []check) []string {
	var out []string
	for _, c := range checks {
		out = append(out, userRef(c.user), projectRef(c.target.project))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// request turns c into a request, with ids the IDs of its references.
func (c check) request(org string, ids map[string]string) castellan.AuthzRequest {
	project := ids[projectRef(c.target.project)]
	var resource string
	if c.target.bucket >= 0 {
		resource = "rn:s3e:" + project + ":bucket/" + bucketName(c.target.bucket)
	} else {
		service, _, _ := strings.Cut(c.action, ":")
		resource = "rn:" + service + ":" + project + ":" + resourceType[service] + "/r" + strconv.Itoa(c.resourceID)
	}
	return castellan.AuthzRequest{
		Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: ids[userRef(c.user)], OrganizationID: org},
		Action:    c.action, Resource: resource,
	}
}
