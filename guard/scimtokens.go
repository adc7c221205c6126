package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// scimTokens guards the SCIM tokens of an organization, authorized on the
// organization. A token acts as its creator, so making one hands an
// identity provider the creator's power over users and groups: only
// those who hold iam:CreateScimToken (owners and admins) may, and never
// through another SCIM token.
type scimTokens struct {
	g    *guard
	next castellan.SCIMTokenService
}

var _ castellan.SCIMTokenService = (*scimTokens)(nil)

func (s *scimTokens) CreateSCIMToken(ctx context.Context, orgID string, c castellan.SCIMTokenCreate) (*castellan.NewSCIMToken, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateSCIMToken); err != nil {
		return nil, err
	}
	// The token acts as its creator: only a user of the organization
	// makes one, and never over SCIM.
	if p, _ := castellan.PrincipalFrom(ctx); p.Type != castellan.PrincipalUser || p.OrganizationID != orgID || p.SCIMTokenID != "" {
		return nil, denied(castellan.ActionCreateSCIMToken, "organization/"+orgID)
	}
	return s.next.CreateSCIMToken(ctx, orgID, c)
}

func (s *scimTokens) FindSCIMTokens(ctx context.Context, orgID string) ([]*castellan.SCIMToken, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListSCIMTokens); err != nil {
		return nil, err
	}
	return s.next.FindSCIMTokens(ctx, orgID)
}

func (s *scimTokens) DeleteSCIMToken(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionDeleteSCIMToken); err != nil {
		return 0, err
	}
	if err := castellan.CheckID("scimTokenId", id); err != nil {
		return 0, err
	}
	return s.next.DeleteSCIMToken(ctx, orgID, id)
}

// AuthenticateSCIM authenticates by the token's own secret.
func (s *scimTokens) AuthenticateSCIM(ctx context.Context, secret string) (*castellan.SCIMToken, castellan.Principal, error) {
	return s.next.AuthenticateSCIM(ctx, secret)
}
