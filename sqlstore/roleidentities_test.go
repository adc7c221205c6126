package sqlstore_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestRoleIdentitiesGoWithOrganization deletes an organization holding a
// role identity, a session and a tombstone: no row of it is left, and
// another organization's rows stay.
func TestRoleIdentitiesGoWithOrganization(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := sqltest.MustOpen(t, b.URL(t), nil)
			s := db.Services()
			var orgs []string
			for _, name := range []string{"Acme", "Globex"} {
				org := storetest.Must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: name}))(t).ID
				r := storetest.Must(s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: "ops", Kind: castellan.RoleKindServer}))(t)
				src := castellan.SourceIdentity{Type: castellan.SourceServer}
				storetest.Must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, src))(t)
				ended := storetest.Must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, src))(t)
				storetest.Must(s.RoleIdentities.EndRoleSession(ctx, org, ended.ID))(t)
				orgs = append(orgs, org)
			}
			storetest.Must(s.Organizations.DeleteOrganization(ctx, orgs[0]))(t)
			for _, c := range []struct {
				table string
				org   string
				want  int
			}{
				{"role_identities", orgs[0], 0}, {"role_sessions", orgs[0], 0},
				{"role_identities", orgs[1], 1}, {"role_sessions", orgs[1], 2},
			} {
				n, err := db.Count(ctx, `SELECT COUNT(*) FROM `+c.table+` WHERE org_id = ?`, c.org)
				if err != nil {
					t.Fatal(err)
				}
				if n != c.want {
					t.Errorf("%s of %s: got %d rows, want %d", c.table, c.org, n, c.want)
				}
			}
		})
	}
}
