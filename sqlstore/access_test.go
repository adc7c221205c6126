package sqlstore_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// accessFixture bootstraps an organization with a group of two members, a
// custom role and grants of both to the group.
func accessFixture(t *testing.T, db *sqlstore.DB) (orgID, groupID string) {
	t.Helper()
	ctx := context.Background()
	s := db.Services()
	res, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	orgID = res.OrganizationID
	u, err := s.Users.CreateUser(ctx, orgID, castellan.UserCreate{Email: "dev@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Groups.CreateGroup(ctx, orgID, castellan.GroupCreate{Name: "devs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Groups.AddGroupMembers(ctx, orgID, g.ID, []string{u.ID, res.OwnerUserID}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Roles.CreateRole(ctx, orgID, castellan.RoleCreate{Name: "ops", Kind: castellan.RoleServiceKind, Actions: []string{"compute:*"}})
	if err != nil {
		t.Fatal(err)
	}
	group := castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID}
	_, _, err = s.Grants.CreateGrants(ctx, orgID, []castellan.GrantCreate{
		{RoleID: r.ID, Scope: "organization/" + orgID, Subject: group},
		{RoleID: "organization.reader", Scope: "organization/" + orgID, Subject: group},
	})
	if err != nil {
		t.Fatal(err)
	}
	return orgID, g.ID
}

func wantCount(t *testing.T, db *sqlstore.DB, want int, query string, args ...any) {
	t.Helper()
	n, err := db.Count(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n != want {
		t.Fatalf("%s %v: got %d, want %d", query, args, n, want)
	}
}

// TestDeleteOrganizationCascades checks that nothing of the access model
// outlives its organization.
func TestDeleteOrganizationCascades(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), nil)
			orgID, _ := accessFixture(t, db)
			if _, err := db.Organizations().DeleteOrganization(context.Background(), orgID); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"groups", "group_members", "roles", "grants", "users"} {
				wantCount(t, db, 0, `SELECT COUNT(*) FROM `+table+` WHERE org_id = ?`, orgID)
			}
		})
	}
}

// TestAccessChangeLog checks the change-log rows that replicas apply: one
// per grant and membership, under the revision of the mutation.
func TestAccessChangeLog(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), nil)
			orgID, groupID := accessFixture(t, db)
			const byEntity = `SELECT COUNT(*) FROM change_log WHERE org_id = ? AND entity_type = ? AND operation = ?`
			wantCount(t, db, 3, byEntity, orgID, "grant", "create") // the owner's and the group's two
			wantCount(t, db, 2, byEntity, orgID, "group_member", "create")
			wantCount(t, db, 1, byEntity, orgID, "group", "create")
			wantCount(t, db, 0, byEntity, orgID, "group", "update")
			wantCount(t, db, 0, byEntity, orgID, "organization", "update")
			rev, err := db.Groups().DeleteGroup(context.Background(), orgID, groupID)
			if err != nil {
				t.Fatal(err)
			}
			const atRevision = `SELECT COUNT(*) FROM change_log WHERE revision = ? AND entity_type = ? AND operation = 'delete'`
			wantCount(t, db, 1, atRevision, rev, "group")
			wantCount(t, db, 2, atRevision, rev, "group_member")
			wantCount(t, db, 2, atRevision, rev, "grant")
			wantCount(t, db, 0, `SELECT COUNT(*) FROM group_members WHERE group_id = ?`, groupID)
		})
	}
}
