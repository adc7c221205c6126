package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestNoSecretAtRest creates one of every credential Castellan hands out
// — a bootstrap token, a password, an access key secret and the token it
// exchanges for, a console session's cookie secret and MFA recovery codes
// — and reads every column of every table: none of them is there. (The
// TOTP secret is, by necessity: codes are computed from it.)
func TestNoSecretAtRest(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := sqltest.MustOpen(t, b.URL(t), nil)
			s := db.Services()
			key, token, orgID := keyWithToken(t, db)
			boot, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example"})
			if err != nil {
				t.Fatal(err)
			}
			const password = "Unguessable-Horse-42-staple"
			reg, err := s.Users.RegisterUser(ctx, orgID, castellan.UserRegistration{LoginID: "ann", Email: "ann@acme.example", Name: "Ann",
				Mode: castellan.ModePassword, Password: password, ConsoleAccess: true})
			if err != nil {
				t.Fatal(err)
			}
			session, err := s.Sessions.CreateSession(ctx, orgID, reg.User.ID, castellan.SessionComplete, "test", castellan.DefaultSignInPolicy)
			if err != nil {
				t.Fatal(err)
			}
			setup, err := s.MFA.BeginTOTP(ctx, orgID, reg.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			recovery, err := s.MFA.ConfirmTOTP(ctx, orgID, reg.User.ID, storetest.TOTPCode(t, setup.Secret, time.Now()))
			if err != nil {
				t.Fatal(err)
			}

			secrets := map[string]string{
				"bootstrap token": boot.Token, "password": password, "access key secret": key.Secret,
				"key token": token, "session secret": session.Token,
			}
			for i, c := range recovery {
				secrets["recovery code "+string(rune('a'+i))] = c
			}
			for name, secret := range secrets {
				tables, err := db.TablesHolding(ctx, secret)
				if err != nil {
					t.Fatal(err)
				}
				if len(tables) > 0 {
					t.Errorf("the %s is stored in %v", name, tables)
				}
			}
			// The scan does find what is there.
			if tables, err := db.TablesHolding(ctx, setup.Secret); err != nil || len(tables) != 1 {
				t.Fatalf("the TOTP secret: got %v, %v; want one table", tables, err)
			}
		})
	}
}
