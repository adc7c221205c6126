package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testFederations(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testFederationsOK(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testFederationsErrInvalid(t, open) })
	t.Run("InUse", func(t *testing.T) { testFederationsInUse(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testFederationsCrossOrganization(t, open) })
	t.Run("FindSignInFederation", func(t *testing.T) { testFindSignInFederation(t, open) })
	t.Run("SignIn", func(t *testing.T) { testFederatedSignIn(t, open) })
	t.Run("SignInRefused", func(t *testing.T) { testFederatedSignInRefused(t, open) })
	t.Run("ConcurrentFirstSignIn", func(t *testing.T) { testFederatedConcurrentFirstSignIn(t, open) })
	t.Run("GroupMappings", func(t *testing.T) { testFederatedGroupMappings(t, open) })
	t.Run("DeletedStaysDeleted", func(t *testing.T) { testFederatedDeletedStaysDeleted(t, open) })
	t.Run("NewIssuerUnbinds", func(t *testing.T) { testFederationNewIssuerUnbinds(t, open) })
}

// testFederatedDeletedStaysDeleted: a provisioned user, once deleted,
// does not come back by signing in; added again by an administrator, it
// binds again.
func testFederatedDeletedStaysDeleted(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := context.Background()
	f := provisioningFederation(t, s, org)
	zed := castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-zed", Email: "zed@acme.example", EmailVerified: true}
	u := must(s.Sessions.SignInFederated(ctx, zed))(t)
	must(s.Users.DeleteUser(operatorCtx("d"), org, u.ID, castellan.DeleteUserPhrase))(t)
	_, err := s.Sessions.SignInFederated(ctx, zed)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	if got := ssoEvents(t, s, org); got[0] != "failure "+castellan.SSOUserDeleted {
		t.Fatalf("got events %q", got)
	}
	again := federatedUser(t, s, org, f.ID, "zed@acme.example")
	if got := must(s.Sessions.SignInFederated(ctx, zed))(t); got.ID != again.ID {
		t.Fatalf("got %s, want the user added again %s", got.ID, again.ID)
	}
	// Added, then deleted before ever signing in (an offboarding by
	// SCIM): its tombstone has no subject, and still it stays deleted.
	yan := federatedUser(t, s, org, f.ID, "yan@acme.example")
	must(s.Users.DeleteUser(operatorCtx("d"), org, yan.ID, castellan.DeleteUserPhrase))(t)
	_, err = s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-yan", Email: "yan@acme.example", EmailVerified: true})
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	if got := ssoEvents(t, s, org); got[0] != "failure "+castellan.SSOUserDeleted {
		t.Fatalf("got events %q", got)
	}
}

// testFederationNewIssuerUnbinds: a federation moved to another issuer
// forgets its users' subjects (they were the old provider's), so each
// binds again by its verified email; autoProvision needs a domain.
func testFederationNewIssuerUnbinds(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := context.Background()
	f := newFederation(t, s, org, "Entra", "acme.example")
	u := federatedUser(t, s, org, f.ID, "ann@acme.example")
	must(s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "old-sub", Email: "ann@acme.example", EmailVerified: true}))(t)
	newIssuer := "https://new-idp.example.com"
	must(s.Federations.UpdateFederation(operatorCtx("u"), org, f.ID, castellan.FederationUpdate{Issuer: &newIssuer}))(t)
	// The old subject finds no one now...
	_, err := s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "old-sub"})
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	// ...and the new provider's subject binds Ann by her email.
	if got := must(s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "new-sub",
		Email: "ann@acme.example", EmailVerified: true}))(t); got.ID != u.ID {
		t.Fatalf("got %s, want %s", got.ID, u.ID)
	}
	// Provisioning with no allowed domain would admit anyone the
	// provider knows.
	before := takeSnapshot(t, s, org)
	on, none := true, []string{}
	_, err = s.Federations.UpdateFederation(operatorCtx("u"), org, f.ID, castellan.FederationUpdate{AutoProvision: &on, AllowedDomains: &none})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "allowedDomains", "required")
	_, err = s.Federations.CreateFederation(operatorCtx("c"), org, castellan.FederationCreate{Name: "Open", Issuer: "https://accounts.example.com",
		ClientID: "c", AutoProvision: true})
	wantField(t, err, "allowedDomains", "required")
	unchanged(t, s, org, before)
}

// newFederation creates a public-client federation of the organization,
// allowing the domains given (any when none).
func newFederation(tb testing.TB, s castellan.Services, orgID, name string, domains ...string) *castellan.Federation {
	tb.Helper()
	return must(s.Federations.CreateFederation(operatorCtx("f"), orgID, castellan.FederationCreate{
		Name: name, Issuer: "https://idp.example.com/" + strings.ToLower(name), ClientID: "castellan", AllowedDomains: domains,
	}))(tb)
}

// provisioningFederation creates a federation of the organization that
// allows acme.example and creates users at their first sign-in.
func provisioningFederation(tb testing.TB, s castellan.Services, orgID string) *castellan.Federation {
	tb.Helper()
	return must(s.Federations.CreateFederation(operatorCtx("f"), orgID, castellan.FederationCreate{
		Name: "Entra", Issuer: "https://idp.example.com/entra", ClientID: "castellan", AllowedDomains: []string{"acme.example"}, AutoProvision: true,
	}))(tb)
}

// federatedUser registers a federated user of the federation.
func federatedUser(tb testing.TB, s castellan.Services, orgID, fedID, email string) *castellan.User {
	tb.Helper()
	return register(tb, s, orgID, castellan.UserRegistration{LoginID: email, Email: email, AccountType: castellan.AccountFederated,
		FederationID: fedID, ConsoleAccess: true})
}

func testFederationsOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-fed")
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "engineers"}))(t)
	f := must(s.Federations.CreateFederation(ctx, org, castellan.FederationCreate{
		Name: "Acme Entra", Issuer: "https://login.example.com/acme/v2.0", ClientID: "castellan-app",
		Scopes: []string{"email", "openid", "email", "profile"}, AllowedDomains: []string{"Acme.Example"},
		AutoProvision: true, GroupMappings: []castellan.GroupMapping{{Claim: "eng", GroupID: g.ID}},
	}))(t)
	if !castellan.ValidID(f.ID) || f.OrganizationID != org || f.HasClientSecret || f.EmailClaim != "email" || f.NameClaim != "name" ||
		f.GroupsClaim != "groups" || !slices.Equal(f.Scopes, []string{"openid", "email", "profile"}) ||
		!slices.Equal(f.AllowedDomains, []string{"acme.example"}) || !f.AutoProvision || f.MFAByIdP || f.Revision <= res.Revision ||
		!f.CreatedAt.Equal(clock.Now()) || f.CreatedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", f)
	}
	if got := must(s.Federations.FindFederationByID(ctx, org, f.ID))(t); !federationsEqual(got, f) {
		t.Fatalf("got %+v, want %+v", got, f)
	}
	wantChanges(t, s, f.Revision, []string{"federation create " + f.ID})
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &f.ID}))(t)
	if len(events) != 1 || events[0].Action != string(castellan.ActionCreateFederation) || events[0].RequestID != "req-fed" {
		t.Fatalf("got events %+v", events)
	}

	// Updates: a change writes one revision; the same values write none.
	name, mfa := "Acme SSO", true
	clock.Advance(time.Second)
	u := must(s.Federations.UpdateFederation(ctx, org, f.ID, castellan.FederationUpdate{Name: &name, MFAByIdP: &mfa}))(t)
	if u.Name != name || !u.MFAByIdP || u.Revision <= f.Revision || u.Issuer != f.Issuer || !u.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("got %+v", u)
	}
	before := takeSnapshot(t, s, org)
	same := must(s.Federations.UpdateFederation(ctx, org, f.ID, castellan.FederationUpdate{Name: &name, MFAByIdP: &mfa}))(t)
	if same.Revision != u.Revision {
		t.Fatalf("an update changing nothing wrote revision %d", same.Revision)
	}
	unchanged(t, s, org, before)

	second := newFederation(t, s, org, "Okta")
	list := listed(s.Federations.FindFederations(ctx, org, castellan.FederationFilter{}))(t)
	if len(list) != 2 || list[0].ID != f.ID || list[1].ID != second.ID {
		t.Fatalf("got %+v", list)
	}
	page, next, err := s.Federations.FindFederations(ctx, org, castellan.FederationFilter{PageSize: 1})
	if err != nil || len(page) != 1 || next == "" {
		t.Fatalf("got %d, %q, %v", len(page), next, err)
	}
	if page = listed(s.Federations.FindFederations(ctx, org, castellan.FederationFilter{PageSize: 1, PageToken: next}))(t); len(page) != 1 || page[0].ID != second.ID {
		t.Fatalf("second page: got %+v", page)
	}

	rev := must(s.Federations.DeleteFederation(ctx, org, second.ID))(t)
	wantChanges(t, s, rev, []string{"federation delete " + second.ID})
	_, err = s.Federations.FindFederationByID(ctx, org, second.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeFederationNotFound)
}

func federationsEqual(a, b *castellan.Federation) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Issuer == b.Issuer && a.ClientID == b.ClientID && a.Revision == b.Revision &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.AllowedDomains, b.AllowedDomains) && slices.Equal(a.GroupMappings, b.GroupMappings) &&
		a.AutoProvision == b.AutoProvision && a.MFAByIdP == b.MFAByIdP && a.HasClientSecret == b.HasClientSecret && a.CreatedAt.Equal(b.CreatedAt)
}

func testFederationsErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("bad")
	taken := newFederation(t, s, org, "Taken")
	valid := func(edit func(*castellan.FederationCreate)) castellan.FederationCreate {
		fc := castellan.FederationCreate{Name: "Fine", Issuer: "https://idp.example.com", ClientID: "c"}
		edit(&fc)
		return fc
	}
	before := takeSnapshot(t, s, org)
	for _, c := range []struct {
		name        string
		fc          castellan.FederationCreate
		kind        castellan.Kind
		code, field string
		rule        string
	}{
		{"http issuer", valid(func(fc *castellan.FederationCreate) { fc.Issuer = "http://idp.example.com" }),
			castellan.EINVALID, castellan.CodeInvalidField, "issuer", "https"},
		{"issuer with query", valid(func(fc *castellan.FederationCreate) { fc.Issuer = "https://idp.example.com/?a=b" }),
			castellan.EINVALID, castellan.CodeInvalidField, "issuer", "format"},
		{"no client", valid(func(fc *castellan.FederationCreate) { fc.ClientID = "" }),
			castellan.EINVALID, castellan.CodeInvalidField, "clientId", "required"},
		{"scope with space", valid(func(fc *castellan.FederationCreate) { fc.Scopes = []string{"a b"} }),
			castellan.EINVALID, castellan.CodeInvalidField, "scopes[0]", "pattern"},
		{"bad domain", valid(func(fc *castellan.FederationCreate) { fc.AllowedDomains = []string{"*.example.com"} }),
			castellan.EINVALID, castellan.CodeInvalidField, "allowedDomains[0]", "format"},
		{"bad claim", valid(func(fc *castellan.FederationCreate) { fc.GroupsClaim = "a b" }),
			castellan.EINVALID, castellan.CodeInvalidField, "groupsClaim", "pattern"},
		{"unknown group", valid(func(fc *castellan.FederationCreate) {
			fc.GroupMappings = []castellan.GroupMapping{{Claim: "x", GroupID: unknownID}}
		}), castellan.ENOTFOUND, castellan.CodeGroupNotFound, "groupMappings[0].groupId", "exists"},
		{"secret without a sealer", valid(func(fc *castellan.FederationCreate) { fc.ClientSecret = "s3cret" }),
			castellan.EINVALID, castellan.CodeFederationSecretNotSealable, "clientSecret", "sealable"},
		{"name taken", valid(func(fc *castellan.FederationCreate) { fc.Name = strings.ToUpper(taken.Name) }),
			castellan.ECONFLICT, castellan.CodeFederationNameTaken, "", ""},
	} {
		_, err := s.Federations.CreateFederation(ctx, org, c.fc)
		wantCode(t, err, c.kind, c.code)
		if c.field != "" {
			wantField(t, err, c.field, c.rule)
		}
		unchanged(t, s, org, before)
	}
	bad := "http://10.0.0.1/idp"
	_, err := s.Federations.UpdateFederation(ctx, org, taken.ID, castellan.FederationUpdate{Issuer: &bad})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "issuer", "https")
	unchanged(t, s, org, before)
	// Loopback http is accepted, for a provider on the same machine.
	loop := "http://127.0.0.1:9998"
	must(s.Federations.UpdateFederation(ctx, org, taken.ID, castellan.FederationUpdate{Issuer: &loop}))(t)
}

func testFederationsInUse(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	f := newFederation(t, s, org, "Entra")
	u := federatedUser(t, s, org, f.ID, "ann@example.com")
	before := takeSnapshot(t, s, org)
	_, err := s.Federations.DeleteFederation(operatorCtx("d"), org, f.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeFederationInUse)
	unchanged(t, s, org, before)
	must(s.Users.DeleteUser(operatorCtx("d"), org, u.ID, u.LoginID))(t)
	must(s.Federations.DeleteFederation(operatorCtx("d"), org, f.ID))(t)
}

func testFederationsCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	f := newFederation(t, s, acme.OrganizationID, "Entra")
	ctx := operatorCtx("x")
	before := takeSnapshot(t, s, acme.OrganizationID)
	_, err := s.Federations.FindFederationByID(ctx, globex.OrganizationID, f.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeFederationNotFound)
	name := "stolen"
	_, err = s.Federations.UpdateFederation(ctx, globex.OrganizationID, f.ID, castellan.FederationUpdate{Name: &name})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeFederationNotFound)
	_, err = s.Federations.DeleteFederation(ctx, globex.OrganizationID, f.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeFederationNotFound)
	if list := listed(s.Federations.FindFederations(ctx, globex.OrganizationID, castellan.FederationFilter{}))(t); len(list) != 0 {
		t.Fatalf("Globex lists %+v", list)
	}
	unchanged(t, s, acme.OrganizationID, before)
}

func testFindSignInFederation(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := context.Background()
	f := newFederation(t, s, acme.OrganizationID, "Entra", "acme.example")
	newFederation(t, s, acme.OrganizationID, "Shared1", "shared.example")
	newFederation(t, s, globex.OrganizationID, "Shared2", "shared.example")
	for _, ref := range []string{f.ID, "ann@acme.example", " Ann@ACME.example "} {
		got, err := s.Sessions.FindSignInFederation(ctx, ref)
		if err != nil || got.Federation.ID != f.ID || got.ClientSecret != "" {
			t.Fatalf("%q: got %+v, %v", ref, got, err)
		}
	}
	// Unknown, ambiguous (two organizations claim the domain: the user
	// must give the ID) and malformed references find nothing.
	for _, ref := range []string{unknownID, "bob@shared.example", "nobody@nowhere.example", "x@acme%", "", "acme.example"} {
		_, err := s.Sessions.FindSignInFederation(ctx, ref)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeFederationNotFound)
	}
}

// ssoEvents returns the sign-in audit events of the organization, newest
// first, as "outcome reason".
func ssoEvents(tb testing.TB, s castellan.Services, orgID string) []string {
	tb.Helper()
	action := string(castellan.ActionSignIn)
	events := listed(s.Audit.FindAuditEvents(context.Background(), orgID, castellan.AuditFilter{Action: &action}))(tb)
	out := make([]string, len(events))
	for i, e := range events {
		var outcome, reason string
		_ = json.Unmarshal(e.Summary["outcome"], &outcome)
		_ = json.Unmarshal(e.Summary["reason"], &reason)
		out[i] = strings.TrimSpace(outcome + " " + reason)
	}
	return out
}

func testFederatedSignIn(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := context.Background()
	f := newFederation(t, s, org, "Entra", "acme.example")
	added := federatedUser(t, s, org, f.ID, "ann@acme.example")

	// Added by email: the first sign-in binds the subject...
	u := must(s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-ann",
		Email: "ANN@acme.example", EmailVerified: true}))(t)
	if u.ID != added.ID {
		t.Fatalf("got user %s, want %s", u.ID, added.ID)
	}
	// ...and from then on the subject finds it, whatever the email says.
	u = must(s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-ann",
		Email: "renamed@acme.example", EmailVerified: true}))(t)
	if u.ID != added.ID {
		t.Fatalf("got user %s, want %s", u.ID, added.ID)
	}
	// Another subject with Ann's email finds no one: the binding is for
	// good, and provisioning is off.
	_, err := s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-mallory",
		Email: "ann@acme.example", EmailVerified: true})
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)

	// With autoProvision, an unknown subject becomes a user.
	on := true
	must(s.Federations.UpdateFederation(operatorCtx("u"), org, f.ID, castellan.FederationUpdate{AutoProvision: &on}))(t)
	nu := must(s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-bob",
		Email: "bob@acme.example", EmailVerified: true, Name: "Bob Builder"}))(t)
	if nu.LoginID != "bob@acme.example" || nu.AccountType != castellan.AccountFederated || nu.FederationID != f.ID ||
		nu.Status != castellan.UserActive || nu.Name != "Bob Builder" || !nu.ConsoleAccess {
		t.Fatalf("provisioned %+v", nu)
	}
	again := must(s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-bob",
		Email: "bob@acme.example", EmailVerified: true}))(t)
	if again.ID != nu.ID {
		t.Fatalf("second sign-in got %s, want %s", again.ID, nu.ID)
	}
	if got := ssoEvents(t, s, org); !slices.Equal(got, []string{"failure sso_user_not_added", "bound"}) {
		t.Fatalf("sign-in events: got %q", got)
	}
	// The federated user has no password: password sign-in refuses it.
	_, err = s.Sessions.VerifySignIn(ctx, castellan.SignIn{Organization: org, Login: "bob@acme.example", Password: "", Policy: castellan.DefaultSignInPolicy})
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
}

func testFederatedSignInRefused(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := context.Background()
	f := provisioningFederation(t, s, org)
	off := federatedUser(t, s, org, f.ID, "off@acme.example")
	disabled := castellan.UserDisabled
	must(s.Users.UpdateUser(operatorCtx("u"), org, off.ID, castellan.UserUpdate{Status: &disabled}))(t)
	register(t, s, org, castellan.UserRegistration{LoginID: "loc", Email: "local@acme.example", Mode: castellan.ModePassword, Password: signInPassword})
	other := newFederation(t, s, org, "Other")
	federatedUser(t, s, org, other.ID, "elsewhere@acme.example")
	for _, c := range []struct {
		id     castellan.FederatedIdentity
		reason string
	}{
		{castellan.FederatedIdentity{Subject: "a", Email: "a@evil.example", EmailVerified: true}, castellan.SSODomainNotAllow},
		{castellan.FederatedIdentity{Subject: "b", Email: "b@acme.example"}, castellan.SSOEmailUnverified},
		{castellan.FederatedIdentity{Subject: "c"}, castellan.SSONoEmail},
		{castellan.FederatedIdentity{Subject: "d", Email: "off@acme.example", EmailVerified: true}, "user_not_active"},
		// A local user's email is not the provider's to claim, nor is a
		// user of another federation.
		{castellan.FederatedIdentity{Subject: "e", Email: "local@acme.example", EmailVerified: true}, castellan.SSOEmailTaken},
		{castellan.FederatedIdentity{Subject: "f", Email: "elsewhere@acme.example", EmailVerified: true}, castellan.SSOEmailTaken},
	} {
		c.id.FederationID = f.ID
		_, err := s.Sessions.SignInFederated(ctx, c.id)
		wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
		if got := ssoEvents(t, s, org); got[0] != "failure "+c.reason {
			t.Fatalf("%+v: got events %q, want failure %s first", c.id, got, c.reason)
		}
	}
	// A token the console refused is audited with its reason.
	err := s.Sessions.RefuseFederatedSignIn(ctx, f.ID, castellan.SSOWrongNonce, "nonce mismatch")
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	if got := ssoEvents(t, s, org); got[0] != "failure "+castellan.SSOWrongNonce {
		t.Fatalf("got events %q", got)
	}
	// An unknown federation is refused with nothing to audit.
	_, err = s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: unknownID, Subject: "x", Email: "x@acme.example", EmailVerified: true})
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
}

// testFederatedConcurrentFirstSignIn sends 25 first sign-ins of one
// subject at once: one user is created, and every sign-in gets it.
func testFederatedConcurrentFirstSignIn(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	f := provisioningFederation(t, s, org)
	const n = 25
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u, err := s.Sessions.SignInFederated(context.Background(), castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-zed",
				Email: "zed@acme.example", EmailVerified: true})
			errs[i] = err
			if err == nil {
				ids[i] = u.ID
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("sign-in %d: got %s, %v; want %s", i, ids[i], errs[i], ids[0])
		}
	}
	users := listed(s.Users.FindUsers(operatorCtx("l"), org, castellan.UserFilter{}))(t)
	if len(users) != 2 { // the owner and zed
		t.Fatalf("got %d users", len(users))
	}
}

func testFederatedGroupMappings(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := context.Background()
	op := operatorCtx("g")
	eng := must(s.Groups.CreateGroup(op, org, castellan.GroupCreate{Name: "engineers"}))(t)
	ops := must(s.Groups.CreateGroup(op, org, castellan.GroupCreate{Name: "operators"}))(t)
	manual := must(s.Groups.CreateGroup(op, org, castellan.GroupCreate{Name: "manual"}))(t)
	f := must(s.Federations.CreateFederation(op, org, castellan.FederationCreate{Name: "Entra", Issuer: "https://idp.example.com", ClientID: "c",
		GroupMappings: []castellan.GroupMapping{{Claim: "eng", GroupID: eng.ID}, {Claim: "ops", GroupID: ops.ID}}}))(t)
	u := federatedUser(t, s, org, f.ID, "ann@acme.example")
	must(s.Groups.AddGroupMembers(op, org, manual.ID, []string{u.ID}))(t)
	groupsOf := func() []string {
		var names []string
		for _, g := range []*castellan.Group{eng, ops, manual} {
			members := listed(s.Groups.FindGroupMembers(op, org, g.ID, castellan.GroupFilter{}))(t)
			if slices.ContainsFunc(members, func(m *castellan.GroupMember) bool { return m.UserID == u.ID }) {
				names = append(names, g.Name)
			}
		}
		return names
	}
	signIn := func(groups ...string) {
		must(s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.ID, Subject: "sub-ann",
			Email: "ann@acme.example", EmailVerified: true, Groups: groups}))(t)
	}
	signIn("eng", "unmapped")
	if got := groupsOf(); !slices.Equal(got, []string{"engineers", "manual"}) {
		t.Fatalf("after eng: got %q", got)
	}
	signIn("ops")
	// Mapped groups follow the token; a group added by hand stays.
	if got := groupsOf(); !slices.Equal(got, []string{"operators", "manual"}) {
		t.Fatalf("after ops: got %q", got)
	}
	rev := must(s.ChangeLog.Revision(ctx))(t)
	signIn("ops")
	if after := must(s.ChangeLog.Revision(ctx))(t); after != rev {
		t.Fatalf("a sign-in with the same groups wrote revisions %d..%d", rev, after)
	}
}
