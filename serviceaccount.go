package castellan

import (
	"context"
	"time"
)

// ServiceAccount is a principal for a program rather than a person. It
// belongs to one project: it is listed and managed there, may hold grants
// only on that project and its resources, never joins a group and never
// signs in to the console. Access keys (the authentication issue) will let
// it call the API.
type ServiceAccount struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	ProjectID      string    `json:"projectId"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy"`
	UpdatedAt      time.Time `json:"updatedAt"`
	UpdatedBy      string    `json:"updatedBy"`
	Revision       int64     `json:"revision"`
}

// MaxServiceAccountNameLength is the longest service account name.
const MaxServiceAccountNameLength = 63

// ValidateServiceAccountName checks a service account name by the rule of
// project names: 1–63 characters, letters, digits, '.', '_' and '-',
// starting with a letter or digit. A name is an identifier that scripts
// and configuration files carry, so it has no spaces, no look-alike
// Unicode and nothing to quote. Names are unique within the project,
// case-sensitively.
func ValidateServiceAccountName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxServiceAccountNameLength) {
		c.match(field, name, projectNamePattern, ProjectNameRule)
	}
	return c.fields
}

// ServiceAccountCreate is the input of CreateServiceAccount.
type ServiceAccountCreate struct {
	Name        string
	Description string
}

// Validate checks every field and reports all failures at once.
func (sc *ServiceAccountCreate) Validate() error {
	return validateNamed(ValidateServiceAccountName, &sc.Name, &sc.Description)
}

// ServiceAccountUpdate changes the non-nil fields of a service account.
type ServiceAccountUpdate struct {
	Name        *string
	Description *string
}

// Validate checks the fields being changed.
func (su *ServiceAccountUpdate) Validate() error {
	return validateNamed(ValidateServiceAccountName, su.Name, su.Description)
}

// ServiceAccountFilter selects service accounts of one project.
type ServiceAccountFilter struct {
	PageSize  int
	PageToken string
}

// ServiceAccountService manages service accounts. Every method takes the
// organization; an account of another organization is reported as not
// found, and so is one of another project where a method takes the
// project.
type ServiceAccountService interface {
	// FindServiceAccountByID returns the account wherever it is in the
	// organization (the authorizer and grants know no project); callers
	// that name a project compare ProjectID. Returns ENOTFOUND
	// (service_account.not_found).
	FindServiceAccountByID(ctx context.Context, orgID, id string) (*ServiceAccount, error)
	// FindServiceAccounts lists the accounts of a project by name.
	// Returns ENOTFOUND (project.not_found) or EINVALID
	// (request.invalid_page_token).
	FindServiceAccounts(ctx context.Context, orgID, projectID string, filter ServiceAccountFilter) ([]*ServiceAccount, string, error)
	// CreateServiceAccount returns EINVALID, ENOTFOUND (project.not_found)
	// or ECONFLICT (service_account.name_taken) when another account of
	// the project has the name.
	CreateServiceAccount(ctx context.Context, orgID, projectID string, sc ServiceAccountCreate) (*ServiceAccount, error)
	// UpdateServiceAccount returns EINVALID, ENOTFOUND
	// (service_account.not_found, also for an account of another project)
	// or ECONFLICT (service_account.name_taken). An update that changes
	// nothing writes nothing.
	UpdateServiceAccount(ctx context.Context, orgID, projectID, id string, upd ServiceAccountUpdate) (*ServiceAccount, error)
	// DeleteServiceAccount removes the account and its grants in one
	// transaction, so that it loses its access at the revision returned.
	// Returns ENOTFOUND (service_account.not_found).
	DeleteServiceAccount(ctx context.Context, orgID, projectID, id string) (int64, error)
}

// CanHoldOn reports whether the account may hold a grant on scope, and if
// not, why: only on its own project and the resources in it. The admins
// of a project manage its accounts; were an account able to hold roles
// elsewhere, it would carry power beyond the project they answer for, and
// deleting the project would leave grants of a vanished principal behind.
func (a *ServiceAccount) CanHoldOn(s Scope) error {
	if s.NodeKind() == NodeProject && s.ID == a.ProjectID {
		return nil
	}
	return Errorf(EINVALID, CodeSubjectScopeMismatch,
		"service account %s belongs to project %s: it may hold grants only on project/%s and its resources, not on %s",
		a.ID, a.ProjectID, a.ProjectID, s)
}
