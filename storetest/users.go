package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testUsersOK(t, open) })
	t.Run("ErrEmailTaken", func(t *testing.T) { testUsersErrEmailTaken(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testUsersCrossOrganization(t, open) })
	t.Run("UserToken", func(t *testing.T) { testUsersUserToken(t, open) })
	t.Run("Register", func(t *testing.T) { testUsersRegister(t, open) })
	t.Run("Invitations", func(t *testing.T) { testUsersInvitations(t, open) })
	t.Run("Update", func(t *testing.T) { testUsersUpdate(t, open) })
	t.Run("Delete", func(t *testing.T) { testUsersDelete(t, open) })
	t.Run("List", func(t *testing.T) { testUsersList(t, open) })
}

func testUsersOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	ctx := userCtx(res.OwnerUserID, res.OrganizationID, "req-u")
	u := must(s.Users.CreateUser(ctx, res.OrganizationID, castellan.UserCreate{Email: "ann@acme.example"}))(t)
	if !castellan.ValidID(u.ID) || u.OrganizationID != res.OrganizationID || u.Email != "ann@acme.example" || u.LoginID != u.Email ||
		u.Status != castellan.UserActive || !u.CreatedAt.Equal(clock.Now()) || u.CreatedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", u)
	}
	if got := must(s.Users.FindUserByID(ctx, res.OrganizationID, u.ID, false))(t); !sameUser(got, u) {
		t.Fatalf("got %+v, want %+v", got, u)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:CreateUser")}))(t)
	if len(events) != 1 || events[0].Target.ID != u.ID || events[0].RequestID != "req-u" {
		t.Fatalf("got events %+v", events)
	}
}

func testUsersErrEmailTaken(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	must(s.Users.CreateUser(ctx, acme.OrganizationID, castellan.UserCreate{Email: "ann@example.com"}))(t)
	before := takeSnapshot(t, s, acme.OrganizationID)
	_, err := s.Users.CreateUser(ctx, acme.OrganizationID, castellan.UserCreate{Email: "ann@example.com"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeUserEmailTaken)
	_, err = s.Users.CreateUser(ctx, acme.OrganizationID, castellan.UserCreate{Email: "owner@acme.example"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeUserEmailTaken)
	// Emails are matched case-insensitively.
	_, err = s.Users.CreateUser(ctx, acme.OrganizationID, castellan.UserCreate{Email: "Owner@ACME.example"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeUserEmailTaken)
	_, err = s.Users.CreateUser(ctx, acme.OrganizationID, castellan.UserCreate{Email: "not an email"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "email", "")
	unchanged(t, s, acme.OrganizationID, before)
	// Emails are unique per organization only.
	must(s.Users.CreateUser(ctx, globex.OrganizationID, castellan.UserCreate{Email: "ann@example.com"}))(t)
	_, err = s.Users.CreateUser(ctx, unknownID, castellan.UserCreate{Email: "ann@example.com"})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
}

func testUsersCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	invited := register(t, s, acme.OrganizationID, invitee("ann"))
	for _, id := range []string{acme.OwnerUserID, invited.ID} {
		_, err := s.Users.FindUserByID(ctx, globex.OrganizationID, id, true)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	}
	before := takeSnapshot(t, s, globex.OrganizationID)
	acmeBefore := takeSnapshot(t, s, acme.OrganizationID)
	_, err := s.Tokens.CreateUserToken(ctx, globex.OrganizationID, acme.OwnerUserID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Tokens.CreateUserToken(ctx, globex.OrganizationID, "not-an-id")
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Users.UpdateUser(ctx, globex.OrganizationID, invited.ID, castellan.UserUpdate{Name: ptr("Mallory")})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Users.DeleteUser(ctx, globex.OrganizationID, invited.ID, invited.LoginID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Users.ResendInvitation(ctx, globex.OrganizationID, invited.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Users.Reinvite(ctx, globex.OrganizationID, invited.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	users := listed(s.Users.FindUsers(ctx, globex.OrganizationID, castellan.UserFilter{}))(t)
	if len(users) != 1 || users[0].ID != globex.OwnerUserID {
		t.Fatalf("got %d users of Globex, want only its owner", len(users))
	}
	unchanged(t, s, globex.OrganizationID, before)
	unchanged(t, s, acme.OrganizationID, acmeBefore)
}

func testUsersUserToken(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	ctx := operatorCtx("req-token")
	u := newUsers(t, s, res.OrganizationID, "dev", 1)[0]
	token := must(s.Tokens.CreateUserToken(ctx, res.OrganizationID, u.ID))(t)
	p := must(s.Tokens.Authenticate(ctx, token))(t)
	if want := (castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: res.OrganizationID}); p != want {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:CreateUserToken")}))(t)
	if len(events) != 1 || events[0].Target.Type != "api_token" || events[0].RequestID != "req-token" {
		t.Fatalf("got events %+v", events)
	}
	// Invited users cannot hold tokens until they accept.
	invited := register(t, s, res.OrganizationID, invitee("ann"))
	_, err := s.Tokens.CreateUserToken(ctx, res.OrganizationID, invited.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
}

// invitee is a registration in invitation mode of <name>@example.com.
func invitee(name string) castellan.UserRegistration {
	return castellan.UserRegistration{
		LoginID: name + "@example.com", Email: name + "@example.com", Name: "User " + name,
		Mode: castellan.ModeInvitation, ConsoleAccess: true, APIAccess: true,
	}
}

// invitees are n registrations in invitation mode, <prefix>-<i>.
func invitees(prefix string, n int) []castellan.UserRegistration {
	regs := make([]castellan.UserRegistration, n)
	for i := range regs {
		regs[i] = invitee(fmt.Sprintf("%s-%03d", prefix, i))
	}
	return regs
}

// register registers one user as the operator.
func register(tb testing.TB, s castellan.Services, orgID string, reg castellan.UserRegistration) *castellan.User {
	tb.Helper()
	return must(s.Users.RegisterUser(operatorCtx("r-register"), orgID, reg))(tb).User
}

// mailsTo returns the mails of the organization to an address, newest
// first.
func mailsTo(tb testing.TB, s castellan.Services, orgID, to string) []*castellan.Mail {
	tb.Helper()
	return listed(s.Outbox.FindMail(context.Background(), castellan.MailFilter{OrganizationID: &orgID, To: &to, PageSize: castellan.MaxPageSize}))(tb)
}

// invitationToken returns the token of the newest mail to an address,
// failing tb when it has none.
func invitationToken(tb testing.TB, s castellan.Services, orgID, to string) string {
	tb.Helper()
	mails := mailsTo(tb, s, orgID, to)
	if len(mails) == 0 || mails[0].Data["invitationToken"] == "" {
		tb.Fatalf("no invitation mail to %s: %+v", to, mails)
	}
	return mails[0].Data["invitationToken"]
}

// sameUser compares users as the API shows them.
func sameUser(a, b *castellan.User) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
