package sqlstore_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestStructureCore builds root ─ OU ─ account ─ project and reads it
// back: the paths the authorizer walks, the tree view's order and the
// account's root user and grant.
func TestStructureCore(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), storetest.NewClock().Now)
			ctx := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})
			s := db.Services()
			org, err := s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"})
			if err != nil {
				t.Fatal(err)
			}
			ou, err := db.OrgUnits().CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Sales"})
			if err != nil {
				t.Fatal(err)
			}
			acct, err := db.Accounts().CreateAccount(ctx, org.ID, castellan.AccountCreate{
				ParentID: ou.ID, Name: "sales-prod", Email: "Root@Acme.example", EmailConfirmation: "Root@Acme.example", IAMRoleName: "OrgAdmin"})
			if err != nil {
				t.Fatal(err)
			}
			if acct.Email != "root@acme.example" || acct.RootUserID == "" || len(acct.Path) != 2 || acct.Path[1].ID != ou.ID {
				t.Fatalf("account %+v", acct)
			}
			chain, err := s.Nodes.FindAncestors(ctx, org.ID, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != 3 || chain[0].ID != acct.ID || chain[1].ID != ou.ID || chain[2].ID != org.ID || chain[0].Depth != 2 {
				t.Fatalf("chain %+v", chain)
			}
			tree, _, err := s.Nodes.FindTree(ctx, org.ID, castellan.TreeFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(tree) != 3 || tree[0].ID != org.ID || tree[1].ID != ou.ID || tree[2].ID != acct.ID {
				t.Fatalf("tree %+v", tree)
			}
			grants, _, err := s.Grants.FindGrants(ctx, org.ID, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: acct.RootUserID}})
			if err != nil {
				t.Fatal(err)
			}
			if len(grants) != 1 || grants[0].RoleID != castellan.AccountAdminRoleID || grants[0].Scope != "account/"+acct.ID {
				t.Fatalf("grants %+v", grants)
			}
			pols, err := s.ControlPolicies.FindNodePolicies(ctx, org.ID, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(pols) != 3 || pols[0].Method != castellan.AttachedDirect || pols[2].Node.ID != org.ID || pols[2].Method != castellan.AttachedInherited {
				t.Fatalf("policies %+v", pols)
			}
		})
	}
}

// TestProjectsUnderAccounts hangs projects under an account and moves
// them between the root, an OU and an account; sub-items list OUs before
// accounts. It reads accounts through the store's AccountService
// directly.
func TestProjectsUnderAccounts(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), storetest.NewClock().Now)
			ctx := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})
			s := db.Services()
			org := storetest.Must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
			ou := storetest.Must(s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Sales"}))(t)
			acct := storetest.Must(db.Accounts().CreateAccount(ctx, org.ID, castellan.AccountCreate{
				ParentID: ou.ID, Name: "sales-prod", Email: "root@acme.example", EmailConfirmation: "root@acme.example", IAMRoleName: "OrgAdmin"}))(t)
			sub := storetest.Must(s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: ou.ID, Name: "zz-last-by-name"}))(t)

			kids, _, err := s.Nodes.FindChildren(ctx, org.ID, ou.ID, castellan.ChildFilter{PageSize: 1})
			if err != nil || len(kids) != 1 || kids[0].ID != sub.ID {
				t.Fatalf("got %+v, %v; want the OU first", kids, err)
			}
			p := storetest.Must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: acct.ID, Name: "web"}))(t)
			chain := storetest.Must(s.Nodes.FindAncestors(ctx, org.ID, p.ID))(t)
			if len(chain) != 4 || chain[1].ID != acct.ID || chain[2].ID != ou.ID || chain[3].ID != org.ID || chain[0].Depth != 3 {
				t.Fatalf("got ancestors %+v", chain)
			}
			// The OU holding the account is not empty.
			_, err = s.OrgUnits.DeleteOrgUnit(ctx, org.ID, ou.ID)
			if castellan.ErrorCode(err) != castellan.CodeOUNotEmpty {
				t.Fatalf("got %v, want %s", err, castellan.CodeOUNotEmpty)
			}
			for _, to := range []string{org.ID, ou.ID, acct.ID} {
				moved := storetest.Must(s.Projects.MoveProject(ctx, org.ID, p.ID, to))(t)
				if chain := storetest.Must(s.Nodes.FindAncestors(ctx, org.ID, p.ID))(t); moved.ParentID != to || chain[1].ID != to {
					t.Fatalf("moved to %s: got %+v, ancestors %+v", to, moved, chain)
				}
			}
			// An OU cannot move under an account.
			_, err = s.OrgUnits.MoveOrgUnit(ctx, org.ID, sub.ID, acct.ID)
			if castellan.ErrorCode(err) != castellan.CodeInvalidParent {
				t.Fatalf("got %v, want %s", err, castellan.CodeInvalidParent)
			}
		})
	}
}

// TestDeleteOUDropsItsGrants: deleting an empty OU deletes the grants on
// it and its policy attachments, each with its change-log row, and
// leaves the grants elsewhere. The grant on the OU is laid directly:
// the grant service of this version takes no OU scopes yet.
func TestDeleteOUDropsItsGrants(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), storetest.NewClock().Now)
			ctx := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})
			s := db.Services()
			boot := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
			org := boot.OrganizationID
			ou := storetest.Must(s.OrgUnits.CreateOrgUnit(ctx, org, castellan.OrgUnitCreate{ParentID: org, Name: "Sales"}))(t)
			grantID := "0190d3a8-0000-7000-8000-0000000000aa"
			err := db.Exec(ctx, `INSERT INTO grants (id, org_id, role_id, scope, scope_kind, subject_type, subject_id, created_at, created_by, revision)
				VALUES (?, ?, 'organization.reader', ?, 'ou', 'user', ?, ?, 'op', 1)`, grantID, org, "ou/"+ou.ID, boot.OwnerUserID, ou.CreatedAt)
			if err != nil {
				t.Fatal(err)
			}
			before := storetest.Must(s.ChangeLog.Revision(ctx))(t)
			rev := storetest.Must(s.OrgUnits.DeleteOrgUnit(ctx, org, ou.ID))(t)
			changes := storetest.Must(s.ChangeLog.Changes(ctx, before, 10))(t)
			got := map[string]string{}
			for _, c := range changes {
				if c.Revision != rev {
					t.Fatalf("got change %+v outside revision %d", c, rev)
				}
				got[c.EntityType+" "+c.EntityID] = c.Operation
			}
			want := map[string]string{"node " + ou.ID: "delete", "grant " + grantID: "delete",
				"policy_attachment " + ou.ID + "/" + castellan.FullAccessPolicyID: "delete"}
			if len(got) != len(want) {
				t.Fatalf("got changes %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("got changes %v, want %v", got, want)
				}
			}
			if n := storetest.Must(db.Count(ctx, `SELECT COUNT(*) FROM grants WHERE org_id = ?`, org))(t); n != 1 {
				t.Fatalf("got %d grants, want the owner's only", n)
			}
		})
	}
}
