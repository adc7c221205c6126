package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestMFAStorage reads the tables: recovery codes are stored as hashes
// only; the TOTP secret is stored as it is, since checking a code needs
// it; deleting the user removes both.
func TestMFAStorage(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := storetest.NewClock()
			db := sqltest.MustOpen(t, b.URL(t), clock.Now)
			s := db.Services()
			res, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
			if err != nil {
				t.Fatal(err)
			}
			org := res.OrganizationID
			u, err := s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: "ann@acme.example"})
			if err != nil {
				t.Fatal(err)
			}
			setup, err := s.MFA.BeginTOTP(ctx, org, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			codes, err := s.MFA.ConfirmTOTP(ctx, org, u.ID, storetest.TOTPCode(t, setup.Secret, clock.Now()), "")
			if err != nil {
				t.Fatal(err)
			}
			count := func(name, query string, want int, args ...any) {
				t.Helper()
				n, err := db.Count(ctx, query, args...)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if n != want {
					t.Errorf("%s: got %d rows, want %d", name, n, want)
				}
			}
			count("Secret", `SELECT COUNT(*) FROM user_totp WHERE user_id = ? AND secret = ? AND pending_secret IS NULL`, 1, u.ID, setup.Secret)
			count("CodeHashes", `SELECT COUNT(*) FROM user_recovery_codes WHERE user_id = ? AND LENGTH(code_hash) = 64`, castellan.RecoveryCodeCount, u.ID)
			for _, c := range codes {
				plain := strings.ReplaceAll(c, "-", "")
				count("CodePlain", `SELECT COUNT(*) FROM user_recovery_codes WHERE code_hash LIKE ? OR code_hash LIKE ?`, 0, "%"+c+"%", "%"+plain+"%")
			}

			if _, err := s.Users.DeleteUser(ctx, org, u.ID, u.LoginID); err != nil {
				t.Fatal(err)
			}
			count("SecretAfterDelete", `SELECT COUNT(*) FROM user_totp WHERE user_id = ?`, 0, u.ID)
			count("CodesAfterDelete", `SELECT COUNT(*) FROM user_recovery_codes WHERE user_id = ?`, 0, u.ID)
		})
	}
}
