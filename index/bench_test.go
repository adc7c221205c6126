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

// BenchmarkIndexAuthorize measures one decision of the index, and of the
// reference on the same organization: root ─ OU ─ OU ─ account ─ project,
// 1,000 users in 100 groups (each user in one), every group holding
// project.admin on the upper OU and every user s3e.viewer on 3 buckets
// (4,100 grants). A control policy on the account forbids
// compute:StartInstance.
//
//   - allowed: a user through its group's grant on the OU three levels up
//     (control policies evaluated at four levels);
//   - denied: a user of no group on the project: no grant;
//   - policy: the allowed user starting an instance, refused by the
//     account's policy.
func BenchmarkIndexAuthorize(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			clock := storetest.NewClock()
			db := sqltest.MustOpen(b, backend.URL(b), clock.Now)
			s := db.Services()
			ctx := context.Background()
			res := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Bench", OwnerEmail: "owner@bench.example"}))(b)
			org := res.OrganizationID
			top := storetest.Must(s.OrgUnits.CreateOrgUnit(asOperator, org, castellan.OrgUnitCreate{ParentID: org, Name: "top"}))(b).ID
			mid := storetest.Must(s.OrgUnits.CreateOrgUnit(asOperator, org, castellan.OrgUnitCreate{ParentID: top, Name: "mid"}))(b).ID
			email := "prod@accounts.example"
			account := storetest.Must(s.Accounts.CreateAccount(asOperator, org, castellan.AccountCreate{
				ParentID: mid, Name: "prod", Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"}))(b).ID
			project := storetest.Must(s.Projects.CreateProject(asOperator, org, castellan.ProjectCreate{Name: "web", ParentID: account}))(b).ID
			forbid := storetest.Must(s.ControlPolicies.CreateControlPolicy(asOperator, org, castellan.ControlPolicyCreate{
				Name: "no-start", Document: `forbid (principal, action == Action::"compute:StartInstance", resource);`}))(b).ID
			storetest.Must(s.ControlPolicies.AttachControlPolicy(asOperator, org, forbid, account))(b)

			const nUsers, nGroups = 1000, 100
			users := make([]string, nUsers+1)
			for i := range users {
				users[i] = storetest.Must(s.Users.CreateUser(asOperator, org, castellan.UserCreate{Email: fmt.Sprintf("user-%04d@bench.example", i)}))(b).ID
			}
			var grants []castellan.GrantCreate
			for g := range nGroups {
				group := storetest.Must(s.Groups.CreateGroup(asOperator, org, castellan.GroupCreate{Name: fmt.Sprintf("group-%03d", g)}))(b).ID
				storetest.Must(s.Groups.AddGroupMembers(asOperator, org, group, users[g*10:(g+1)*10]))(b)
				grants = append(grants, castellan.GrantCreate{RoleID: "project.admin", Scope: "ou/" + top, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: group}})
			}
			for i, u := range users[:nUsers] {
				for j := range 3 {
					grants = append(grants, castellan.GrantCreate{RoleID: "s3e.viewer", Scope: fmt.Sprintf("rn:s3e:%s:bucket/b%05d", project, i*3+j),
						Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u}})
				}
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
			member := castellan.Principal{Type: castellan.PrincipalUser, ID: users[nUsers/2], OrganizationID: org}
			loner := castellan.Principal{Type: castellan.PrincipalUser, ID: users[nUsers], OrganizationID: org}
			instance := "rn:compute:" + project + ":instance/vm-1"
			for _, tc := range []struct {
				name   string
				req    castellan.AuthzRequest
				reason string
			}{
				{"allowed", castellan.AuthzRequest{Principal: member, Action: "compute:StopInstance", Resource: instance}, castellan.ReasonAllowed},
				{"denied", castellan.AuthzRequest{Principal: loner, Action: "compute:StopInstance", Resource: "project/" + project}, castellan.ReasonNoGrant},
				{"policy", castellan.AuthzRequest{Principal: member, Action: "compute:StartInstance", Resource: instance}, castellan.ReasonPolicyForbids},
			} {
				for _, impl := range []struct {
					name string
					a    castellan.Authorizer
				}{{"index", idx}, {"reference", reference}} {
					b.Run(tc.name+"/"+impl.name, func(b *testing.B) {
						// The decision measured must be the one intended.
						if d, err := impl.a.Authorize(ctx, tc.req); err != nil || d.Reason != tc.reason {
							b.Fatalf("got %+v, %v; want %s", d, err, tc.reason)
						}
						b.ReportAllocs()
						for b.Loop() {
							if _, err := impl.a.Authorize(ctx, tc.req); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		})
	}
}
