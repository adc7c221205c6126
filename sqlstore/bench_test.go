package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// benchOrg opens a store with one bootstrapped organization.
func benchOrg(b *testing.B, url string) (castellan.Services, *castellan.BootstrapResult) {
	b.Helper()
	s := sqltest.MustOpen(b, url, nil).Services()
	res, err := s.Tokens.BootstrapOrganization(context.Background(), castellan.Bootstrap{OrganizationName: "Bench", OwnerEmail: "owner@bench.example"})
	if err != nil {
		b.Fatal(err)
	}
	return s, res
}

// BenchmarkCreateProject measures one audited write: the project row, its
// revision, change-log row and audit event in one transaction.
func BenchmarkCreateProject(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			s, res := benchOrg(b, backend.URL(b))
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := s.Projects.CreateProject(ctx, res.OrganizationID, castellan.ProjectCreate{Name: fmt.Sprintf("p%d", i)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkFindProjectsPage measures reading a page of 100 projects from the
// middle of 5,000 with a page token.
func BenchmarkFindProjectsPage(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			s, res := benchOrg(b, backend.URL(b))
			ctx := context.Background()
			for i := 0; i < 5000; i++ {
				if _, err := s.Projects.CreateProject(ctx, res.OrganizationID, castellan.ProjectCreate{Name: fmt.Sprintf("p%05d", i)}); err != nil {
					b.Fatal(err)
				}
			}
			var token string
			for range 25 {
				_, next, err := s.Projects.FindProjects(ctx, res.OrganizationID, castellan.ProjectFilter{PageSize: 100, PageToken: token})
				if err != nil {
					b.Fatal(err)
				}
				token = next
			}
			for b.Loop() {
				page, _, err := s.Projects.FindProjects(ctx, res.OrganizationID, castellan.ProjectFilter{PageSize: 100, PageToken: token})
				if err != nil || len(page) != 100 {
					b.Fatalf("got %d projects, %v", len(page), err)
				}
			}
		})
	}
}

// BenchmarkAuthenticate measures the bootstrap-token check every API request
// makes today (a hash and one indexed read).
func BenchmarkAuthenticate(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			s, res := benchOrg(b, backend.URL(b))
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.Tokens.Authenticate(ctx, res.Token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
