package castellan

import (
	"context"
	"regexp"
	"time"
)

// NodeKind is the kind of a node of an organization's tree.
type NodeKind string

// Node kinds. The tree is root ─ OU … ─ account ─ project; a project may
// also hang directly under the root or an OU.
const (
	NodeRoot    NodeKind = "root"
	NodeOU      NodeKind = "ou"
	NodeAccount NodeKind = "account"
	NodeProject NodeKind = "project"
)

// Project is a node of kind project: the unit in which cloud resources live
// and on which project roles are granted.
type Project struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	// ParentID is the node the project hangs under: the organization's
	// root (whose ID is the organization's), an OU or an account.
	ParentID    string    `json:"parentId"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy"`
	UpdatedAt   time.Time `json:"updatedAt"`
	UpdatedBy   string    `json:"updatedBy"`
	Revision    int64     `json:"revision"`
}

// MaxProjectNameLength is the longest project name.
const MaxProjectNameLength = 63

// ProjectNamePattern is the regular expression project names match; the
// OpenAPI document states the same pattern.
const ProjectNamePattern = `^[A-Za-z0-9][A-Za-z0-9._-]*$`

var projectNamePattern = regexp.MustCompile(ProjectNamePattern)

// ProjectNameRule describes the project name pattern in words.
const ProjectNameRule = "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"

// ValidateProjectName checks a project name: 1–63 characters, letters,
// digits, '.', '_' and '-', starting with a letter or digit. Names are
// unique among the projects of one parent, case-sensitively.
func ValidateProjectName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxProjectNameLength) {
		c.match(field, name, projectNamePattern, ProjectNameRule)
	}
	return c.fields
}

// ProjectCreate is the input of CreateProject.
type ProjectCreate struct {
	// ParentID is the root, an OU or an account; empty means the root.
	ParentID    string
	Name        string
	Description string
}

// Validate checks every field and reports all failures at once.
func (pc *ProjectCreate) Validate() error {
	var parent []FieldError
	if pc.ParentID != "" {
		parent = checkIDField("parentId", pc.ParentID)
	}
	return validateNamed(ValidateProjectName, &pc.Name, &pc.Description, parent...)
}

// ProjectUpdate changes the non-nil fields of a project.
type ProjectUpdate struct {
	Name        *string
	Description *string
}

// Validate checks the fields being changed.
func (pu *ProjectUpdate) Validate() error {
	return validateNamed(ValidateProjectName, pu.Name, pu.Description)
}

// ProjectFilter selects projects of one organization.
type ProjectFilter struct {
	PageSize  int
	PageToken string
}

// ProjectService manages projects. Every method takes the organization; a
// project of another organization is reported as not found.
type ProjectService interface {
	// FindProjectByID returns ENOTFOUND (project.not_found).
	FindProjectByID(ctx context.Context, orgID, id string) (*Project, error)
	// FindProjects lists the organization's projects by name, then ID.
	FindProjects(ctx context.Context, orgID string, filter ProjectFilter) (projects []*Project, next string, err error)
	// CreateProject creates a project under pc.ParentID: the root (when
	// empty), an OU or an account. Returns ENOTFOUND
	// (organization.not_found, node.not_found for an unknown parent),
	// EINVALID (node.invalid_parent under a project), or ECONFLICT
	// (project.name_taken) when a sibling has the name.
	CreateProject(ctx context.Context, orgID string, pc ProjectCreate) (*Project, error)
	// UpdateProject returns ENOTFOUND, EINVALID or ECONFLICT as above.
	UpdateProject(ctx context.Context, orgID, id string, upd ProjectUpdate) (*Project, error)
	// MoveProject puts the project under parentID: the root, an OU or an
	// account. Moving it where it is changes nothing. Returns ENOTFOUND
	// (project.not_found, node.not_found for an unknown parent), EINVALID
	// (node.invalid_parent) or ECONFLICT (project.name_taken) when a
	// project of the destination has the name.
	MoveProject(ctx context.Context, orgID, id, parentID string) (*Project, error)
	// DeleteProject returns the revision of the deletion, or ENOTFOUND.
	// The grants on the project and its resources, and the project's
	// service accounts with their grants, go in the same transaction.
	DeleteProject(ctx context.Context, orgID, id string) (revision int64, err error)
}
