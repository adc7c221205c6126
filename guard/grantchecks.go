package guard

import (
	"context"
	"fmt"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// allowAt is allow on a scope string of the organization: a project of
// another organization is "not found". field names the scope in errors.
func (g *guard) allowAt(ctx context.Context, orgID string, action castellan.Action, field, scope string) error {
	if err := castellan.CheckID("organizationId", orgID); err != nil {
		return err
	}
	parsed, err := castellan.ParseScope(field, scope)
	if err != nil {
		return err
	}
	return g.allow(ctx, orgID, action, parsed, scopeNotFound(parsed))
}

// allowGrantChanges checks each grant to make or revoke: iam:SetGrants on
// its scope, and the hierarchy principle. Items the store would refuse
// anyway (bad scope, unknown role) are left to it, so that its errors name
// them. itemField names item i in errors.
func (g *guard) allowGrantChanges(ctx context.Context, orgID string, items []castellan.GrantCreate, itemField func(i int) string) error {
	if _, err := member(ctx, orgID); err != nil {
		return err
	}
	for i, item := range items {
		scope, err := castellan.ParseScope("scope", item.Scope)
		if err != nil {
			continue // the store refuses the batch, naming the item's scope field
		}
		if err := g.allow(ctx, orgID, castellan.ActionSetGrants, scope, scopeNotFound(scope)); err != nil {
			return err
		}
		role, err := g.raw.Roles.FindRoleByID(ctx, orgID, item.RoleID)
		if castellan.ErrorKind(err) == castellan.ENOTFOUND {
			continue
		}
		if err != nil {
			return err
		}
		if err := g.holds(ctx, scope.String(), role.ID, role.Actions, itemField(i)); err != nil {
			return err
		}
	}
	return nil
}

// scopeNotFound is the error for a scope outside the caller's
// organization: nil for an organization, which member checks; for an OU,
// account, project or resource, its node's "not found".
func scopeNotFound(scope castellan.Scope) error {
	if scope.Kind == castellan.ScopeOrganization {
		return nil
	}
	return castellan.NodeNotFound(scope.NodeKind(), scope.ID)
}

// indexed returns a function naming item i of a list by a format with
// one %d.
func indexed(format string) func(int) string {
	return func(i int) string { return fmt.Sprintf(format, i) }
}

// checkIDs validates a list of IDs; field names the list.
func checkIDs(field string, ids []string) error {
	var fields []castellan.FieldError
	for i, id := range ids {
		if !castellan.ValidID(id) {
			fields = append(fields, castellan.FieldError{Field: field + "[" + strconv.Itoa(i) + "]", Rule: "format", Message: "must be a UUID"})
		}
	}
	return castellan.Invalid(fields)
}
