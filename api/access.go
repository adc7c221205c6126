package api

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// requireOperator refuses every principal but the operator.
func requireOperator(ctx context.Context) error {
	if p, _ := castellan.PrincipalFrom(ctx); p.Type == castellan.PrincipalOperator {
		return nil
	}
	return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodeOperatorRequired, "only the operator may do this")
}

// allow checks that the caller may perform the operation's action on
// scope, a scope of organization orgID. The operator may do anything. A
// principal of another organization learns nothing: the organization is
// "not found". Within the organization the authorizer decides; a scope
// outside the organization (a project of another one) is reported by
// notFound.
func (s *Server) allow(ctx context.Context, orgID string, scope castellan.Scope, notFound error) error {
	if err := castellan.CheckID("path.org", orgID); err != nil {
		return err
	}
	p, _ := castellan.PrincipalFrom(ctx)
	if p.Type == castellan.PrincipalOperator {
		return nil
	}
	if p.OrganizationID != orgID {
		return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeOrgNotFound, "organization %s not found", orgID)
	}
	action := actionOf(ctx)
	d, err := s.authorizer.Authorize(ctx, castellan.AuthzRequest{Principal: p, Action: action, Resource: scope.String()})
	if err != nil {
		return err
	}
	if d.Reason == castellan.ReasonNotInOrganization && notFound != nil {
		return notFound
	}
	if !d.Allowed {
		return denied(action, scope.String())
	}
	return nil
}

// allowOrg is allow on the organization's root.
func (s *Server) allowOrg(ctx context.Context, orgID string) error {
	return s.allow(ctx, orgID, castellan.OrganizationScope(orgID), nil)
}

func denied(action, scope string) error {
	return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied, "you may not %s on %s", action, scope)
}
