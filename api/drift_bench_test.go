package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// BenchmarkGetProjectAfterWrites measures GET of a project with an access
// key's token, on a fresh server and on the same server after about
// 20,000 writes (grants created in batches of every size from 1 to 100,
// as a bulk load makes them, half of every other batch deleted again, and
// project renames): what a long-running replica serves should cost what
// a fresh one does. The server refreshes stale planner statistics every
// minute (sqlstore RefreshStatistics); the benchmark does it once after
// the writes, as that sweep would.
func BenchmarkGetProjectAfterWrites(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := newEnv(b, backend.URL(b))
			f, token := keyReader(b, e)
			get := func(b *testing.B) { getProject(b, e.srv, f, token) }
			b.Run("fresh", get)
			writeMany(b, f, 20_000)
			// What castellan serve's minute sweep does after such a burst.
			if _, err := e.db.RefreshStatistics(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Run("after-writes", get)
		})
	}
}

// writeMany makes about n writes in f's organization: grants on buckets
// of f's project to a new user in batches of 1 to 100, half of every
// other batch deleted, and a project rename after each batch.
func writeMany(b *testing.B, f *fixture, n int) {
	b.Helper()
	s := f.e.db.Services()
	subject := userSubject(f.newUser())
	other := f.newProject()
	for written, size := 0, 1; written < n; size = size%100 + 1 {
		items := make([]castellan.GrantCreate, size)
		for i := range items {
			items[i] = castellan.GrantCreate{RoleID: "s3e.viewer", Scope: fmt.Sprintf("rn:s3e:%s:bucket/b%d", f.project, written+i), Subject: subject}
		}
		grants, _, err := s.Grants.CreateGrants(system, f.org, items)
		if err != nil {
			b.Fatal(err)
		}
		if size%2 == 0 {
			ids := make([]string, len(grants)/2)
			for i := range ids {
				ids[i] = grants[i].ID
			}
			if _, err := s.Grants.DeleteGrants(system, f.org, ids); err != nil {
				b.Fatal(err)
			}
		}
		name := fmt.Sprintf("renamed-%d", written)
		if _, err := s.Projects.UpdateProject(system, f.org, other, castellan.ProjectUpdate{Name: &name}); err != nil {
			b.Fatal(err)
		}
		written += size + size/2*(1-size%2) + 1
	}
}
