package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// deletion is the right confirmation of the account a's deletion by the
// fixture's owner.
func deletion(a *castellan.Account) castellan.AccountDeletion {
	return castellan.AccountDeletion{Password: accountOwnerPassword, Name: a.Name}
}

// setAttributes sets the account's attributes as the operator.
func (f *orgAccountFixture) setAttributes(t *testing.T, id string, attrs castellan.AccountAttributes) {
	t.Helper()
	must(f.s.Accounts.SetAccountAttributes(operatorCtx("r-attrs"), f.org, id, attrs))(t)
}

// setClock moves the fixture's clock forward to at.
func (f *orgAccountFixture) setClock(t *testing.T, at time.Time) {
	t.Helper()
	d := at.Sub(f.clock.Now())
	if d < 0 {
		t.Fatalf("the clock cannot go back from %s to %s", f.clock.Now(), at)
	}
	f.clock.Advance(d)
}

// wantAccount fails t unless the account a is still there.
func (f *orgAccountFixture) wantAccount(t *testing.T, a *castellan.Account) {
	t.Helper()
	must(f.s.Accounts.FindAccountByID(f.ownerCtx, f.org, a.ID))(t)
}

// testAccountsDeletePreconditions fails each precondition that the
// operator's attributes decide, one at a time, and checks the refusal's
// code, that it names that precondition alone, and that nothing changed.
func testAccountsDeletePreconditions(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	a := f.create(t, "sales-prod")
	for _, tc := range []struct {
		attrs castellan.AccountAttributes
		code  string
	}{
		{castellan.AccountAttributes{ResourcesInUse: 3}, castellan.CodeAccountResourcesInUse},
		{castellan.AccountAttributes{IdentityCenterDelegated: true}, castellan.CodeAccountDelegated},
		{castellan.AccountAttributes{CreditAssigned: true}, castellan.CodeAccountCreditAssigned},
		{castellan.AccountAttributes{CloudControl: castellan.CloudControlRegistering}, castellan.CodeAccountUnderCloudControl},
		{castellan.AccountAttributes{CloudControl: castellan.CloudControlRegistered}, castellan.CodeAccountUnderCloudControl},
	} {
		t.Run(tc.code+" "+tc.attrs.CloudControl, func(t *testing.T) {
			f.setAttributes(t, a.ID, tc.attrs)
			checks := must(f.s.Accounts.FindAccountPreconditions(f.ownerCtx, f.org, a.ID))(t)
			var unmet []string
			for _, c := range checks.Deletion {
				if !c.Met {
					unmet = append(unmet, c.Code)
				}
			}
			if !slices.Equal(unmet, []string{tc.code}) {
				t.Fatalf("unmet deletion checks %v, want only %s", unmet, tc.code)
			}
			before := takeSnapshot(t, f.s, f.org)
			_, err := f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, deletion(a))
			wantCode(t, err, castellan.EPRECONDITION, tc.code)
			wantField(t, err, "accountId", tc.code)
			if e := err.(*castellan.Error); len(e.Fields) != 1 {
				t.Fatalf("got fields %+v, want the one unmet precondition", e.Fields)
			}
			unchanged(t, f.s, f.org, before)
			f.wantAccount(t, a)
		})
	}
	// Two unmet at once: the first is the code, both are listed.
	f.setAttributes(t, a.ID, castellan.AccountAttributes{ResourcesInUse: 1, CreditAssigned: true})
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, deletion(a))
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountResourcesInUse)
	wantField(t, err, "accountId", castellan.CodeAccountCreditAssigned)
	unchanged(t, f.s, f.org, before)
	// Exclusion's checklist reads the same facts.
	checks := must(f.s.Accounts.FindAccountPreconditions(f.ownerCtx, f.org, a.ID))(t)
	if len(checks.Exclusion) != 4 || checks.Exclusion[0].Met || checks.Exclusion[1].Met || !checks.Exclusion[2].Met || !checks.Exclusion[3].Met {
		t.Fatalf("exclusion checks %+v, want no payment method and credit unmet", checks.Exclusion)
	}
	// Met again, the deletion goes through.
	f.setAttributes(t, a.ID, castellan.AccountAttributes{})
	must(f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, deletion(a)))(t)
}

// testAccountsDeleteSettlementDay checks the settlement date in
// Asia/Seoul time with the injected clock.
func testAccountsDeleteSettlementDay(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	for _, tc := range []struct {
		at      string
		refused bool
	}{
		{"2026-02-28T14:59:59Z", false}, // 23:59:59 on February 28th in Seoul
		{"2026-02-28T15:30:00Z", true},  // March 1st, 00:30 in Seoul
		{"2026-03-01T14:59:00Z", true},  // March 1st, 23:59 in Seoul
		{"2026-03-01T15:30:00Z", false}, // March 2nd in Seoul
		{"2026-03-31T14:59:00Z", false}, // still March 31st in Seoul
		{"2026-03-31T15:00:00Z", true},  // April 1st in Seoul
	} {
		t.Run(tc.at, func(t *testing.T) {
			a := f.create(t, "acct "+strings.ReplaceAll(tc.at, ":", "."))
			f.setClock(t, must(time.Parse(time.RFC3339, tc.at))(t))
			before := takeSnapshot(t, f.s, f.org)
			_, err := f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, deletion(a))
			if !tc.refused {
				if err != nil {
					t.Fatalf("got %v, want the deletion allowed", err)
				}
				return
			}
			wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountSettlementDay)
			unchanged(t, f.s, f.org, before)
			f.wantAccount(t, a)
		})
	}
}

// testAccountsDeleteWrongPassword: a wrong password is refused and
// counted towards the caller's lockout, like the change-password form's;
// once locked, even the right one is refused. A caller without a password
// cannot confirm; the operator needs none.
func testAccountsDeleteWrongPassword(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	a := f.create(t, "sales-prod")
	for i := 1; i <= castellan.DefaultSignInPolicy.MaxFailures; i++ {
		before := takeSnapshot(t, f.s, f.org)
		_, err := f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, castellan.AccountDeletion{Password: "Wrong-Pass-2026!", Name: a.Name})
		wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeWrongPassword)
		wantField(t, err, "password", "match")
		if reasons := failuresSince(t, f.s, f.org, before.revision); !slices.Equal(reasons, []string{"wrong_current_password"}) {
			t.Fatalf("attempt %d: got failures %v, want one wrong_current_password", i, reasons)
		}
		f.wantAccount(t, a)
	}
	_, err := f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, deletion(a))
	wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeWrongPassword)
	f.wantAccount(t, a)

	// A user without a password, and a service account, cannot confirm.
	u := newUsers(t, f.s, f.org, "nopass", 1)[0]
	before := takeSnapshot(t, f.s, f.org)
	_, err = f.s.Accounts.DeleteAccount(userCtx(u.ID, f.org, "r-nopass"), f.org, a.ID, deletion(a))
	wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeWrongPassword)
	robot := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: unknownID, OrganizationID: f.org})
	_, err = f.s.Accounts.DeleteAccount(robot, f.org, a.ID, deletion(a))
	wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeWrongPassword)
	unchanged(t, f.s, f.org, before)
	f.wantAccount(t, a)

	// The operator has no password and needs none.
	must(f.s.Accounts.DeleteAccount(operatorCtx("r-op"), f.org, a.ID, castellan.AccountDeletion{Name: a.Name}))(t)
}

func testAccountsDeleteWrongName(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	a := f.create(t, "sales-prod")
	for _, name := range []string{"", "Sales-Prod", "sales-prod ", "sales"} {
		before := takeSnapshot(t, f.s, f.org)
		_, err := f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, castellan.AccountDeletion{Password: accountOwnerPassword, Name: name})
		wantCode(t, err, castellan.EINVALID, castellan.CodeAccountNameMismatch)
		wantField(t, err, "name", "match")
		unchanged(t, f.s, f.org, before)
		f.wantAccount(t, a)
	}
}

// testAccountsDelete deletes an account with grants and a control policy
// on it, and checks what is gone, what stays and who is told.
func testAccountsDelete(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	a := f.create(t, "sales-prod")
	keep := f.create(t, "sales-dev")
	op := operatorCtx("r-op")
	policy := must(f.s.ControlPolicies.CreateControlPolicy(op, f.org, castellan.ControlPolicyCreate{
		Name: "no-stop", Document: `forbid (principal, action == Action::"compute:StopInstance", resource);`}))(t)
	must(f.s.ControlPolicies.AttachControlPolicy(op, f.org, policy.ID, a.ID))(t)
	f.setAttributes(t, a.ID, castellan.AccountAttributes{Delegates: []string{"delegate@partner.example", strings.ToUpper(a.Email), "owner@acme.example"}})
	f.clock.Advance(time.Hour)

	rev := must(f.s.Accounts.DeleteAccount(f.ownerCtx, f.org, a.ID, deletion(a)))(t)
	_, err := f.s.Accounts.FindAccountByID(f.ownerCtx, f.org, a.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound)
	_, err = f.s.Nodes.FindNodeByID(f.ownerCtx, f.org, a.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	_, err = f.s.ControlPolicies.FindNodePolicies(f.ownerCtx, f.org, a.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	if targets := must(f.s.ControlPolicies.FindPolicyTargets(f.ownerCtx, f.org, policy.ID))(t); len(targets) != 0 {
		t.Fatalf("policy still attached to %+v", targets)
	}
	// The grants on the account (its root user's account.admin) are gone,
	// those on the other stay; the root user stays a user of the
	// organization.
	grants := listed(f.s.Grants.FindGrants(f.ownerCtx, f.org, castellan.GrantFilter{}))(t)
	if n := countScope(grants, "account/"+a.ID); n != 0 {
		t.Fatalf("%d grants survived their account: %+v", n, grants)
	}
	if n := countScope(grants, "account/"+keep.ID); n != 1 {
		t.Fatalf("got %d grants on the other account, want 1", n)
	}
	must(f.s.Users.FindUserByID(f.ownerCtx, f.org, a.RootUserID, false))(t)
	// One audit event, of the caller, at the deletion's revision.
	events := listed(f.s.Audit.FindAuditEvents(f.ownerCtx, f.org, castellan.AuditFilter{Action: ptr(string(castellan.ActionDeleteAccount))}))(t)
	if len(events) != 1 || events[0].Revision != rev || events[0].Actor.ID != f.owner {
		t.Fatalf("audit events %+v", events)
	}
	// The notice goes to the creating administrator (here the owner: the
	// operator bootstrapped Acme), the root user and the delegates, each
	// address once.
	mails := mailsByRecipient(t, f.s, f.org, castellan.MailAccountDeleted)
	var to []string
	for addr, m := range mails {
		to = append(to, addr)
		if m.Data["accountName"] != a.Name || m.Data["accountId"] != a.ID || m.Data["organizationName"] != "Acme" {
			t.Fatalf("mail data %+v", m.Data)
		}
	}
	slices.Sort(to)
	want := []string{"delegate@partner.example", "owner@acme.example", a.Email}
	slices.Sort(want)
	if !slices.Equal(to, want) {
		t.Fatalf("notified %v, want %v", to, want)
	}
	// The name is free again.
	f.create(t, "sales-prod")
}

func countScope(grants []*castellan.Grant, scope string) int {
	n := 0
	for _, g := range grants {
		if g.Scope == scope {
			n++
		}
	}
	return n
}
