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
