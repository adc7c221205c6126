package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestAccessKeySecretsHashed reads the tables: neither a key's secret nor
// a token issued for it is stored, nor written to the audit log; their
// SHA-256 is.
func TestAccessKeySecretsHashed(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := sqltest.MustOpen(t, b.URL(t), nil)
			k, token, orgID := keyWithToken(t, db)
			for _, c := range []struct {
				name, query string
				args        []any
				want        int
			}{
				{"KeyHash", `SELECT COUNT(*) FROM access_keys WHERE id = ? AND secret_hash = ?`, []any{k.ID, sqlstore.HashToken(k.Secret)}, 1},
				{"KeyPlain", `SELECT COUNT(*) FROM access_keys WHERE secret_hash LIKE ? OR name LIKE ?`, []any{"%" + k.Secret + "%", "%" + k.Secret + "%"}, 0},
				{"TokenHash", `SELECT COUNT(*) FROM access_key_tokens WHERE key_id = ? AND token_hash = ?`, []any{k.ID, sqlstore.HashToken(token)}, 1},
				{"TokenPlain", `SELECT COUNT(*) FROM access_key_tokens WHERE token_hash LIKE ?`, []any{"%" + token[4:] + "%"}, 0},
				{"Audit", `SELECT COUNT(*) FROM audit_events WHERE org_id = ? AND (CAST(summary AS TEXT) LIKE ? OR CAST(summary AS TEXT) LIKE ?)`,
					[]any{orgID, "%" + k.Secret + "%", "%" + token[4:] + "%"}, 0},
			} {
				n, err := db.Count(ctx, c.query, c.args...)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if n != c.want {
					t.Errorf("%s: got %d rows, want %d", c.name, n, c.want)
				}
			}
		})
	}
}

func keyWithToken(t *testing.T, db *sqlstore.DB) (*castellan.NewAccessKey, string, string) {
	t.Helper()
	ctx := context.Background()
	s := db.Services()
	res, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Projects.CreateProject(ctx, res.OrganizationID, castellan.ProjectCreate{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.AccessKeys.CreateAccessKey(ctx, res.OrganizationID, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: res.OwnerUserID}, ProjectID: p.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Tokens.Authenticate(ctx, tok.Token)
	if err != nil || got.ID != res.OwnerUserID || got.Type != castellan.PrincipalUser {
		t.Fatalf("Authenticate: got %+v, %v", got, err)
	}
	return k, tok.Token, res.OrganizationID
}

// TestAccessKeyLimitConcurrent makes 20 creates at once for an owner with
// one key: exactly one succeeds.
func TestAccessKeyLimitConcurrent(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := sqltest.MustOpen(t, b.URL(t), nil)
			k, _, orgID := keyWithToken(t, db)
			errs := make([]error, 20)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = db.Services().AccessKeys.CreateAccessKey(ctx, orgID, castellan.AccessKeyCreate{Owner: k.Owner, ProjectID: k.ProjectID, Name: "more"})
				})
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch code := castellan.ErrorCode(err); {
				case err == nil:
					ok++
				case code != castellan.CodeAccessKeyLimitReached:
					t.Fatalf("create %d: got %v", i, err)
				}
			}
			if ok != 1 {
				t.Fatalf("got %d created, want 1", ok)
			}
		})
	}
}

// BenchmarkAuthenticateKeyToken measures the check of a token issued for
// an access key: one indexed read joining the key, its owner and project.
func BenchmarkAuthenticateKeyToken(b *testing.B) {
	ctx := context.Background()
	db := sqltest.MustOpen(b, sqltest.SQLiteURL(b), nil)
	s := db.Services()
	res, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := s.Projects.CreateProject(ctx, res.OrganizationID, castellan.ProjectCreate{Name: "web"})
	if err != nil {
		b.Fatal(err)
	}
	k, err := s.AccessKeys.CreateAccessKey(ctx, res.OrganizationID, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: res.OwnerUserID}, ProjectID: p.ID, Name: "ci"})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Tokens.Authenticate(ctx, tok.Token); err != nil {
			b.Fatal(err)
		}
	}
}
