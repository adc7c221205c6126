package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, accountMembershipRows) }

// newAccountIn creates an account under the root of orgID as the system;
// excludable accounts meet every precondition of exclusion.
func (f *fixture) newAccountIn(orgID, name string, excludable bool) *castellan.Account {
	email := name + "@" + f.unique("root") + ".example"
	a, err := f.e.db.Accounts().CreateAccount(system, orgID, castellan.AccountCreate{
		ParentID: orgID, Name: name, Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"})
	if err != nil {
		f.t.Fatal(err)
	}
	if excludable {
		if _, err := f.e.db.Accounts().SetAccountAttributes(system, orgID, a.ID, castellan.AccountAttributes{PaymentMethodRegistered: true}); err != nil {
			f.t.Fatal(err)
		}
	}
	return a
}

// inviteAsSystem has orgID invite emails and returns the invitations.
func (f *fixture) inviteAsSystem(orgID string, emails ...string) []*castellan.AccountInvitation {
	inv, err := f.e.db.Services().AccountMemberships.InviteAccounts(system, orgID, emails)
	if err != nil {
		f.t.Fatal(err)
	}
	return inv
}

// receivedPath is the path of what the account received: its list, or
// one invitation with a custom method.
func (f *fixture) receivedPath(account string) string {
	return f.orgPath() + "/accounts/" + account + "/received-invitations"
}

// accountMembershipRows: exclusion is the Owner's; the organization's
// invitations are its managers'; what an account received is its root
// user's alone, and the matrix has no root user, so nobody passes.
func accountMembershipRows() []matrixRow {
	invitations := func(f *fixture) string { return f.orgPath() + "/account-invitations" }
	received := func(f *fixture, verb string) request {
		a := f.newAccountIn(f.org, f.unique("acct"), false)
		inv := f.inviteAsSystem(f.e.globex.OrganizationID, a.Email)[0]
		return request{method: "POST", path: f.receivedPath(a.ID) + "/" + inv.ID + ":" + verb}
	}
	return []matrixRow{
		{op: "exclude-account", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/accounts/" + f.newAccountIn(f.org, f.unique("acct"), true).ID + ":exclude"}
		}, allowed: []string{owner}},
		{op: "invite-accounts", build: func(f *fixture) request {
			return request{method: "POST", path: invitations(f), body: map[string]any{"emails": []string{f.unique("root") + "@example.com"}}}
		}, allowed: orgManagers},
		{op: "list-account-invitations", build: func(f *fixture) request {
			return request{method: "GET", path: invitations(f)}
		}, allowed: orgReaders},
		{op: "cancel-account-invitation", build: func(f *fixture) request {
			inv := f.inviteAsSystem(f.org, f.unique("root")+"@example.com")[0]
			return request{method: "POST", path: invitations(f) + "/" + inv.ID + ":cancel"}
		}, allowed: orgManagers},
		{op: "list-received-account-invitations", build: func(f *fixture) request {
			return request{method: "GET", path: f.receivedPath(f.newAccountIn(f.org, f.unique("acct"), false).ID)}
		}},
		{op: "accept-account-invitation", build: func(f *fixture) request { return received(f, "accept") }},
		{op: "decline-account-invitation", build: func(f *fixture) request { return received(f, "decline") }},
	}
}

// TestAccountMembershipsAPI excludes an account, invites it from Globex
// and has its root user accept, with every refusal on the way.
func TestAccountMembershipsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		globex := e.globex.OrganizationID
		call := func(token, method, path string, body any) *response {
			t.Helper()
			return e.do(t, request{method: method, path: path, token: token, body: body})
		}
		refused := func(status int, code, token, method, path string, body any) []castellan.FieldError {
			t.Helper()
			return e.refused(t, request{method: method, path: path, token: token, body: body}, status, code).Errors
		}
		wantFieldRule := func(fields []castellan.FieldError, field, rule string) {
			t.Helper()
			for _, fe := range fields {
				if fe.Field == field && fe.Rule == rule {
					return
				}
			}
			t.Fatalf("got fields %+v, want %s (%s)", fields, field, rule)
		}

		// Exclusion: each refusal names its precondition; nothing moves.
		sales := f.newAccountIn(f.org, "sales", false)
		exclude := f.orgPath() + "/accounts/" + sales.ID + ":exclude"
		fields := refused(http.StatusPreconditionFailed, castellan.CodeAccountNoPaymentMethod, e.acme.Token, "POST", exclude, nil)
		wantFieldRule(fields, "path.account", castellan.CodeAccountNoPaymentMethod)
		refused(http.StatusNotFound, castellan.CodeNodeNotFound, e.acme.Token, "POST", f.orgPath()+"/accounts/"+unknownUUID+":exclude", nil)
		refused(http.StatusNotFound, castellan.CodeOrgNotFound, e.globex.Token, "POST", exclude, nil)
		globexAccount := f.newAccountIn(globex, "globex-acct", true)
		refused(http.StatusNotFound, castellan.CodeNodeNotFound, e.acme.Token, "POST", f.orgPath()+"/accounts/"+globexAccount.ID+":exclude", nil)
		wantFieldRule(refused(http.StatusBadRequest, castellan.CodeInvalidID, e.acme.Token, "POST", f.orgPath()+"/accounts/not-a-uuid:exclude", nil), "path.account", "format")
		if _, err := e.db.Accounts().SetAccountAttributes(system, f.org, sales.ID, castellan.AccountAttributes{PaymentMethodRegistered: true}); err != nil {
			t.Fatal(err)
		}
		resp := call(e.acme.Token, "POST", exclude, nil)
		wantStatus(t, resp, http.StatusOK)
		var standalone castellan.Organization
		resp.decode(t, &standalone)
		if standalone.Name != "sales" {
			t.Fatalf("standalone organization %+v", standalone)
		}

		// Invitations: at most ten, distinct, one pending per email.
		invitations := f.orgPath() + "/account-invitations"
		eleven := make([]string, castellan.MaxAccountInvitations+1)
		for i := range eleven {
			eleven[i] = fmt.Sprintf("root-%d@example.com", i)
		}
		wantFieldRule(refused(http.StatusBadRequest, castellan.CodeInvalidField, e.acme.Token, "POST", invitations, map[string]any{"emails": eleven}),
			"body.emails", "maxItems")
		wantFieldRule(refused(http.StatusBadRequest, castellan.CodeInvalidField, e.acme.Token, "POST", invitations,
			map[string]any{"emails": []string{"a@example.com", "A@example.com"}}), "body.emails[1]", "unique")
		resp = call(e.acme.Token, "POST", invitations, map[string]any{"emails": eleven[:castellan.MaxAccountInvitations]})
		wantStatus(t, resp, http.StatusCreated)
		var created struct{ Invitations []castellan.AccountInvitation }
		resp.decode(t, &created)
		if len(created.Invitations) != castellan.MaxAccountInvitations || created.Invitations[0].Status != castellan.InvitationPending {
			t.Fatalf("created %+v", created)
		}
		wantFieldRule(refused(http.StatusConflict, castellan.CodeAccountInvitationPending, e.acme.Token, "POST", invitations,
			map[string]any{"emails": []string{"x@example.com", "ROOT-3@example.com"}}), "body.emails[1]", "unique")
		cancel := invitations + "/" + created.Invitations[0].ID + ":cancel"
		wantStatus(t, call(e.acme.Token, "POST", cancel, nil), http.StatusOK)
		refused(http.StatusPreconditionFailed, castellan.CodeAccountInvitationNotPending, e.acme.Token, "POST", cancel, nil)
		refused(http.StatusNotFound, castellan.CodeAccountInvitationNotFound, e.acme.Token, "POST", invitations+"/"+unknownUUID+":cancel", nil)
		refused(http.StatusNotFound, castellan.CodeOrgNotFound, e.globex.Token, "POST", cancel, nil)
		resp = call(e.acme.Token, "GET", invitations+"?status=pending&page_size=4", nil)
		wantStatus(t, resp, http.StatusOK)
		var page struct {
			Invitations   []castellan.AccountInvitation
			NextPageToken string
		}
		resp.decode(t, &page)
		if len(page.Invitations) != 4 || page.NextPageToken == "" || page.Invitations[0].Email != "root-9@example.com" {
			t.Fatalf("first page of pending invitations %+v", page)
		}
		wantStatus(t, call(e.globex.Token, "GET", invitations, nil), http.StatusNotFound)

		// The standalone account's root user signs in, sees Globex's
		// invitation and accepts it; nobody else may.
		f.inviteAsSystem(globex, strings.ToUpper(sales.Email))
		rootToken, rootUser := activeRootUser(t, e, standalone.ID)
		sf := &fixture{t: t, e: e, org: standalone.ID}
		receivedPath := sf.receivedPath(sales.ID)
		resp = call(rootToken, "GET", receivedPath, nil)
		wantStatus(t, resp, http.StatusOK)
		var received struct{ Invitations []castellan.AccountInvitation }
		resp.decode(t, &received)
		if len(received.Invitations) != 1 || received.Invitations[0].OrganizationName != "Globex" {
			t.Fatalf("received %+v", received)
		}
		accept := receivedPath + "/" + received.Invitations[0].ID + ":accept"
		refused(http.StatusNotFound, castellan.CodeOrgNotFound, e.globex.Token, "POST", invitations, map[string]any{"emails": []string{"y@example.com"}})
		refused(http.StatusNotFound, castellan.CodeOrgNotFound, e.acme.Token, "GET", receivedPath, nil)

		// Acme invites the account back; its root user declines, once.
		acmeInv := f.inviteAsSystem(f.org, sales.Email)[0]
		decline := receivedPath + "/" + acmeInv.ID + ":decline"
		resp = call(rootToken, "POST", decline, nil)
		wantStatus(t, resp, http.StatusOK)
		var declined castellan.AccountInvitation
		resp.decode(t, &declined)
		if declined.Status != castellan.InvitationDeclined || declined.OrganizationID != f.org {
			t.Fatalf("declined %+v", declined)
		}
		refused(http.StatusPreconditionFailed, castellan.CodeAccountInvitationNotPending, rootToken, "POST", decline, nil)
		other := sf.otherUserToken(t, standalone.ID, rootUser)
		refused(http.StatusForbidden, castellan.CodePermissionDenied, other, "GET", receivedPath, nil)
		refused(http.StatusForbidden, castellan.CodePermissionDenied, other, "POST", accept, nil)
		refused(http.StatusNotFound, castellan.CodeOrgNotFound, e.acme.Token, "POST", accept, nil)
		refused(http.StatusNotFound, castellan.CodeAccountInvitationNotFound, rootToken, "POST", receivedPath+"/"+created.Invitations[1].ID+":accept", nil)

		// Globex has an account of the same name: the acceptance fails
		// until it is renamed.
		clash := f.newAccountIn(globex, "sales", false)
		refused(http.StatusConflict, castellan.CodeAccountNameTaken, rootToken, "POST", accept, nil)
		renamed := "sales-old"
		if _, err := e.db.Accounts().UpdateAccount(system, globex, clash.ID, castellan.AccountUpdate{Name: &renamed}); err != nil {
			t.Fatal(err)
		}
		resp = call(rootToken, "POST", accept, nil)
		wantStatus(t, resp, http.StatusOK)
		var accepted castellan.AccountInvitation
		resp.decode(t, &accepted)
		if accepted.Status != castellan.InvitationAccepted || accepted.AccountID != sales.ID {
			t.Fatalf("accepted %+v", accepted)
		}
		a, err := e.db.Accounts().FindAccountByID(system, globex, sales.ID)
		if err != nil || a.AdditionType != castellan.AccountInvited || a.Management {
			t.Fatalf("account in Globex %+v, %v", a, err)
		}
		refused(http.StatusNotFound, castellan.CodeAccountNotFound, rootToken, "POST", accept, nil)
	})
}

// TestExcludeAccountPreconditionsAPI fails each precondition of
// exclusion alone through the API: each refusal has its code, names that
// precondition alone and changes nothing. The settlement date is the 1st
// in Asia/Seoul, whatever the day in UTC.
func TestExcludeAccountPreconditionsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		exclude := func(org, account, token string) request {
			return request{method: "POST", path: "/v1/organizations/" + org + "/accounts/" + account + ":exclude", token: token}
		}
		setAttributes := func(org, account string, attrs map[string]any) {
			t.Helper()
			wantStatus(t, e.do(t, request{method: "PUT", path: "/v1/organizations/" + org + "/accounts/" + account + "/attributes",
				token: e.operator, body: attrs}), http.StatusOK)
		}

		noPayment := f.newAccountIn(f.org, "no-payment", false)
		wantUnmet(t, e, exclude(f.org, noPayment.ID, e.acme.Token), castellan.CodeAccountNoPaymentMethod)

		credit := f.newAccountIn(f.org, "credit", false)
		setAttributes(f.org, credit.ID, map[string]any{"paymentMethodRegistered": true, "creditAssigned": true})
		wantUnmet(t, e, exclude(f.org, credit.ID, e.acme.Token), castellan.CodeAccountCreditAssigned)

		// A standalone account is its organization's management account:
		// its Owner cannot exclude it again, payment method or not.
		org, a, rootToken := f.standalone(t, "standalone")
		setAttributes(org.ID, a.ID, map[string]any{"paymentMethodRegistered": true})
		wantUnmet(t, e, exclude(org.ID, a.ID, rootToken), castellan.CodeAccountManagement)

		// 2026-02-28T15:30Z is March 1st, 00:30 in Seoul; a day later it
		// is March 2nd there, though March 1st in UTC.
		settled := f.newAccountIn(f.org, "settled", true)
		e.clock.Advance(time.Date(2026, 2, 28, 15, 30, 0, 0, time.UTC).Sub(e.clock.Now()))
		wantUnmet(t, e, exclude(f.org, settled.ID, e.acme.Token), castellan.CodeAccountSettlementDay)
		e.clock.Advance(24 * time.Hour)
		resp := e.do(t, exclude(f.org, settled.ID, e.acme.Token))
		wantStatus(t, resp, http.StatusOK)
		var standalone castellan.Organization
		resp.decode(t, &standalone)
		if standalone.Name != settled.Name {
			t.Fatalf("standalone organization %+v", standalone)
		}

		// What was refused is still Acme's.
		for _, id := range []string{noPayment.ID, credit.ID} {
			if got, err := e.db.Accounts().FindAccountByID(system, f.org, id); err != nil || got.Management {
				t.Fatalf("account %s after its refusal %+v, %v", id, got, err)
			}
		}
	})
}

// unknownUUID is a well-formed ID that no row has.
const unknownUUID = "0190d3a8-0000-7000-8000-000000000000"

// rootUserPassword is the password activeRootUser gives the root user.
const rootUserPassword = "Root-User-Pass-2026!"

// standalone has Acme's Owner exclude a new account named name through
// the API and its root user accept the invitation to the standalone
// organization; it returns the organization, the account and a token of
// the root user, an Owner there.
func (f *fixture) standalone(t *testing.T, name string) (*castellan.Organization, *castellan.Account, string) {
	t.Helper()
	a := f.newAccountIn(f.org, name, true)
	resp := f.e.do(t, request{method: "POST", path: f.orgPath() + "/accounts/" + a.ID + ":exclude", token: f.e.acme.Token})
	wantStatus(t, resp, http.StatusOK)
	var org castellan.Organization
	resp.decode(t, &org)
	token, _ := activeRootUser(t, f.e, org.ID)
	return &org, a, token
}

// activeRootUser has the root user of the standalone organization accept
// its invitation and returns a token of it and its ID.
func activeRootUser(t *testing.T, e *env, orgID string) (token, userID string) {
	t.Helper()
	s := e.db.Services()
	mails, _, err := s.Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &orgID, PageSize: castellan.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		if m.Template != castellan.MailInvitation {
			continue
		}
		u, err := s.Users.AcceptInvitation(system, m.Data["invitationToken"], rootUserPassword)
		if err != nil {
			t.Fatal(err)
		}
		token, err := s.Tokens.CreateUserToken(system, orgID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return token, u.ID
	}
	t.Fatal("no invitation of the root user")
	return "", ""
}

// otherUserToken returns a token of a new user of orgID who holds
// organization.owner there: an Owner who is not the account's root user.
func (f *fixture) otherUserToken(t *testing.T, orgID, rootUser string) string {
	t.Helper()
	s := f.e.db.Services()
	u, err := s.Users.CreateUser(system, orgID, castellan.UserCreate{Email: f.unique("owner") + "@standalone.example"})
	if err != nil || u.ID == rootUser {
		t.Fatal(err)
	}
	if _, _, err := s.Grants.CreateGrants(system, orgID, []castellan.GrantCreate{{RoleID: castellan.OrganizationOwnerRoleID,
		Scope: "organization/" + orgID, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}}}); err != nil {
		t.Fatal(err)
	}
	token, err := s.Tokens.CreateUserToken(system, orgID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return token
}
