package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// code is the TOTP code of secret at the fixture's clock, which
// newFixture's clock keeps stopped.
func code(t testing.TB, secret string) string {
	return storetest.TOTPCode(t, secret, storetest.NewClock().Now())
}

// enrol gives user a confirmed TOTP factor and returns its recovery codes.
func (f *fixture) enrol(user string) []string {
	setup, err := f.raw.MFA.BeginTOTP(system, f.org, user)
	if err != nil {
		f.t.Fatal(err)
	}
	codes, err := f.raw.MFA.ConfirmTOTP(system, f.org, user, code(f.t, setup.Secret), "")
	if err != nil {
		f.t.Fatal(err)
	}
	return codes
}

func init() {
	self := []string{noRole, operator}
	operatorOnly := []string{operator}
	rowSets = append(rowSets, []row{
		// A user enrols its own second factor from its own console
		// session, never from a token (see TestEnrolFromOwnSession).
		{op: "MFA.BeginTOTP", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.MFA.BeginTOTP(ctx, f.org, f.selfTarget(ctx))
			return err
		}},
		{op: "MFA.BeginTOTP", variant: "own session", allowed: self, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			ctx = f.inOwnSession(ctx)
			_, err := s.MFA.BeginTOTP(ctx, f.org, f.selfTarget(ctx))
			return err
		}},
		{op: "MFA.PendingTOTP", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			user := f.selfTarget(ctx)
			if _, err := f.raw.MFA.BeginTOTP(system, f.org, user); err != nil {
				f.t.Fatal(err)
			}
			_, err := s.MFA.PendingTOTP(ctx, f.org, user)
			return err
		}},
		{op: "MFA.ConfirmTOTP", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			user := f.selfTarget(ctx)
			setup, err := f.raw.MFA.BeginTOTP(system, f.org, user)
			if err != nil {
				f.t.Fatal(err)
			}
			_, err = s.MFA.ConfirmTOTP(ctx, f.org, user, code(f.t, setup.Secret), "")
			return err
		}},
		// The second step of a sign-in, from the session itself (see
		// TestOwnSession for sessions).
		{op: "MFA.VerifyMFA", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			u := f.newSignInUser()
			recovery := f.enrol(u.ID)
			ns := f.newSession(u.ID, castellan.SessionMFAPending)
			return s.MFA.VerifyMFA(ctx, f.org, u.ID, ns.Session.ID, recovery[0], castellan.DefaultSignInPolicy)
		}},
		{op: "MFA.MFAStatus", allowed: []string{owner, admin, reader, userAdmin, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.MFA.MFAStatus(ctx, f.org, f.newUser())
			return err
		}},
		{op: "MFA.MFAStatus", variant: "own", allowed: []string{owner, admin, reader, userAdmin, noRole, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.MFA.MFAStatus(ctx, f.org, f.ids[noRole])
			return err
		}},
		// No self rule: a user that lost its device asks an administrator.
		{op: "MFA.ResetMFA", allowed: []string{owner, admin, userAdmin, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			u := f.newUser()
			f.enrol(u)
			_, err := s.MFA.ResetMFA(ctx, f.org, u)
			return err
		}},
		{op: "MFA.ResetMFA", variant: "own", allowed: []string{owner, admin, userAdmin, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.MFA.ResetMFA(ctx, f.org, f.ids[noRole])
			return err
		}},
	})
}

// inOwnSession gives the user principal of ctx a complete console session
// of its own, as the console's pages have.
func (f *fixture) inOwnSession(ctx context.Context) context.Context {
	p, _ := castellan.PrincipalFrom(ctx)
	if p.Type != castellan.PrincipalUser || p.OrganizationID != f.org {
		return ctx
	}
	p.SessionID = f.newSession(p.ID, castellan.SessionComplete).Session.ID
	return castellan.WithPrincipal(ctx, p)
}

// TestEnrolFromOwnSession checks who may enrol a user's second factor: the
// user from its own complete session, or at the second-factor step of a
// sign-in while it has none yet; not an API token, and not a session that
// knows only the password of a user who has a factor, which would replace
// the factor and so pass the second step without it.
func TestEnrolFromOwnSession(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			enrolled, fresh := f.newSignInUser(), f.newSignInUser()
			f.enrol(enrolled.ID)
			as := func(u *castellan.User, state castellan.SessionState) context.Context {
				p := castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: f.org}
				if state != "" {
					p.SessionID = f.newSession(u.ID, state).Session.ID
				}
				return castellan.WithPrincipal(system, p)
			}
			for _, tc := range []struct {
				name    string
				ctx     context.Context
				user    *castellan.User
				refused bool
			}{
				{"API token", as(fresh, ""), fresh, true},
				{"password only, user with a factor", as(enrolled, castellan.SessionMFAPending), enrolled, true},
				{"at the password change", as(fresh, castellan.SessionPasswordChange), fresh, true},
				{"complete session", as(enrolled, castellan.SessionComplete), enrolled, false},
				{"first factor at the second step", as(fresh, castellan.SessionMFAPending), fresh, false},
			} {
				_, err := s.MFA.BeginTOTP(tc.ctx, f.org, tc.user.ID)
				if tc.refused != (castellan.ErrorKind(err) == castellan.EFORBIDDEN) || !tc.refused && err != nil {
					t.Errorf("%s: BeginTOTP got %v, want refused=%v", tc.name, err, tc.refused)
				}
			}
		})
	}
}

// TestSecondFactorPassesTheStep checks that a session leaves its second
// factor only through it: asking to advance is refused, a right code
// moves the session on (to the forced password change when the user has
// one), and a first enrolment at that step does too.
func TestSecondFactorPassesTheStep(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			u := f.newSignInUser()
			recovery := f.enrol(u.ID)
			pending := func(user string) (context.Context, string) {
				id := f.newSession(user, castellan.SessionMFAPending).Session.ID
				return castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: user, OrganizationID: f.org, SessionID: id}), id
			}

			ctx, id := pending(u.ID)
			if err := s.Sessions.AdvanceSession(ctx, f.org, id, castellan.SessionComplete); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Fatalf("advancing past the second factor by asking: got %v, want forbidden", err)
			}
			if err := s.MFA.VerifyMFA(ctx, f.org, u.ID, id, "000000", castellan.DefaultSignInPolicy); err == nil {
				t.Fatal("a wrong code passed")
			}
			if got := f.stateOf(u.ID, id); got != castellan.SessionMFAPending {
				t.Fatalf("after refusals the session is %s, want %s", got, castellan.SessionMFAPending)
			}
			if err := s.MFA.VerifyMFA(ctx, f.org, u.ID, id, recovery[0], castellan.DefaultSignInPolicy); err != nil {
				t.Fatal(err)
			}
			if got := f.stateOf(u.ID, id); got != castellan.SessionComplete {
				t.Fatalf("after the right code the session is %s, want %s", got, castellan.SessionComplete)
			}

			reset := true
			if _, err := f.raw.Users.UpdateUser(system, f.org, u.ID, castellan.UserUpdate{PasswordResetRequired: &reset}); err != nil {
				t.Fatal(err)
			}
			ctx, id = pending(u.ID)
			if err := s.MFA.VerifyMFA(ctx, f.org, u.ID, id, recovery[1], castellan.DefaultSignInPolicy); err != nil {
				t.Fatal(err)
			}
			if got := f.stateOf(u.ID, id); got != castellan.SessionPasswordChange {
				t.Fatalf("with a forced password change the session is %s, want %s", got, castellan.SessionPasswordChange)
			}

			fresh := f.newSignInUser()
			ctx, id = pending(fresh.ID)
			setup, err := s.MFA.BeginTOTP(ctx, f.org, fresh.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.MFA.ConfirmTOTP(ctx, f.org, fresh.ID, code(t, setup.Secret), ""); err != nil {
				t.Fatal(err)
			}
			if got := f.stateOf(fresh.ID, id); got != castellan.SessionComplete {
				t.Fatalf("after a first enrolment the session is %s, want %s", got, castellan.SessionComplete)
			}
		})
	}
}

// TestEnrolFromSignedInSessionNeedsPassword checks that a signed-in
// (complete) session confirms a new factor only with the user's
// password, so that a borrowed session cannot put its own factor and
// recovery codes on the account: without it or with a wrong one nothing
// is confirmed. The operator needs none.
func TestEnrolFromSignedInSessionNeedsPassword(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			u := f.newSignInUser()
			ctx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: f.org,
				SessionID: f.newSession(u.ID, castellan.SessionComplete).Session.ID})
			setup, err := s.MFA.BeginTOTP(ctx, f.org, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				password string
				kind     castellan.Kind
				code     string
			}{
				{"", castellan.EINVALID, castellan.CodeInvalidField},
				{testPassword + "x", castellan.EFORBIDDEN, castellan.CodeWrongPassword},
			} {
				_, err := s.MFA.ConfirmTOTP(ctx, f.org, u.ID, code(t, setup.Secret), tc.password)
				if castellan.ErrorKind(err) != tc.kind || castellan.ErrorCode(err) != tc.code {
					t.Fatalf("password %q: got %v, want %s %s", tc.password, err, tc.kind, tc.code)
				}
				if st, err := f.raw.MFA.MFAStatus(system, f.org, u.ID); err != nil || st.Enrolled {
					t.Fatalf("password %q: enrolled anyway (%+v, %v)", tc.password, st, err)
				}
			}
			if _, err := s.MFA.ConfirmTOTP(ctx, f.org, u.ID, code(t, setup.Secret), testPassword); err != nil {
				t.Fatal(err)
			}
			if st, err := f.raw.MFA.MFAStatus(system, f.org, u.ID); err != nil || !st.Enrolled {
				t.Fatalf("not enrolled with the password: %+v, %v", st, err)
			}

			// The operator confirms without one.
			operatorCtx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})
			other := f.newSignInUser()
			setup, err = s.MFA.BeginTOTP(operatorCtx, f.org, other.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.MFA.ConfirmTOTP(operatorCtx, f.org, other.ID, code(t, setup.Secret), ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}
