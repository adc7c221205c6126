package bench

import (
	"fmt"
	"math"
	"time"
)

// Config is the shape of the synthetic organization and how it is
// measured. Every count is of one organization; the generator derives
// everything from Seed, so that two runs with the same Config build the
// same organization and ask the same questions.
type Config struct {
	Profile string `json:"profile"`
	Seed    int64  `json:"seed"`
	// Users, of which the last NoAccess hold no grant, direct or through
	// a group.
	Users    int `json:"users"`
	NoAccess int `json:"noAccess"`
	// Groups of MembersPerGroup users each (users with access only).
	Groups          int `json:"groups"`
	MembersPerGroup int `json:"membersPerGroup"`
	// OUs spread evenly over Depth levels below the root.
	OUs   int `json:"ous"`
	Depth int `json:"depth"`
	// Accounts hang under the deeper OUs; projects under the accounts,
	// or under the deeper OUs when there are no accounts.
	Accounts int `json:"accounts"`
	Projects int `json:"projects"`
	// Grants are the role grants on nodes: 60% to users on projects, 36%
	// to groups on projects, 4% to groups on OUs, and RootGrants (at most
	// 20) to users on the root.
	Grants int `json:"grants"`
	// ResourceGrants are grants to users on one bucket each.
	ResourceGrants int `json:"resourceGrants"`
	// ControlPolicies each forbid one action, attached to an account (or
	// an OU when there are no accounts).
	ControlPolicies int `json:"controlPolicies"`

	// Mix is the check mix: "standard" (a fifth each: allowed through a
	// direct grant, a group's grant on an ancestor OU, a resource grant;
	// denied; denied by a control policy) or "peer" (a third each: a
	// direct project grant, a group's grant on an OU 3–5 levels up,
	// denied).
	Mix string `json:"mix"`
	// Checks is the number of distinct checks cycled through.
	Checks int `json:"checks"`
	// Duration bounds each in-process and HTTP measurement; Requests
	// bounds each HTTP one too.
	Duration time.Duration `json:"duration"`
	Requests int           `json:"requests"`
	// Concurrency lists the HTTP load driver's connection counts.
	Concurrency []int `json:"concurrency"`
	// WriteSamples is how many grants write→visible writes.
	WriteSamples int `json:"writeSamples"`
	// ListPages is how many user-list pages of 100 are read.
	ListPages int `json:"listPages"`
}

// Profiles are the named shapes. large is the design's target scale,
// peer a mid-size organization for comparison with other authorization
// servers, small the smoke test (a few seconds).
var Profiles = map[string]Config{
	"large": {
		Users: 1_000_000, NoAccess: 100_000, Groups: 100_000, MembersPerGroup: 10,
		OUs: 1000, Depth: 5, Accounts: 2000, Projects: 100_000,
		Grants: 10_000_000, ResourceGrants: 200_000, ControlPolicies: 100, Mix: "standard",
	},
	"peer": {
		Users: 20_000, NoAccess: 2_000, Groups: 2_000, MembersPerGroup: 10,
		OUs: 100, Depth: 5, Projects: 10_000, Grants: 50_000, Mix: "peer",
	},
	"small": {
		Users: 300, NoAccess: 30, Groups: 30, MembersPerGroup: 5,
		OUs: 15, Depth: 5, Accounts: 10, Projects: 60,
		Grants: 600, ResourceGrants: 60, ControlPolicies: 4, Mix: "standard",
	},
}

// Measurement defaults, for every profile.
const (
	DefaultChecks       = 3000
	DefaultDuration     = 3 * time.Second
	DefaultRequests     = 200_000
	DefaultWriteSamples = 200
	DefaultListPages    = 50
	// MaxRootGrants caps the grants on the root: they apply everywhere.
	MaxRootGrants = 20
)

// Profile returns the named profile with the measurement defaults,
// its counts multiplied by scale (structure sizes never below what the
// mix needs).
func Profile(name string, scale float64) (Config, error) {
	c, ok := Profiles[name]
	if !ok {
		return Config{}, fmt.Errorf("--profile %q: want large, peer or small", name)
	}
	if scale <= 0 || scale > 1 {
		return Config{}, fmt.Errorf("--scale %v: want a number in (0, 1]", scale)
	}
	c.Profile = name
	shrink := func(n *int, least int) {
		if *n > 0 {
			*n = max(least, int(math.Round(float64(*n)*scale)))
		}
	}
	shrink(&c.Users, 10)
	shrink(&c.NoAccess, 1)
	shrink(&c.Groups, 1)
	shrink(&c.OUs, c.Depth)
	shrink(&c.Accounts, 1)
	shrink(&c.Projects, 1)
	shrink(&c.Grants, 10)
	shrink(&c.ResourceGrants, 1)
	shrink(&c.ControlPolicies, 1)
	c.Seed = 1
	c.Checks = DefaultChecks
	c.Duration = DefaultDuration
	c.Requests = DefaultRequests
	c.Concurrency = []int{1, 16, 64}
	c.WriteSamples = DefaultWriteSamples
	c.ListPages = DefaultListPages
	return c, nil
}

// Validate checks that the counts make an organization the mix can be
// asked about.
func (c *Config) Validate() error {
	switch {
	case c.Users < 2 || c.NoAccess < 1 || c.NoAccess >= c.Users:
		return fmt.Errorf("want at least 2 users and 1 ≤ no-access users < users (got %d, %d)", c.Users, c.NoAccess)
	case c.Groups < 1 || c.MembersPerGroup < 1 || c.MembersPerGroup > c.Users-c.NoAccess:
		return fmt.Errorf("want at least 1 group of 1 to %d members (got %d of %d)", c.Users-c.NoAccess, c.Groups, c.MembersPerGroup)
	case c.OUs < 1 || c.Depth < 1 || c.Depth > 5 || c.OUs < c.Depth:
		return fmt.Errorf("want OUs ≥ depth, depth 1 to 5 (got %d, %d)", c.OUs, c.Depth)
	case c.Projects < 1 || c.Accounts < 0:
		return fmt.Errorf("want at least 1 project (got %d) and no negative accounts", c.Projects)
	case c.Grants < 10 || c.ResourceGrants < 0 || c.ControlPolicies < 0:
		return fmt.Errorf("want at least 10 grants (got %d), no negative resource grants or control policies", c.Grants)
	case c.Mix != "standard" && c.Mix != "peer":
		return fmt.Errorf("mix %q: want standard or peer", c.Mix)
	case c.Mix == "standard" && (c.ResourceGrants < 1 || c.ControlPolicies < 1):
		return fmt.Errorf("the standard mix asks about resource grants and control policies: want at least one of each")
	case c.Checks < 1 || c.Duration <= 0 || c.Requests < 1:
		return fmt.Errorf("want at least 1 check, a positive duration and at least 1 request")
	}
	for _, n := range c.Concurrency {
		if n < 1 || n > 1024 {
			return fmt.Errorf("concurrency %d: want 1 to 1024", n)
		}
	}
	return nil
}

// split is how Grants divide among their kinds.
func (c *Config) split() (userProject, groupProject, groupOU, root int) {
	root = min(MaxRootGrants, c.Grants/100)
	rest := c.Grants - root
	userProject = rest * 60 / 100
	groupProject = rest * 36 / 100
	groupOU = rest - userProject - groupProject
	return
}
