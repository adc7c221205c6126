package sqlstore_test

import (
	"context"
	"fmt"
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

// BenchmarkSignInFederated times the store's side of a single sign-on
// (the provider's round trips are not in it): finding a bound user by
// its subject among 1,000 federated users, with and without a group
// mapping to keep in step.
func BenchmarkSignInFederated(b *testing.B) {
	for _, be := range sqltest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			db := sqltest.MustOpen(b, be.URL(b), nil)
			s := db.Services()
			boot, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
			if err != nil {
				b.Fatal(err)
			}
			org := boot.OrganizationID
			g, err := s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "eng"})
			if err != nil {
				b.Fatal(err)
			}
			plain, err := s.Federations.CreateFederation(ctx, org, castellan.FederationCreate{Name: "plain", Issuer: "https://idp.example.com", ClientID: "c"})
			if err != nil {
				b.Fatal(err)
			}
			mapped, err := s.Federations.CreateFederation(ctx, org, castellan.FederationCreate{Name: "mapped", Issuer: "https://idp2.example.com", ClientID: "c",
				GroupMappings: []castellan.GroupMapping{{Claim: "eng", GroupID: g.ID}}})
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range []*castellan.Federation{plain, mapped} {
				regs := make([]castellan.UserRegistration, 0, 100)
				for i := range 500 {
					email := fmt.Sprintf("%s-%d@acme.example", f.Name, i)
					regs = append(regs, castellan.UserRegistration{LoginID: email, Email: email, AccountType: castellan.AccountFederated,
						FederationID: f.ID, ConsoleAccess: true})
					if len(regs) == 100 {
						if _, err := s.Users.RegisterUsers(ctx, org, regs); err != nil {
							b.Fatal(err)
						}
						regs = regs[:0]
					}
				}
			}
			for _, c := range []struct {
				name string
				f    *castellan.Federation
			}{{"Bound", plain}, {"BoundWithGroupMapping", mapped}} {
				b.Run(c.name, func(b *testing.B) {
					id := castellan.FederatedIdentity{FederationID: c.f.ID, Subject: "sub-7", Email: c.f.Name + "-7@acme.example", EmailVerified: true,
						Groups: []string{"eng"}, Policy: castellan.DefaultSignInPolicy}
					if _, err := s.Sessions.SignInFederated(ctx, id); err != nil { // binds
						b.Fatal(err)
					}
					for b.Loop() {
						if _, err := s.Sessions.SignInFederated(ctx, id); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
