package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// orgUnits guards organizational units. Reading, changing and deleting
// an OU is authorized on the OU itself, listing and creating on the
// parent, so that a role granted on an OU reaches its subtree and
// nothing beside it; a move needs the action on the OU and on its
// destination.
type orgUnits struct {
	g    *guard
	next castellan.OrgUnitService
}

var _ castellan.OrgUnitService = (*orgUnits)(nil)

// allowOU is allow on an OU of the organization; an OU of another
// organization, or no OU at all, is "not found".
func (g *guard) allowOU(ctx context.Context, orgID, id string, action castellan.Action) error {
	if err := castellan.CheckID("ouId", id); err != nil {
		return err
	}
	return g.allow(ctx, orgID, action, castellan.NodeScope(castellan.NodeOU, id),
		castellan.Errorf(castellan.ENOTFOUND, castellan.CodeOUNotFound, "OU %s not found", id))
}

func (s *orgUnits) FindOrgUnitByID(ctx context.Context, orgID, id string) (*castellan.OrgUnit, error) {
	if err := s.g.allowOU(ctx, orgID, id, castellan.ActionGetOrganizationalUnit); err != nil {
		return nil, err
	}
	return s.next.FindOrgUnitByID(ctx, orgID, id)
}

func (s *orgUnits) FindOrgUnits(ctx context.Context, orgID string, filter castellan.OrgUnitFilter) ([]*castellan.OrgUnit, string, error) {
	var err error
	if filter.ParentID != nil {
		err = s.g.allowNode(ctx, orgID, "parentId", *filter.ParentID, castellan.ActionListOrganizationalUnits)
	} else {
		err = s.g.allowOrg(ctx, orgID, castellan.ActionListOrganizationalUnits)
	}
	if err != nil {
		return nil, "", err
	}
	return s.next.FindOrgUnits(ctx, orgID, filter)
}

func (s *orgUnits) CreateOrgUnit(ctx context.Context, orgID string, create castellan.OrgUnitCreate) (*castellan.OrgUnit, error) {
	if err := s.g.allowNode(ctx, orgID, "parentId", create.ParentID, castellan.ActionCreateOrganizationalUnit); err != nil {
		return nil, err
	}
	return s.next.CreateOrgUnit(ctx, orgID, create)
}

func (s *orgUnits) UpdateOrgUnit(ctx context.Context, orgID, id string, update castellan.OrgUnitUpdate) (*castellan.OrgUnit, error) {
	if err := s.g.allowOU(ctx, orgID, id, castellan.ActionUpdateOrganizationalUnit); err != nil {
		return nil, err
	}
	return s.next.UpdateOrgUnit(ctx, orgID, id, update)
}

func (s *orgUnits) MoveOrgUnit(ctx context.Context, orgID, id, parentID string) (*castellan.OrgUnit, error) {
	if err := s.g.allowOU(ctx, orgID, id, castellan.ActionMoveOrganizationalUnit); err != nil {
		return nil, err
	}
	if err := s.g.allowNode(ctx, orgID, "parentId", parentID, castellan.ActionMoveOrganizationalUnit); err != nil {
		return nil, err
	}
	return s.next.MoveOrgUnit(ctx, orgID, id, parentID)
}

func (s *orgUnits) DeleteOrgUnit(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.g.allowOU(ctx, orgID, id, castellan.ActionDeleteOrganizationalUnit); err != nil {
		return 0, err
	}
	return s.next.DeleteOrgUnit(ctx, orgID, id)
}
