package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func (f *fixture) newRoleIdentity(kind string) string {
	r, err := f.raw.RoleIdentities.CreateRoleIdentity(system, f.org, castellan.RoleIdentityCreate{Name: f.unique("role"), Kind: kind})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.ID
}

func (f *fixture) newRoleSession() string {
	rs, err := f.raw.RoleIdentities.AssumeRoleIdentity(system, f.org, f.newRoleIdentity(castellan.RoleKindServer),
		castellan.SourceIdentity{Type: castellan.SourceServer})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs.ID
}

func init() {
	managers := []string{owner, admin, operator}
	// iam.userAdmin reads them: role sessions are the role users of the
	// sub-account API, read with its users.
	readers := []string{owner, admin, reader, userAdmin, operator}
	rowSets = append(rowSets, []row{
		{op: "RoleIdentities.CreateRoleIdentity", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.RoleIdentities.CreateRoleIdentity(ctx, f.org, castellan.RoleIdentityCreate{Name: f.unique("role"), Kind: castellan.RoleKindSSO})
			return err
		}},
		{op: "RoleIdentities.FindRoleIdentities", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.RoleIdentities.FindRoleIdentities(ctx, f.org, castellan.RoleIdentityFilter{})
			return err
		}},
		{op: "RoleIdentities.FindRoleIdentityByID", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.RoleIdentities.FindRoleIdentityByID(ctx, f.org, f.newRoleIdentity(castellan.RoleKindServer))
			return err
		}},
		{op: "RoleIdentities.DeleteRoleIdentity", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.RoleIdentities.DeleteRoleIdentity(ctx, f.org, f.newRoleIdentity(castellan.RoleKindServer))
			return err
		}},
		{op: "RoleIdentities.AssumeRoleIdentity", variant: "server role", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.RoleIdentities.AssumeRoleIdentity(ctx, f.org, f.newRoleIdentity(castellan.RoleKindServer), castellan.SourceIdentity{Type: castellan.SourceServer})
			return err
		}},
		// Only a user of the organization assumes an account role: the
		// operator may not.
		{op: "RoleIdentities.AssumeRoleIdentity", variant: "account role", allowed: []string{owner, admin}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.RoleIdentities.AssumeRoleIdentity(ctx, f.org, f.newRoleIdentity(castellan.RoleKindAccount), castellan.SourceIdentity{})
			return err
		}},
		{op: "RoleIdentities.FindRoleSessionByID", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.RoleIdentities.FindRoleSessionByID(ctx, f.org, f.newRoleSession(), false)
			return err
		}},
		{op: "RoleIdentities.EndRoleSession", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.RoleIdentities.EndRoleSession(ctx, f.org, f.newRoleSession())
			return err
		}},
	})
}

// TestAssumeAccountRoleIdentity: an account role's source identity is the
// calling user, whatever the input says; callers that are not users of
// the organization cannot assume one. Other kinds keep the given source.
func TestAssumeAccountRoleIdentity(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			account := f.newRoleIdentity(castellan.RoleKindAccount)
			asOwner := castellan.WithPrincipal(system, principals[owner])
			forged := castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: "someone-else", Provider: "another-org"}
			rs, err := s.RoleIdentities.AssumeRoleIdentity(asOwner, f.org, account, forged)
			if err != nil {
				t.Fatal(err)
			}
			want := castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: f.ids[owner], Provider: f.org}
			if rs.SourceIdentity != want {
				t.Fatalf("got source %+v, want %+v", rs.SourceIdentity, want)
			}

			before, err := f.raw.ChangeLog.Revision(system)
			if err != nil {
				t.Fatal(err)
			}
			// The operator holds every action but is no user.
			_, err = s.RoleIdentities.AssumeRoleIdentity(castellan.WithPrincipal(system, principals[operator]), f.org, account, want)
			if castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("operator: got %v, want forbidden", err)
			}
			_, err = s.RoleIdentities.AssumeRoleIdentity(castellan.WithPrincipal(system, principals[otherOwner]), f.org, account, want)
			if castellan.ErrorCode(err) != castellan.CodeOrgNotFound {
				t.Errorf("owner of another organization: got %v, want organization not found", err)
			}
			if after, err := f.raw.ChangeLog.Revision(system); err != nil || after != before {
				t.Fatalf("refused assumptions changed the store: revision %d, then %d (%v)", before, after, err)
			}

			sso := f.newRoleIdentity(castellan.RoleKindSSO)
			src := castellan.SourceIdentity{Type: castellan.SourceFederatedUser, ID: "alice@idp", Provider: "tenant-7"}
			rs, err = s.RoleIdentities.AssumeRoleIdentity(castellan.WithPrincipal(system, principals[operator]), f.org, sso, src)
			if err != nil || rs.SourceIdentity != src {
				t.Fatalf("sso role: got %+v, %v, want source %+v", rs, err, src)
			}
			_, err = s.RoleIdentities.AssumeRoleIdentity(asOwner, f.org, sso, castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: "u", Provider: "p"})
			if castellan.ErrorCode(err) != castellan.CodeRoleSessionSourceMismatch {
				t.Fatalf("sso role with a user's source: got %v, want %s", err, castellan.CodeRoleSessionSourceMismatch)
			}
			_, err = s.RoleIdentities.FindRoleSessionByID(asOwner, f.org, "not-an-id", false)
			if castellan.ErrorCode(err) != castellan.CodeInvalidID {
				t.Fatalf("malformed session ID: got %v, want %s", err, castellan.CodeInvalidID)
			}
		})
	}
}
