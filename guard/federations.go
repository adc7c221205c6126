package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// federations guards the identity federations of an organization,
// authorized on the organization: a federation decides who may sign in
// as the organization's users, so managing one is an organization
// administrator's power (owner and admin hold iam:*).
type federations struct {
	g    *guard
	next castellan.FederationService
}

var _ castellan.FederationService = (*federations)(nil)

// allowID checks the action on the organization, then the federation ID.
func (s *federations) allowID(ctx context.Context, orgID, id string, action castellan.Action) error {
	if err := s.g.allowOrg(ctx, orgID, action); err != nil {
		return err
	}
	return castellan.CheckID("federationId", id)
}

func (s *federations) FindFederationByID(ctx context.Context, orgID, id string) (*castellan.Federation, error) {
	if err := s.allowID(ctx, orgID, id, castellan.ActionGetFederation); err != nil {
		return nil, err
	}
	return s.next.FindFederationByID(ctx, orgID, id)
}

func (s *federations) FindFederations(ctx context.Context, orgID string, f castellan.FederationFilter) ([]*castellan.Federation, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListFederations); err != nil {
		return nil, "", err
	}
	return s.next.FindFederations(ctx, orgID, f)
}

// CreateFederation with group mappings or allowed domains is an owner's.
func (s *federations) CreateFederation(ctx context.Context, orgID string, fc castellan.FederationCreate) (*castellan.Federation, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateFederation); err != nil {
		return nil, err
	}
	// Mappings put whoever the provider names into groups; allowed
	// domains route the users who sign in by their email to this
	// provider: both decide who signs in as whom.
	for field, set := range map[string]bool{"groupMappings": len(fc.GroupMappings) > 0, "allowedDomains": len(fc.AllowedDomains) > 0} {
		if set {
			if err := s.ownerOnly(ctx, orgID, field); err != nil {
				return nil, err
			}
		}
	}
	return s.next.CreateFederation(ctx, orgID, fc)
}

// UpdateFederation that changes who signs in through the federation, or
// how (FederationUpdate.ChangesSignIn), is an owner's: pointing a
// federation at another provider would hand its users, owners included,
// to whoever runs that provider.
func (s *federations) UpdateFederation(ctx context.Context, orgID, id string, upd castellan.FederationUpdate) (*castellan.Federation, error) {
	if err := s.allowID(ctx, orgID, id, castellan.ActionUpdateFederation); err != nil {
		return nil, err
	}
	if upd.ChangesSignIn() {
		if err := s.ownerOnly(ctx, orgID, "federation"); err != nil {
			return nil, err
		}
	}
	return s.next.UpdateFederation(ctx, orgID, id, upd)
}

// ownerOnly applies the hierarchy principle to a federation change that
// decides who signs in as the organization's users: the caller must
// hold every action on the organization, as its owners do
// (grant.escalation naming field otherwise).
func (s *federations) ownerOnly(ctx context.Context, orgID, field string) error {
	return s.g.holds(ctx, castellan.OrganizationScope(orgID).String(), "every action (an owner's)", []string{"*"}, field)
}

func (s *federations) DeleteFederation(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.allowID(ctx, orgID, id, castellan.ActionDeleteFederation); err != nil {
		return 0, err
	}
	return s.next.DeleteFederation(ctx, orgID, id)
}
