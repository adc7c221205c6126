package castellan

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// RoleKind says where a role may be granted.
type RoleKind string

// Role kinds.
const (
	// RoleOrganization roles are granted on the organization root only.
	RoleOrganization RoleKind = "organization"
	// RoleProject roles are granted on projects only.
	RoleProject RoleKind = "project"
	// RoleServiceKind roles bundle the actions of services and are
	// granted on the organization or on projects.
	RoleServiceKind RoleKind = "service"
	// RoleResource roles are granted on single resources of their service
	// and resource type (one bucket, one registry), or on all of them in a
	// project (rn:<service>:<project-id>:<type>/*).
	RoleResource RoleKind = "resource"
)

// Role is a named set of action patterns. Built-in roles come from the
// service catalogue and have stable IDs such as "organization.owner";
// custom roles belong to one organization and have UUIDs.
type Role struct {
	ID             string   `json:"id"`
	OrganizationID string   `json:"organizationId,omitempty" doc:"Empty for built-in roles."`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Kind           RoleKind `json:"kind" enum:"organization,project,service,resource"`
	// Service and ResourceType restrict resource roles (and name the
	// service of service roles).
	Service      string    `json:"service,omitempty"`
	ResourceType string    `json:"resourceType,omitempty"`
	Actions      []string  `json:"actions" doc:"Action patterns: service:Verb, with * matching any run of characters."`
	BuiltIn      bool      `json:"builtIn"`
	CreatedAt    time.Time `json:"createdAt,omitzero"`
	CreatedBy    string    `json:"createdBy,omitempty"`
	UpdatedAt    time.Time `json:"updatedAt,omitzero"`
	UpdatedBy    string    `json:"updatedBy,omitempty"`
	Revision     int64     `json:"revision,omitempty"`
}

// Allows reports whether one of the role's patterns matches action.
func (r *Role) Allows(action string) bool {
	for _, p := range r.Actions {
		if MatchAction(p, action) {
			return true
		}
	}
	return false
}

// actionPattern is the shape of an action pattern: service:Verb where
// either part may contain * wildcards, or * alone.
var actionPattern = regexp.MustCompile(`^(\*|[a-z0-9*][a-z0-9*-]*:[A-Za-z0-9*]+)$`)

// Bounds of an authorization check.
const (
	// MinActionLength and MaxActionLength bound an action ("s3e:Get"
	// is short; nothing in a catalogue is near the maximum).
	MinActionLength = 3
	MaxActionLength = 200
	// MaxScopeLength bounds a scope or resource name.
	MaxScopeLength = 400
	// MaxAuthorizeChecks bounds the checks of one batch authorization.
	MaxAuthorizeChecks = 1000
)

// ValidActionPattern reports whether p is syntactically an action pattern
// of at most MaxActionLength characters.
func ValidActionPattern(p string) bool {
	return len(p) <= MaxActionLength && actionPattern.MatchString(p)
}

// MatchAction reports whether the glob pattern (where * matches any run of
// characters, including none) matches action.
func MatchAction(pattern, action string) bool {
	for {
		star := strings.IndexByte(pattern, '*')
		if star < 0 {
			return pattern == action
		}
		if !strings.HasPrefix(action, pattern[:star]) {
			return false
		}
		action, pattern = action[star:], pattern[star+1:]
		if pattern == "" {
			return true
		}
		// Try every position for the rest of the pattern after the star.
		for i := 0; i <= len(action); i++ {
			if MatchAction(pattern, action[i:]) {
				return true
			}
		}
		return false
	}
}

// ScopeKind is the kind of thing a grant is made on.
type ScopeKind string

// Scope kinds, from the top of the tree down.
const (
	ScopeOrganization ScopeKind = "organization"
	ScopeOU           ScopeKind = "ou"
	ScopeAccount      ScopeKind = "account"
	ScopeProject      ScopeKind = "project"
	ScopeResource     ScopeKind = "resource"
)

// Scope names where a grant applies or what an authorization check is
// about: "organization/<id>", "ou/<id>", "account/<id>", "project/<id>"
// or a resource name
// "rn:<service>:<project-id>:<type>/<id>", where the ID AllResources
// names every resource of that type of the service in the project.
type Scope struct {
	Kind ScopeKind
	// ID is the node's ID (organization, OU, account or project); for
	// resources, the project ID.
	ID string
	// Resource is set for resource scopes.
	Resource *ResourceName
}

// ResourceName identifies one resource of a cloud service. The project is
// part of the name, so resources never need registering.
type ResourceName struct {
	Service   string
	ProjectID string
	Type      string
	ID        string
}

// AllResources is the ID of a resource name that stands for every
// resource of its service and type in its project, present and future:
// seed 003's "one common role that acts for all buckets".
const AllResources = "*"

// AllOfType returns the name of every resource of rn's service and type
// in its project: a grant there applies to rn.
func (rn ResourceName) AllOfType() ResourceName {
	rn.ID = AllResources
	return rn
}

func (rn ResourceName) String() string {
	return "rn:" + rn.Service + ":" + rn.ProjectID + ":" + rn.Type + "/" + rn.ID
}

func (s Scope) String() string {
	if s.Kind == ScopeResource {
		return s.Resource.String()
	}
	return string(s.Kind) + "/" + s.ID
}

var (
	rnPattern       = regexp.MustCompile(`^rn:([a-z0-9][a-z0-9-]{0,62}):([0-9a-f-]{36}):([a-z][a-zA-Z0-9-]{0,62})/([A-Za-z0-9][A-Za-z0-9._~-]{0,254}|\*)$`)
	scopeNodeFormat = "organization/<id>, ou/<id>, account/<id>, project/<id>, rn:<service>:<project-id>:<type>/<id> or rn:<service>:<project-id>:<type>/*"
)

// ParseScope parses a scope string; field names the input in errors.
func ParseScope(field, s string) (Scope, error) {
	bad := func(rule, msg string) (Scope, error) {
		return Scope{}, &Error{
			Kind: EINVALID, Code: CodeInvalidScope,
			Message: fmt.Sprintf("%s: %q %s", field, s, msg),
			Fields:  []FieldError{{Field: field, Rule: rule, Message: "must be " + scopeNodeFormat}},
		}
	}
	if len(s) > MaxScopeLength {
		return Scope{}, &Error{
			Kind: EINVALID, Code: CodeInvalidScope,
			Message: fmt.Sprintf("%s: must have at most %d characters", field, MaxScopeLength),
			Fields:  []FieldError{{Field: field, Rule: "maxLength", Message: fmt.Sprintf("must have at most %d characters", MaxScopeLength)}},
		}
	}
	if m := rnPattern.FindStringSubmatch(s); m != nil {
		if !ValidID(m[2]) {
			return bad("format", "has a malformed project ID")
		}
		rn := &ResourceName{Service: m[1], ProjectID: m[2], Type: m[3], ID: m[4]}
		return Scope{Kind: ScopeResource, ID: rn.ProjectID, Resource: rn}, nil
	}
	kind, id, ok := strings.Cut(s, "/")
	if !ok || !nodeScopeKinds[ScopeKind(kind)] {
		return bad("format", "is not a scope")
	}
	if !ValidID(id) {
		return bad("format", "has a malformed ID")
	}
	return Scope{Kind: ScopeKind(kind), ID: id}, nil
}

// nodeScopeKinds are the kinds of scopes that name a node of the tree.
var nodeScopeKinds = map[ScopeKind]bool{ScopeOrganization: true, ScopeOU: true, ScopeAccount: true, ScopeProject: true}

// NodeKind returns the kind of the node the scope names: the root for
// an organization, and a resource's project for a resource.
func (s Scope) NodeKind() NodeKind {
	switch s.Kind {
	case ScopeOrganization:
		return NodeRoot
	case ScopeOU:
		return NodeOU
	case ScopeAccount:
		return NodeAccount
	}
	return NodeProject
}

// OrganizationScope is the scope of an organization's root.
func OrganizationScope(orgID string) Scope { return Scope{Kind: ScopeOrganization, ID: orgID} }

// ProjectScope is the scope of a project.
func ProjectScope(projectID string) Scope { return Scope{Kind: ScopeProject, ID: projectID} }

// CanGrantOn reports whether a role of this kind (and, for resource roles,
// service and type) may be granted on scope, and if not, why. Project
// roles granted on an OU or account apply to every project below it.
func (r *Role) CanGrantOn(s Scope) error {
	ok := false
	switch r.Kind {
	case RoleOrganization:
		ok = s.Kind == ScopeOrganization
	case RoleProject:
		ok = s.Kind == ScopeProject || s.Kind == ScopeOU || s.Kind == ScopeAccount
	case RoleServiceKind:
		ok = s.Kind != ScopeResource
	case RoleResource:
		ok = s.Kind == ScopeResource && s.Resource.Service == r.Service && s.Resource.Type == r.ResourceType
	}
	if ok {
		return nil
	}
	where := map[RoleKind]string{
		RoleOrganization: "the organization root",
		RoleProject:      "projects, or the OUs and accounts that hold them",
		RoleServiceKind:  "the organization root, OUs, accounts or projects",
		RoleResource:     "resources of type " + r.Service + "/" + r.ResourceType + " (one, or all of a project with the ID *)",
	}[r.Kind]
	return Errorf(EINVALID, CodeRoleScopeMismatch, "role %s is a %s role: it can be granted on %s only, not on %s", r.ID, r.Kind, where, s)
}
