package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/guard"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// newOU creates an OU under parent (the root when empty) through the
// unguarded store.
func (f *fixture) newOU(parent string) string {
	if parent == "" {
		parent = f.org
	}
	ou, err := f.raw.OrgUnits.CreateOrgUnit(system, f.org, castellan.OrgUnitCreate{ParentID: parent, Name: f.unique("ou")})
	if err != nil {
		f.t.Fatal(err)
	}
	return ou.ID
}

func init() {
	rowSets = append(rowSets, []row{
		{op: "OrgUnits.FindOrgUnitByID", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.FindOrgUnitByID(ctx, f.org, f.newOU(""))
			return err
		}},
		{op: "OrgUnits.FindOrgUnits", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.OrgUnits.FindOrgUnits(ctx, f.org, castellan.OrgUnitFilter{})
			return err
		}},
		{op: "OrgUnits.FindOrgUnits", variant: "under an OU", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			parent := f.newOU("")
			_, _, err := s.OrgUnits.FindOrgUnits(ctx, f.org, castellan.OrgUnitFilter{ParentID: &parent})
			return err
		}},
		{op: "OrgUnits.CreateOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.CreateOrgUnit(ctx, f.org, castellan.OrgUnitCreate{ParentID: f.org, Name: f.unique("ou")})
			return err
		}},
		{op: "OrgUnits.CreateOrgUnit", variant: "under an OU", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.CreateOrgUnit(ctx, f.org, castellan.OrgUnitCreate{ParentID: f.newOU(""), Name: f.unique("ou")})
			return err
		}},
		{op: "OrgUnits.UpdateOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := f.unique("d")
			_, err := s.OrgUnits.UpdateOrgUnit(ctx, f.org, f.newOU(""), castellan.OrgUnitUpdate{Description: &d})
			return err
		}},
		{op: "OrgUnits.MoveOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.MoveOrgUnit(ctx, f.org, f.newOU(""), f.newOU(""))
			return err
		}},
		{op: "OrgUnits.DeleteOrgUnit", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.OrgUnits.DeleteOrgUnit(ctx, f.org, f.newOU(""))
			return err
		}},
	})
}

// TestAccountAdminProjects: the root user of an account holds
// account.admin on it, so it creates projects in its account and nowhere
// else, and moves none out of it: a move needs organizations:CreateProject
// on the destination too.
func TestAccountAdminProjects(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			clock := storetest.NewClock()
			db := sqltest.MustOpen(t, b.URL(t), clock.Now)
			raw := db.Services()
			acme := storetest.Must(raw.Tokens.BootstrapOrganization(system, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
			org := acme.OrganizationID
			ou := storetest.Must(raw.OrgUnits.CreateOrgUnit(system, org, castellan.OrgUnitCreate{ParentID: org, Name: "Sales"}))(t)
			acct := storetest.Must(db.Accounts().CreateAccount(system, org, castellan.AccountCreate{
				ParentID: ou.ID, Name: "sales-prod", Email: "root@sales.example", EmailConfirmation: "root@sales.example", IAMRoleName: "OrgAdmin"}))(t)
			atRoot := storetest.Must(raw.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "shared"}))(t)
			services := guard.New(raw, &authz.Authorizer{
				Grants: raw.Grants, Groups: raw.Groups, Roles: raw.Roles, Nodes: raw.Nodes, Policies: raw.ControlPolicies,
				ServiceAccounts: raw.ServiceAccounts, Catalog: raw.Catalog, Now: clock.Now,
			})
			as := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: acct.RootUserID, OrganizationID: org})
			owner := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: acme.OwnerUserID, OrganizationID: org})

			p, err := services.Projects.CreateProject(as, org, castellan.ProjectCreate{ParentID: acct.ID, Name: "web"})
			if err != nil {
				t.Fatalf("create in its account: %v", err)
			}
			for name, call := range map[string]func() error{
				"create at the root": func() error {
					_, err := services.Projects.CreateProject(as, org, castellan.ProjectCreate{Name: "x"})
					return err
				},
				"create in the OU": func() error {
					_, err := services.Projects.CreateProject(as, org, castellan.ProjectCreate{ParentID: ou.ID, Name: "x"})
					return err
				},
				"move its project out": func() error { _, err := services.Projects.MoveProject(as, org, p.ID, ou.ID); return err },
				"move another in":      func() error { _, err := services.Projects.MoveProject(as, org, atRoot.ID, acct.ID); return err },
				"create an OU": func() error {
					_, err := services.OrgUnits.CreateOrgUnit(as, org, castellan.OrgUnitCreate{ParentID: ou.ID, Name: "x"})
					return err
				},
			} {
				if err := call(); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
					t.Errorf("%s: got %v, want forbidden", name, err)
				}
			}
			if _, err := services.Projects.MoveProject(owner, org, p.ID, ou.ID); err != nil {
				t.Fatalf("the owner moves it: %v", err)
			}
		})
	}
}
