package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testUsersInvitations(t *testing.T, open Opener) {
	t.Run("AcceptOnce", func(t *testing.T) { testInvitationAcceptOnce(t, open) })
	t.Run("Expires", func(t *testing.T) { testInvitationExpires(t, open) })
	t.Run("ResendVoids", func(t *testing.T) { testInvitationResendVoids(t, open) })
	t.Run("EmailChangeVoids", func(t *testing.T) { testInvitationEmailChangeVoids(t, open) })
	t.Run("DisableVoids", func(t *testing.T) { testInvitationDisableVoids(t, open) })
	t.Run("ErrNotPending", func(t *testing.T) { testInvitationErrNotPending(t, open) })
	t.Run("ErrUnsafePassword", func(t *testing.T) { testInvitationErrUnsafePassword(t, open) })
}

func testInvitationAcceptOnce(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	u := register(t, s, res.OrganizationID, invitee("ann"))
	token := invitationToken(t, s, res.OrganizationID, u.Email)
	clock.Advance(time.Hour)
	ctx := context.Background() // the invitee has no token: the link is its credential
	got := must(s.Users.AcceptInvitation(ctx, token, "Correct-Horse-7-battery"))(t)
	if got.ID != u.ID || got.Status != castellan.UserActive || got.UpdatedBy != "user:"+u.ID || !got.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("got %+v", got)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:AcceptUserInvitation")}))(t)
	if len(events) != 1 || events[0].Actor.ID != u.ID || events[0].Target.ID != u.ID {
		t.Fatalf("got events %+v", events)
	}
	// Active now, it may hold a token.
	must(s.Tokens.CreateUserToken(operatorCtx("r"), res.OrganizationID, u.ID))(t)

	before := takeSnapshot(t, s, res.OrganizationID)
	_, err := s.Users.AcceptInvitation(ctx, token, "Another-Horse-8-battery")
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeInvitationUsed)
	for _, bad := range []string{"", "csti_short", token + "x", castellan.InvitationTokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		_, err = s.Users.AcceptInvitation(ctx, bad, "Another-Horse-8-battery")
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeInvitationInvalid)
	}
	unchanged(t, s, res.OrganizationID, before)
}

func testInvitationExpires(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	ann := register(t, s, res.OrganizationID, invitee("ann"))
	bob := register(t, s, res.OrganizationID, invitee("bob"))
	annToken := invitationToken(t, s, res.OrganizationID, ann.Email)
	bobToken := invitationToken(t, s, res.OrganizationID, bob.Email)
	ctx := context.Background()

	clock.Advance(castellan.InvitationValidity - time.Second)
	must(s.Users.AcceptInvitation(ctx, annToken, "Correct-Horse-7-battery"))(t)
	clock.Advance(time.Second) // exactly 7 days: expired
	before := takeSnapshot(t, s, res.OrganizationID)
	_, err := s.Users.AcceptInvitation(ctx, bobToken, "Correct-Horse-7-battery")
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeInvitationExpired)
	unchanged(t, s, res.OrganizationID, before)
	if u := must(s.Users.FindUserByID(ctx, res.OrganizationID, bob.ID, false))(t); u.Status != castellan.UserPendingInvitation {
		t.Fatalf("got status %s", u.Status)
	}
	// A resent invitation is valid for another 7 days.
	must(s.Users.ResendInvitation(operatorCtx("r"), res.OrganizationID, bob.ID))(t)
	must(s.Users.AcceptInvitation(ctx, invitationToken(t, s, res.OrganizationID, bob.Email), "Correct-Horse-7-battery"))(t)
}

func testInvitationResendVoids(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	u := register(t, s, org, invitee("ann"))
	first := invitationToken(t, s, org, u.Email)
	ctx := operatorCtx("req-resend")

	clock.Advance(time.Minute)
	rev := must(s.Users.ResendInvitation(ctx, org, u.ID))(t)
	second := invitationToken(t, s, org, u.Email)
	clock.Advance(time.Minute)
	must(s.Users.Reinvite(ctx, org, u.ID))(t)
	third := invitationToken(t, s, org, u.Email)
	mails := mailsTo(t, s, org, u.Email)
	if len(mails) != 3 || mails[0].Template != castellan.MailReinvite || mails[1].Template != castellan.MailInvitation ||
		first == second || second == third {
		t.Fatalf("got mails %+v", mails)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:ResendUserInvitation")}))(t)
	if len(events) != 1 || events[0].Revision != rev || events[0].Target.ID != u.ID || events[0].RequestID != "req-resend" {
		t.Fatalf("got events %+v", events)
	}
	for _, old := range []string{first, second} {
		_, err := s.Users.AcceptInvitation(context.Background(), old, "Correct-Horse-7-battery")
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeInvitationInvalid)
	}
	must(s.Users.AcceptInvitation(context.Background(), third, "Correct-Horse-7-battery"))(t)
}

func testInvitationErrNotPending(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	ctx := operatorCtx("r")
	before := takeSnapshot(t, s, res.OrganizationID)
	_, err := s.Users.ResendInvitation(ctx, res.OrganizationID, res.OwnerUserID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeUserNotPending)
	_, err = s.Users.Reinvite(ctx, res.OrganizationID, res.OwnerUserID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeUserNotPending)
	_, err = s.Users.ResendInvitation(ctx, res.OrganizationID, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	unchanged(t, s, res.OrganizationID, before)
}

func testInvitationErrUnsafePassword(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	u := register(t, s, res.OrganizationID, invitee("ann"))
	token := invitationToken(t, s, res.OrganizationID, u.Email)
	before := takeSnapshot(t, s, res.OrganizationID)
	_, err := s.Users.AcceptInvitation(context.Background(), token, "ann@example.com-Secret-1")
	wantCode(t, err, castellan.EINVALID, castellan.CodeUnsafePassword)
	wantField(t, err, "password", "containsLoginId")
	unchanged(t, s, res.OrganizationID, before)
	// The link still works with a good password.
	must(s.Users.AcceptInvitation(context.Background(), token, "Correct-Horse-7-battery"))(t)
	// A deleted user's link is void.
	v := register(t, s, res.OrganizationID, invitee("bob"))
	token = invitationToken(t, s, res.OrganizationID, v.Email)
	must(s.Users.DeleteUser(operatorCtx("r"), res.OrganizationID, v.ID, v.LoginID))(t)
	_, err = s.Users.AcceptInvitation(context.Background(), token, "Correct-Horse-7-battery")
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeInvitationInvalid)
}

// testInvitationEmailChangeVoids: the link sent to a mistyped address stops
// working when the address is corrected.
func testInvitationEmailChangeVoids(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	reg := invitee("ann")
	reg.Email = "ann@exmaple.com"
	u := register(t, s, org, reg)
	old := invitationToken(t, s, org, u.Email)
	fixed := "ann@example.com"
	must(s.Users.UpdateUser(operatorCtx("req-fix"), org, u.ID, castellan.UserUpdate{Email: &fixed}))(t)
	_, err := s.Users.AcceptInvitation(context.Background(), old, "Correct-Horse-7-battery")
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeInvitationInvalid)
	must(s.Users.Reinvite(operatorCtx("req-reinvite"), org, u.ID))(t)
	must(s.Users.AcceptInvitation(context.Background(), invitationToken(t, s, org, fixed), "Correct-Horse-7-battery"))(t)
}

// testInvitationDisableVoids: disabling an invited user (a provider
// deprovisioning it) voids its link at once; enabling it again makes it
// pending with a new link, which works. A user who accepted stays active
// when enabled again.
func testInvitationDisableVoids(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	u := register(t, s, org, invitee("ann"))
	old := invitationToken(t, s, org, u.Email)
	off := must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	if off.Status != castellan.UserDisabled {
		t.Fatalf("got %s", off.Status)
	}
	_, err := s.Users.AcceptInvitation(context.Background(), old, "Correct-Horse-7-battery")
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeInvitationInvalid)
	on := must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserActive)}))(t)
	if on.Status != castellan.UserPendingInvitation {
		t.Fatalf("enabled again: got %s, want pending_invitation", on.Status)
	}
	fresh := invitationToken(t, s, org, u.Email)
	if fresh == old {
		t.Fatal("no new invitation")
	}
	events := listed(s.Audit.FindAuditEvents(context.Background(), org, castellan.AuditFilter{TargetID: &u.ID}))(t)
	var status struct{ Old, New string }
	if err := json.Unmarshal(events[0].Summary["status"], &status); err != nil || status.Old != castellan.UserDisabled || status.New != castellan.UserPendingInvitation {
		t.Fatalf("the audit event says %s", events[0].Summary["status"])
	}
	// Disabled and enabled again with a new email: the link mailed there
	// works.
	must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	moved := "ann.new@example.com"
	must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserActive), Email: &moved}))(t)
	_, err = s.Users.AcceptInvitation(context.Background(), fresh, "Correct-Horse-7-battery")
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeInvitationInvalid)
	fresh = invitationToken(t, s, org, moved)
	must(s.Users.AcceptInvitation(context.Background(), fresh, "Correct-Horse-7-battery"))(t)
	must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	if again := must(s.Users.UpdateUser(ctx, org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserActive)}))(t); again.Status != castellan.UserActive {
		t.Fatalf("an accepted user enabled again: got %s", again.Status)
	}
}
