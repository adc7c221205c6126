package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// BenchmarkVerifySignIn times the answers an attacker compares, with the
// production argon2id parameters: a login that names nobody, a wrong
// password, a locked account, and, for scale, a right password. Each of
// the three failures runs one verify and writes one audited failure, so
// their times should differ by little next to the hash.
func BenchmarkVerifySignIn(b *testing.B) {
	for _, be := range sqltest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			db := sqltest.MustOpen(b, be.URL(b), nil)
			s := db.Services()
			boot, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
			if err != nil {
				b.Fatal(err)
			}
			const password = "Correct-Horse-7-battery"
			for _, login := range []string{"ann", "cid"} {
				if _, err := s.Users.RegisterUser(ctx, boot.OrganizationID, castellan.UserRegistration{LoginID: login, Email: login + "@acme.example",
					Name: login, Mode: castellan.ModePassword, Password: password, ConsoleAccess: true}); err != nil {
					b.Fatal(err)
				}
			}
			// ann never locks, cid is locked for the whole run.
			never := castellan.DefaultSignInPolicy
			never.MaxFailures = 1 << 30
			lockAtOnce := castellan.DefaultSignInPolicy
			lockAtOnce.MaxFailures, lockAtOnce.LockoutPeriod = 1, 24*time.Hour
			if _, err := s.Sessions.VerifySignIn(ctx, castellan.SignIn{Organization: "Acme", Login: "cid", Password: "wrong", Policy: lockAtOnce}); castellan.ErrorCode(err) != castellan.CodeSignInFailed {
				b.Fatalf("locking cid: got %v", err)
			}
			for _, c := range []struct {
				name, login, password string
				policy                castellan.SignInPolicy
				wantCode              string
			}{
				{"UnknownUser", "nobody", password, never, castellan.CodeSignInFailed},
				{"WrongPassword", "ann", "Wrong-Horse-7-battery", never, castellan.CodeSignInFailed},
				{"Locked", "cid", password, lockAtOnce, castellan.CodeSignInFailed},
				{"RightPassword", "ann", password, never, ""},
			} {
				b.Run(c.name, func(b *testing.B) {
					in := castellan.SignIn{Organization: "Acme", Login: c.login, Password: c.password, Policy: c.policy}
					for b.Loop() {
						if _, err := s.Sessions.VerifySignIn(ctx, in); castellan.ErrorCode(err) != c.wantCode {
							b.Fatalf("got %v, want %q", err, c.wantCode)
						}
					}
				})
			}
		})
	}
}
