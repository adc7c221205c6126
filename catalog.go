package castellan

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Service is one service of the cloud as the catalogue describes it: its
// actions and the types of its resources.
type Service struct {
	Name          string   `json:"name"`
	Title         string   `json:"title"`
	Actions       []string `json:"actions" doc:"Full action names, service:Verb."`
	ResourceTypes []string `json:"resourceTypes"`
}

// Catalog is the service catalogue: every action Castellan knows and the
// built-in roles. It is loaded at start and never changes while the
// process runs.
type Catalog struct {
	Services []*Service
	// Roles are the built-in roles, by ID order.
	Roles []*Role

	services map[string]*Service
	roles    map[string]*Role
	actions  []string
	// expanded memoizes Expand, by the patterns joined with NUL, for at
	// most maxExpanded pattern lists (each role's, in practice): the
	// hierarchy principle expands a role's patterns on every grant.
	expanded  sync.Map
	nExpanded atomic.Int64
}

const maxExpanded = 10_000

// NewCatalog indexes services and roles. The caller (package catalog) has
// validated them.
func NewCatalog(services []*Service, roles []*Role) *Catalog {
	c := &Catalog{Services: services, Roles: roles, services: map[string]*Service{}, roles: map[string]*Role{}}
	for _, s := range services {
		c.services[s.Name] = s
		c.actions = append(c.actions, s.Actions...)
	}
	sort.Strings(c.actions)
	for _, r := range roles {
		r.BuiltIn = true
		c.roles[r.ID] = r
	}
	return c
}

// Service returns the named service, or nil.
func (c *Catalog) Service(name string) *Service { return c.services[name] }

// Role returns the built-in role with the ID, or nil.
func (c *Catalog) Role(id string) *Role { return c.roles[id] }

// Actions returns every action of every service, sorted.
func (c *Catalog) Actions() []string { return c.actions }

// Expand returns the catalogue actions the patterns match, sorted. The
// caller must not modify the slice: it may be shared.
func (c *Catalog) Expand(patterns []string) []string {
	key := strings.Join(patterns, "\x00")
	if out, ok := c.expanded.Load(key); ok {
		return out.([]string)
	}
	out := c.expand(patterns)
	if c.nExpanded.Load() < maxExpanded {
		if _, loaded := c.expanded.LoadOrStore(key, out); !loaded {
			c.nExpanded.Add(1)
		}
	}
	return out
}

func (c *Catalog) expand(patterns []string) []string {
	var out []string
	for _, a := range c.actions {
		for _, p := range patterns {
			if MatchAction(p, a) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// HasAction reports whether action is in the catalogue.
func (c *Catalog) HasAction(action string) bool {
	i := sort.SearchStrings(c.actions, action)
	return i < len(c.actions) && c.actions[i] == action
}

// ValidateActions checks action patterns of a role: each well formed and
// matching at least one catalogue action.
func (c *Catalog) ValidateActions(field string, patterns []string) []FieldError {
	var ch fieldChecker
	if len(patterns) == 0 {
		ch.add(field, "minItems", "must list at least one action")
	}
	if len(patterns) > MaxRoleActions {
		ch.add(field, "maxItems", "must list at most %d actions", MaxRoleActions)
	}
	for i, p := range patterns {
		f := field + "[" + itoa(i) + "]"
		switch {
		case !ValidActionPattern(p):
			ch.add(f, "pattern", "%q is not an action pattern (service:Verb, * as wildcard)", p)
		case len(c.Expand([]string{p})) == 0:
			ch.add(f, "unknownAction", "%q matches no action of the service catalogue", p)
		}
	}
	return ch.fields
}
