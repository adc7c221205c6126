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

// BenchmarkFindUserGroups measures the lookup of a user's groups every
// decision of the store-backed authorizer makes, in an organization of
// 5,000 users and 2,000 groups of 10 members, each user in 4 groups.
func BenchmarkFindUserGroups(b *testing.B) {
	const nUsers, nGroups, perGroup = 5000, 2000, 10
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := sqltest.MustOpen(b, backend.URL(b), nil)
			ctx := context.Background()
			res, err := db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Bench", OwnerEmail: "owner@bench.example"})
			if err != nil {
				b.Fatal(err)
			}
			org := res.OrganizationID
			if err := db.BulkInsertUsers(ctx, org, nUsers); err != nil {
				b.Fatal(err)
			}
			var users []string
			for token := ""; ; {
				page, next, err := db.Users().FindUsers(ctx, org, castellan.UserFilter{PageSize: castellan.MaxPageSize, PageToken: token})
				if err != nil {
					b.Fatal(err)
				}
				for _, u := range page {
					if u.ID != res.OwnerUserID {
						users = append(users, u.ID)
					}
				}
				if token = next; token == "" {
					break
				}
			}
			for i := range nGroups {
				g, err := db.Groups().CreateGroup(ctx, org, castellan.GroupCreate{Name: fmt.Sprintf("group-%04d", i)})
				if err != nil {
					b.Fatal(err)
				}
				members := make([]string, perGroup)
				for j := range members {
					members[j] = users[(i*perGroup+j)%len(users)]
				}
				if _, err := db.Groups().AddGroupMembers(ctx, org, g.ID, members); err != nil {
					b.Fatal(err)
				}
			}
			user := users[len(users)/2]
			for b.Loop() {
				groups, err := db.Groups().FindUserGroups(ctx, org, user)
				if err != nil || len(groups) != nGroups*perGroup/nUsers {
					b.Fatalf("got %d groups, %v", len(groups), err)
				}
			}
		})
	}
}
