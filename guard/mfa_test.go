package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
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
	codes, err := f.raw.MFA.ConfirmTOTP(system, f.org, user, code(f.t, setup.Secret))
	if err != nil {
		f.t.Fatal(err)
	}
	return codes
}

func init() {
	self := []string{noRole, operator}
	rowSets = append(rowSets, []row{
		// A user enrols its own second factor.
		{op: "MFA.BeginTOTP", allowed: self, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.MFA.BeginTOTP(ctx, f.org, f.selfTarget(ctx))
			return err
		}},
		{op: "MFA.PendingTOTP", allowed: self, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			user := f.selfTarget(ctx)
			if _, err := f.raw.MFA.BeginTOTP(system, f.org, user); err != nil {
				f.t.Fatal(err)
			}
			_, err := s.MFA.PendingTOTP(ctx, f.org, user)
			return err
		}},
		{op: "MFA.ConfirmTOTP", allowed: self, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			user := f.selfTarget(ctx)
			setup, err := f.raw.MFA.BeginTOTP(system, f.org, user)
			if err != nil {
				f.t.Fatal(err)
			}
			_, err = s.MFA.ConfirmTOTP(ctx, f.org, user, code(f.t, setup.Secret))
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
