package index_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/index"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// BenchmarkLookups measures one page of 100 of each lookup, from the
// index and from the reference, on SQLite: 200 projects under 10 OUs,
// 1,000 users in 100 groups of 10, each group holding project.reader on
// two projects and each user s3e.viewer on one bucket of a third
// (1,200 grants).
//
//   - resources: the buckets a user may read (2 wildcards and 1 named
//     bucket among 1,200 candidates: the page decides every one);
//   - subjects: who may read a project (10 members of a group and the
//     owner).
func BenchmarkLookups(b *testing.B) {
	clock := storetest.NewClock()
	db := sqltest.MustOpen(b, sqltest.SQLiteURL(b), clock.Now)
	s := db.Services()
	ctx := context.Background()
	res := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Bench", OwnerEmail: "owner@bench.example"}))(b)
	org := res.OrganizationID
	var projects []string
	for o := range 10 {
		ou := storetest.Must(s.OrgUnits.CreateOrgUnit(asOperator, org, castellan.OrgUnitCreate{ParentID: org, Name: fmt.Sprintf("ou-%d", o)}))(b).ID
		for p := range 20 {
			projects = append(projects, storetest.Must(s.Projects.CreateProject(asOperator, org, castellan.ProjectCreate{Name: fmt.Sprintf("p-%d-%d", o, p), ParentID: ou}))(b).ID)
		}
	}
	users := make([]string, 1000)
	for i := range users {
		users[i] = storetest.Must(s.Users.CreateUser(asOperator, org, castellan.UserCreate{Email: fmt.Sprintf("user-%04d@bench.example", i)}))(b).ID
	}
	var grants []castellan.GrantCreate
	for g := range 100 {
		group := storetest.Must(s.Groups.CreateGroup(asOperator, org, castellan.GroupCreate{Name: fmt.Sprintf("group-%03d", g)}))(b).ID
		storetest.Must(s.Groups.AddGroupMembers(asOperator, org, group, users[g*10:(g+1)*10]))(b)
		for _, p := range []string{projects[g%200], projects[(g+100)%200]} {
			grants = append(grants, castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + p, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: group}})
		}
	}
	for i, u := range users {
		grants = append(grants, castellan.GrantCreate{RoleID: "s3e.viewer", Scope: fmt.Sprintf("rn:s3e:%s:bucket/b%04d", projects[(i+50)%200], i),
			Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u}})
	}
	for len(grants) > 0 {
		n := min(castellan.MaxBatchItems, len(grants))
		if _, _, err := s.Grants.CreateGrants(asOperator, org, grants[:n]); err != nil {
			b.Fatal(err)
		}
		grants = grants[n:]
	}
	idx := index.New(db, s, clock.Now)
	if err := idx.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	reference := &authz.Authorizer{Grants: s.Grants, Groups: s.Groups, Roles: s.Roles, Nodes: s.Nodes,
		Policies: s.ControlPolicies, ServiceAccounts: s.ServiceAccounts, Catalog: s.Catalog, Now: clock.Now}
	member := castellan.Principal{Type: castellan.PrincipalUser, ID: users[5], OrganizationID: org}
	resources := castellan.LookupResourcesRequest{Principal: member, Action: "s3e:GetObject", ResourceType: "s3e:bucket", PageSize: 100}
	subjects := castellan.LookupSubjectsRequest{OrganizationID: org, Action: "s3e:GetObject", Resource: "project/" + projects[0], PageSize: 100}
	for _, impl := range []struct {
		name string
		l    castellan.Lookups
	}{{"index", idx}, {"reference", reference}} {
		b.Run("resources/"+impl.name, func(b *testing.B) {
			if got, next, err := impl.l.LookupResources(ctx, resources); err != nil || len(got) != 3 || next != "" {
				b.Fatalf("got %v, %q, %v; want 3 buckets", got, next, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := impl.l.LookupResources(ctx, resources); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("subjects/"+impl.name, func(b *testing.B) {
			if got, next, err := impl.l.LookupSubjects(ctx, subjects); err != nil || len(got) != 11 || next != "" {
				b.Fatalf("got %d, %q, %v; want 11 subjects", len(got), next, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := impl.l.LookupSubjects(ctx, subjects); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
