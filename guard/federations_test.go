package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func (f *fixture) newFederation() *castellan.Federation {
	fed, err := f.raw.Federations.CreateFederation(system, f.org, castellan.FederationCreate{
		Name: f.unique("fed"), Issuer: "https://idp.example.com", ClientID: "castellan", AutoProvision: true, AllowedDomains: []string{"acme.example"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return fed
}

// newSCIMToken makes a SCIM token of Acme's owner and returns its ID.
func (f *fixture) newSCIMToken() string {
	t, err := f.raw.SCIMTokens.CreateSCIMToken(f.ownerCtx(), f.org, castellan.SCIMTokenCreate{Name: f.unique("scim")})
	if err != nil {
		f.t.Fatal(err)
	}
	return t.SCIMToken.ID
}

// newSCIMSecret makes a SCIM token of Acme's owner and returns its
// secret.
func (f *fixture) newSCIMSecret() string {
	t, err := f.raw.SCIMTokens.CreateSCIMToken(f.ownerCtx(), f.org, castellan.SCIMTokenCreate{Name: f.unique("scim")})
	if err != nil {
		f.t.Fatal(err)
	}
	return t.Secret
}

func (f *fixture) ownerCtx() context.Context {
	return castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: f.ids[owner], OrganizationID: f.org})
}

// TestSCIMTokenNotFromSCIM: a principal that came over SCIM makes no
// SCIM token, though its creator may.
func TestSCIMTokenNotFromSCIM(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, services, principals := newFixture(t, b.URL(t))
			p := principals[owner]
			p.SCIMTokenID = f.newSCIMToken()
			_, err := services.SCIMTokens.CreateSCIMToken(castellan.WithPrincipal(system, p), f.org, castellan.SCIMTokenCreate{Name: "more"})
			if castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Fatalf("got %v, want forbidden", err)
			}
		})
	}
}

func init() {
	// A federation decides who signs in as the organization's users:
	// managing one is the organization administrators' (iam:*).
	managers := []string{owner, admin, operator}
	owners := []string{owner, operator}
	readers := []string{owner, admin, reader, operator}
	rowSets = append(rowSets, []row{
		{op: "Federations.CreateFederation", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Federations.CreateFederation(ctx, f.org, castellan.FederationCreate{Name: f.unique("fed"), Issuer: "https://idp.example.com", ClientID: "c"})
			return err
		}},
		{op: "Federations.FindFederations", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Federations.FindFederations(ctx, f.org, castellan.FederationFilter{})
			return err
		}},
		{op: "Federations.FindFederationByID", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Federations.FindFederationByID(ctx, f.org, f.newFederation().ID)
			return err
		}},
		{op: "Federations.UpdateFederation", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := "the staff directory"
			_, err := s.Federations.UpdateFederation(ctx, f.org, f.newFederation().ID, castellan.FederationUpdate{Description: &d})
			return err
		}},
		// Who signs in, and how, is an owner's to change: an admin
		// pointing the federation elsewhere would take its users.
		{op: "Federations.UpdateFederation", variant: "sign-in settings", allowed: owners, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			issuer := "https://elsewhere.example.com"
			_, err := s.Federations.UpdateFederation(ctx, f.org, f.newFederation().ID, castellan.FederationUpdate{Issuer: &issuer})
			return err
		}},
		{op: "Federations.CreateFederation", variant: "allowed domains", allowed: owners, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Federations.CreateFederation(ctx, f.org, castellan.FederationCreate{Name: f.unique("fed"), Issuer: "https://idp.example.com",
				ClientID: "c", AllowedDomains: []string{"acme.example"}})
			return err
		}},
		{op: "Federations.CreateFederation", variant: "group mappings", allowed: owners, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Federations.CreateFederation(ctx, f.org, castellan.FederationCreate{Name: f.unique("fed"), Issuer: "https://idp.example.com",
				ClientID: "c", GroupMappings: []castellan.GroupMapping{{Claim: "eng", GroupID: f.newGroup()}}})
			return err
		}},
		{op: "Federations.DeleteFederation", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Federations.DeleteFederation(ctx, f.org, f.newFederation().ID)
			return err
		}},
		// A SCIM token acts as its creator: only a user of the
		// organization makes one (see TestSCIMTokenNotFromSCIM).
		{op: "SCIMTokens.CreateSCIMToken", allowed: []string{owner, admin}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.SCIMTokens.CreateSCIMToken(ctx, f.org, castellan.SCIMTokenCreate{Name: "idp"})
			return err
		}},
		{op: "SCIMTokens.FindSCIMTokens", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.SCIMTokens.FindSCIMTokens(ctx, f.org)
			return err
		}},
		{op: "SCIMTokens.DeleteSCIMToken", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.SCIMTokens.DeleteSCIMToken(ctx, f.org, f.newSCIMToken())
			return err
		}},
		{op: "SCIMTokens.AuthenticateSCIM", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.SCIMTokens.AuthenticateSCIM(ctx, f.newSCIMSecret())
			return err
		}},
		// The single sign-on authenticates by the provider's verified
		// token, as password sign-in does by the password.
		{op: "Sessions.FindSignInFederation", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.FindSignInFederation(ctx, f.newFederation().ID)
			return err
		}},
		{op: "Sessions.SignInFederated", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Sessions.SignInFederated(ctx, castellan.FederatedIdentity{FederationID: f.newFederation().ID, Subject: f.unique("sub"),
				Email: f.unique("sso") + "@acme.example", EmailVerified: true})
			return err
		}},
		{op: "Sessions.RefuseFederatedSignIn", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			err := s.Sessions.RefuseFederatedSignIn(ctx, f.newFederation().ID, castellan.SSOWrongNonce, "test")
			if castellan.ErrorCode(err) == castellan.CodeSignInFailed {
				return nil
			}
			return err
		}},
	})
}
