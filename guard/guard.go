// Package guard puts the rules every surface must pass between the edges
// (the REST API, the console, the compatibility APIs, SCIM) and the store.
//
// New wraps the store's castellan.Services: each management operation
// checks the caller's organization (another organization's IDs are "not
// found"), authorizes the operation's action with the castellan.Authorizer
// and applies the hierarchy principle (nobody grants, revokes or takes away
// what it does not hold itself). Edges get only the guarded services; only
// cmd/castellan and background work see the raw store.
//
// The caller is the castellan.Principal in the context. Operations that
// authenticate (sign-in, token and key exchange, invitation acceptance)
// have no caller yet and pass through: their own secret is the check.
// Every other operation refuses a context without a principal.
package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// guard holds what every guarded service checks with.
type guard struct {
	raw   castellan.Services
	authz castellan.Authorizer
}

// New returns raw with every management operation guarded by authz. The
// ChangeLog, Idempotency and Catalog pass through: they carry no
// organization's data.
func New(raw castellan.Services, authz castellan.Authorizer) castellan.Services {
	g := &guard{raw: raw, authz: authz}
	s := raw
	s.Organizations = &organizations{g: g, next: raw.Organizations}
	s.Projects = &projects{g: g, next: raw.Projects}
	s.Nodes = &nodes{g: g, next: raw.Nodes}
	s.OrgUnits = &orgUnits{g: g, next: raw.OrgUnits}
	s.ControlPolicies = &controlPolicies{g: g, next: raw.ControlPolicies}
	s.Accounts = &accounts{g: g, next: raw.Accounts}
	s.AccountMemberships = &accountMemberships{g: g, next: raw.AccountMemberships}
	s.Audit = &audit{g: g, next: raw.Audit}
	s.Roles = &roles{g: g, next: raw.Roles}
	s.Grants = &grants{g: g, next: raw.Grants}
	s.Groups = &groups{g: g, next: raw.Groups}
	s.Tokens = &tokens{next: raw.Tokens}
	s.Users = &users{g: g, next: raw.Users}
	s.ServiceAccounts = &serviceAccounts{g: g, next: raw.ServiceAccounts}
	s.AccessKeys = &accessKeys{g: g, next: raw.AccessKeys}
	s.MFA = &mfa{g: g, next: raw.MFA}
	s.Sessions = &sessions{g: g, next: raw.Sessions}
	s.RoleIdentities = &roleIdentities{g: g, next: raw.RoleIdentities}
	s.Federations = &federations{g: g, next: raw.Federations}
	s.SCIMTokens = &scimTokens{g: g, next: raw.SCIMTokens}
	s.Imports = &imports{g: g, next: raw.Imports}
	s.Outbox = &outbox{g: g, next: raw.Outbox}
	s.DecisionLog = &decisionLog{g: g, next: raw.DecisionLog}
	return s
}

// caller returns the principal of ctx, or unauthenticated.
func caller(ctx context.Context) (castellan.Principal, error) {
	p, ok := castellan.PrincipalFrom(ctx)
	if !ok {
		return p, castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated, "sign in or present a token")
	}
	return p, nil
}

// requireOperator refuses every principal but the operator.
func requireOperator(ctx context.Context) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if p.Type != castellan.PrincipalOperator {
		return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodeOperatorRequired, "only the operator may do this")
	}
	return nil
}

// member checks orgID and that the caller is the operator or belongs to
// the organization; a caller of another organization learns nothing of it.
func member(ctx context.Context, orgID string) (castellan.Principal, error) {
	if err := castellan.CheckID("organizationId", orgID); err != nil {
		return castellan.Principal{}, err
	}
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	if p.Type != castellan.PrincipalOperator && p.OrganizationID != orgID {
		return p, orgNotFound(orgID)
	}
	return p, nil
}

func orgNotFound(orgID string) error {
	return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeOrgNotFound, "organization %s not found", orgID)
}

// allow checks that the caller may do action on scope, a scope of
// organization orgID. The operator may do anything. A scope outside the
// organization (a project of another one) is reported as notFound, or as
// the denial when notFound is nil.
func (g *guard) allow(ctx context.Context, orgID string, action castellan.Action, scope castellan.Scope, notFound error) error {
	p, err := member(ctx, orgID)
	if err != nil || p.Type == castellan.PrincipalOperator {
		return err
	}
	d, err := g.authz.Authorize(ctx, castellan.AuthzRequest{Principal: p, Action: string(action), Resource: scope.String()})
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
func (g *guard) allowOrg(ctx context.Context, orgID string, action castellan.Action) error {
	return g.allow(ctx, orgID, action, castellan.OrganizationScope(orgID), nil)
}

// allowProject is allow on a project of the organization; a project of
// another organization is "not found".
func (g *guard) allowProject(ctx context.Context, orgID, projectID string, action castellan.Action) error {
	if err := castellan.CheckID("projectId", projectID); err != nil {
		return err
	}
	return g.allow(ctx, orgID, action, castellan.ProjectScope(projectID), projectNotFound(projectID))
}

func projectNotFound(id string) error {
	return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeProjectNotFound, "project %s not found", id)
}

func denied(action castellan.Action, scope string) error {
	return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied, "you may not %s on %s", action, scope)
}
