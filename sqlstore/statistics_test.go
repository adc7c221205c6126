package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestRefreshStatistics: after a burst of grants, PostgreSQL's planner
// statistics are stale and RefreshStatistics analyzes the tables; SQLite
// keeps no statistics and it does nothing. PostgreSQL publishes a
// backend's table counters within seconds, not at commit, so the test
// asks again until they show, within a deadline.
func TestRefreshStatistics(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), storetest.NewClock().Now)
			ctx := context.Background()
			s := db.Services()
			boot := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
			org := boot.OrganizationID
			project := storetest.Must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
			user := castellan.Subject{Type: castellan.SubjectUser, ID: boot.OwnerUserID}
			for batch := range 20 {
				items := make([]castellan.GrantCreate, 100)
				for i := range items {
					items[i] = castellan.GrantCreate{RoleID: "s3e.viewer", Scope: fmt.Sprintf("rn:s3e:%s:bucket/b%d-%d", project.ID, batch, i), Subject: user}
				}
				if _, _, err := s.Grants.CreateGrants(ctx, org, items); err != nil {
					t.Fatal(err)
				}
			}
			if b.Name != "postgres" {
				if n, err := db.RefreshStatistics(ctx); err != nil || n != 0 {
					t.Fatalf("got %d tables analyzed, %v; want none", n, err)
				}
				return
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				n, err := db.RefreshStatistics(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("2,000 new grants never made the grants table's statistics stale")
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
