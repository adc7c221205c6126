package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestGrantsOnNodes: the store makes grants on an OU or an account of the
// organization, refuses a scope whose node is of another kind or of
// another organization with that kind's "not found", refuses a service
// account on its project's account, and a refused batch makes nothing.
func TestGrantsOnNodes(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), storetest.NewClock().Now)
			ctx := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})
			s := db.Services()
			org := storetest.Must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t).ID
			other := storetest.Must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t).ID
			ou := storetest.Must(db.OrgUnits().CreateOrgUnit(ctx, org, castellan.OrgUnitCreate{ParentID: org, Name: "eng"}))(t).ID
			acct := storetest.Must(db.Accounts().CreateAccount(ctx, org, castellan.AccountCreate{ParentID: ou, Name: "prod",
				Email: "root@prod.example", EmailConfirmation: "root@prod.example", IAMRoleName: "OrgAdmin"}))(t).ID
			theirOU := storetest.Must(db.OrgUnits().CreateOrgUnit(ctx, other, castellan.OrgUnitCreate{ParentID: other, Name: "eng"}))(t).ID
			project := storetest.Must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t).ID
			robot := storetest.Must(s.ServiceAccounts.CreateServiceAccount(ctx, org, project, castellan.ServiceAccountCreate{Name: "robot"}))(t).ID
			user := storetest.Must(s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: "dev@acme.example"}))(t).ID
			subject := castellan.Subject{Type: castellan.SubjectUser, ID: user}

			made, _, err := s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
				{RoleID: "project.reader", Scope: "ou/" + ou, Subject: subject},
				{RoleID: "services.user", Scope: "account/" + acct, Subject: subject},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(made) != 2 || made[0].Scope != "ou/"+ou || made[1].Scope != "account/"+acct {
				t.Fatalf("got %+v", made)
			}
			good := castellan.GrantCreate{RoleID: "project.member", Scope: "account/" + acct, Subject: subject}
			for _, tc := range []struct {
				name string
				bad  castellan.GrantCreate
				code string
			}{
				{"an OU that is an account", castellan.GrantCreate{RoleID: "project.reader", Scope: "ou/" + acct, Subject: subject}, castellan.CodeOUNotFound},
				{"an account that is an OU", castellan.GrantCreate{RoleID: "project.reader", Scope: "account/" + ou, Subject: subject}, castellan.CodeAccountNotFound},
				{"another organization's OU", castellan.GrantCreate{RoleID: "project.reader", Scope: "ou/" + theirOU, Subject: subject}, castellan.CodeOUNotFound},
				{"a project that is an account", castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + acct, Subject: subject}, castellan.CodeProjectNotFound},
				{"an organization role on an OU", castellan.GrantCreate{RoleID: "organization.reader", Scope: "ou/" + ou, Subject: subject}, castellan.CodeRoleScopeMismatch},
				{"a service account on an account", castellan.GrantCreate{RoleID: "project.reader", Scope: "account/" + acct,
					Subject: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: robot}}, castellan.CodeSubjectScopeMismatch},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, _, err := s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{good, tc.bad})
					var e *castellan.Error
					if !errors.As(err, &e) || e.Code != tc.code || len(e.Fields) == 0 || e.Fields[0].Field != "grants[1].scope" {
						t.Fatalf("got %v, want %s on grants[1].scope", err, tc.code)
					}
				})
			}
			grants, _, err := s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &subject})
			if err != nil {
				t.Fatal(err)
			}
			if len(grants) != 2 {
				t.Fatalf("got %d grants of the user, want the 2 made: refused batches make nothing", len(grants))
			}
		})
	}
}
