package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testAccountMemberships(t *testing.T, open Opener) {
	t.Run("ExcludePreconditions", func(t *testing.T) { testExcludePreconditions(t, open) })
	t.Run("Exclude", func(t *testing.T) { testExclude(t, open) })
	t.Run("ExcludeNameTaken", func(t *testing.T) { testExcludeNameTaken(t, open) })
	t.Run("InviteLimit", func(t *testing.T) { testInviteLimit(t, open) })
	t.Run("InviteDuplicates", func(t *testing.T) { testInviteDuplicates(t, open) })
	t.Run("InvitationList", func(t *testing.T) { testInvitationList(t, open) })
	t.Run("Cancel", func(t *testing.T) { testCancelInvitation(t, open) })
	t.Run("Decline", func(t *testing.T) { testDeclineInvitation(t, open) })
	t.Run("Accept", func(t *testing.T) { testAcceptInvitation(t, open) })
	t.Run("AcceptNotStandalone", func(t *testing.T) { testAcceptNotStandalone(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testMembershipsCrossOrganization(t, open) })
}

// membershipFixture is Acme with one account, sales, whose attributes
// meet every precondition of exclusion, on a clock that is not on a
// settlement date.
type membershipFixture struct {
	s     castellan.Services
	clock *Clock
	acme  *castellan.BootstrapResult
	acct  *castellan.Account
}

const salesEmail = "Root@Sales.example"

func newMembershipFixture(t *testing.T, open Opener) *membershipFixture {
	t.Helper()
	clock := NewClock()
	s := open(t, clock.Now)
	f := &membershipFixture{s: s, clock: clock, acme: bootstrap(t, s, "Acme")}
	f.acct = newAccount(t, s, f.acme.OrganizationID, "sales", salesEmail)
	f.setAttributes(t, castellan.AccountAttributes{PaymentMethodRegistered: true,
		Delegates: []string{"delegate@sales.example", "ROOT@sales.example"}})
	return f
}

// newAccount creates an account under the organization's root.
func newAccount(tb testing.TB, s castellan.Services, orgID, name, email string) *castellan.Account {
	tb.Helper()
	return must(s.Accounts.CreateAccount(operatorCtx("r-account"), orgID, castellan.AccountCreate{
		ParentID: orgID, Name: name, Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"}))(tb)
}

func (f *membershipFixture) setAttributes(tb testing.TB, a castellan.AccountAttributes) {
	tb.Helper()
	must(f.s.Accounts.SetAccountAttributes(operatorCtx("r-attrs"), f.acme.OrganizationID, f.acct.ID, a))(tb)
}

// setClock moves the fixture's clock to t.
func (f *membershipFixture) setClock(t time.Time) { f.clock.Advance(t.Sub(f.clock.Now())) }

// exclude excludes the fixture's account and returns its organization.
func (f *membershipFixture) exclude(tb testing.TB) *castellan.Organization {
	tb.Helper()
	return must(f.s.AccountMemberships.ExcludeAccount(operatorCtx("r-exclude"), f.acme.OrganizationID, f.acct.ID))(tb)
}

// testExcludePreconditions refuses each precondition of seed 001 alone,
// with its code, changing nothing; the settlement date is the 1st in
// Asia/Seoul, whatever the day in UTC.
func testExcludePreconditions(t *testing.T, open Opener) {
	seoul := castellan.SettlementLocation
	cases := []struct {
		name  string
		attrs castellan.AccountAttributes
		now   time.Time
		code  string
	}{
		{"NoPaymentMethod", castellan.AccountAttributes{}, time.Date(2026, 1, 15, 12, 0, 0, 0, seoul), castellan.CodeAccountNoPaymentMethod},
		{"CreditAssigned", castellan.AccountAttributes{PaymentMethodRegistered: true, CreditAssigned: true},
			time.Date(2026, 1, 15, 12, 0, 0, 0, seoul), castellan.CodeAccountCreditAssigned},
		// 2026-01-31T15:00Z is midnight of February 1st in Seoul.
		{"SettlementDayStart", castellan.AccountAttributes{PaymentMethodRegistered: true},
			time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC), castellan.CodeAccountSettlementDay},
		{"SettlementDayEnd", castellan.AccountAttributes{PaymentMethodRegistered: true},
			time.Date(2026, 2, 1, 14, 59, 59, 0, time.UTC), castellan.CodeAccountSettlementDay},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newMembershipFixture(t, open)
			f.setAttributes(t, c.attrs)
			f.setClock(c.now)
			before := takeSnapshot(t, f.s, f.acme.OrganizationID)
			_, err := f.s.AccountMemberships.ExcludeAccount(operatorCtx("r-x"), f.acme.OrganizationID, f.acct.ID)
			wantCode(t, err, castellan.EPRECONDITION, c.code)
			wantField(t, err, "accountId", c.code)
			unchanged(t, f.s, f.acme.OrganizationID, before)
			if a := must(f.s.Accounts.FindAccountByID(context.Background(), f.acme.OrganizationID, f.acct.ID))(t); a.OrganizationID != f.acme.OrganizationID {
				t.Fatalf("account moved to %s", a.OrganizationID)
			}
		})
	}
	// Either side of the settlement date in Seoul, although the 1st in
	// UTC: 2026-01-31T14:59:59Z is still January 31st there, and
	// 2026-02-01T15:00Z is already February 2nd.
	for _, now := range []time.Time{time.Date(2026, 1, 31, 14, 59, 59, 0, time.UTC), time.Date(2026, 2, 1, 15, 0, 0, 0, time.UTC)} {
		t.Run("Allowed "+now.Format(time.RFC3339), func(t *testing.T) {
			f := newMembershipFixture(t, open)
			f.setClock(now)
			f.exclude(t)
		})
	}
	t.Run("ManagementAccount", func(t *testing.T) {
		f := newMembershipFixture(t, open)
		org := f.exclude(t)
		before := takeSnapshot(t, f.s, org.ID)
		_, err := f.s.AccountMemberships.ExcludeAccount(operatorCtx("r-x"), org.ID, f.acct.ID)
		wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountManagement)
		unchanged(t, f.s, org.ID, before)
	})
}

// testExclude checks the standalone organization an excluded account
// becomes: the account under its root as the management account, its
// root user invited there as Owner and account administrator, the old
// organization's grants on it gone, and the notices mailed.
func testExclude(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	ctx, acme := context.Background(), f.acme.OrganizationID
	oldRoot := f.acct.RootUserID
	before := must(f.s.ChangeLog.Revision(ctx))(t)

	org := f.exclude(t)
	if org.Name != "sales" || org.ID == acme {
		t.Fatalf("organization %+v, want a new one named sales", org)
	}
	a := must(f.s.Accounts.FindAccountByID(ctx, org.ID, f.acct.ID))(t)
	if a.ParentID != org.ID || !a.Management || a.AdditionType != castellan.AccountCreated || a.Email != "root@sales.example" {
		t.Fatalf("account %+v", a)
	}
	if _, err := f.s.Accounts.FindAccountByID(ctx, acme, f.acct.ID); castellan.ErrorCode(err) != castellan.CodeAccountNotFound {
		t.Fatalf("account still found in Acme: %v", err)
	}
	root := must(f.s.Users.FindUserByID(ctx, org.ID, a.RootUserID, false))(t)
	if root.Email != "root@sales.example" || root.Status != castellan.UserPendingInvitation {
		t.Fatalf("root user %+v", root)
	}
	grants := listed(f.s.Grants.FindGrants(ctx, org.ID, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: root.ID}}))(t)
	roles := []string{}
	for _, g := range grants {
		roles = append(roles, g.RoleID+"@"+g.Scope)
	}
	slices.Sort(roles)
	if want := []string{"account.admin@account/" + a.ID, "organization.owner@organization/" + org.ID}; !slices.Equal(roles, want) {
		t.Fatalf("root user's grants %v, want %v", roles, want)
	}
	for _, user := range []string{oldRoot} {
		left := listed(f.s.Grants.FindGrants(ctx, acme, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: user}}))(t)
		if len(left) != 0 {
			t.Fatalf("Acme's grants on the excluded account remain: %+v", left)
		}
	}
	pols := must(f.s.ControlPolicies.FindNodePolicies(ctx, org.ID, a.ID))(t)
	if len(pols) != 2 || pols[0].Policy.ID != castellan.FullAccessPolicyID || pols[1].Node.ID != org.ID {
		t.Fatalf("policies of the account %+v", pols)
	}
	tree := listed(f.s.Nodes.FindTree(ctx, acme, castellan.TreeFilter{}))(t)
	if len(tree) != 1 {
		t.Fatalf("Acme's tree still has %d nodes", len(tree))
	}

	// The notices go to Acme's Owners (the operator created Acme), the
	// root user and the delegates, each once; the root user is also
	// invited to set a password.
	var notices []string
	invited := false
	for _, m := range allMails(t, f.s) {
		switch m.Template {
		case castellan.MailAccountExcluded:
			notices = append(notices, strings.ToLower(m.To))
			if m.Data["newOrganizationName"] != "sales" || m.Data["organizationName"] != "Acme" || m.Data["accountId"] != a.ID {
				t.Fatalf("notice data %v", m.Data)
			}
		case castellan.MailInvitation:
			invited = invited || m.To == "root@sales.example" && m.OrganizationID == org.ID
		}
	}
	slices.Sort(notices)
	if want := []string{"delegate@sales.example", "owner@acme.example", "root@sales.example"}; !slices.Equal(notices, want) {
		t.Fatalf("notices to %v, want %v", notices, want)
	}
	if !invited {
		t.Fatal("the root user got no invitation")
	}

	// Both organizations' change logs tell it, each in its own rows.
	changes := must(f.s.ChangeLog.Changes(ctx, before, 10))(t)
	byOrg := map[string][]string{}
	for _, c := range changes {
		byOrg[c.OrganizationID] = append(byOrg[c.OrganizationID], c.EntityType+"/"+c.EntityID+":"+c.Operation)
	}
	if !slices.Contains(byOrg[acme], "node/"+a.ID+":delete") || !slices.Contains(byOrg[org.ID], "node/"+a.ID+":create") ||
		!slices.Contains(byOrg[org.ID], "organization/"+org.ID+":create") || !slices.Contains(byOrg[org.ID], "user/"+root.ID+":create") {
		t.Fatalf("change log %v", byOrg)
	}
	for _, org := range []string{acme, org.ID} {
		events := listed(f.s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{}))(t)
		if len(events) == 0 || events[0].Action != string(castellan.ActionExcludeAccount) {
			t.Fatalf("newest audit event of %s: %+v", org, events)
		}
	}
}

// allMails returns every mail of the outbox.
func allMails(tb testing.TB, s castellan.Services) []*castellan.Mail {
	tb.Helper()
	var out []*castellan.Mail
	token := ""
	for {
		mails, next := listedPage(s.Outbox.FindMail(context.Background(), castellan.MailFilter{PageSize: castellan.MaxPageSize, PageToken: token}))(tb)
		out = append(out, mails...)
		if next == "" {
			return out
		}
		token = next
	}
}

// testExcludeNameTaken names the new organization after the account and
// the start of its ID when an organization has the account's name.
func testExcludeNameTaken(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	bootstrap(t, f.s, "sales")
	org := f.exclude(t)
	if want := "sales (" + f.acct.ID[:8] + ")"; org.Name != want {
		t.Fatalf("organization named %q, want %q", org.Name, want)
	}
}

// testInviteLimit refuses more than ten emails at once and stores
// nothing.
func testInviteLimit(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	acme := f.acme.OrganizationID
	emails := make([]string, castellan.MaxAccountInvitations+1)
	for i := range emails {
		emails[i] = fmt.Sprintf("root-%d@example.com", i)
	}
	before := takeSnapshot(t, f.s, acme)
	_, err := f.s.AccountMemberships.InviteAccounts(operatorCtx("r-inv"), acme, emails)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "emails", "maxItems")
	unchanged(t, f.s, acme, before)
	if got := listed(f.s.AccountMemberships.FindAccountInvitations(context.Background(), acme, castellan.AccountInvitationFilter{}))(t); len(got) != 0 {
		t.Fatalf("stored %d invitations", len(got))
	}
	got := must(f.s.AccountMemberships.InviteAccounts(operatorCtx("r-inv"), acme, emails[:castellan.MaxAccountInvitations]))(t)
	if len(got) != castellan.MaxAccountInvitations {
		t.Fatalf("invited %d, want %d", len(got), castellan.MaxAccountInvitations)
	}
}

// testInviteDuplicates refuses an email twice in one request and an
// email with a pending invitation, whatever its case.
func testInviteDuplicates(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	acme, ctx := f.acme.OrganizationID, operatorCtx("r-inv")
	before := takeSnapshot(t, f.s, acme)
	_, err := f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"a@example.com", "A@Example.com"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "emails[1]", "unique")
	unchanged(t, f.s, acme, before)

	inv := must(f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"A@Example.com"}))(t)
	if inv[0].Email != "a@example.com" || inv[0].Status != castellan.InvitationPending || inv[0].OrganizationName != "Acme" {
		t.Fatalf("invitation %+v", inv[0])
	}
	before = takeSnapshot(t, f.s, acme)
	_, err = f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"b@example.com", "a@EXAMPLE.com"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeAccountInvitationPending)
	wantField(t, err, "emails[1]", "unique")
	unchanged(t, f.s, acme, before)

	// Another organization may invite the same email.
	globex := bootstrap(t, f.s, "Globex")
	must(f.s.AccountMemberships.InviteAccounts(ctx, globex.OrganizationID, []string{"a@example.com"}))(t)
	// Once cancelled, the email may be invited again.
	must(f.s.AccountMemberships.CancelAccountInvitation(ctx, acme, inv[0].ID))(t)
	must(f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"a@example.com"}))(t)
}

// testInvitationList lists newest first, by status, in pages.
func testInvitationList(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	acme, ctx := f.acme.OrganizationID, operatorCtx("r-inv")
	first := must(f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"a@example.com", "b@example.com"}))(t)
	second := must(f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"c@example.com"}))(t)
	must(f.s.AccountMemberships.CancelAccountInvitation(ctx, acme, first[0].ID))(t)

	var all []string
	token := ""
	for {
		page, next := listedPage(f.s.AccountMemberships.FindAccountInvitations(context.Background(), acme,
			castellan.AccountInvitationFilter{PageSize: 2, PageToken: token}))(t)
		for _, inv := range page {
			all = append(all, inv.Email)
		}
		if next == "" {
			break
		}
		token = next
	}
	if want := []string{"c@example.com", "b@example.com", "a@example.com"}; !slices.Equal(all, want) {
		t.Fatalf("listed %v, want %v", all, want)
	}
	pending := listed(f.s.AccountMemberships.FindAccountInvitations(context.Background(), acme,
		castellan.AccountInvitationFilter{Status: ptr(castellan.InvitationPending)}))(t)
	if len(pending) != 2 || pending[0].ID != second[0].ID || pending[1].ID != first[1].ID {
		t.Fatalf("pending %+v", pending)
	}
	_, _, err := f.s.AccountMemberships.FindAccountInvitations(context.Background(), acme,
		castellan.AccountInvitationFilter{Status: ptr(castellan.AccountInvitationStatus("open"))})
	wantField(t, err, "status", "enum")
}

// testCancelInvitation cancels a pending invitation once.
func testCancelInvitation(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	acme, ctx := f.acme.OrganizationID, operatorCtx("r-inv")
	inv := must(f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"a@example.com"}))(t)[0]
	got := must(f.s.AccountMemberships.CancelAccountInvitation(ctx, acme, inv.ID))(t)
	if got.Status != castellan.InvitationCancelled || got.RespondedAt.IsZero() {
		t.Fatalf("cancelled %+v", got)
	}
	before := takeSnapshot(t, f.s, acme)
	_, err := f.s.AccountMemberships.CancelAccountInvitation(ctx, acme, inv.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountInvitationNotPending)
	_, err = f.s.AccountMemberships.CancelAccountInvitation(ctx, acme, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountInvitationNotFound)
	unchanged(t, f.s, acme, before)
}

// MakeStandalone excludes the account (meeting the exclusion's
// preconditions first) and has its root user in the new organization
// accept the invitation mailed to the account's email, as the owner of
// that email does: only then may the standalone account receive and
// answer invitations. It returns the new organization.
func MakeStandalone(tb testing.TB, s castellan.Services, orgID, accountID string) *castellan.Organization {
	tb.Helper()
	ctx := operatorCtx("r-standalone")
	must(s.Accounts.SetAccountAttributes(ctx, orgID, accountID, castellan.AccountAttributes{PaymentMethodRegistered: true}))(tb)
	org := must(s.AccountMemberships.ExcludeAccount(ctx, orgID, accountID))(tb)
	acceptRootInvitation(tb, s, org.ID, accountID)
	return org
}

// acceptRootInvitation has the root user of the account of org accept
// the invitation mailed to it.
func acceptRootInvitation(tb testing.TB, s castellan.Services, orgID, accountID string) {
	tb.Helper()
	a := must(s.Accounts.FindAccountByID(operatorCtx("r-root"), orgID, accountID))(tb)
	for _, m := range mailsTo(tb, s, orgID, a.Email) {
		if token := m.Data["invitationToken"]; token != "" {
			must(s.Users.AcceptInvitation(context.Background(), token, "Correct-Horse-7-battery"))(tb)
			return
		}
	}
	tb.Fatalf("no invitation mail to %s in organization %s", a.Email, orgID)
}

// standalone excludes the fixture's account, has its root user accept
// the mailed invitation and Globex invite its root user email; it
// returns the standalone organization and the invitation. Before the
// root user accepts, the account receives nothing.
func (f *membershipFixture) standalone(t *testing.T) (*castellan.Organization, *castellan.BootstrapResult, *castellan.AccountInvitation) {
	t.Helper()
	org := f.exclude(t)
	_, err := f.s.AccountMemberships.FindReceivedAccountInvitations(context.Background(), org.ID, f.acct.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountNotStandalone)
	acceptRootInvitation(t, f.s, org.ID, f.acct.ID)
	globex := bootstrap(t, f.s, "Globex")
	inv := must(f.s.AccountMemberships.InviteAccounts(operatorCtx("r-inv"), globex.OrganizationID, []string{"root@sales.example"}))(t)[0]
	return org, globex, inv
}

// testDeclineInvitation records the answer and moves nothing.
func testDeclineInvitation(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	org, globex, inv := f.standalone(t)
	ctx := context.Background()
	received := must(f.s.AccountMemberships.FindReceivedAccountInvitations(ctx, org.ID, f.acct.ID))(t)
	if len(received) != 1 || received[0].ID != inv.ID || received[0].OrganizationName != "Globex" {
		t.Fatalf("received %+v", received)
	}
	got := must(f.s.AccountMemberships.RespondToAccountInvitation(operatorCtx("r-no"), org.ID, f.acct.ID, inv.ID, false))(t)
	if got.Status != castellan.InvitationDeclined || got.AccountID != "" {
		t.Fatalf("declined %+v", got)
	}
	if a := must(f.s.Accounts.FindAccountByID(ctx, org.ID, f.acct.ID))(t); !a.Management {
		t.Fatalf("account %+v changed", a)
	}
	if received := must(f.s.AccountMemberships.FindReceivedAccountInvitations(ctx, org.ID, f.acct.ID))(t); len(received) != 0 {
		t.Fatalf("still received %+v", received)
	}
	before := takeSnapshot(t, f.s, globex.OrganizationID)
	_, err := f.s.AccountMemberships.RespondToAccountInvitation(operatorCtx("r-yes"), org.ID, f.acct.ID, inv.ID, true)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountInvitationNotPending)
	unchanged(t, f.s, globex.OrganizationID, before)
}

// testAcceptInvitation moves the standalone account into the inviting
// organization, whose user with the email becomes its root user.
func testAcceptInvitation(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	org, globex, inv := f.standalone(t)
	ctx := context.Background()
	f.clock.Advance(time.Hour)
	got := must(f.s.AccountMemberships.RespondToAccountInvitation(operatorCtx("r-yes"), org.ID, f.acct.ID, inv.ID, true))(t)
	if got.Status != castellan.InvitationAccepted || got.AccountID != f.acct.ID || !got.RespondedAt.Equal(f.clock.Now()) {
		t.Fatalf("accepted %+v", got)
	}
	a := must(f.s.Accounts.FindAccountByID(ctx, globex.OrganizationID, f.acct.ID))(t)
	if a.ParentID != globex.OrganizationID || a.Management || a.AdditionType != castellan.AccountInvited || !a.JoinedAt.Equal(f.clock.Now()) {
		t.Fatalf("account %+v", a)
	}
	if _, err := f.s.Accounts.FindAccountByID(ctx, org.ID, f.acct.ID); castellan.ErrorCode(err) != castellan.CodeAccountNotFound {
		t.Fatalf("account still in its standalone organization: %v", err)
	}
	root := must(f.s.Users.FindUserByID(ctx, globex.OrganizationID, a.RootUserID, false))(t)
	if root.Email != "root@sales.example" {
		t.Fatalf("root user %+v", root)
	}
	grants := listed(f.s.Grants.FindGrants(ctx, globex.OrganizationID, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: root.ID}}))(t)
	if len(grants) != 1 || grants[0].RoleID != castellan.AccountAdminRoleID || grants[0].Scope != "account/"+a.ID {
		t.Fatalf("root user's grants %+v", grants)
	}
	list := listed(f.s.AccountMemberships.FindAccountInvitations(ctx, globex.OrganizationID, castellan.AccountInvitationFilter{}))(t)
	if len(list) != 1 || list[0].Status != castellan.InvitationAccepted {
		t.Fatalf("Globex's invitations %+v", list)
	}
}

// testAcceptNotStandalone refuses to show or answer (accept or
// decline) invitations for an account that belongs to an organization
// (not its management account): any organization can make an account
// with any root user email, so its invitations are not its to see. A
// standalone account is refused an invitation not addressed to it.
func testAcceptNotStandalone(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	acme := f.acme.OrganizationID
	globex := bootstrap(t, f.s, "Globex")
	inv := must(f.s.AccountMemberships.InviteAccounts(operatorCtx("r-inv"), globex.OrganizationID, []string{salesEmail}))(t)[0]
	_, err := f.s.AccountMemberships.FindReceivedAccountInvitations(context.Background(), acme, f.acct.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountNotStandalone)
	other := must(f.s.AccountMemberships.InviteAccounts(operatorCtx("r-inv"), globex.OrganizationID, []string{"other@example.com"}))(t)[0]
	before, beforeGlobex := takeSnapshot(t, f.s, acme), takeSnapshot(t, f.s, globex.OrganizationID)
	for _, accept := range []bool{true, false} {
		_, err = f.s.AccountMemberships.RespondToAccountInvitation(operatorCtx("r-yes"), acme, f.acct.ID, inv.ID, accept)
		wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountNotStandalone)
	}
	unchanged(t, f.s, acme, before)
	unchanged(t, f.s, globex.OrganizationID, beforeGlobex)

	org := f.exclude(t)
	acceptRootInvitation(t, f.s, org.ID, f.acct.ID)
	beforeGlobex = takeSnapshot(t, f.s, globex.OrganizationID)
	_, err = f.s.AccountMemberships.RespondToAccountInvitation(operatorCtx("r-no"), org.ID, f.acct.ID, other.ID, false)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountInvitationNotFound)
	unchanged(t, f.s, globex.OrganizationID, beforeGlobex)
}

// testMembershipsCrossOrganization: another organization's accounts and
// invitations are not found through an organization's ID.
func testMembershipsCrossOrganization(t *testing.T, open Opener) {
	f := newMembershipFixture(t, open)
	acme, ctx := f.acme.OrganizationID, operatorCtx("r-x")
	globex := bootstrap(t, f.s, "Globex").OrganizationID
	inv := must(f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{"a@example.com"}))(t)[0]
	globexInv := must(f.s.AccountMemberships.InviteAccounts(ctx, globex, []string{salesEmail}))(t)[0]
	// An organization's own invitation is not one its accounts received.
	own := must(f.s.AccountMemberships.InviteAccounts(ctx, acme, []string{salesEmail}))(t)[0]
	before, beforeGlobex := takeSnapshot(t, f.s, acme), takeSnapshot(t, f.s, globex)

	_, err := f.s.AccountMemberships.ExcludeAccount(ctx, globex, f.acct.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound)
	_, err = f.s.AccountMemberships.CancelAccountInvitation(ctx, globex, inv.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountInvitationNotFound)
	_, err = f.s.AccountMemberships.FindReceivedAccountInvitations(ctx, globex, f.acct.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound)
	_, err = f.s.AccountMemberships.RespondToAccountInvitation(ctx, globex, f.acct.ID, globexInv.ID, false)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound)
	// (Acme's account is no standalone account: it answers nothing.)
	_, err = f.s.AccountMemberships.RespondToAccountInvitation(ctx, acme, f.acct.ID, own.ID, false)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccountNotStandalone)
	unchanged(t, f.s, acme, before)
	unchanged(t, f.s, globex, beforeGlobex)
	list := listed(f.s.AccountMemberships.FindAccountInvitations(context.Background(), globex, castellan.AccountInvitationFilter{}))(t)
	if len(list) != 1 || list[0].ID != globexInv.ID {
		t.Fatalf("Globex lists %+v", list)
	}
}
