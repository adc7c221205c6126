package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// rolesField names the parts of a SetRoles or RemoveRoles request in
// errors: the roles are roleIds[i], the scope scope, the subject's ID
// subjectId.
func rolesField(i int, member string) string {
	switch {
	case member == ".scope":
		return "scope"
	case strings.HasPrefix(member, ".subject"):
		return "subjectId"
	}
	return itemField("roleIds", i, "")
}

// subjectGrants returns the grants of subject directly on scope.
func subjectGrants(ctx context.Context, tx *Tx, orgID string, subject castellan.Subject, scope string) ([]*castellan.Grant, error) {
	rows, err := tx.query(ctx, `SELECT `+grantColumns+` FROM grants WHERE org_id = ? AND subject_type = ? AND subject_id = ? AND scope = ?`,
		orgID, string(subject.Type), subject.ID, scope)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanGrant)
}

func rolesRequired() error {
	return &castellan.Error{
		Kind: castellan.EINVALID, Code: castellan.CodeRolesRequired,
		Message: "at least one role must remain; to remove every role, use removeAll",
		Fields:  []castellan.FieldError{{Field: "roleIds", Rule: "minItems", Message: "at least one role must remain"}},
	}
}

// SetRoles implements castellan.GrantService.
func (s *GrantService) SetRoles(ctx context.Context, orgID string, subject castellan.Subject, scope string, roleIDs []string) ([]*castellan.Grant, int64, error) {
	if len(roleIDs) == 0 {
		return nil, 0, rolesRequired()
	}
	if err := checkBatchSize("roleIds", len(roleIDs)); err != nil {
		return nil, 0, err
	}
	var (
		out []*castellan.Grant
		rev int64
	)
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		check := newGrantChecker(tx, orgID)
		check.field = rolesField
		wanted := make([]*castellan.Grant, len(roleIDs))
		for i, id := range roleIDs {
			g, err := check.item(ctx, i, castellan.GrantCreate{RoleID: id, Scope: scope, Subject: subject})
			if err != nil {
				return err
			}
			wanted[i] = g
		}
		current, err := subjectGrants(ctx, tx, orgID, subject, scope)
		if err != nil {
			return err
		}
		plan := planRoles(wanted, current, tx.now)
		if rev, err = replaceGrants(ctx, tx, orgID, plan.stale, plan.fresh, plan.byKey); err != nil {
			return err
		}
		for _, g := range wanted {
			out = append(out, plan.byKey[keyOf(g)])
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, rev, nil
}

// rolePlan is what SetRoles changes: the grants to make (fresh) and to
// delete (stale), and the grant standing for each wanted role (byKey).
type rolePlan struct {
	byKey        map[grantKey]*castellan.Grant
	fresh, stale []*castellan.Grant
}

// planRoles compares the wanted grants of one subject on one scope with
// the current ones at now. A current grant that is wanted and needs no
// renewal stands; the others are stale: those of roles no longer wanted,
// and those a fresh grant renews (SetRoles wants permanent grants, so an
// expired or expiring one is replaced).
func planRoles(wanted, current []*castellan.Grant, now time.Time) rolePlan {
	plan := rolePlan{byKey: map[grantKey]*castellan.Grant{}}
	held := map[grantKey]*castellan.Grant{}
	for _, g := range current {
		held[keyOf(g)] = g
	}
	for _, g := range wanted {
		k := keyOf(g)
		if plan.byKey[k] != nil {
			continue
		}
		if old := held[k]; old != nil && !needsRenewal(old, g.ExpiresAt, now) {
			plan.byKey[k] = old
			continue
		}
		plan.byKey[k] = g
		plan.fresh = append(plan.fresh, g)
	}
	for _, g := range current {
		if plan.byKey[keyOf(g)] != g {
			plan.stale = append(plan.stale, g)
		}
	}
	return plan
}

// RemoveRoles implements castellan.GrantService.
func (s *GrantService) RemoveRoles(ctx context.Context, orgID string, subject castellan.Subject, scope string, roleIDs []string, all bool) (int64, error) {
	if !all {
		if len(roleIDs) == 0 {
			return 0, castellan.Invalid([]castellan.FieldError{{Field: "roleIds", Rule: "minItems", Message: "name at least one role"}})
		}
		if err := checkBatchSize("roleIds", len(roleIDs)); err != nil {
			return 0, err
		}
	}
	if _, err := castellan.ParseScope("scope", scope); err != nil {
		return 0, err
	}
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		current, err := subjectGrants(ctx, tx, orgID, subject, scope)
		if err != nil {
			return err
		}
		doomed := current
		if !all {
			byRole := map[string]*castellan.Grant{}
			for _, g := range current {
				byRole[g.RoleID] = g
			}
			doomed = nil
			for i, id := range unique(roleIDs) {
				g := byRole[id]
				if g == nil {
					return itemError(castellan.ENOTFOUND, castellan.CodeGrantNotFound, itemField("roleIds", i, ""), "exists",
						"%s %s does not hold role %s on %s", subject.Type, subject.ID, id, scope)
				}
				doomed = append(doomed, g)
			}
			if len(doomed) == len(current) {
				return rolesRequired()
			}
		}
		rev = tx.unchangedRevision()
		if len(doomed) == 0 {
			return nil
		}
		err = keepAnOwner(ctx, tx, orgID, slices.ContainsFunc(doomed, isOwnerGrant), func() error {
			return deleteGrants(ctx, tx, orgID, doomed)
		})
		if err != nil {
			return err
		}
		rev, err = tx.record(ctx, *grantChange(orgID, nil, doomed))
		return err
	})
	return rev, err
}

// deleteGrants deletes the grants, which the transaction read.
func deleteGrants(ctx context.Context, tx *Tx, orgID string, grants []*castellan.Grant) error {
	if len(grants) == 0 {
		return nil
	}
	ids := make([]string, len(grants))
	for i, g := range grants {
		ids[i] = g.ID
	}
	in, args := inList(ids)
	if _, err := tx.exec(ctx, `DELETE FROM grants WHERE org_id = ? AND id IN `+in, append([]any{orgID}, args...)...); err != nil {
		return fmt.Errorf("delete grants: %w", err)
	}
	return nil
}
