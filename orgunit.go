package castellan

import (
	"context"
	"time"
)

// OrgUnit is an organizational unit: a node under the root or under
// another OU, at most MaxOUDepth levels below the root, that groups OUs,
// accounts and projects so that grants and control policies apply to all
// of them (seed 001).
type OrgUnit struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	// ParentID is the root (the organization's ID) or an OU.
	ParentID    string `json:"parentId"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Depth is 1 for a child of the root, at most MaxOUDepth.
	Depth int `json:"depth"`
	// Path is the nodes above the OU, the root first (the seed's
	// "higher-level organization unit").
	Path      []NodeRef `json:"path" nullable:"false"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	UpdatedAt time.Time `json:"updatedAt"`
	UpdatedBy string    `json:"updatedBy"`
	Revision  int64     `json:"revision"`
}

// Limits of organizational unit fields.
const (
	MaxOUNameLength = 100
	// MaxLongDescriptionLength bounds the descriptions of OUs and
	// control policies (seed 001: "within 1,000 characters").
	MaxLongDescriptionLength = 1000
)

// ValidateOUName checks an OU name: 1–100 characters, no control
// characters, no surrounding white space. Names are case-sensitive and
// unique among the OUs of one parent.
func ValidateOUName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxOUNameLength) {
		c.printable(field, name)
	}
	return c.fields
}

// ValidateLongDescription is ValidateDescription with room for 1,000
// characters.
func ValidateLongDescription(field, s string) []FieldError {
	return validateDescription(field, s, MaxLongDescriptionLength)
}

// OrgUnitCreate is the input of CreateOrgUnit.
type OrgUnitCreate struct {
	// ParentID is the root (the organization's ID) or an OU.
	ParentID    string
	Name        string
	Description string
	// PolicyIDs are the control policies attached at creation; empty
	// means FullAccess. At least one is always attached.
	PolicyIDs []string
}

// Validate checks every field and reports all failures at once.
func (c *OrgUnitCreate) Validate() error {
	fields := ValidateOUName("name", c.Name)
	fields = append(fields, ValidateLongDescription("description", c.Description)...)
	fields = append(fields, checkIDField("parentId", c.ParentID)...)
	fields = append(fields, validatePolicyIDs("policyIds", c.PolicyIDs)...)
	return Invalid(fields)
}

// OrgUnitUpdate changes the non-nil fields of an OU.
type OrgUnitUpdate struct {
	Name        *string
	Description *string
}

// Validate checks the fields being changed.
func (u *OrgUnitUpdate) Validate() error {
	var fields []FieldError
	if u.Name != nil {
		fields = append(fields, ValidateOUName("name", *u.Name)...)
	}
	if u.Description != nil {
		fields = append(fields, ValidateLongDescription("description", *u.Description)...)
	}
	return Invalid(fields)
}

// OrgUnitFilter selects OUs of one organization.
type OrgUnitFilter struct {
	// ParentID restricts the list to the children of one node.
	ParentID  *string
	PageSize  int
	PageToken string
}

// OrgUnitService manages organizational units. Every structural change
// (create, move, delete) is serialized per organization, so concurrent
// moves can never make a cycle or exceed MaxOUDepth.
type OrgUnitService interface {
	// FindOrgUnitByID returns ENOTFOUND (ou.not_found).
	FindOrgUnitByID(ctx context.Context, orgID, id string) (*OrgUnit, error)
	// FindOrgUnits lists OUs by name, then ID.
	FindOrgUnits(ctx context.Context, orgID string, filter OrgUnitFilter) (units []*OrgUnit, next string, err error)
	// CreateOrgUnit returns EINVALID for bad fields, ENOTFOUND
	// (node.not_found, controlpolicy.not_found) for an unknown parent or
	// policy, EPRECONDITION (ou.too_deep) below MaxOUDepth and ECONFLICT
	// (ou.name_taken) when a sibling OU has the name.
	CreateOrgUnit(ctx context.Context, orgID string, create OrgUnitCreate) (*OrgUnit, error)
	// UpdateOrgUnit renames or redescribes an OU; errors as above.
	UpdateOrgUnit(ctx context.Context, orgID, id string, update OrgUnitUpdate) (*OrgUnit, error)
	// MoveOrgUnit puts the OU and its subtree under parentID (the root or
	// an OU). EPRECONDITION (ou.cycle) into its own subtree, (ou.too_deep)
	// when its deepest OU would fall below MaxOUDepth; ECONFLICT
	// (ou.name_taken).
	MoveOrgUnit(ctx context.Context, orgID, id, parentID string) (*OrgUnit, error)
	// DeleteOrgUnit deletes an empty OU with its policy attachments and
	// the grants on it. EPRECONDITION (ou.not_empty) while it has
	// children of any kind.
	DeleteOrgUnit(ctx context.Context, orgID, id string) (revision int64, err error)
}
