package authz_test

import (
	"context"
	"slices"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/storetest"
)

// serviceAccount creates a service account in the project and returns it
// as a principal.
func (f *fixture) serviceAccount(tb testing.TB, p *castellan.Project, name string) castellan.Principal {
	tb.Helper()
	a := storetest.Must(f.s.ServiceAccounts.CreateServiceAccount(context.Background(), p.OrganizationID, p.ID, castellan.ServiceAccountCreate{Name: name}))(tb)
	return castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: a.ID, OrganizationID: p.OrganizationID}
}

func accountSubject(p castellan.Principal) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectServiceAccount, ID: p.ID}
}

func TestServiceAccountPrincipal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		sa := f.serviceAccount(t, f.project, "deployer")
		viewer := f.grant(t, "s3e.viewer", bucket(f.project, "logs"), accountSubject(sa), nil)
		reader := f.grant(t, "project.reader", projectScope(f.project), accountSubject(sa), nil)
		// A user with the account's ID does not exist, and grants to users
		// or groups never reach the account.
		group := storetest.Must(f.s.Groups.CreateGroup(context.Background(), f.org.OrganizationID, castellan.GroupCreate{Name: "all"}))(t)
		f.grant(t, "organization.admin", f.orgScope(), castellan.Subject{Type: castellan.SubjectGroup, ID: group.ID}, nil)

		runChecks(t, f.authorizer, sa, []check{
			{name: "Bucket", action: "s3e:GetObject", resource: bucket(f.project, "logs"), allowed: true, reason: castellan.ReasonAllowed, match: viewer},
			{name: "ProjectRead", action: "s3e:ListBuckets", resource: projectScope(f.project), allowed: true, reason: castellan.ReasonAllowed, match: reader},
			{name: "ActionNotHeld", action: "s3e:PutObject", resource: bucket(f.project, "logs"), reason: castellan.ReasonNoGrant},
			{name: "OtherProject", action: "s3e:GetObject", resource: bucket(f.project2, "logs"),
				reason: castellan.ReasonNoGrant, explainReason: castellan.ReasonScopeMismatch, match: viewer},
			{name: "Organization", action: "organizations:GetOrganization", resource: f.orgScope(), reason: castellan.ReasonNoGrant},
			{name: "OtherOrganization", action: "s3e:GetObject", resource: bucket(f.otherProject, "logs"), reason: castellan.ReasonNotInOrganization},
		})

		missing := storetest.Must(f.authorizer.Missing(context.Background(), sa, projectScope(f.project), []string{"s3e:ListBuckets", "iam:SetGrants"}))(t)
		if !slices.Equal(missing, []string{"iam:SetGrants"}) {
			t.Fatalf("Missing: got %v, want [iam:SetGrants]", missing)
		}

		// Deleted: unknown at once.
		storetest.Must(f.s.ServiceAccounts.DeleteServiceAccount(context.Background(), f.org.OrganizationID, f.project.ID, sa.ID))(t)
		runChecks(t, f.authorizer, sa, []check{
			{name: "Deleted", action: "s3e:GetObject", resource: bucket(f.project, "logs"), reason: castellan.ReasonUnknownPrincipal},
		})
	})
}

func TestServiceAccountUnknown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		foreign := f.serviceAccount(t, f.otherProject, "deployer")
		f.grant(t, "organization.admin", f.orgScope(), userSubject(f.owner()), nil)
		for name, p := range map[string]castellan.Principal{
			// The other organization's account, claimed to be of this one.
			"ForeignAccount": {Type: castellan.PrincipalServiceAccount, ID: foreign.ID, OrganizationID: f.org.OrganizationID},
			// A user's ID given as a service account.
			"UserAsAccount": {Type: castellan.PrincipalServiceAccount, ID: f.org.OwnerUserID, OrganizationID: f.org.OrganizationID},
			"Unknown":       {Type: castellan.PrincipalServiceAccount, ID: "0190d3a8-0000-7000-8000-000000000000", OrganizationID: f.org.OrganizationID},
		} {
			t.Run(name, func(t *testing.T) {
				runChecks(t, f.authorizer, p, []check{
					{name: "Project", action: "organizations:GetProject", resource: projectScope(f.project), reason: castellan.ReasonUnknownPrincipal},
				})
				missing := storetest.Must(f.authorizer.Missing(context.Background(), p, projectScope(f.project), []string{"organizations:GetProject"}))(t)
				if len(missing) != 1 {
					t.Fatalf("Missing: got %v, want the action missing", missing)
				}
			})
		}
	})
}
