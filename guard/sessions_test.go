package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// newSession starts a session of user in state, as the store would after
// a sign-in.
func (f *fixture) newSession(user string, state castellan.SessionState) *castellan.NewSession {
	ns, err := f.raw.Sessions.CreateSession(system, f.org, user, state, "test", castellan.DefaultSignInPolicy)
	if err != nil {
		f.t.Fatal(err)
	}
	return ns
}

func init() {
	operatorOnly := []string{operator}
	self := []string{noRole, operator}
	sessionReaders := []string{owner, admin, reader, userAdmin, operator}
	sessionManagers := []string{owner, admin, userAdmin, operator}
	rowSets = append(rowSets, []row{
		// Signing in, checking a cookie and the sign-in form's key
		// authenticate by their own secret.
		{op: "Sessions.VerifySignIn", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			u := f.newSignInUser()
			_, err := s.Sessions.VerifySignIn(ctx, castellan.SignIn{Organization: f.org, Login: u.LoginID, Password: testPassword, Policy: castellan.DefaultSignInPolicy})
			return err
		}},
		{op: "Sessions.AuthenticateSession", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			ns := f.newSession(f.newSignInUser().ID, castellan.SessionComplete)
			_, _, err := s.Sessions.AuthenticateSession(ctx, ns.Token)
			return err
		}},
		{op: "Sessions.SignInKey", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.SignInKey(ctx)
			return err
		}},
		// A user starts its own session once its password is verified in
		// the same request, never from a token (see
		// TestSessionStartsOnlyAfterPassword).
		{op: "Sessions.CreateSession", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.CreateSession(ctx, f.org, f.selfTarget(ctx), castellan.SessionComplete, "test", castellan.DefaultSignInPolicy)
			return err
		}},
		{op: "Sessions.CreateSession", variant: "password verified", allowed: self, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			ctx = passwordVerified(ctx)
			_, err := s.Sessions.CreateSession(ctx, f.org, f.selfTarget(ctx), castellan.SessionComplete, "test", castellan.DefaultSignInPolicy)
			return err
		}},
		{op: "Sessions.RecordMFAFailure", allowed: self, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.RecordMFAFailure(ctx, f.org, f.selfTarget(ctx), castellan.DefaultSignInPolicy)
			return err
		}},
		// Only from the user's own complete session (see
		// TestRevokeOthersFromCompleteSession).
		{op: "Sessions.RevokeOtherSessions", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.RevokeOtherSessions(ctx, f.org, f.selfTarget(ctx), "")
			return err
		}},
		// Only the session's own user, from that session, advances it,
		// ends it or changes its password in it: the matrix's principals
		// come from tokens, not sessions (see TestOwnSession).
		{op: "Sessions.AdvanceSession", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			ns := f.newSession(f.newSignInUser().ID, castellan.SessionMFAPending)
			return s.Sessions.AdvanceSession(ctx, f.org, ns.Session.ID, castellan.SessionComplete)
		}},
		{op: "Sessions.SignOut", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			ns := f.newSession(f.newSignInUser().ID, castellan.SessionComplete)
			return s.Sessions.SignOut(ctx, f.org, ns.Session.ID)
		}},
		{op: "Sessions.ChangePassword", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			u := f.newSignInUser()
			ns := f.newSession(u.ID, castellan.SessionComplete)
			return s.Sessions.ChangePassword(ctx, f.org, u.ID, ns.Session.ID, testPassword, "Other-Horse-8-battery", true, castellan.DefaultSignInPolicy)
		}},
		{op: "Sessions.FindSessions", allowed: sessionReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.FindSessions(ctx, f.org, f.newUser())
			return err
		}},
		{op: "Sessions.FindSessions", variant: "own", allowed: append([]string{noRole}, sessionReaders...), call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.FindSessions(ctx, f.org, f.ids[noRole])
			return err
		}},
		{op: "Sessions.RevokeSession", allowed: sessionManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			u := f.newSignInUser()
			_, err := s.Sessions.RevokeSession(ctx, f.org, u.ID, f.newSession(u.ID, castellan.SessionComplete).Session.ID)
			return err
		}},
		{op: "Sessions.RevokeSession", variant: "own", allowed: append([]string{noRole}, sessionManagers...), call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.RevokeSession(ctx, f.org, f.ids[noRole], f.newSession(f.ids[noRole], castellan.SessionComplete).Session.ID)
			return err
		}},
		{op: "Sessions.DeleteExpiredSessions", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.DeleteExpiredSessions(ctx)
			return err
		}},
	})
}

// TestOwnSession: the user of a session advances it, changes its
// password and ends it from that session; another session of the same
// user, a token of the user and another user may not. A password change
// without the current password is for a session at the forced change
// only.
func TestOwnSession(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			u := f.newSignInUser()
			in := func(session string) context.Context {
				return castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: f.org, SessionID: session})
			}
			pending := f.newSession(u.ID, castellan.SessionMFAPending).Session.ID
			complete := f.newSession(u.ID, castellan.SessionComplete).Session.ID
			token := in("")
			asOwner := castellan.WithPrincipal(system, principals[owner])
			for _, ctx := range []context.Context{in(complete), token, asOwner} {
				if err := s.Sessions.AdvanceSession(ctx, f.org, pending, castellan.SessionComplete); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
					t.Errorf("advance from elsewhere: got %v, want forbidden", err)
				}
			}
			if err := s.Sessions.ChangePassword(in(complete), f.org, u.ID, complete, "", "Other-Horse-8-battery", false, castellan.DefaultSignInPolicy); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("change without the current password from a complete session: got %v, want forbidden", err)
			}
			for _, ctx := range []context.Context{in(pending), token, asOwner} {
				if err := s.Sessions.SignOut(ctx, f.org, complete); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
					t.Errorf("sign-out from elsewhere: got %v, want forbidden", err)
				}
			}
			if err := s.Sessions.SignOut(in(complete), f.org, complete); err != nil {
				t.Fatalf("sign out: %v", err)
			}
			if err := s.Sessions.ChangePassword(in(pending), f.org, u.ID, pending, "", "Other-Horse-8-battery", false, castellan.DefaultSignInPolicy); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("change without the current password at the second factor: got %v, want forbidden", err)
			}
			forced := f.newSession(u.ID, castellan.SessionPasswordChange).Session.ID
			if err := s.Sessions.ChangePassword(in(forced), f.org, u.ID, forced, "", "Other-Horse-8-battery", false, castellan.DefaultSignInPolicy); err != nil {
				t.Fatalf("forced change: %v", err)
			}
		})
	}
}

// TestRevokeSessionHierarchy: revoking another user's session needs every
// role that user holds; the session lives on.
func TestRevokeSessionHierarchy(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			target := f.newSignInUser().ID
			f.grant("organization.admin", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectUser, ID: target})
			ns := f.newSession(target, castellan.SessionComplete)
			_, err := s.Sessions.RevokeSession(castellan.WithPrincipal(system, principals[userAdmin]), f.org, target, ns.Session.ID)
			wantHierarchyRefusal(t, "revoke", err, "userId")
			if _, _, err := f.raw.Sessions.AuthenticateSession(system, ns.Token); err != nil {
				t.Fatalf("the session ended: %v", err)
			}
		})
	}
}

// TestOwnOrganizationInConsole: a user signed in to the console reads its
// own organization without any role (the console shows its name); the
// same user's token, and its session for another organization, may not.
func TestOwnOrganizationInConsole(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			user := principals[noRole]
			token := castellan.WithPrincipal(system, user)
			user.SessionID = f.newSession(user.ID, castellan.SessionComplete).Session.ID
			session := castellan.WithPrincipal(system, user)
			if org, err := s.Organizations.FindOrganizationByID(session, f.org); err != nil || org.ID != f.org {
				t.Fatalf("from the console: got %v, %v", org, err)
			}
			if _, err := s.Organizations.FindOrganizationByID(token, f.org); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("with a token: got %v, want forbidden", err)
			}
			other := principals[otherOwner].OrganizationID
			if _, err := s.Organizations.FindOrganizationByID(session, other); castellan.ErrorCode(err) != castellan.CodeOrgNotFound {
				t.Errorf("another organization: got %v, want %s", err, castellan.CodeOrgNotFound)
			}
		})
	}
}

// passwordVerified marks the user principal of ctx as the console marks it
// once VerifySignIn accepted the password.
func passwordVerified(ctx context.Context) context.Context {
	p, _ := castellan.PrincipalFrom(ctx)
	if p.Type != castellan.PrincipalUser {
		return ctx
	}
	p.PasswordVerified = true
	return castellan.WithPrincipal(ctx, p)
}

// TestSessionStartsOnlyAfterPassword checks that a console session starts
// only for the user whose password the console has just verified: not
// from an API token, an access key's token or another session of the
// user, which would turn a leaked key into a console sign-in without
// password or second factor.
func TestSessionStartsOnlyAfterPassword(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			u, other := f.newSignInUser(), f.newSignInUser()
			f.grant("project.reader", "project/"+f.project, castellan.Subject{Type: castellan.SubjectUser, ID: u.ID})
			key := f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: u.ID})
			session := f.newSession(u.ID, castellan.SessionComplete)
			self := castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: f.org}
			withKey, withSession, verified, verifiedOther := self, self, self, self
			withKey.KeyID, withKey.ProjectID, withKey.PasswordVerified = key.ID, f.project, true
			withSession.SessionID, withSession.PasswordVerified = session.Session.ID, true
			verified.PasswordVerified = true
			verifiedOther.ID, verifiedOther.PasswordVerified = other.ID, true
			for _, tc := range []struct {
				name    string
				caller  castellan.Principal
				refused bool
			}{
				{"API token", self, true},
				{"access key token", withKey, true},
				{"another session", withSession, true},
				{"another user's verified password", verifiedOther, true},
				{"verified password", verified, false},
			} {
				before := len(f.sessionsOf(u.ID))
				_, err := s.Sessions.CreateSession(castellan.WithPrincipal(system, tc.caller), f.org, u.ID, castellan.SessionComplete, "test", castellan.DefaultSignInPolicy)
				after := len(f.sessionsOf(u.ID))
				if tc.refused && (castellan.ErrorKind(err) != castellan.EFORBIDDEN || after != before) {
					t.Errorf("%s: got %v and %d → %d sessions, want forbidden and none started", tc.name, err, before, after)
				}
				if !tc.refused && (err != nil || after != before+1) {
					t.Errorf("%s: got %v and %d → %d sessions, want one started", tc.name, err, before, after)
				}
			}
		})
	}
}

// sessionsOf lists the user's live sessions from the store.
func (f *fixture) sessionsOf(user string) []*castellan.Session {
	list, err := f.raw.Sessions.FindSessions(system, f.org, user)
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

// TestSessionStepsForward checks that a session's own user moves it only
// towards complete, never back to an earlier step, and never past its
// second factor by asking (TestSecondFactorPassesTheStep).
func TestSessionStepsForward(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			u := f.newSignInUser()
			for _, tc := range []struct {
				from, to castellan.SessionState
				ok       bool
			}{
				{castellan.SessionMFAPending, castellan.SessionPasswordChange, false},
				{castellan.SessionMFAPending, castellan.SessionComplete, false},
				{castellan.SessionPasswordChange, castellan.SessionComplete, true},
				{castellan.SessionComplete, castellan.SessionComplete, true},
				{castellan.SessionComplete, castellan.SessionPasswordChange, false},
				{castellan.SessionComplete, castellan.SessionMFAPending, false},
				{castellan.SessionPasswordChange, castellan.SessionMFAPending, false},
			} {
				id := f.newSession(u.ID, tc.from).Session.ID
				ctx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: f.org, SessionID: id})
				err := s.Sessions.AdvanceSession(ctx, f.org, id, tc.to)
				want := tc.from
				if tc.ok {
					want = tc.to
				}
				if got := f.stateOf(u.ID, id); (err == nil) != tc.ok || got != want {
					t.Errorf("%s → %s: got %v, state %s; want ok=%v, state %s", tc.from, tc.to, err, got, tc.ok, want)
				}
			}
		})
	}
}

// stateOf returns the state of one of the user's sessions.
func (f *fixture) stateOf(user, id string) castellan.SessionState {
	for _, sess := range f.sessionsOf(user) {
		if sess.ID == id {
			return sess.State
		}
	}
	f.t.Fatalf("session %s not found", id)
	return ""
}

// TestRevokeOthersFromCompleteSession checks that only a complete session
// of the user signs its other sessions out: one still at its second
// factor (a stolen password) must not end the real user's sessions.
func TestRevokeOthersFromCompleteSession(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			u := f.newSignInUser()
			victim := f.newSession(u.ID, castellan.SessionComplete)
			pending := f.newSession(u.ID, castellan.SessionMFAPending).Session.ID
			complete := f.newSession(u.ID, castellan.SessionComplete).Session.ID
			as := func(session string) context.Context {
				return castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: f.org, SessionID: session})
			}
			if _, err := s.Sessions.RevokeOtherSessions(as(pending), f.org, u.ID, pending); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Fatalf("from a session at its second factor: got %v, want forbidden", err)
			}
			if _, err := s.Sessions.RevokeOtherSessions(as(complete), f.org, u.ID, pending); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Fatalf("keeping another session than the caller's: got %v, want forbidden", err)
			}
			if n := len(f.sessionsOf(u.ID)); n != 3 {
				t.Fatalf("refused calls left %d sessions, want 3", n)
			}
			if _, err := s.Sessions.RevokeOtherSessions(as(complete), f.org, u.ID, complete); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Sessions.AuthenticateSession(system, victim.Token); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
				t.Fatalf("the other session still authenticates: %v", err)
			}
			if list := f.sessionsOf(u.ID); len(list) != 1 || list[0].ID != complete {
				t.Fatalf("got %d sessions left, want the caller's only", len(list))
			}
		})
	}
}
