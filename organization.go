package castellan

import (
	"context"
	"time"
)

// Organization is a tenant: a customer of the cloud. Everything else belongs
// to exactly one organization. Its root node has the organization's ID.
type Organization struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	MFARequired bool      `json:"mfaRequired" doc:"Every user of the organization must sign in with a second factor, whatever the user's mfaMandatory says."`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy"`
	UpdatedAt   time.Time `json:"updatedAt"`
	UpdatedBy   string    `json:"updatedBy"`
	// Revision is the change-log revision of the last write to the
	// organization record.
	Revision int64 `json:"revision"`
}

// Limits of organization fields.
const (
	MaxOrganizationNameLength = 100
	MaxDescriptionLength      = 256
)

// ValidateOrganizationName checks an organization name: 1–100 characters,
// no control characters, no surrounding white space. Names are unique across
// the installation.
func ValidateOrganizationName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxOrganizationNameLength) {
		c.printable(field, name)
	}
	return c.fields
}

// ValidateDescription checks a free-text description: at most 256
// characters, no control characters other than newlines and tabs.
func ValidateDescription(field, s string) []FieldError {
	return validateDescription(field, s, MaxDescriptionLength)
}

// validateDescription checks a free-text description of at most max
// characters.
func validateDescription(field, s string, max int) []FieldError {
	var c fieldChecker
	if !c.length(field, s, 0, max) {
		return c.fields
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
			c.add(field, "pattern", "must not contain control characters")
			break
		}
	}
	return c.fields
}

// OrganizationCreate is the input of CreateOrganization.
type OrganizationCreate struct {
	Name        string
	Description string
}

// Validate checks every field and reports all failures at once.
func (oc *OrganizationCreate) Validate() error {
	return validateNamed(ValidateOrganizationName, &oc.Name, &oc.Description)
}

// OrganizationUpdate changes the non-nil fields of an organization.
type OrganizationUpdate struct {
	Name        *string
	Description *string
	MFARequired *bool
}

// Validate checks the fields being changed.
func (ou *OrganizationUpdate) Validate() error {
	return validateNamed(ValidateOrganizationName, ou.Name, ou.Description)
}

// validateNamed checks the name (with validName) and the description of a
// create or update input, each only when present, and reports all
// failures, with those of other fields (extra).
func validateNamed(validName func(field, name string) []FieldError, name, description *string, extra ...FieldError) error {
	var fields []FieldError
	if name != nil {
		fields = append(fields, validName("name", *name)...)
	}
	if description != nil {
		fields = append(fields, ValidateDescription("description", *description)...)
	}
	return Invalid(append(fields, extra...))
}

// OrganizationFilter selects organizations to list.
type OrganizationFilter struct {
	// ID restricts the list to one organization (a user sees only its own).
	ID *string
	// PageSize is the largest number of results; 0 means the default.
	PageSize  int
	PageToken string
}

// OrganizationService manages organizations. Every mutation writes its
// audit event and change-log row in the same transaction.
type OrganizationService interface {
	// FindOrganizationByID returns ENOTFOUND (organization.not_found) if
	// there is no such organization.
	FindOrganizationByID(ctx context.Context, id string) (*Organization, error)
	// FindOrganizations lists organizations by name, then ID; next is the
	// token of the following page or "" at the end. Returns EINVALID
	// (request.invalid_page_token) for a token it did not issue.
	FindOrganizations(ctx context.Context, filter OrganizationFilter) (orgs []*Organization, next string, err error)
	// CreateOrganization creates an organization and its root node. Returns
	// EINVALID for bad fields and ECONFLICT (organization.name_taken) if the
	// name is in use.
	CreateOrganization(ctx context.Context, oc OrganizationCreate) (*Organization, error)
	// UpdateOrganization returns ENOTFOUND, EINVALID or ECONFLICT as above.
	UpdateOrganization(ctx context.Context, id string, upd OrganizationUpdate) (*Organization, error)
	// DeleteOrganization deletes an organization with its users and tokens
	// and returns the revision of the deletion. Returns ENOTFOUND, or
	// EPRECONDITION (organization.not_empty) while projects, OUs or accounts
	// remain in it.
	DeleteOrganization(ctx context.Context, id string) (revision int64, err error)
}
