package guard_test

import (
	"context"
	"slices"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func init() {
	operatorOnly := []string{operator}
	rowSets = append(rowSets, []row{
		{op: "Organizations.CreateOrganization", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: f.unique("Org")})
			return err
		}},
		// Listing is open to everyone: each sees only what it may (see
		// TestFindOrganizationsShowsOwn).
		{op: "Organizations.FindOrganizations", allowed: matrixPrincipals, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{})
			return err
		}},
		{op: "Organizations.FindOrganizationByID", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Organizations.FindOrganizationByID(ctx, f.org)
			return err
		}},
		{op: "Organizations.UpdateOrganization", allowed: []string{owner, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := f.unique("d")
			_, err := s.Organizations.UpdateOrganization(ctx, f.org, castellan.OrganizationUpdate{Description: &d})
			return err
		}},
		{op: "Organizations.UpdateOrganization", variant: "rename", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			name := f.unique("Acme")
			_, err := s.Organizations.UpdateOrganization(ctx, f.org, castellan.OrganizationUpdate{Name: &name})
			return err
		}},
		{op: "Organizations.DeleteOrganization", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			org, err := f.raw.Organizations.CreateOrganization(system, castellan.OrganizationCreate{Name: f.unique("Doomed")})
			if err != nil {
				f.t.Fatal(err)
			}
			_, err = s.Organizations.DeleteOrganization(ctx, org.ID)
			return err
		}},
		{op: "Audit.FindAuditEvents", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Audit.FindAuditEvents(ctx, f.org, castellan.AuditFilter{})
			return err
		}},
	})
}

// TestFindOrganizationsShowsOwn checks what the open list shows: the
// operator every organization, a user its own when it may read it, and
// nobody another organization, even by asking for it.
func TestFindOrganizationsShowsOwn(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			other := principals[otherOwner].OrganizationID
			for _, tc := range []struct {
				principal string
				filter    *string
				want      []string
			}{
				{principal: reader, want: []string{f.org}},
				{principal: noRole, want: nil},
				{principal: projectAdmin, want: nil},
				{principal: otherOwner, want: []string{other}},
				{principal: owner, filter: &other, want: nil},
				{principal: operator, filter: &other, want: []string{other}},
			} {
				ctx := castellan.WithPrincipal(system, principals[tc.principal])
				orgs, _, err := s.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{ID: tc.filter})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, o := range orgs {
					got = append(got, o.ID)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: got %v, want %v", tc.principal, got, tc.want)
				}
			}
		})
	}
}
