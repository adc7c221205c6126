package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

func (f *fixture) newFederation() *castellan.Federation {
	fed, err := f.raw.Federations.CreateFederation(system, f.org, castellan.FederationCreate{
		Name: f.unique("fed"), Issuer: "https://idp.example.com", ClientID: "castellan", AutoProvision: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return fed
}

func init() {
	// A federation decides who signs in as the organization's users:
	// managing one is the organization administrators' (iam:*).
	managers := []string{owner, admin, operator}
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
			on := true
			_, err := s.Federations.UpdateFederation(ctx, f.org, f.newFederation().ID, castellan.FederationUpdate{MFAByIdP: &on})
			return err
		}},
		{op: "Federations.DeleteFederation", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Federations.DeleteFederation(ctx, f.org, f.newFederation().ID)
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
