package guard

import (
	"context"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// holds applies the hierarchy principle: the caller must hold every action
// the patterns name on scope, or gets grant.escalation naming field. what
// names the role (or "the role") in the message.
func (g *guard) holds(ctx context.Context, scope, what string, patterns []string, field string) error {
	p, err := caller(ctx)
	if err != nil || p.Type == castellan.PrincipalOperator {
		return err
	}
	missing, err := g.lacks(ctx, p, scope, patterns)
	if err != nil || missing == "" {
		return err
	}
	return &castellan.Error{
		Kind: castellan.EFORBIDDEN, Code: castellan.CodeEscalation,
		Message: "you may grant, revoke or define only what you hold yourself on the scope; you lack " + missing + " for " + what + " on " + scope,
		Fields:  []castellan.FieldError{{Field: field, Rule: "hierarchy", Message: "you do not hold every action of " + what + " on " + scope}},
	}
}

// lacks returns the first action the patterns name that p does not hold
// on scope, or "" when it holds them all.
func (g *guard) lacks(ctx context.Context, p castellan.Principal, scope string, patterns []string) (string, error) {
	missing, err := g.authz.Missing(ctx, p, scope, g.raw.Catalog.Expand(patterns))
	if err != nil || len(missing) == 0 {
		return "", err
	}
	return missing[0], nil
}

// holdsAccountAdmin applies the hierarchy principle to an operation that
// makes an account under scope: the account's root user gets
// account.admin on it, so the caller must hold that role's actions there.
func (g *guard) holdsAccountAdmin(ctx context.Context, scope castellan.Scope, field string) error {
	role := g.raw.Catalog.Role(castellan.AccountAdminRoleID)
	if role == nil {
		return fmt.Errorf("guard: the catalogue has no built-in role %s", castellan.AccountAdminRoleID)
	}
	return g.holds(ctx, scope.String(), role.ID, role.Actions, field)
}

// holdsRolesOf applies the hierarchy principle to an operation that takes
// away, or acts for, everything subject holds: the caller must hold every
// role of each of subject's grants on that grant's scope. field names the
// subject in errors.
func (g *guard) holdsRolesOf(ctx context.Context, orgID string, subject castellan.Subject, field string) error {
	if p, _ := castellan.PrincipalFrom(ctx); p.Type == castellan.PrincipalOperator {
		return nil
	}
	token := ""
	for {
		grants, next, err := g.raw.Grants.FindGrants(ctx, orgID, castellan.GrantFilter{Subject: &subject, PageSize: castellan.MaxPageSize, PageToken: token})
		if err != nil {
			return err
		}
		for _, grant := range grants {
			role, err := g.raw.Roles.FindRoleByID(ctx, orgID, grant.RoleID)
			if err != nil {
				return err
			}
			if err := g.holds(ctx, grant.Scope, "role "+role.ID+" of the "+string(subject.Type), role.Actions, field); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}
