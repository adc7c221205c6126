package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// subjectExists checks that a user or group subject is one of the
// organization; other subjects are left to the store.
func (g *guard) subjectExists(ctx context.Context, orgID string, subject castellan.Subject) error {
	var err error
	switch subject.Type {
	case castellan.SubjectUser:
		_, err = g.raw.Users.FindUserByID(ctx, orgID, subject.ID, false)
	case castellan.SubjectGroup:
		_, err = g.raw.Groups.FindGroupByID(ctx, orgID, subject.ID)
	}
	return err
}

// allowRoleChanges checks a change of subject's roles on scope (SetRoles,
// RemoveRoles): the caller needs iam:SetGrants there and must hold every
// role it adds or removes; since any role the subject holds there may
// go, all of them count.
func (g *guard) allowRoleChanges(ctx context.Context, orgID string, subject castellan.Subject, scope string, roleIDs []string) error {
	if err := castellan.CheckID("organizationId", orgID); err != nil {
		return err
	}
	if err := castellan.CheckID("subjectId", subject.ID); err != nil {
		return err
	}
	if err := g.allowAt(ctx, orgID, castellan.ActionSetGrants, "scope", scope); err != nil {
		return err
	}
	if err := g.subjectExists(ctx, orgID, subject); err != nil {
		return err
	}
	items := make([]castellan.GrantCreate, 0, len(roleIDs))
	for _, id := range roleIDs {
		items = append(items, castellan.GrantCreate{RoleID: id, Scope: scope, Subject: subject})
	}
	if err := g.allowGrantChanges(ctx, orgID, items, indexed("roleIds[%d]")); err != nil {
		return err
	}
	current, _, err := g.raw.Grants.FindGrants(ctx, orgID, castellan.GrantFilter{Scope: &scope, Subject: &subject, PageSize: castellan.MaxPageSize})
	if err != nil {
		return err
	}
	held := make([]castellan.GrantCreate, 0, len(current))
	for _, grant := range current {
		if grant.Via == nil {
			held = append(held, castellan.GrantCreate{RoleID: grant.RoleID, Scope: grant.Scope, Subject: grant.Subject})
		}
	}
	return g.allowGrantChanges(ctx, orgID, held, func(int) string { return "subjectId" })
}
