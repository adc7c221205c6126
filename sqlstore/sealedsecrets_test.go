package sqlstore_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sealing"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// newKeyFile generates a key file in a temporary directory and returns
// its path and keyring.
func newKeyFile(t testing.TB) (string, *sealing.Keyring) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret-key")
	if _, err := sealing.GenerateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	return path, mustLoad(t, path)
}

func mustLoad(t testing.TB, path string) *sealing.Keyring {
	t.Helper()
	k, err := sealing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign is what a signing client computes, written here from the
// algorithm: base64(HMAC-SHA256(secret, message)).
func sign(secret string, message []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(message)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signFixture is an organization with a project, a user with API access
// and a service account, on a store with a sealer (db) and on the same
// database without one (legacy).
type signFixture struct {
	db, legacy   *sqlstore.DB
	clock        *storetest.Clock
	org, project string
	user         *castellan.User
	account      string
}

func newSignFixture(t testing.TB, url string, sealer castellan.SecretSealer) *signFixture {
	t.Helper()
	ctx := context.Background()
	f := &signFixture{clock: storetest.NewClock()}
	f.db = sqltest.MustOpenWith(t, url, sqlstore.Options{Clock: f.clock.Now, Sealer: sealer})
	f.legacy = sqltest.MustOpen(t, url, f.clock.Now)
	s := f.db.Services()
	boot, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	f.org = boot.OrganizationID
	p, err := s.Projects.CreateProject(ctx, f.org, castellan.ProjectCreate{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	f.project = p.ID
	if f.user, err = s.Users.CreateUser(ctx, f.org, castellan.UserCreate{Email: "dev@acme.example"}); err != nil {
		t.Fatal(err)
	}
	sa, err := s.ServiceAccounts.CreateServiceAccount(ctx, f.org, f.project, castellan.ServiceAccountCreate{Name: "deployer"})
	if err != nil {
		t.Fatal(err)
	}
	f.account = sa.ID
	return f
}

func (f *signFixture) key(t testing.TB, db *sqlstore.DB, owner castellan.Subject, expiresAt *time.Time) *castellan.NewAccessKey {
	t.Helper()
	k, err := db.Services().AccessKeys.CreateAccessKey(context.Background(), f.org, castellan.AccessKeyCreate{
		Owner: owner, ProjectID: f.project, Name: "ci", ExpiresAt: expiresAt})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *signFixture) userKey(t testing.TB) *castellan.NewAccessKey {
	t.Helper()
	return f.key(t, f.db, castellan.Subject{Type: castellan.SubjectUser, ID: f.user.ID}, nil)
}

func (f *signFixture) updateUser(t *testing.T, u castellan.UserUpdate) {
	t.Helper()
	if _, err := f.db.Services().Users.UpdateUser(context.Background(), f.org, f.user.ID, u); err != nil {
		t.Fatal(err)
	}
}

// verify verifies a signature of message by the key with secret, or
// wrongly when wrong is set.
func (f *signFixture) verify(ctx context.Context, keyID, secret string) (castellan.Principal, error) {
	message := []byte("POST /compat/ncloud/api/v1/sub-accounts\n1700000000000\n" + keyID)
	return f.db.Services().AccessKeys.VerifyAccessKeySignature(ctx, keyID, message, sign(secret, message))
}

// TestVerifyAccessKeySignature: a key created with a sealer signs for its
// owner bound to its project; every refusal is the same unauthenticated
// error, but a right signature from outside the owner's allow sources,
// which is forbidden; verifying writes nothing.
func TestVerifyAccessKeySignature(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, keyring := newKeyFile(t)
			f := newSignFixture(t, b.URL(t), keyring)
			s := f.db.Services()

			k := f.userKey(t)
			sealed, err := f.db.Count(ctx, `SELECT COUNT(*) FROM access_keys WHERE id = ? AND secret_sealed IS NOT NULL AND secret_kek_id = ?`,
				k.ID, keyring.CurrentKeyID())
			if err != nil || sealed != 1 {
				t.Fatalf("sealed secrets of the new key: got %d, %v; want 1", sealed, err)
			}
			got, err := f.verify(ctx, k.ID, k.Secret)
			want := castellan.Principal{Type: castellan.PrincipalUser, ID: f.user.ID, OrganizationID: f.org, KeyID: k.ID, ProjectID: f.project}
			if err != nil || got != want {
				t.Fatalf("user key: got %+v, %v; want %+v", got, err, want)
			}
			saKey := f.key(t, f.db, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: f.account}, nil)
			got, err = f.verify(ctx, saKey.ID, saKey.Secret)
			want = castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: f.account, OrganizationID: f.org, KeyID: saKey.ID, ProjectID: f.project}
			if err != nil || got != want {
				t.Fatalf("service account key: got %+v, %v; want %+v", got, err, want)
			}
			// A signed key still exchanges for tokens.
			if _, err := s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret); err != nil {
				t.Fatalf("exchange: %v", err)
			}

			_, refusal := f.verify(ctx, k.ID, "A"+k.Secret[1:]+"x")
			if castellan.ErrorKind(refusal) != castellan.EUNAUTHENTICATED || castellan.ErrorCode(refusal) != castellan.CodeUnauthenticated {
				t.Fatalf("wrong signature: got %v, want unauthenticated", refusal)
			}
			refused := func(t *testing.T, keyID, secret string) {
				t.Helper()
				before, err := f.db.Revision(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.verify(ctx, keyID, secret)
				if err == nil || err.Error() != refusal.Error() || castellan.ErrorCode(err) != castellan.ErrorCode(refusal) ||
					castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED || got != (castellan.Principal{}) {
					t.Fatalf("got %+v, %v; want %v", got, err, refusal)
				}
				if after, err := f.db.Revision(ctx); err != nil || after != before {
					t.Fatalf("revision: got %d, %v; want %d", after, err, before)
				}
			}
			t.Run("ErrWrongSignature", func(t *testing.T) {
				message := []byte("GET /a\n1\n" + k.ID)
				for _, sig := range []string{"", "not base64", sign(k.Secret, []byte("GET /b\n1\n"+k.ID)), sign(k.Secret+"x", message),
					base64.RawStdEncoding.EncodeToString([]byte(sign(k.Secret, message)))} {
					if _, err := s.AccessKeys.VerifyAccessKeySignature(ctx, k.ID, message, sig); err == nil || err.Error() != refusal.Error() {
						t.Fatalf("signature %q: got %v, want %v", sig, err, refusal)
					}
				}
			})
			t.Run("ErrUnknownKey", func(t *testing.T) {
				refused(t, "CAKAAAAAAAAAAAAAAAAAAAA", k.Secret)
				refused(t, "not-a-key", k.Secret)
			})
			t.Run("ErrLegacyKey", func(t *testing.T) {
				legacy := f.key(t, f.legacy, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: f.account}, nil)
				n, err := f.db.Count(ctx, `SELECT COUNT(*) FROM access_keys WHERE id = ? AND secret_sealed IS NULL AND secret_kek_id IS NULL`, legacy.ID)
				if err != nil || n != 1 {
					t.Fatalf("a key created without a sealer: got %d unsealed, %v; want 1", n, err)
				}
				refused(t, legacy.ID, legacy.Secret)
				// It exchanges as before.
				if _, err := s.AccessKeys.ExchangeAccessKey(ctx, legacy.ID, legacy.Secret); err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if _, err := s.AccessKeys.DeleteAccessKey(ctx, f.org, legacy.ID); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("ErrSwappedSeal", func(t *testing.T) {
				// Another key's sealed secret, copied onto this key's row, does not open there.
				if err := f.db.Exec(ctx, `UPDATE access_keys SET secret_sealed = (SELECT secret_sealed FROM access_keys WHERE id = ?) WHERE id = ?`,
					k.ID, saKey.ID); err != nil {
					t.Fatal(err)
				}
				refused(t, saKey.ID, k.Secret)
				refused(t, saKey.ID, saKey.Secret)
			})
			t.Run("ErrDisabledKey", func(t *testing.T) {
				other := f.userKey(t)
				disabled := castellan.AccessKeyDisabled
				if _, err := s.AccessKeys.UpdateAccessKey(ctx, f.org, other.ID, castellan.AccessKeyUpdate{Status: &disabled}); err != nil {
					t.Fatal(err)
				}
				refused(t, other.ID, other.Secret)
				if _, err := s.AccessKeys.DeleteAccessKey(ctx, f.org, other.ID); err != nil {
					t.Fatal(err)
				}
				t.Run("ErrDeletedKey", func(t *testing.T) { refused(t, other.ID, other.Secret) })
			})
			t.Run("ErrExpiredKey", func(t *testing.T) {
				soon := f.clock.Now().Add(time.Minute)
				expiring := f.key(t, f.db, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: f.account}, &soon)
				if _, err := f.verify(ctx, expiring.ID, expiring.Secret); err != nil {
					t.Fatalf("before expiry: %v", err)
				}
				f.clock.Advance(time.Minute)
				refused(t, expiring.ID, expiring.Secret)
			})
			t.Run("ErrForbiddenSource", func(t *testing.T) {
				sources := []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "203.0.113.0/24"}}
				f.updateUser(t, castellan.UserUpdate{UseAPIAllowSource: ptr(true), APIAllowSources: &sources})
				outside := castellan.WithRequestInfo(ctx, castellan.RequestInfo{SourceIP: "192.0.2.7"})
				_, err := f.verify(outside, k.ID, k.Secret)
				if castellan.ErrorKind(err) != castellan.EFORBIDDEN || castellan.ErrorCode(err) != castellan.CodeSourceNotAllowed {
					t.Fatalf("outside the sources: got %v, want source_not_allowed", err)
				}
				// A wrong signature from outside learns nothing of the sources.
				message := []byte("GET /\n1\n" + k.ID)
				if _, err := s.AccessKeys.VerifyAccessKeySignature(outside, k.ID, message, sign("wrong", message)); err == nil || err.Error() != refusal.Error() {
					t.Fatalf("wrong signature outside the sources: got %v, want %v", err, refusal)
				}
				inside := castellan.WithRequestInfo(ctx, castellan.RequestInfo{SourceIP: "203.0.113.7"})
				if _, err := f.verify(inside, k.ID, k.Secret); err != nil {
					t.Fatalf("inside the sources: %v", err)
				}
				f.updateUser(t, castellan.UserUpdate{UseAPIAllowSource: ptr(false)})
			})
			t.Run("ErrOwnerWithoutAPIAccess", func(t *testing.T) {
				f.updateUser(t, castellan.UserUpdate{APIAccess: ptr(false)})
				refused(t, k.ID, k.Secret)
				f.updateUser(t, castellan.UserUpdate{APIAccess: ptr(true)})
				if _, err := f.verify(ctx, k.ID, k.Secret); err != nil {
					t.Fatalf("API access back: %v", err)
				}
			})
			t.Run("ErrOwnerDisabled", func(t *testing.T) {
				f.updateUser(t, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
				refused(t, k.ID, k.Secret)
				f.updateUser(t, castellan.UserUpdate{Status: ptr(castellan.UserActive)})
				if _, err := f.verify(ctx, k.ID, k.Secret); err != nil {
					t.Fatalf("enabled again: %v", err)
				}
			})
			t.Run("ErrOwnerDeleted", func(t *testing.T) {
				if _, err := s.Users.DeleteUser(ctx, f.org, f.user.ID, f.user.LoginID); err != nil {
					t.Fatal(err)
				}
				refused(t, k.ID, k.Secret)
			})
		})
	}
}

// TestRotateSealedSecrets puts a new key first in the key file: rotation
// seals every sealed secret again under it, with an audit event per
// organization, leaves keys without a sealed secret alone, and finds
// nothing to do the second time; then a keyring of the new key alone
// verifies every key.
func TestRotateSealedSecrets(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path, oldKeys := newKeyFile(t)
			url := b.URL(t)
			f := newSignFixture(t, url, oldKeys)
			keys := []*castellan.NewAccessKey{
				f.userKey(t), f.key(t, f.db, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: f.account}, nil),
			}
			legacy := f.key(t, f.legacy, castellan.Subject{Type: castellan.SubjectUser, ID: f.user.ID}, nil)
			// A second organization.
			s := f.db.Services()
			boot, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Projects.CreateProject(ctx, boot.OrganizationID, castellan.ProjectCreate{Name: "web"})
			if err != nil {
				t.Fatal(err)
			}
			globex, err := s.AccessKeys.CreateAccessKey(ctx, boot.OrganizationID, castellan.AccessKeyCreate{
				Owner: castellan.Subject{Type: castellan.SubjectUser, ID: boot.OwnerUserID}, ProjectID: p.ID, Name: "ci"})
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, globex)
			// A federation's client secret is sealed too.
			fed, err := s.Federations.CreateFederation(ctx, f.org, castellan.FederationCreate{Name: "Entra", Issuer: "https://idp.example.com",
				ClientID: "castellan", ClientSecret: "client-secret-1"})
			if err != nil {
				t.Fatal(err)
			}

			newID, err := sealing.AddKey(path)
			if err != nil {
				t.Fatal(err)
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var newLine string
			for _, line := range strings.Split(string(text), "\n") {
				if strings.HasPrefix(line, newID+" ") {
					newLine = line
				}
			}
			newOnly, err := sealing.Parse("new key", []byte(newLine))
			if err != nil {
				t.Fatal(err)
			}
			// Before rotation, the new key alone opens nothing.
			before := newSignFixtureOn(t, url, f, newOnly)
			if _, err := before.verify(ctx, keys[0].ID, keys[0].Secret); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
				t.Fatalf("the new key alone before rotation: got %v, want unauthenticated", err)
			}

			rotating := newSignFixtureOn(t, url, f, mustLoad(t, path))
			n, err := rotating.db.RotateSealedSecrets(ctx)
			if err != nil || n != len(keys)+1 {
				t.Fatalf("RotateSealedSecrets: got %d, %v; want %d", n, err, len(keys)+1)
			}
			for _, c := range []struct {
				name, query string
				args        []any
				want        int
			}{
				{"UnderNewKey", `SELECT COUNT(*) FROM access_keys WHERE secret_kek_id = ?`, []any{newID}, len(keys)},
				{"LegacyLeftAlone", `SELECT COUNT(*) FROM access_keys WHERE id = ? AND secret_sealed IS NULL AND secret_kek_id IS NULL`, []any{legacy.ID}, 1},
				{"AuditPerOrganization", `SELECT COUNT(*) FROM audit_events WHERE action = ? AND actor_type = 'system' AND org_id IN (?, ?)`,
					[]any{string(castellan.ActionRotateSecretKey), f.org, boot.OrganizationID}, 3},
				{"FederationUnderNewKey", `SELECT COUNT(*) FROM federations WHERE id = ? AND secret_kek_id = ?`, []any{fed.ID, newID}, 1},
				{"ChangeLogPerKey", `SELECT COUNT(*) FROM change_log WHERE entity_type = 'access_key' AND operation = 'update' AND entity_id IN (?, ?, ?)`,
					[]any{keys[0].ID, keys[1].ID, keys[2].ID}, len(keys)},
			} {
				if got, err := f.db.Count(ctx, c.query, c.args...); err != nil || got != c.want {
					t.Errorf("%s: got %d, %v; want %d", c.name, got, err, c.want)
				}
			}
			rev, err := f.db.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := rotating.db.RotateSealedSecrets(ctx); err != nil || n != 0 {
				t.Fatalf("second RotateSealedSecrets: got %d, %v; want 0", n, err)
			}
			if after, err := f.db.Revision(ctx); err != nil || after != rev {
				t.Fatalf("second RotateSealedSecrets: revision %d, %v; want %d", after, err, rev)
			}

			// The old key removed from the file, every key still verifies,
			// and the federation's secret still opens.
			after := newSignFixtureOn(t, url, f, newOnly)
			if fc, err := after.db.Services().Sessions.FindSignInFederation(ctx, fed.ID); err != nil || fc.ClientSecret != "client-secret-1" {
				t.Errorf("federation after rotation: got %+v, %v", fc, err)
			}
			for _, k := range keys {
				if _, err := after.verify(ctx, k.ID, k.Secret); err != nil {
					t.Errorf("key %s after rotation: %v", k.ID, err)
				}
			}
			// The old keyring no longer opens them: they were sealed anew.
			if _, err := f.verify(ctx, keys[0].ID, keys[0].Secret); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
				t.Fatalf("the old key alone after rotation: got %v, want unauthenticated", err)
			}
		})
	}
}

// newSignFixtureOn is f on another connection to its database, with
// sealer.
func newSignFixtureOn(t *testing.T, url string, f *signFixture, sealer castellan.SecretSealer) *signFixture {
	t.Helper()
	g := *f
	g.db = sqltest.MustOpenWith(t, url, sqlstore.Options{Clock: f.clock.Now, Sealer: sealer})
	return &g
}

// TestRotateWithoutOldKey: a sealed secret whose key is gone from the
// key file stops rotation with an error naming the key, and nothing is
// changed.
func TestRotateWithoutOldKey(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, oldKeys := newKeyFile(t)
			_, otherKeys := newKeyFile(t)
			url := b.URL(t)
			f := newSignFixture(t, url, oldKeys)
			f.userKey(t)
			g := newSignFixtureOn(t, url, f, otherKeys)
			rev, err := f.db.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n, err := g.db.RotateSealedSecrets(ctx)
			if err == nil || n != 0 || !strings.Contains(err.Error(), oldKeys.CurrentKeyID()) {
				t.Fatalf("got %d, %v; want an error naming %s", n, err, oldKeys.CurrentKeyID())
			}
			if after, err := f.db.Revision(ctx); err != nil || after != rev {
				t.Fatalf("revision %d, %v; want %d", after, err, rev)
			}
			if _, err := (&sqlstore.DB{}).RotateSealedSecrets(ctx); err == nil {
				t.Fatal("RotateSealedSecrets without a sealer: got nil error")
			}
		})
	}
}

// TestSignatureNotesKeyUse: a key that only signs shows when it was last
// used, as one exchanged for tokens does, so that an administrator does
// not take a key in use for an unused one. The use is written at most
// once per sqlstore.KeyUseGranularity, outside the change log; a refused
// signature is no use.
func TestSignatureNotesKeyUse(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, keyring := newKeyFile(t)
			f := newSignFixture(t, b.URL(t), keyring)
			k := f.userKey(t)
			lastUsed := func() *time.Time {
				t.Helper()
				key, err := f.db.Services().AccessKeys.FindAccessKeyByID(ctx, f.org, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				return key.LastUsedAt
			}
			rev, err := f.db.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.verify(ctx, k.ID, "wrong"); err == nil {
				t.Fatal("a wrong signature verified")
			}
			if got := lastUsed(); got != nil {
				t.Fatalf("after a refused signature: lastUsedAt %v, want none", got)
			}
			first := f.clock.Now()
			if _, err := f.verify(ctx, k.ID, k.Secret); err != nil {
				t.Fatal(err)
			}
			if got := lastUsed(); got == nil || !got.Equal(first) {
				t.Fatalf("after a signature: lastUsedAt %v, want %v", got, first)
			}
			f.clock.Advance(sqlstore.KeyUseGranularity - time.Second)
			if _, err := f.verify(ctx, k.ID, k.Secret); err != nil {
				t.Fatal(err)
			}
			if got := lastUsed(); got == nil || !got.Equal(first) {
				t.Fatalf("within the granularity: lastUsedAt %v, want %v still", got, first)
			}
			f.clock.Advance(time.Second)
			if _, err := f.verify(ctx, k.ID, k.Secret); err != nil {
				t.Fatal(err)
			}
			if got := lastUsed(); got == nil || !got.Equal(f.clock.Now()) {
				t.Fatalf("after the granularity: lastUsedAt %v, want %v", got, f.clock.Now())
			}
			if after, err := f.db.Revision(ctx); err != nil || after != rev {
				t.Fatalf("revision: got %d, %v; want %d: a key use is no change", after, err, rev)
			}
		})
	}
}

// BenchmarkVerifyAccessKeySignature measures what every signed request
// of the sub-account API costs the store: one indexed read, an AES-GCM
// open and an HMAC; a refusal (an unknown key) does the same work.
func BenchmarkVerifyAccessKeySignature(b *testing.B) {
	for _, b2 := range sqltest.Backends() {
		b.Run(b2.Name, func(b *testing.B) {
			_, keyring := newKeyFile(b)
			f := newSignFixture(b, b2.URL(b), keyring)
			k := f.userKey(b)
			ctx := context.Background()
			b.Run("valid", func(b *testing.B) {
				for b.Loop() {
					if _, err := f.verify(ctx, k.ID, k.Secret); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("unknown key", func(b *testing.B) {
				for b.Loop() {
					if _, err := f.verify(ctx, "CAKAAAAAAAAAAAAAAAAAAAA", k.Secret); err == nil {
						b.Fatal("an unknown key verified")
					}
				}
			})
		})
	}
}
