package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testSCIMTokens(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testSCIMTokensOK(t, open) })
	t.Run("ValidDays", func(t *testing.T) { testSCIMTokensValidDays(t, open) })
	t.Run("NeedsUser", func(t *testing.T) { testSCIMTokensNeedsUser(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testSCIMTokensErrInvalid(t, open) })
	t.Run("Federation", func(t *testing.T) { testSCIMTokensFederation(t, open) })
	t.Run("AuthenticateRefused", func(t *testing.T) { testSCIMTokensAuthenticateRefused(t, open) })
	t.Run("Expiry", func(t *testing.T) { testSCIMTokensExpiry(t, open) })
	t.Run("InactiveActor", func(t *testing.T) { testSCIMTokensInactiveActor(t, open) })
	t.Run("List", func(t *testing.T) { testSCIMTokensList(t, open) })
	t.Run("ListSameInstant", func(t *testing.T) { testSCIMTokensListSameInstant(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testSCIMTokensCrossOrganization(t, open) })
}

// scimTokensEqual compares tokens field by field (ExpiresAt is a pointer).
func scimTokensEqual(a, b *castellan.SCIMToken) bool {
	return a.ID == b.ID && a.OrganizationID == b.OrganizationID && a.Name == b.Name && a.FederationID == b.FederationID &&
		a.ActorUserID == b.ActorUserID && a.CreatedAt.Equal(b.CreatedAt) && sameExpiry(a.ExpiresAt, b.ExpiresAt) && a.Revision == b.Revision
}

// wantSCIMAuth fails tb unless secret authenticates as tok, acting as its
// actor.
func wantSCIMAuth(tb testing.TB, s castellan.Services, secret string, tok *castellan.SCIMToken) {
	tb.Helper()
	got, p, err := s.SCIMTokens.AuthenticateSCIM(context.Background(), secret)
	if err != nil {
		tb.Fatalf("AuthenticateSCIM: %v", err)
	}
	want := castellan.Principal{Type: castellan.PrincipalUser, ID: tok.ActorUserID, OrganizationID: tok.OrganizationID, SCIMTokenID: tok.ID}
	if !scimTokensEqual(got, tok) || p != want {
		tb.Fatalf("AuthenticateSCIM: got %+v as %+v, want %+v as %+v", got, p, tok, want)
	}
}

// wantSCIMRefused fails tb unless AuthenticateSCIM refuses secret.
func wantSCIMRefused(tb testing.TB, s castellan.Services, secret string) {
	tb.Helper()
	tok, p, err := s.SCIMTokens.AuthenticateSCIM(context.Background(), secret)
	if err == nil {
		tb.Fatalf("AuthenticateSCIM(%q) = %+v as %+v, want it refused", secret, tok, p)
	}
	wantCode(tb, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
	if tok != nil || p != (castellan.Principal{}) {
		tb.Fatalf("refused AuthenticateSCIM returned %+v as %+v", tok, p)
	}
}

func testSCIMTokensOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-scim")
	before := takeSnapshot(t, s, org)
	nt := must(s.SCIMTokens.CreateSCIMToken(ctx, org, castellan.SCIMTokenCreate{Name: "Entra provisioning"}))(t)
	tok := nt.SCIMToken
	rev := before.revision + 1
	if !strings.HasPrefix(nt.Secret, castellan.SCIMTokenPrefix) || !castellan.ValidSCIMTokenSyntax(nt.Secret) {
		t.Fatalf("got secret %q, want a %s token", nt.Secret, castellan.SCIMTokenPrefix)
	}
	wantExpiry := clock.Now().Add(castellan.MaxSCIMTokenDays * 24 * time.Hour)
	if !castellan.ValidID(tok.ID) || tok.OrganizationID != org || tok.Name != "Entra provisioning" || tok.FederationID != "" ||
		tok.ActorUserID != res.OwnerUserID || !tok.CreatedAt.Equal(clock.Now()) || tok.ExpiresAt == nil ||
		!tok.ExpiresAt.Equal(wantExpiry) || tok.Revision != rev {
		t.Fatalf("got %+v, want a token of the owner expiring at %v at revision %d", tok, wantExpiry, rev)
	}
	if strings.Contains(nt.Secret, tok.ID) {
		t.Fatalf("secret %q contains the token's ID", nt.Secret)
	}
	wantChanges(t, s, rev, []string{"scim_token create " + tok.ID})
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &tok.ID}))(t)
	if len(events) != 1 || events[0].Action != "iam:CreateScimToken" ||
		events[0].Revision != rev || events[0].RequestID != "req-scim" || events[0].Actor.ID != res.OwnerUserID ||
		events[0].Target.Type != "scim_token" || events[0].Target.Name != tok.Name {
		t.Fatalf("got events %+v", events)
	}
	var actor string
	if err := json.Unmarshal(events[0].Summary["actorUserId"], &actor); err != nil || actor != res.OwnerUserID {
		t.Fatalf("got summary %s (%v), want actorUserId %s", events[0].Summary, err, res.OwnerUserID)
	}
	if strings.Contains(string(events[0].Summary["name"])+string(events[0].Summary["actorUserId"]), nt.Secret) {
		t.Fatalf("audit summary holds the secret")
	}

	list := must(s.SCIMTokens.FindSCIMTokens(ctx, org))(t)
	if len(list) != 1 || !scimTokensEqual(list[0], tok) {
		t.Fatalf("got %+v, want %+v", list, tok)
	}
	wantSCIMAuth(t, s, nt.Secret, tok)

	// A write made with the token's principal names the token.
	_, p, _ := s.SCIMTokens.AuthenticateSCIM(ctx, nt.Secret)
	scimCtx := castellan.WithRequestInfo(castellan.WithPrincipal(context.Background(), p), castellan.RequestInfo{RequestID: "req-via-scim"})
	g := must(s.Groups.CreateGroup(scimCtx, org, castellan.GroupCreate{Name: "provisioned"}))(t)
	gEvents := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &g.ID}))(t)
	var via string
	if err := json.Unmarshal(gEvents[0].Summary["scimTokenId"], &via); err != nil || via != tok.ID || gEvents[0].Actor.ID != res.OwnerUserID {
		t.Fatalf("got event %+v, want it made by the owner through token %s", gEvents[0], tok.ID)
	}

	// Deleting: the token stops working at once and leaves the list.
	clock.Advance(time.Minute)
	ctx = userCtx(res.OwnerUserID, org, "req-scim-del")
	delRev := must(s.SCIMTokens.DeleteSCIMToken(ctx, org, tok.ID))(t)
	if delRev <= g.Revision {
		t.Fatalf("got revision %d, want > %d", delRev, g.Revision)
	}
	wantChanges(t, s, delRev, []string{"scim_token delete " + tok.ID})
	events = listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &tok.ID}))(t)
	if len(events) != 2 || events[0].Action != "iam:DeleteScimToken" ||
		events[0].Revision != delRev || events[0].RequestID != "req-scim-del" {
		t.Fatalf("got events %+v", events)
	}
	wantSCIMRefused(t, s, nt.Secret)
	if list := must(s.SCIMTokens.FindSCIMTokens(ctx, org))(t); len(list) != 0 {
		t.Fatalf("got %+v after the delete, want none", list)
	}
	before = takeSnapshot(t, s, org)
	for _, id := range []string{tok.ID, unknownID, "not-an-id"} {
		_, err := s.SCIMTokens.DeleteSCIMToken(ctx, org, id)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeSCIMTokenNotFound)
	}
	unchanged(t, s, org, before)
}

// testSCIMTokensValidDays: 0 days is the longest validity; any other
// number is that many days.
func testSCIMTokensValidDays(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	ctx := userCtx(res.OwnerUserID, res.OrganizationID, "req")
	for _, tc := range []struct{ days, want int }{{0, 730}, {30, 30}, {1, 1}, {730, 730}} {
		tok := must(s.SCIMTokens.CreateSCIMToken(ctx, res.OrganizationID, castellan.SCIMTokenCreate{Name: "t", ValidDays: tc.days}))(t).SCIMToken
		want := clock.Now().Add(time.Duration(tc.want) * 24 * time.Hour)
		if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(want) {
			t.Fatalf("ValidDays %d: got expiry %v, want %v", tc.days, tok.ExpiresAt, want)
		}
		clock.Advance(time.Second)
	}
}

// testSCIMTokensNeedsUser: a token acts as its creator, so only a user of
// the organization may create one.
func testSCIMTokensNeedsUser(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	org := acme.OrganizationID
	before := takeSnapshot(t, s, org)
	sa := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: unknownID, OrganizationID: org})
	for _, ctx := range []context.Context{
		operatorCtx("r"),
		context.Background(), // no principal at all
		userCtx(globex.OwnerUserID, globex.OrganizationID, "r"), // a user of another organization
		sa,
	} {
		_, err := s.SCIMTokens.CreateSCIMToken(ctx, org, castellan.SCIMTokenCreate{Name: "t"})
		wantCode(t, err, castellan.EINVALID, castellan.CodeSCIMTokenNeedsUser)
	}
	unchanged(t, s, org, before)
	if list := must(s.SCIMTokens.FindSCIMTokens(context.Background(), org))(t); len(list) != 0 {
		t.Fatalf("got %+v, want none", list)
	}
}

func testSCIMTokensErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "r")
	before := takeSnapshot(t, s, org)
	for _, tc := range []struct {
		c     castellan.SCIMTokenCreate
		field string
	}{
		{castellan.SCIMTokenCreate{Name: ""}, "name"},
		{castellan.SCIMTokenCreate{Name: strings.Repeat("n", castellan.MaxSCIMTokenNameLength+1)}, "name"},
		{castellan.SCIMTokenCreate{Name: "bad\x00name"}, "name"},
		{castellan.SCIMTokenCreate{Name: "t", ValidDays: -1}, "validDays"},
		{castellan.SCIMTokenCreate{Name: "t", ValidDays: castellan.MaxSCIMTokenDays + 1}, "validDays"},
		{castellan.SCIMTokenCreate{Name: "t", FederationID: "not-an-id"}, "federationId"},
	} {
		_, err := s.SCIMTokens.CreateSCIMToken(ctx, org, tc.c)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, tc.field, "")
	}
	unchanged(t, s, org, before)
	// The longest name is fine.
	must(s.SCIMTokens.CreateSCIMToken(ctx, org, castellan.SCIMTokenCreate{Name: strings.Repeat("n", castellan.MaxSCIMTokenNameLength)}))(t)
}

// testSCIMTokensFederation: a token may provision into a federation of its
// organization only.
func testSCIMTokensFederation(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	org := acme.OrganizationID
	ctx := userCtx(acme.OwnerUserID, org, "r")
	f := newFederation(t, s, org, "Entra")
	fx := newFederation(t, s, globex.OrganizationID, "Okta")
	nt := must(s.SCIMTokens.CreateSCIMToken(ctx, org, castellan.SCIMTokenCreate{Name: "entra", FederationID: f.ID}))(t)
	if nt.SCIMToken.FederationID != f.ID {
		t.Fatalf("got %+v, want federation %s", nt.SCIMToken, f.ID)
	}
	if list := must(s.SCIMTokens.FindSCIMTokens(ctx, org))(t); len(list) != 1 || list[0].FederationID != f.ID {
		t.Fatalf("got %+v", list)
	}
	wantSCIMAuth(t, s, nt.Secret, nt.SCIMToken)
	before, beforeGlobex := takeSnapshot(t, s, org), takeSnapshot(t, s, globex.OrganizationID)
	for _, id := range []string{fx.ID, unknownID} {
		_, err := s.SCIMTokens.CreateSCIMToken(ctx, org, castellan.SCIMTokenCreate{Name: "stolen", FederationID: id})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeFederationNotFound)
	}
	unchanged(t, s, org, before)
	unchanged(t, s, globex.OrganizationID, beforeGlobex)
	if list := must(s.SCIMTokens.FindSCIMTokens(ctx, org))(t); len(list) != 1 {
		t.Fatalf("got %d tokens, want 1", len(list))
	}
	// The federation stays while a token provisions into it.
	_, err := s.Federations.DeleteFederation(ctx, org, f.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeFederationInUse)
	must(s.SCIMTokens.DeleteSCIMToken(ctx, org, nt.SCIMToken.ID))(t)
	must(s.Federations.DeleteFederation(ctx, org, f.ID))(t)
}

func testSCIMTokensAuthenticateRefused(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "r")
	nt := must(s.SCIMTokens.CreateSCIMToken(ctx, org, castellan.SCIMTokenCreate{Name: "t"}))(t)
	body := strings.TrimPrefix(nt.Secret, castellan.SCIMTokenPrefix)
	other := body[:len(body)-1] + "A"
	if other == body {
		other = body[:len(body)-1] + "B"
	}
	before := takeSnapshot(t, s, org)
	for _, secret := range []string{
		"",
		castellan.SCIMTokenPrefix,
		nt.Secret[:len(nt.Secret)-1],      // too short
		nt.Secret + "A",                   // too long
		"cscix_" + body,                   // another prefix
		" " + nt.Secret,                   // surrounding space
		castellan.SCIMTokenPrefix + other, // well-formed, unknown
		strings.ToUpper(nt.Secret[:6]) + body,
	} {
		wantSCIMRefused(t, s, secret)
	}
	unchanged(t, s, org, before)
	wantSCIMAuth(t, s, nt.Secret, nt.SCIMToken)
}

// testSCIMTokensExpiry: a token works until its expiry, not after.
func testSCIMTokensExpiry(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	ctx := userCtx(res.OwnerUserID, res.OrganizationID, "r")
	short := must(s.SCIMTokens.CreateSCIMToken(ctx, res.OrganizationID, castellan.SCIMTokenCreate{Name: "short", ValidDays: 1}))(t)
	long := must(s.SCIMTokens.CreateSCIMToken(ctx, res.OrganizationID, castellan.SCIMTokenCreate{Name: "long", ValidDays: 2}))(t)
	clock.Advance(24*time.Hour - time.Second)
	wantSCIMAuth(t, s, short.Secret, short.SCIMToken)
	clock.Advance(2 * time.Second)
	wantSCIMRefused(t, s, short.Secret)
	wantSCIMAuth(t, s, long.Secret, long.SCIMToken)
	clock.Advance(24 * time.Hour)
	wantSCIMRefused(t, s, long.Secret)
	// An expired token is still listed, until deleted.
	if list := must(s.SCIMTokens.FindSCIMTokens(ctx, res.OrganizationID))(t); len(list) != 2 {
		t.Fatalf("got %d tokens, want 2", len(list))
	}
}

// testSCIMTokensInactiveActor: a token stops working while its actor is
// disabled, and for good when the actor is deleted; another user's token
// is not affected.
func testSCIMTokensInactiveActor(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	op := operatorCtx("r")
	users := newUsers(t, s, org, "admin", 2)
	create := func(u *castellan.User) *castellan.NewSCIMToken {
		return must(s.SCIMTokens.CreateSCIMToken(userCtx(u.ID, org, "r"), org, castellan.SCIMTokenCreate{Name: u.Email}))(t)
	}
	a, b := create(users[0]), create(users[1])
	owner := must(s.SCIMTokens.CreateSCIMToken(userCtx(res.OwnerUserID, org, "r"), org, castellan.SCIMTokenCreate{Name: "owner"}))(t)
	if a.SCIMToken.ActorUserID != users[0].ID || b.SCIMToken.ActorUserID != users[1].ID {
		t.Fatalf("got actors %s and %s, want %s and %s", a.SCIMToken.ActorUserID, b.SCIMToken.ActorUserID, users[0].ID, users[1].ID)
	}
	wantSCIMAuth(t, s, a.Secret, a.SCIMToken)

	must(s.Users.UpdateUser(op, org, users[0].ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	wantSCIMRefused(t, s, a.Secret)
	wantSCIMAuth(t, s, b.Secret, b.SCIMToken)
	// A disabled user cannot make a token either.
	before := takeSnapshot(t, s, org)
	_, err := s.SCIMTokens.CreateSCIMToken(userCtx(users[0].ID, org, "r"), org, castellan.SCIMTokenCreate{Name: "again"})
	if err == nil {
		t.Fatalf("a disabled user created a SCIM token")
	}
	unchanged(t, s, org, before)
	// Enabled again, the user's token works again: it was not revoked.
	must(s.Users.UpdateUser(op, org, users[0].ID, castellan.UserUpdate{Status: ptr(castellan.UserActive)}))(t)
	wantSCIMAuth(t, s, a.Secret, a.SCIMToken)

	must(s.Users.DeleteUser(op, org, users[1].ID, castellan.DeleteUserPhrase))(t)
	wantSCIMRefused(t, s, b.Secret)
	wantSCIMAuth(t, s, a.Secret, a.SCIMToken)
	wantSCIMAuth(t, s, owner.Secret, owner.SCIMToken)
	_, err = s.SCIMTokens.CreateSCIMToken(userCtx(users[1].ID, org, "r"), org, castellan.SCIMTokenCreate{Name: "ghost"})
	if err == nil {
		t.Fatalf("a deleted user created a SCIM token")
	}
}

// testSCIMTokensList: newest first.
func testSCIMTokensList(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	ctx := userCtx(res.OwnerUserID, res.OrganizationID, "r")
	var want []string
	for _, name := range []string{"first", "second", "third"} {
		tok := must(s.SCIMTokens.CreateSCIMToken(ctx, res.OrganizationID, castellan.SCIMTokenCreate{Name: name}))(t).SCIMToken
		want = append([]string{tok.ID}, want...)
		clock.Advance(time.Second)
	}
	list := must(s.SCIMTokens.FindSCIMTokens(ctx, res.OrganizationID))(t)
	var got []string
	for _, tok := range list {
		got = append(got, tok.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v (newest first)", got, want)
	}
}

// testSCIMTokensListSameInstant: tokens made at the same instant are
// listed newest first too (by ID, which is time-ordered), as every other
// newest-first list of the store.
func testSCIMTokensListSameInstant(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	ctx := userCtx(res.OwnerUserID, res.OrganizationID, "r")
	var want []string
	for _, name := range []string{"first", "second", "third"} {
		tok := must(s.SCIMTokens.CreateSCIMToken(ctx, res.OrganizationID, castellan.SCIMTokenCreate{Name: name}))(t).SCIMToken
		want = append([]string{tok.ID}, want...)
	}
	var got []string
	for _, tok := range must(s.SCIMTokens.FindSCIMTokens(ctx, res.OrganizationID))(t) {
		got = append(got, tok.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v (newest first)", got, want)
	}
}

func testSCIMTokensCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	actx := userCtx(acme.OwnerUserID, acme.OrganizationID, "r")
	gctx := userCtx(globex.OwnerUserID, globex.OrganizationID, "r")
	at := must(s.SCIMTokens.CreateSCIMToken(actx, acme.OrganizationID, castellan.SCIMTokenCreate{Name: "acme"}))(t)
	gt := must(s.SCIMTokens.CreateSCIMToken(gctx, globex.OrganizationID, castellan.SCIMTokenCreate{Name: "globex"}))(t)
	if list := must(s.SCIMTokens.FindSCIMTokens(gctx, globex.OrganizationID))(t); len(list) != 1 || list[0].ID != gt.SCIMToken.ID {
		t.Fatalf("got %+v, want only Globex's token", list)
	}
	if list := must(s.SCIMTokens.FindSCIMTokens(actx, acme.OrganizationID))(t); len(list) != 1 || list[0].ID != at.SCIMToken.ID {
		t.Fatalf("got %+v, want only Acme's token", list)
	}
	if list := must(s.SCIMTokens.FindSCIMTokens(actx, unknownID))(t); len(list) != 0 {
		t.Fatalf("got %+v for an unknown organization", list)
	}
	beforeAcme, beforeGlobex := takeSnapshot(t, s, acme.OrganizationID), takeSnapshot(t, s, globex.OrganizationID)
	_, err := s.SCIMTokens.DeleteSCIMToken(gctx, globex.OrganizationID, at.SCIMToken.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeSCIMTokenNotFound)
	unchanged(t, s, acme.OrganizationID, beforeAcme)
	unchanged(t, s, globex.OrganizationID, beforeGlobex)
	wantSCIMAuth(t, s, at.Secret, at.SCIMToken)
	if list := must(s.SCIMTokens.FindSCIMTokens(actx, acme.OrganizationID))(t); len(list) != 1 {
		t.Fatalf("got %d Acme tokens, want 1", len(list))
	}
	// Each token acts in its own organization.
	_, ap, _ := s.SCIMTokens.AuthenticateSCIM(actx, at.Secret)
	_, gp, _ := s.SCIMTokens.AuthenticateSCIM(gctx, gt.Secret)
	if ap.OrganizationID != acme.OrganizationID || gp.OrganizationID != globex.OrganizationID || ap.ID == gp.ID {
		t.Fatalf("got principals %+v and %+v", ap, gp)
	}
}
