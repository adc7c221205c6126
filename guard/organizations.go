package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// organizations guards the organization operations: the operator creates,
// renames and deletes organizations; a user reads and describes its own
// when its roles allow.
type organizations struct {
	g    *guard
	next castellan.OrganizationService
}

var _ castellan.OrganizationService = (*organizations)(nil)

// FindOrganizationByID lets a user signed in to the console read its own
// organization, whose name the console shows it, without any role; a
// token needs the action.
func (s *organizations) FindOrganizationByID(ctx context.Context, id string) (*castellan.Organization, error) {
	if p, _ := castellan.PrincipalFrom(ctx); p.Type == castellan.PrincipalUser && p.SessionID != "" && p.OrganizationID == id {
		return s.next.FindOrganizationByID(ctx, id)
	}
	if err := s.g.allowOrg(ctx, id, castellan.ActionGetOrganization); err != nil {
		return nil, err
	}
	return s.next.FindOrganizationByID(ctx, id)
}

// FindOrganizations lists every organization to the operator; anyone else
// sees its own organization when allowed to read it, and otherwise none.
func (s *organizations) FindOrganizations(ctx context.Context, filter castellan.OrganizationFilter) ([]*castellan.Organization, string, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if p.Type != castellan.PrincipalOperator {
		err := s.g.allowOrg(ctx, p.OrganizationID, castellan.ActionListOrganizations)
		if castellan.ErrorKind(err) == castellan.EFORBIDDEN || filter.ID != nil && *filter.ID != p.OrganizationID {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		filter.ID = &p.OrganizationID
	}
	return s.next.FindOrganizations(ctx, filter)
}

func (s *organizations) CreateOrganization(ctx context.Context, create castellan.OrganizationCreate) (*castellan.Organization, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	return s.next.CreateOrganization(ctx, create)
}

// UpdateOrganization lets a user change what its roles allow; only the
// operator renames an organization.
func (s *organizations) UpdateOrganization(ctx context.Context, id string, update castellan.OrganizationUpdate) (*castellan.Organization, error) {
	if err := s.g.allowOrg(ctx, id, castellan.ActionUpdateOrganization); err != nil {
		return nil, err
	}
	if update.Name != nil {
		if err := requireOperator(ctx); err != nil {
			return nil, err
		}
	}
	return s.next.UpdateOrganization(ctx, id, update)
}

func (s *organizations) DeleteOrganization(ctx context.Context, id string) (int64, error) {
	if err := castellan.CheckID("organizationId", id); err != nil {
		return 0, err
	}
	if err := requireOperator(ctx); err != nil {
		return 0, err
	}
	return s.next.DeleteOrganization(ctx, id)
}
