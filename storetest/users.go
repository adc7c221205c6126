package storetest

import (
	"testing"

	"github.com/castellan-iam/castellan"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testUsersOK(t, open) })
	t.Run("ErrEmailTaken", func(t *testing.T) { testUsersErrEmailTaken(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testUsersCrossOrganization(t, open) })
	t.Run("UserToken", func(t *testing.T) { testUsersUserToken(t, open) })
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
	if got := must(s.Users.FindUserByID(ctx, res.OrganizationID, u.ID))(t); *got != *u {
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
	_, err = s.Users.CreateUser(ctx, acme.OrganizationID, castellan.UserCreate{Email: "not an email"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "body.email", "")
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
	_, err := s.Users.FindUserByID(ctx, globex.OrganizationID, acme.OwnerUserID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	before := takeSnapshot(t, s, globex.OrganizationID)
	_, err = s.Tokens.CreateUserToken(ctx, globex.OrganizationID, acme.OwnerUserID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Tokens.CreateUserToken(ctx, globex.OrganizationID, "not-an-id")
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	unchanged(t, s, globex.OrganizationID, before)
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
}
