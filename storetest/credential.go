package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testCredentials(t *testing.T, open Opener) {
	t.Run("KeyToken", func(t *testing.T) { testCredentialKeyToken(t, open) })
	t.Run("BootstrapToken", func(t *testing.T) { testCredentialBootstrapToken(t, open) })
	t.Run("APIAccessOff", func(t *testing.T) { testCredentialAPIAccessOff(t, open) })
	t.Run("ExchangeFromOutsideSources", func(t *testing.T) { testCredentialExchangeSources(t, open) })
	t.Run("NoteKeysUsed", func(t *testing.T) { testNoteKeysUsed(t, open) })
	t.Run("KeyExpiryInThePast", func(t *testing.T) { testKeyExpiryInThePast(t, open) })
	t.Run("ExpiredKeysHoldNoPlace", func(t *testing.T) { testExpiredKeysHoldNoPlace(t, open) })
	t.Run("KeyWithoutAPIAccess", func(t *testing.T) { testKeyWithoutAPIAccess(t, open) })
}

// credentialFixture is an organization with a project and a user of it.
type credentialFixture struct {
	s       castellan.Services
	clock   *Clock
	org     string
	project string
	user    string
}

func newCredentialFixture(t *testing.T, open Opener) *credentialFixture {
	t.Helper()
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := context.Background()
	org := must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	project := must(s.Projects.CreateProject(ctx, org.OrganizationID, castellan.ProjectCreate{Name: "web"}))(t)
	u := must(s.Users.CreateUser(ctx, org.OrganizationID, castellan.UserCreate{Email: "dev@acme.example"}))(t)
	return &credentialFixture{s: s, clock: clock, org: org.OrganizationID, project: project.ID, user: u.ID}
}

func (f *credentialFixture) key(t *testing.T, expiresAt *time.Time) *castellan.NewAccessKey {
	t.Helper()
	return must(f.s.AccessKeys.CreateAccessKey(context.Background(), f.org, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: f.user}, ProjectID: f.project, Name: "ci", ExpiresAt: expiresAt}))(t)
}

func (f *credentialFixture) useSources(t *testing.T, sources []castellan.APIAllowSource) {
	t.Helper()
	must(f.s.Users.UpdateUser(context.Background(), f.org, f.user, castellan.UserUpdate{UseAPIAllowSource: ptr(true), APIAllowSources: &sources}))(t)
}

var (
	insideSources  = castellan.RequestInfo{SourceIP: "203.0.113.7"}
	outsideSources = castellan.RequestInfo{SourceIP: "192.0.2.7"}
	allowSources   = []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "203.0.113.0/24"}}
)

// testCredentialKeyToken: a key's token stands for its owner bound to the
// key and its project, expires with the key when that comes first, and
// carries the owner's allow sources.
func testCredentialKeyToken(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	ctx := context.Background()
	soon := f.clock.Now().Add(10 * time.Minute)
	for _, tc := range []struct {
		name      string
		keyExpiry *time.Time
		want      time.Time
	}{
		{"TokenExpiry", nil, f.clock.Now().Add(castellan.AccessTokenLifetime)},
		{"KeyExpiry", &soon, soon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := f.key(t, tc.keyExpiry)
			token := must(f.s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret))(t)
			c := must(f.s.Tokens.FindCredential(ctx, token.Token))(t)
			want := castellan.Principal{Type: castellan.PrincipalUser, ID: f.user, OrganizationID: f.org, KeyID: k.ID, ProjectID: f.project}
			if c.Principal != want || c.TokenID != "" || !c.ExpiresAt.Equal(tc.want) || c.AllowSources != nil {
				t.Fatalf("got %+v, want %+v expiring at %v", c, want, tc.want)
			}
			// Introspection tells other services the same expiry.
			if info := must(f.s.AccessKeys.IntrospectToken(ctx, token.Token))(t); !info.Active || info.ExpiresAt != tc.want.Unix() {
				t.Fatalf("introspection: got %+v, want active until %v", info, tc.want)
			}
			must(f.s.AccessKeys.DeleteAccessKey(ctx, f.org, k.ID))(t)
		})
	}
	k := f.key(t, nil)
	token := must(f.s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret))(t)
	f.useSources(t, allowSources)
	c := must(f.s.Tokens.FindCredential(ctx, token.Token))(t)
	if !slices.Equal(c.AllowSources, allowSources) {
		t.Fatalf("got sources %+v, want %+v", c.AllowSources, allowSources)
	}
	must(f.s.Tokens.Authenticate(castellan.WithRequestInfo(ctx, insideSources), token.Token))(t)
	_, err := f.s.Tokens.Authenticate(castellan.WithRequestInfo(ctx, outsideSources), token.Token)
	wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeSourceNotAllowed)
}

func testCredentialBootstrapToken(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	ctx := context.Background()
	token := must(f.s.Tokens.CreateUserToken(ctx, f.org, f.user))(t)
	c := must(f.s.Tokens.FindCredential(ctx, token))(t)
	want := castellan.Principal{Type: castellan.PrincipalUser, ID: f.user, OrganizationID: f.org}
	if c.Principal != want || c.TokenID == "" || !c.ExpiresAt.IsZero() || c.AllowSources != nil {
		t.Fatalf("got %+v", c)
	}
	f.useSources(t, allowSources)
	_, err := f.s.Tokens.Authenticate(castellan.WithRequestInfo(ctx, outsideSources), token)
	wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeSourceNotAllowed)
	must(f.s.Tokens.Authenticate(castellan.WithRequestInfo(ctx, insideSources), token))(t)
}

// testCredentialAPIAccessOff: a user without API access has no usable
// token and cannot exchange its keys; giving it back revives them.
func testCredentialAPIAccessOff(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	ctx := context.Background()
	k := f.key(t, nil)
	keyToken := must(f.s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret))(t)
	userToken := must(f.s.Tokens.CreateUserToken(ctx, f.org, f.user))(t)
	must(f.s.Users.UpdateUser(ctx, f.org, f.user, castellan.UserUpdate{APIAccess: ptr(false)}))(t)
	before := takeSnapshot(t, f.s, f.org)
	for _, token := range []string{keyToken.Token, userToken} {
		_, err := f.s.Tokens.FindCredential(ctx, token)
		wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
	}
	_, err := f.s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
	if info := must(f.s.AccessKeys.IntrospectToken(ctx, keyToken.Token))(t); info.Active {
		t.Fatalf("introspection: got %+v", info)
	}
	unchanged(t, f.s, f.org, before)
	must(f.s.Users.UpdateUser(ctx, f.org, f.user, castellan.UserUpdate{APIAccess: ptr(true)}))(t)
	must(f.s.Tokens.FindCredential(ctx, keyToken.Token))(t)
}

// testCredentialExchangeSources: a right secret from outside the owner's
// sources is source_not_allowed, a wrong one stays unauthenticated, and
// neither writes anything.
func testCredentialExchangeSources(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	ctx := context.Background()
	k := f.key(t, nil)
	f.useSources(t, allowSources)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.AccessKeys.ExchangeAccessKey(castellan.WithRequestInfo(ctx, outsideSources), k.ID, k.Secret)
	wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeSourceNotAllowed)
	wrong := "A" + k.Secret[1:]
	if wrong == k.Secret {
		wrong = "B" + k.Secret[1:]
	}
	_, err = f.s.AccessKeys.ExchangeAccessKey(castellan.WithRequestInfo(ctx, outsideSources), k.ID, wrong)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
	unchanged(t, f.s, f.org, before)
	must(f.s.AccessKeys.ExchangeAccessKey(castellan.WithRequestInfo(ctx, insideSources), k.ID, k.Secret))(t)
}

// testNoteKeysUsed: uses move lastUsedAt forward only, skip unknown keys,
// and are bookkeeping: no revision, no audit event.
func testNoteKeysUsed(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	ctx := context.Background()
	k := f.key(t, nil)
	later := f.clock.Now().Add(time.Hour)
	before := takeSnapshot(t, f.s, f.org)
	if err := f.s.AccessKeys.NoteKeysUsed(ctx, map[string]time.Time{k.ID: later, "CAKAAAAAAAAAAAAAAAAAAAA": later}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AccessKeys.NoteKeysUsed(ctx, map[string]time.Time{k.ID: later.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	unchanged(t, f.s, f.org, before)
	got := must(f.s.AccessKeys.FindAccessKeyByID(ctx, f.org, k.ID))(t)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(later) || got.Revision != k.Revision {
		t.Fatalf("got lastUsedAt %v revision %d, want %v and %d", got.LastUsedAt, got.Revision, later, k.Revision)
	}
}
