package authz_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// benchOrg is an organization with one project, users in groups and about
// five grants per user spread over every scope kind.
type benchOrg struct {
	authorizer *authz.Authorizer
	// allowed may s3e:PutObject on a bucket only through a group's
	// s3e.editor grant on it; denied is the same user on a bucket nobody
	// holds anything on.
	allowed, denied castellan.AuthzRequest
}

// newBenchOrg builds the organization with nUsers users and nGroups groups
// (each user in two groups, nUsers/nGroups < nGroups) and 5×nUsers grants:
//
//   - organization.reader or iam.userAdmin on the organization to 30% of
//     the users, project.reader on the project to the others;
//   - project.user on the project to every group;
//   - s3e.viewer on 3 buckets to every user;
//   - s3e.editor on (nUsers-nGroups)/nGroups buckets to every group.
func newBenchOrg(b *testing.B, backend sqltest.Backend, nUsers, nGroups int) *benchOrg {
	b.Helper()
	start := time.Now()
	clock := storetest.NewClock()
	s := sqltest.MustOpen(b, backend.URL(b), clock.Now).Services()
	ctx := context.Background()
	res := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Bench", OwnerEmail: "owner@bench.example"}))(b)
	org := res.OrganizationID
	project := storetest.Must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(b)

	users := make([]string, nUsers)
	for i := range users {
		users[i] = storetest.Must(s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: fmt.Sprintf("user-%04d@bench.example", i)}))(b).ID
	}
	groups := make([]string, nGroups)
	members := make([][]string, nGroups)
	for i := range groups {
		groups[i] = storetest.Must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: fmt.Sprintf("group-%03d", i)}))(b).ID
	}
	groupsOf := func(user int) [2]int {
		first := user % nGroups
		return [2]int{first, (first + 1 + user/nGroups) % nGroups}
	}
	for i, id := range users {
		for _, g := range groupsOf(i) {
			members[g] = append(members[g], id)
		}
	}
	for i, id := range groups {
		storetest.Must(s.Groups.AddGroupMembers(ctx, org, id, members[i]))(b)
	}

	bucket := func(i int) string { return fmt.Sprintf("rn:s3e:%s:bucket/b%05d", project.ID, i) }
	user := func(i int) castellan.Subject { return castellan.Subject{Type: castellan.SubjectUser, ID: users[i]} }
	group := func(i int) castellan.Subject { return castellan.Subject{Type: castellan.SubjectGroup, ID: groups[i]} }
	var items []castellan.GrantCreate
	orgRoles := []string{"organization.reader", "iam.userAdmin"}
	for i := range users {
		if i < nUsers*3/10 {
			items = append(items, castellan.GrantCreate{RoleID: orgRoles[i%2], Scope: castellan.OrganizationScope(org).String(), Subject: user(i)})
		} else {
			items = append(items, castellan.GrantCreate{RoleID: "project.reader", Scope: castellan.ProjectScope(project.ID).String(), Subject: user(i)})
		}
		for j := range 3 {
			items = append(items, castellan.GrantCreate{RoleID: "s3e.viewer", Scope: bucket((i*3 + j) % (nUsers * 2)), Subject: user(i)})
		}
	}
	perGroup := (nUsers - nGroups) / nGroups
	for i := range groups {
		items = append(items, castellan.GrantCreate{RoleID: "project.user", Scope: castellan.ProjectScope(project.ID).String(), Subject: group(i)})
		for j := range perGroup {
			items = append(items, castellan.GrantCreate{RoleID: "s3e.editor", Scope: bucket(i*perGroup + j), Subject: group(i)})
		}
	}
	for batch := range chunks(items, castellan.MaxBatchItems) {
		must2(s.Grants.CreateGrants(ctx, org, batch))(b)
	}

	chosen := nUsers / 2
	if chosen < nUsers*3/10 {
		b.Fatalf("user %d holds an organization grant", chosen)
	}
	principal := castellan.Principal{Type: castellan.PrincipalUser, ID: users[chosen], OrganizationID: org}
	viaGroup := group(groupsOf(chosen)[0])
	o := &benchOrg{
		authorizer: &authz.Authorizer{
			Grants: s.Grants, Groups: s.Groups, Roles: s.Roles, Nodes: s.Nodes, Policies: s.ControlPolicies, Catalog: s.Catalog, Now: clock.Now,
		},
		allowed: castellan.AuthzRequest{Principal: principal, Action: "s3e:PutObject", Resource: bucket(groupsOf(chosen)[0] * perGroup)},
		denied:  castellan.AuthzRequest{Principal: principal, Action: "s3e:PutObject", Resource: bucket(nUsers * 3)},
	}
	// The decisions measured must be the ones intended.
	d := storetest.Must(o.authorizer.Explain(ctx, o.allowed))(b)
	if !d.Allowed || len(d.Matches) != 1 || d.Matches[0].Path != "group" || *d.Matches[0].Group != viaGroup || d.Matches[0].Scope != o.allowed.Resource {
		b.Fatalf("allowed request: got %+v, want allowed through %v's grant on %s only", d, viaGroup, o.allowed.Resource)
	}
	if d := storetest.Must(o.authorizer.Explain(ctx, o.denied))(b); d.Allowed || d.Reason != castellan.ReasonScopeMismatch || len(d.Near) != 2*perGroup {
		b.Fatalf("denied request: got allowed %v reason %q with %d near misses, want scope_mismatch with %d", d.Allowed, d.Reason, len(d.Near), 2*perGroup)
	}
	b.Logf("%s: %d users, %d groups, %d grants set up in %v", backend.Name, nUsers, nGroups, len(items)+1, time.Since(start).Round(time.Millisecond))
	return o
}

// chunks yields items in slices of at most n.
func chunks[T any](items []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(items) > 0 {
			k := min(n, len(items))
			if !yield(items[:k]) {
				return
			}
			items = items[k:]
		}
	}
}

// must2 is must for calls that return two values besides the error.
func must2[T, U any](v T, w U, err error) func(tb testing.TB) (T, U) {
	return func(tb testing.TB) (T, U) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return v, w
	}
}

// benchDecide measures decide on the allowed and the denied request of an
// organization of nUsers users and nGroups groups on every backend.
func benchDecide(b *testing.B, nUsers, nGroups int, decide func(*authz.Authorizer) func(context.Context, castellan.AuthzRequest) (castellan.Decision, error)) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			o := newBenchOrg(b, backend, nUsers, nGroups)
			run := decide(o.authorizer)
			for _, tc := range []struct {
				name    string
				req     castellan.AuthzRequest
				allowed bool
			}{
				{"allowed", o.allowed, true},
				{"denied", o.denied, false},
			} {
				b.Run(tc.name, func(b *testing.B) {
					ctx := context.Background()
					for b.Loop() {
						d, err := run(ctx, tc.req)
						if err != nil || d.Allowed != tc.allowed {
							b.Fatalf("got %+v, %v; want allowed %v", d, err, tc.allowed)
						}
					}
				})
			}
		})
	}
}

// BenchmarkAuthorize measures one decision in an organization of 1,000
// users in 100 groups with 5,000 grants: allowed through a group's grant on
// a resource, and denied after looking at every grant of the user.
func BenchmarkAuthorize(b *testing.B) {
	benchDecide(b, 1000, 100, func(a *authz.Authorizer) func(context.Context, castellan.AuthzRequest) (castellan.Decision, error) {
		return a.Authorize
	})
}

// BenchmarkExplain is BenchmarkAuthorize for Explain, in an organization of
// 200 users in 20 groups with 1,000 grants; the denied request has 18 near
// misses to collect through the user's groups.
func BenchmarkExplain(b *testing.B) {
	benchDecide(b, 200, 20, func(a *authz.Authorizer) func(context.Context, castellan.AuthzRequest) (castellan.Decision, error) {
		return a.Explain
	})
}
