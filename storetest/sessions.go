package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testSessions(t *testing.T, open Opener) {
	t.Run("SignIn", func(t *testing.T) { testSessionSignIn(t, open) })
	t.Run("ErrSignInFailed", func(t *testing.T) { testSessionErrSignInFailed(t, open) })
	t.Run("Lockout", func(t *testing.T) { testSessionLockout(t, open) })
	t.Run("IPAllowList", func(t *testing.T) { testSessionIPAllowList(t, open) })
	t.Run("Timeouts", func(t *testing.T) { testSessionTimeouts(t, open) })
	t.Run("Revoke", func(t *testing.T) { testSessionRevoke(t, open) })
	t.Run("ChangePassword", func(t *testing.T) { testSessionChangePassword(t, open) })
	t.Run("UserDisabledOrDeleted", func(t *testing.T) { testSessionUserGone(t, open) })
}

// signInPassword is the password of signInUser's users.
const signInPassword = "Correct-Horse-7-battery"

// signInUser registers an active local user with a password and console
// access.
func signInUser(tb testing.TB, s castellan.Services, orgID, name string, edit func(*castellan.UserRegistration)) *castellan.User {
	tb.Helper()
	reg := invitee(name)
	reg.Mode, reg.Password = castellan.ModePassword, signInPassword
	if edit != nil {
		edit(&reg)
	}
	return register(tb, s, orgID, reg)
}

// browserCtx is an anonymous request from ip.
func browserCtx(ip string) context.Context {
	return castellan.WithRequestInfo(context.Background(), castellan.RequestInfo{RequestID: "r-console", SourceIP: ip})
}

func signIn(org, login, password string) castellan.SignIn {
	return castellan.SignIn{Organization: org, Login: login, Password: password, Policy: castellan.DefaultSignInPolicy}
}

// newSession signs u in completely and returns the session and its secret.
func newSession(tb testing.TB, s castellan.Services, u *castellan.User) *castellan.NewSession {
	tb.Helper()
	ctx := browserCtx("192.0.2.10")
	must(s.Sessions.VerifySignIn(ctx, signIn(u.OrganizationID, u.LoginID, signInPassword)))(tb)
	return must(s.Sessions.CreateSession(ctx, u.OrganizationID, u.ID, castellan.SessionComplete, "test-agent", castellan.DefaultSignInPolicy))(tb)
}

func testSessionSignIn(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	u := signInUser(t, s, res.OrganizationID, "ann", nil)
	ctx := browserCtx("192.0.2.10")
	for _, in := range []castellan.SignIn{
		signIn("Acme", "ann@example.com", signInPassword),
		signIn(res.OrganizationID, "ANN@example.com", signInPassword),
	} {
		got, err := s.Sessions.VerifySignIn(ctx, in)
		if err != nil || got.ID != u.ID {
			t.Fatalf("VerifySignIn(%+v) = %v, %v", in, got, err)
		}
	}
	ns := must(s.Sessions.CreateSession(ctx, res.OrganizationID, u.ID, castellan.SessionMFAPending, "agent\x00\xff", castellan.DefaultSignInPolicy))(t)
	if !castellan.ValidSessionTokenSyntax(ns.Token) || ns.Session.ID == ns.Token || ns.Session.State != castellan.SessionMFAPending ||
		ns.Session.SourceIP != "192.0.2.10" || ns.Session.UserAgent != "agent\uFFFD" || !ns.Session.ExpiresAt.Equal(clock.Now().Add(12*time.Hour)) {
		t.Fatalf("got %+v", ns.Session)
	}
	if read := must(s.Users.FindUserByID(ctx, res.OrganizationID, u.ID, false))(t); read.LastLoginAt != nil {
		t.Fatalf("an unfinished sign-in set the last login: %v", read.LastLoginAt)
	}
	must(0, s.Sessions.AdvanceSession(ctx, res.OrganizationID, ns.Session.ID, castellan.SessionComplete))(t)
	if read := must(s.Users.FindUserByID(ctx, res.OrganizationID, u.ID, false))(t); read.LastLoginAt == nil || !read.LastLoginAt.Equal(clock.Now()) {
		t.Fatalf("got last login %v, want %v", read.LastLoginAt, clock.Now())
	}
	clock.Advance(2 * time.Minute)
	sess, user, err := s.Sessions.AuthenticateSession(ctx, ns.Token)
	if err != nil || sess.ID != ns.Session.ID || user.ID != u.ID || sess.State != castellan.SessionComplete || !sess.LastSeenAt.Equal(clock.Now()) {
		t.Fatalf("AuthenticateSession = %+v, %v, %v", sess, user, err)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:SignIn")}))(t)
	if len(events) != 2 || events[0].Target.ID != u.ID || events[0].Actor.ID != u.ID || events[1].RequestID != "r-console" {
		t.Fatalf("got events %+v", events)
	}
	// The last-seen bookkeeping is no change of the organization.
	before := takeSnapshot(t, s, res.OrganizationID)
	clock.Advance(2 * time.Minute)
	must(s.Sessions.FindSessions(ctx, res.OrganizationID, u.ID))(t)
	if _, _, err := s.Sessions.AuthenticateSession(ctx, ns.Token); err != nil {
		t.Fatal(err)
	}
	unchanged(t, s, res.OrganizationID, before)
	_, _, err = s.Sessions.AuthenticateSession(ctx, "csts_"+ns.Token[5:10]+"x")
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
}

func testSessionErrSignInFailed(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	signInUser(t, s, res.OrganizationID, "ann", nil)
	signInUser(t, s, res.OrganizationID, "bob", func(r *castellan.UserRegistration) { r.Disabled = true })
	signInUser(t, s, res.OrganizationID, "cid", func(r *castellan.UserRegistration) { r.ConsoleAccess = false })
	register(t, s, res.OrganizationID, invitee("dan"))
	ctx := browserCtx("192.0.2.10")

	before := takeSnapshot(t, s, res.OrganizationID)
	_, err := s.Sessions.VerifySignIn(ctx, signIn("Nope", "ann@example.com", signInPassword))
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	unchanged(t, s, res.OrganizationID, before)

	for i, in := range []castellan.SignIn{
		signIn("Acme", "nobody@example.com", signInPassword),
		signIn("Acme", "ann@example.com", "Wrong-Horse-7-battery"),
		signIn("Acme", "bob@example.com", signInPassword),
		signIn("Acme", "cid@example.com", signInPassword),
		signIn("Acme", "dan@example.com", signInPassword),
	} {
		before := takeSnapshot(t, s, res.OrganizationID)
		_, err := s.Sessions.VerifySignIn(ctx, in)
		wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
		// Audited: one event, nothing else.
		after := takeSnapshot(t, s, res.OrganizationID)
		if after.events != before.events+1 || after.revision != before.revision+1 {
			t.Fatalf("attempt %d: got %+v after %+v, want one audited failure", i, after, before)
		}
	}
	events := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:SignIn")}))(t)
	var reason string
	if err := json.Unmarshal(events[4].Summary["reason"], &reason); err != nil || reason != "unknown_user" || events[4].Target.Name != "nobody@example.com" {
		t.Fatalf("got %+v", events[4])
	}
}

func testSessionLockout(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	u := signInUser(t, s, res.OrganizationID, "ann", nil)
	ctx := browserCtx("192.0.2.10")
	policy := castellan.DefaultSignInPolicy
	wrong := signIn("Acme", u.LoginID, "Wrong-Horse-7-battery")
	// Failures older than the window do not count.
	for range policy.MaxFailures - 1 {
		_, err := s.Sessions.VerifySignIn(ctx, wrong)
		wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	}
	clock.Advance(policy.FailureWindow + time.Second)
	for range policy.MaxFailures - 1 {
		s.Sessions.VerifySignIn(ctx, wrong)
	}
	must(s.Sessions.VerifySignIn(ctx, signIn("Acme", u.LoginID, signInPassword)))(t)
	// A completed sign-in restarts the count, a right password alone does
	// not; an unfinished session ends with the lockout. (Failures at the
	// very instant of the sign-in still count, so the clock moves first.)
	clock.Advance(time.Second)
	must(s.Sessions.CreateSession(ctx, res.OrganizationID, u.ID, castellan.SessionComplete, "", policy))(t)
	clock.Advance(time.Second)
	pending := must(s.Sessions.CreateSession(ctx, res.OrganizationID, u.ID, castellan.SessionMFAPending, "", policy))(t)
	for range policy.MaxFailures - 1 {
		s.Sessions.VerifySignIn(ctx, wrong)
	}
	locked := must(s.Sessions.RecordMFAFailure(ctx, res.OrganizationID, u.ID, policy))(t)
	if !locked {
		t.Fatal("the fifth failure did not lock the user")
	}
	_, _, err := s.Sessions.AuthenticateSession(ctx, pending.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
	_, err = s.Sessions.VerifySignIn(ctx, signIn("Acme", u.LoginID, signInPassword))
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	lockEvents := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:SignIn"), TargetID: &u.ID}))(t)
	outcomes := map[string]int{}
	for _, e := range lockEvents {
		var outcome string
		json.Unmarshal(e.Summary["outcome"], &outcome)
		outcomes[outcome]++
	}
	if outcomes["locked"] != 1 || outcomes["failure"] != 3*policy.MaxFailures-1 || outcomes["success"] != 2 {
		t.Fatalf("got outcomes %v, want the lockout and every failure audited", outcomes)
	}
	clock.Advance(policy.LockoutPeriod)
	must(s.Sessions.VerifySignIn(ctx, signIn("Acme", u.LoginID, signInPassword)))(t)
}

func testSessionIPAllowList(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	u := signInUser(t, s, res.OrganizationID, "ann", func(r *castellan.UserRegistration) {
		r.UseConsolePermitIP, r.ConsolePermitIPs = true, []string{"203.0.113.0/24", "2001:db8::1"}
	})
	for _, ip := range []string{"203.0.113.9", "2001:db8::1", "::ffff:203.0.113.200"} {
		must(s.Sessions.VerifySignIn(browserCtx(ip), signIn("Acme", u.LoginID, signInPassword)))(t)
	}
	before := takeSnapshot(t, s, res.OrganizationID)
	_, err := s.Sessions.VerifySignIn(browserCtx("198.51.100.1"), signIn("Acme", u.LoginID, signInPassword))
	// The one answer: a refused address learns nothing of the password.
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	if after := takeSnapshot(t, s, res.OrganizationID); after.events != before.events+1 {
		t.Fatalf("the refusal was not audited: %+v after %+v", after, before)
	}
	// A wrong password never learns about the allow list.
	_, err = s.Sessions.VerifySignIn(browserCtx("198.51.100.1"), signIn("Acme", u.LoginID, "Wrong-Horse-7-battery"))
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
}

func testSessionTimeouts(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	u := signInUser(t, s, res.OrganizationID, "ann", nil)
	ctx := browserCtx("192.0.2.10")
	policy := castellan.DefaultSignInPolicy

	idle := newSession(t, s, u)
	clock.Advance(policy.IdleTimeout - time.Second)
	must3(s.Sessions.AuthenticateSession(ctx, idle.Token))(t)
	clock.Advance(policy.IdleTimeout - time.Second) // in use: still live
	must3(s.Sessions.AuthenticateSession(ctx, idle.Token))(t)
	clock.Advance(policy.IdleTimeout)
	_, _, err := s.Sessions.AuthenticateSession(ctx, idle.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)

	busy := newSession(t, s, u)
	for elapsed := policy.IdleTimeout / 2; elapsed < policy.AbsoluteTimeout; elapsed += policy.IdleTimeout / 2 {
		clock.Advance(policy.IdleTimeout / 2)
		must3(s.Sessions.AuthenticateSession(ctx, busy.Token))(t)
	}
	clock.Advance(policy.IdleTimeout / 2)
	_, _, err = s.Sessions.AuthenticateSession(ctx, busy.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
	if live := must(s.Sessions.FindSessions(ctx, res.OrganizationID, u.ID))(t); len(live) != 0 {
		t.Fatalf("got %d live sessions, want none", len(live))
	}

	// The sweep removes both, as housekeeping, and keeps a live one.
	live := newSession(t, s, u)
	before := takeSnapshot(t, s, res.OrganizationID)
	if n := must(s.Sessions.DeleteExpiredSessions(ctx))(t); n != 2 {
		t.Fatalf("swept %d sessions, want 2", n)
	}
	unchanged(t, s, res.OrganizationID, before)
	must3(s.Sessions.AuthenticateSession(ctx, live.Token))(t)
}

func testSessionRevoke(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	u := signInUser(t, s, acme.OrganizationID, "ann", nil)
	other := signInUser(t, s, globex.OrganizationID, "ann", nil)
	ctx := userCtx(u.ID, acme.OrganizationID, "r-revoke")
	a, b, c := newSession(t, s, u), newSession(t, s, u), newSession(t, s, u)
	foreign := newSession(t, s, other)

	list := must(s.Sessions.FindSessions(ctx, acme.OrganizationID, u.ID))(t)
	if len(list) != 3 || list[0].ID != c.Session.ID {
		t.Fatalf("got %+v", list)
	}
	// Another organization's session, or another user's, is not found.
	if list := must(s.Sessions.FindSessions(ctx, globex.OrganizationID, u.ID))(t); len(list) != 0 {
		t.Fatalf("got %d sessions of a user of another organization", len(list))
	}
	before := takeSnapshot(t, s, acme.OrganizationID)
	_, err := s.Sessions.RevokeSession(ctx, acme.OrganizationID, u.ID, foreign.Session.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeSessionNotFound)
	_, err = s.Sessions.RevokeSession(ctx, globex.OrganizationID, other.ID, a.Session.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeSessionNotFound)
	wantCode(t, s.Sessions.SignOut(ctx, acme.OrganizationID, foreign.Session.ID), castellan.ENOTFOUND, castellan.CodeSessionNotFound)
	unchanged(t, s, acme.OrganizationID, before)

	must(s.Sessions.RevokeSession(ctx, acme.OrganizationID, u.ID, b.Session.ID))(t)
	must(s.Sessions.RevokeOtherSessions(ctx, acme.OrganizationID, u.ID, a.Session.ID))(t)
	for _, gone := range []*castellan.NewSession{b, c} {
		_, _, err := s.Sessions.AuthenticateSession(ctx, gone.Token)
		wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
	}
	must3(s.Sessions.AuthenticateSession(ctx, a.Token))(t)
	must3(s.Sessions.AuthenticateSession(ctx, foreign.Token))(t)
	before = takeSnapshot(t, s, acme.OrganizationID)
	must(s.Sessions.RevokeOtherSessions(ctx, acme.OrganizationID, u.ID, a.Session.ID))(t)
	unchanged(t, s, acme.OrganizationID, before)

	must(0, s.Sessions.SignOut(ctx, acme.OrganizationID, a.Session.ID))(t)
	_, _, err = s.Sessions.AuthenticateSession(ctx, a.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
	if n := len(listed(s.Audit.FindAuditEvents(ctx, acme.OrganizationID, castellan.AuditFilter{Action: ptr("iam:SignOut")}))(t)); n != 1 {
		t.Fatalf("got %d sign-out events, want 1", n)
	}
}

func testSessionChangePassword(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	u := signInUser(t, s, res.OrganizationID, "ann", func(r *castellan.UserRegistration) { r.PasswordResetRequired = true })
	ctx := browserCtx("192.0.2.10")
	policy := castellan.DefaultSignInPolicy
	other := newSession(t, s, u)
	current := must(s.Sessions.CreateSession(ctx, res.OrganizationID, u.ID, castellan.SessionPasswordChange, "", policy))(t)
	const next = "Better-Horse-8-staple"

	before := takeSnapshot(t, s, res.OrganizationID)
	for _, c := range []struct {
		password string
		code     string
	}{{"short", castellan.CodeUnsafePassword}, {signInPassword, castellan.CodeSamePassword}} {
		err := s.Sessions.ChangePassword(ctx, res.OrganizationID, u.ID, current.Session.ID, "", c.password, false, policy)
		wantCode(t, err, castellan.EINVALID, c.code)
	}
	unchanged(t, s, res.OrganizationID, before)
	err := s.Sessions.ChangePassword(ctx, res.OrganizationID, u.ID, current.Session.ID, "Wrong-Horse-7-battery", next, true, policy)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeWrongPassword)

	must(0, s.Sessions.ChangePassword(ctx, res.OrganizationID, u.ID, current.Session.ID, "", next, false, policy))(t)
	sess, user := must3(s.Sessions.AuthenticateSession(ctx, current.Token))(t)
	if sess.State != castellan.SessionComplete || user.PasswordResetRequired || user.LastLoginAt == nil {
		t.Fatalf("got %+v, %+v", sess, user)
	}
	_, _, err = s.Sessions.AuthenticateSession(ctx, other.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
	_, err = s.Sessions.VerifySignIn(ctx, signIn("Acme", u.LoginID, signInPassword))
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	must(s.Sessions.VerifySignIn(ctx, signIn("Acme", u.LoginID, next)))(t)
	if n := len(listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:ChangePassword")}))(t)); n != 1 {
		t.Fatalf("got %d password change events, want 1", n)
	}
}

func testSessionUserGone(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	ctx := operatorCtx("r-gone")
	disabled := signInUser(t, s, res.OrganizationID, "ann", nil)
	deleted := signInUser(t, s, res.OrganizationID, "bob", nil)
	a, b := newSession(t, s, disabled), newSession(t, s, deleted)
	must(s.Users.UpdateUser(ctx, res.OrganizationID, disabled.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	must(s.Users.DeleteUser(ctx, res.OrganizationID, deleted.ID, deleted.LoginID))(t)
	for _, gone := range []*castellan.NewSession{a, b} {
		_, _, err := s.Sessions.AuthenticateSession(ctx, gone.Token)
		wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
	}
	// Revoked, not only refused: enabling the user again brings nothing
	// back.
	must(s.Users.UpdateUser(ctx, res.OrganizationID, disabled.ID, castellan.UserUpdate{Status: ptr(castellan.UserActive)}))(t)
	_, _, err := s.Sessions.AuthenticateSession(ctx, a.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
}

// must3 is must for results of two values.
func must3[A, B any](a A, b B, err error) func(tb testing.TB) (A, B) {
	return func(tb testing.TB) (A, B) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return a, b
	}
}
