package guard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// newPolicy creates a custom control policy with the document and
// returns its ID.
func (f *fixture) newPolicy(document string) string {
	p, err := f.raw.ControlPolicies.CreateControlPolicy(system, f.org, castellan.ControlPolicyCreate{Name: f.unique("policy"), Document: document})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ID
}

// ouIn creates an OU of orgID under parent.
func (f *fixture) ouIn(orgID, parent string) string {
	ou, err := f.raw.OrgUnits.CreateOrgUnit(system, orgID, castellan.OrgUnitCreate{ParentID: parent, Name: f.unique("ou")})
	if err != nil {
		f.t.Fatal(err)
	}
	return ou.ID
}

// accountIn creates an account of orgID under parent.
func (f *fixture) accountIn(orgID, parent string) string {
	name := f.unique("acct")
	email := name + "@accounts.example"
	a, err := f.raw.Accounts.CreateAccount(system, orgID, castellan.AccountCreate{ParentID: parent, Name: name, Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"})
	if err != nil {
		f.t.Fatal(err)
	}
	return a.ID
}

// wantCode fails unless err is a castellan.Error with the code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var e *castellan.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: got %v, want %s", what, err, code)
	}
}

// TestGrantsOnOUsAndAccounts: grants on an OU or an account of the
// organization are made, the scope's kind must match the node's, another
// organization's OU or account is not found, and the hierarchy principle
// follows the tree: a grant on an OU lets its holder grant its roles on
// the accounts below it, not on a sibling.
func TestGrantsOnOUsAndAccounts(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			other := principals[otherOwner].OrganizationID
			ou, sibling := f.ouIn(f.org, f.org), f.ouIn(f.org, f.org)
			account := f.accountIn(f.org, ou)
			theirOU := f.ouIn(other, other)
			theirAccount := f.accountIn(other, other)
			ctx := castellan.WithPrincipal(system, principals[owner])
			grant := func(ctx context.Context, scope string) error {
				_, _, err := s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{{RoleID: "project.reader", Scope: scope, Subject: userSubject(f.newUser())}})
				return err
			}
			for _, scope := range []string{"ou/" + ou, "account/" + account} {
				if err := grant(ctx, scope); err != nil {
					t.Errorf("grant on %s: %v", scope, err)
				}
			}
			for scope, code := range map[string]string{
				"ou/" + theirOU:           castellan.CodeOUNotFound,
				"account/" + theirAccount: castellan.CodeAccountNotFound,
				"account/" + ou:           castellan.CodeAccountNotFound,
				"ou/" + account:           castellan.CodeOUNotFound,
			} {
				wantCode(t, "grant on "+scope, grant(ctx, scope), code)
			}
			// An OU's admin grants its roles below the OU only.
			ouAdmin := f.newUser()
			f.grant("project.admin", "ou/"+ou, userSubject(ouAdmin))
			asOUAdmin := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: ouAdmin, OrganizationID: f.org})
			if err := grant(asOUAdmin, "account/"+account); err != nil {
				t.Errorf("the OU's admin grants on its account: %v", err)
			}
			if err := grant(asOUAdmin, "ou/"+sibling); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("the OU's admin grants on a sibling OU: got %v, want forbidden", err)
			}
			_, _, err := s.Grants.CreateGrants(asOUAdmin, f.org, []castellan.GrantCreate{{RoleID: "account.admin", Scope: "account/" + account, Subject: userSubject(f.newUser())}})
			wantCode(t, "the OU's admin grants a role it lacks", err, castellan.CodeEscalation)
		})
	}
}

// TestKeysWhereTheOwnerHoldsAGrantAbove: a user's key is made in a
// project when the user holds a grant on the project's account or OU,
// and refused in a project where nothing of the user's reaches.
func TestKeysWhereTheOwnerHoldsAGrantAbove(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			url := b.URL(t)
			f, s, principals := newFixture(t, url)
			ou := f.ouIn(f.org, f.org)
			account := f.accountIn(f.org, ou)
			elsewhere := f.newProject()
			placed, err := f.raw.Projects.CreateProject(system, f.org, castellan.ProjectCreate{Name: f.unique("p"), ParentID: account})
			if err != nil {
				t.Fatal(err)
			}
			inAccount := placed.ID
			for _, scope := range []string{"account/" + account, "ou/" + ou} {
				user := f.newUser()
				f.grant("project.member", scope, userSubject(user))
				ctx := castellan.WithPrincipal(system, principals[owner])
				if _, err := s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: userOf(user), ProjectID: inAccount, Name: "k"}); err != nil {
					t.Errorf("key of a user granted on %s: %v", scope, err)
				}
				_, err := s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: userOf(user), ProjectID: elsewhere, Name: "k"})
				wantCode(t, "key outside "+scope, err, castellan.CodeAccessKeyNoGrantInProject)
				self := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: user, OrganizationID: f.org})
				if _, err := s.AccessKeys.CreateAccessKey(self, f.org, castellan.AccessKeyCreate{Owner: userOf(user), ProjectID: inAccount, Name: "own"}); err != nil {
					t.Errorf("own key of a user granted on %s: %v", scope, err)
				}
			}
		})
	}
}

// TestSimulateAcrossOrganizations: a simulation of another organization's
// node or policy is not found, and a caller of another organization
// learns nothing.
func TestSimulateAcrossOrganizations(t *testing.T) {
	f, _, principals := newFixture(t, sqltest.SQLiteURL(t))
	other := principals[otherOwner].OrganizationID
	theirOU := f.ouIn(other, other)
	ours := f.newPolicy(`forbid (principal, action, resource);`)
	theirs, err := f.raw.ControlPolicies.CreateControlPolicy(system, other, castellan.ControlPolicyCreate{Name: "theirs", Document: `forbid (principal, action, resource);`})
	if err != nil {
		t.Fatal(err)
	}
	attach := func(target string) castellan.ControlPolicySimulation {
		return castellan.ControlPolicySimulation{Operation: castellan.SimulateAttach, TargetID: target}
	}
	asOwner := castellan.WithPrincipal(system, principals[owner])
	_, err = f.decisions.SimulateControlPolicy(asOwner, f.org, ours, attach(theirOU))
	wantCode(t, "their OU", err, castellan.CodeNodeNotFound)
	_, err = f.decisions.SimulateControlPolicy(asOwner, f.org, ours, attach(other))
	wantCode(t, "their root", err, castellan.CodeNodeNotFound)
	_, err = f.decisions.SimulateControlPolicy(asOwner, f.org, theirs.ID, attach(f.org))
	wantCode(t, "their policy", err, castellan.CodeControlPolicyNotFound)
	_, err = f.decisions.SimulateControlPolicy(castellan.WithPrincipal(system, principals[otherOwner]), f.org, ours, attach(f.org))
	wantCode(t, "by their owner", err, castellan.CodeOrgNotFound)
	_, err = f.decisions.SimulateControlPolicy(castellan.WithPrincipal(system, principals[otherOwner]), other, ours, attach(other))
	wantCode(t, "our policy in their organization", err, castellan.CodeControlPolicyNotFound)
}

// TestMovingAProjectOutOfAnAccountKeepsTheGuardrails: a project under an
// account under an OU that forbids compute stays forbidden when an
// administrator of the OU moves it out of the account to the OU: control
// policies limit everything below the root, not only accounts.
func TestMovingAProjectOutOfAnAccountKeepsTheGuardrails(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			ou := f.ouIn(f.org, f.org)
			account := f.accountIn(f.org, ou)
			deny := f.newPolicy(`permit (principal, action, resource);
forbid (principal, action in Action::"compute:*", resource);`)
			if _, err := f.raw.ControlPolicies.AttachControlPolicy(system, f.org, deny, ou); err != nil {
				t.Fatal(err)
			}
			p, err := f.raw.Projects.CreateProject(system, f.org, castellan.ProjectCreate{Name: f.unique("workload"), ParentID: account})
			if err != nil {
				t.Fatal(err)
			}
			user := f.newUser()
			f.grant(castellan.AccountAdminRoleID, "ou/"+ou, userSubject(user))
			who := castellan.Principal{Type: castellan.PrincipalUser, ID: user, OrganizationID: f.org}
			ask := func() castellan.Decision {
				d, err := f.decisions.Authorize(castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalOperator, ID: "operator"}),
					castellan.AuthzRequest{Principal: who, Action: "compute:StartInstance", Resource: "project/" + p.ID})
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			if d := ask(); d.Allowed || d.Reason != castellan.ReasonPolicyForbids {
				t.Fatalf("in the account: %+v, want forbidden", d)
			}
			if _, err := s.Projects.MoveProject(castellan.WithPrincipal(system, who), f.org, p.ID, ou); err != nil {
				t.Fatalf("the OU's administrator moves the project to the OU: %v", err)
			}
			if d := ask(); d.Allowed || d.Reason != castellan.ReasonPolicyForbids || d.Policy == nil || d.Policy.PolicyID != deny || d.Policy.Node.ID != ou {
				t.Fatalf("moved to the OU: %+v, want forbidden by %s at the OU", d, deny)
			}
		})
	}
}
