package sqlstore_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestNoSecretAtRest creates one of every credential Castellan hands out
// — a bootstrap token, a password, an access key secret and the token it
// exchanges for, a console session's cookie secret and MFA recovery codes
// — and reads every column of every table: none of them is there, though
// the access key's secret is also kept sealed, nor is the key-encryption
// key that seals it. (The
// TOTP secret is, by necessity: codes are computed from it.)
func TestNoSecretAtRest(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			keyFile, keyring := newKeyFile(t)
			db := sqltest.MustOpenWith(t, b.URL(t), sqlstore.Options{Sealer: keyring})
			s := db.Services()
			key, token, orgID := keyWithToken(t, db)
			// The key's secret is there, sealed: that is what must not show.
			if n, err := db.Count(ctx, `SELECT COUNT(*) FROM access_keys WHERE id = ? AND secret_sealed IS NOT NULL`, key.ID); err != nil || n != 1 {
				t.Fatalf("sealed access key secrets: got %d, %v; want 1", n, err)
			}
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
			recovery, err := s.MFA.ConfirmTOTP(ctx, orgID, reg.User.ID, storetest.TOTPCode(t, setup.Secret, time.Now()), "")
			if err != nil {
				t.Fatal(err)
			}

			// A federation's client secret is sealed, and opens for the
			// sign-in flow.
			const clientSecret = "federation-client-secret-9f3k2"
			fed, err := s.Federations.CreateFederation(ctx, orgID, castellan.FederationCreate{Name: "Entra", Issuer: "https://idp.example.com",
				ClientID: "castellan", ClientSecret: clientSecret})
			if err != nil || !fed.HasClientSecret {
				t.Fatalf("got %+v, %v", fed, err)
			}
			if fc, err := s.Sessions.FindSignInFederation(ctx, fed.ID); err != nil || fc.ClientSecret != clientSecret {
				t.Fatalf("the sign-in flow got %+v, %v", fc, err)
			}

			secrets := map[string]string{
				"bootstrap token": boot.Token, "password": password, "access key secret": key.Secret,
				"key token": token, "session secret": session.Token, "federation client secret": clientSecret,
			}
			kek, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Fields(string(kek))
			secrets["key-encryption key"] = lines[len(lines)-1]
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
