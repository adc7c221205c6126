package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testUsersUpdate(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testUpdateUserOK(t, open) })
	t.Run("Disable", func(t *testing.T) { testUpdateUserDisable(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testUpdateUserErrInvalid(t, open) })
}

func testUpdateUserOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	u := register(t, s, org, invitee("ann"))
	clock.Advance(time.Minute)
	ctx := userCtx(res.OwnerUserID, org, "req-upd")
	got := must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{
		Name: ptr("Ann Smith"), Nickname: ptr("Annie"), Memo: ptr("moved to ops"), MFAMandatory: ptr(true),
		UseConsolePermitIP: ptr(true), ConsolePermitIPs: &[]string{"192.0.2.0/24"},
		APIAllowSources: &[]castellan.APIAllowSource{{Type: castellan.SourceVPC, Source: "vpc-9"}},
	}))(t)
	if got.Name != "Ann Smith" || got.Nickname != "Annie" || !got.MFAMandatory || !got.UseConsolePermitIP ||
		len(got.ConsolePermitIPs) != 1 || len(got.APIAllowSources) != 1 || got.LoginID != u.LoginID ||
		!got.UpdatedAt.Equal(clock.Now()) || got.UpdatedBy != "user:"+res.OwnerUserID || got.Revision <= u.Revision {
		t.Fatalf("got %+v", got)
	}
	if read := must(s.Users.FindUserByID(ctx, org, u.ID, false))(t); !sameUser(read, got) {
		t.Fatalf("read %+v, want %+v", read, got)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:UpdateUser")}))(t)
	if len(events) != 1 || events[0].Revision != got.Revision || len(events[0].Summary) != 7 {
		t.Fatalf("got events %+v", events)
	}
	// Changing nothing writes nothing.
	before := takeSnapshot(t, s, org)
	must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Name: ptr("Ann Smith"), MFAMandatory: ptr(true)}))(t)
	unchanged(t, s, org, before)
	// The list shows the new name; the email may change unless taken.
	must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Email: ptr("ann.smith@example.com")}))(t)
	_, err := s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Email: ptr("OWNER@acme.example")})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeUserEmailTaken)
}

func testUpdateUserDisable(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	u := newUsers(t, s, org, "dev", 1)[0]
	token := must(s.Tokens.CreateUserToken(ctx, org, u.ID))(t)
	must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	_, err := s.Tokens.Authenticate(ctx, token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
	must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserActive)}))(t)
	must(s.Tokens.Authenticate(ctx, token))(t)

	// The last active permanent owner stays active.
	before := takeSnapshot(t, s, org)
	_, err = s.Users.UpdateUser(ctx, org, res.OwnerUserID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
	unchanged(t, s, org, before)
	owner := castellan.OrganizationScope(org).String()
	must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: castellan.OrganizationOwnerRoleID, Scope: owner,
		Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}}}))(t)
	must(s.Users.UpdateUser(ctx, org, res.OwnerUserID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	_, err = s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
}

func testUpdateUserErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	u := register(t, s, org, invitee("ann"))
	before := takeSnapshot(t, s, org)
	_, err := s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserActive)})
	wantCode(t, err, castellan.EINVALID, castellan.CodeUserInvalidStatus)
	_, err = s.Users.UpdateUser(ctx, org, res.OwnerUserID, castellan.UserUpdate{Status: ptr(castellan.UserDeleted)})
	wantCode(t, err, castellan.EINVALID, castellan.CodeUserInvalidStatus)
	_, err = s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Name: ptr("x"), Mobile: ptr("12")})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "name", "minLength")
	wantField(t, err, "mobile", "pattern")
	_, err = s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{UseAPIAllowSource: ptr(true)})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "apiAllowSources", "minItems")
	_, err = s.Users.UpdateUser(ctx, org, unknownID, castellan.UserUpdate{Name: ptr("Zed")})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	unchanged(t, s, org, before)
}

func testUsersDelete(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testDeleteUserOK(t, open) })
	t.Run("ErrConfirmation", func(t *testing.T) { testDeleteUserErrConfirmation(t, open) })
	t.Run("ErrLastOwner", func(t *testing.T) { testDeleteUserErrLastOwner(t, open) })
}

func testDeleteUserOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("req-del")
	u := newUsers(t, s, org, "dev", 1)[0]
	token := must(s.Tokens.CreateUserToken(ctx, org, u.ID))(t)
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs"}))(t)
	must(s.Groups.AddGroupMembers(ctx, org, g.ID, []string{u.ID}))(t)
	subject := castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}
	must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "organization.reader", Scope: castellan.OrganizationScope(org).String(), Subject: subject},
	}))(t)
	if read := must(s.Users.FindUserByID(ctx, org, u.ID, false))(t); read.OrganizationRoleCount != 1 || read.GroupCount != 1 {
		t.Fatalf("got counts %d roles, %d groups", read.OrganizationRoleCount, read.GroupCount)
	}
	must(s.Tokens.Authenticate(ctx, token))(t)
	project := must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
	key := must(s.AccessKeys.CreateAccessKey(ctx, org, castellan.AccessKeyCreate{Owner: subject, ProjectID: project.ID, Name: "ci"}))(t)

	clock.Advance(time.Hour)
	rev := must(s.Users.DeleteUser(ctx, org, u.ID, u.LoginID))(t)
	// Its token is refused on the next request.
	_, err := s.Tokens.Authenticate(ctx, token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
	_, err = s.Users.FindUserByID(ctx, org, u.ID, false)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	tomb := must(s.Users.FindUserByID(ctx, org, u.ID, true))(t)
	if !tomb.Deleted || tomb.Status != castellan.UserDeleted || tomb.DeletedAt == nil || !tomb.DeletedAt.Equal(clock.Now()) ||
		tomb.LoginID != u.LoginID || tomb.Email != "" || tomb.Revision != rev || tomb.GroupCount != 0 || tomb.OrganizationRoleCount != 0 {
		t.Fatalf("got tombstone %+v", tomb)
	}
	if grants := listed(s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &subject}))(t); len(grants) != 0 {
		t.Fatalf("got grants %+v", grants)
	}
	if group := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); group.MemberCount != 0 {
		t.Fatalf("group still has %d members", group.MemberCount)
	}
	// Its access keys are gone from the user's list and the organization's;
	// the audit event names them.
	if keys := listed(s.AccessKeys.FindAccessKeys(ctx, org, castellan.AccessKeyFilter{Owner: &subject}))(t); len(keys) != 0 {
		t.Fatalf("got the user's keys %+v", keys)
	}
	if keys := listed(s.AccessKeys.FindAccessKeys(ctx, org, castellan.AccessKeyFilter{}))(t); len(keys) != 0 {
		t.Fatalf("got the organization's keys %+v", keys)
	}
	_, err = s.AccessKeys.FindAccessKeyByID(ctx, org, key.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccessKeyNotFound)
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:DeleteUser")}))(t)
	if len(events) != 1 || events[0].Revision != rev || events[0].RequestID != "req-del" ||
		string(events[0].Summary["deletedAccessKeyIds"]) != `["`+key.ID+`"]` {
		t.Fatalf("got events %+v", events)
	}
	changes := must(s.ChangeLog.Changes(ctx, rev-1, 1))(t)
	kinds := map[string]int{}
	for _, c := range changes {
		kinds[c.EntityType+"/"+c.Operation]++
	}
	if kinds["user/delete"] != 1 || kinds["grant/delete"] != 1 || kinds["group_member/delete"] != 1 || kinds["api_token/delete"] != 1 ||
		kinds["access_key/delete"] != 1 {
		t.Fatalf("got change log %v", kinds)
	}
	if mails := mailsTo(t, s, org, u.Email); len(mails) != 1 || mails[0].Template != castellan.MailUserDeleted {
		t.Fatalf("got mails %+v", mails)
	}
	// Listed only among the deleted; gone for groups, grants and tokens.
	if users := listed(s.Users.FindUsers(ctx, org, castellan.UserFilter{}))(t); len(users) != 1 {
		t.Fatalf("got %d users, want the owner", len(users))
	}
	if users := listed(s.Users.FindUsers(ctx, org, castellan.UserFilter{Status: ptr(castellan.UserDeleted)}))(t); len(users) != 1 || users[0].ID != u.ID {
		t.Fatalf("got deleted users %+v", users)
	}
	_, err = s.Groups.AddGroupMembers(ctx, org, g.ID, []string{u.ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, _, err = s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: "organization.reader", Scope: castellan.OrganizationScope(org).String(), Subject: subject}})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Tokens.CreateUserToken(ctx, org, u.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = s.Users.DeleteUser(ctx, org, u.ID, u.LoginID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)

	// The login ID and email may be registered again, as a new user.
	reg := invitee("x")
	reg.LoginID, reg.Email = u.LoginID, u.Email
	again := register(t, s, org, reg)
	if again.ID == u.ID {
		t.Fatal("re-registration reused the tombstone's ID")
	}
	if tomb := must(s.Users.FindUserByID(ctx, org, u.ID, true))(t); !tomb.Deleted {
		t.Fatalf("the tombstone changed: %+v", tomb)
	}

	// The seed's phrase confirms as the login ID does.
	must(s.Users.DeleteUser(ctx, org, again.ID, castellan.DeleteUserPhrase))(t)
	if tomb := must(s.Users.FindUserByID(ctx, org, again.ID, true))(t); !tomb.Deleted {
		t.Fatalf("after deleting with the phrase: %+v", tomb)
	}
}

func testDeleteUserErrConfirmation(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	u := register(t, s, org, invitee("ann"))
	before := takeSnapshot(t, s, org)
	for _, confirm := range []string{"", "ANN@example.com", "delete user from organization", "Delete user from organization ", u.ID} {
		_, err := s.Users.DeleteUser(operatorCtx("r"), org, u.ID, confirm)
		wantCode(t, err, castellan.EINVALID, castellan.CodeConfirmationMismatch)
		wantField(t, err, "confirm", "confirmation")
	}
	_, err := s.Users.DeleteUser(operatorCtx("r"), org, unknownID, "x")
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	unchanged(t, s, org, before)
}

func testDeleteUserErrLastOwner(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	owner := must(s.Users.FindUserByID(ctx, org, res.OwnerUserID, false))(t)
	before := takeSnapshot(t, s, org)
	_, err := s.Users.DeleteUser(ctx, org, owner.ID, owner.LoginID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
	unchanged(t, s, org, before)
	must(s.Tokens.Authenticate(context.Background(), res.Token))(t)

	second := newUsers(t, s, org, "dev", 1)[0]
	must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: castellan.OrganizationOwnerRoleID,
		Scope: castellan.OrganizationScope(org).String(), Subject: castellan.Subject{Type: castellan.SubjectUser, ID: second.ID}}}))(t)
	must(s.Users.DeleteUser(ctx, org, owner.ID, owner.LoginID))(t)
	_, err = s.Tokens.Authenticate(context.Background(), res.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
}
