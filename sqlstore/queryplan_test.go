package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// badPlan matches a plan line that reads a table whole, or reads an
// organization's rows by the organization alone (every group of it, say,
// to find a user's few): what makes a lookup grow with the organization.
// SQLite says "SCAN t" and "SEARCH t USING INDEX i (org_id=?)".
// PostgreSQL, with sequential scans disabled, says "Seq Scan on t" when no
// index serves a table at all; which index it takes depends on statistics
// the test's few rows do not give, so only that is checked there.
var badPlan = regexp.MustCompile(`^SCAN \w+( |$)|\(org_id=\?\)$|Seq Scan on `)

// TestPerRequestQueryPlans records the reads of the lookups every request
// makes (the token and session checks, the user, and the authorizer's
// project, groups, grants and roles of a principal) and refuses any whose
// plan visits more than the rows asked for. SQLite plans without
// statistics, as a new store does.
func TestPerRequestQueryPlans(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.URL(t)
			db := sqltest.MustOpen(t, url, nil)
			s := db.Services()
			res := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
			org := res.OrganizationID
			project := storetest.Must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
			user := storetest.Must(s.Users.RegisterUser(ctx, org, castellan.UserRegistration{
				LoginID: "ann", Email: "ann@acme.example", Name: "Ann", Mode: castellan.ModePassword, Password: "Correct-Horse-7-battery",
				ConsoleAccess: true, APIAccess: true,
			}))(t).User
			role := storetest.Must(s.Roles.CreateRole(ctx, org, castellan.RoleCreate{Name: "ops", Kind: castellan.RoleProject, Actions: []string{"compute:*"}}))(t)
			var groups []string
			for i := range 20 {
				g := storetest.Must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: fmt.Sprintf("group-%02d", i)}))(t)
				groups = append(groups, g.ID)
			}
			for _, g := range groups[:3] {
				storetest.Must(s.Groups.AddGroupMembers(ctx, org, g, []string{user.ID}))(t)
			}
			group := castellan.Subject{Type: castellan.SubjectGroup, ID: groups[0]}
			bucket := "rn:s3e:" + project.ID + ":bucket/logs"
			sa := storetest.Must(s.ServiceAccounts.CreateServiceAccount(ctx, org, project.ID, castellan.ServiceAccountCreate{Name: "ci"}))(t)
			if _, _, err := s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
				{RoleID: role.ID, Scope: castellan.ProjectScope(project.ID).String(), Subject: group},
				{RoleID: "s3e.viewer", Scope: bucket, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: user.ID}},
				{RoleID: "project.reader", Scope: castellan.ProjectScope(project.ID).String(), Subject: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: sa.ID}},
			}); err != nil {
				t.Fatal(err)
			}
			key := storetest.Must(s.AccessKeys.CreateAccessKey(ctx, org, castellan.AccessKeyCreate{
				Owner: castellan.Subject{Type: castellan.SubjectUser, ID: user.ID}, ProjectID: project.ID, Name: "ci"}))(t)
			keyToken := storetest.Must(s.AccessKeys.ExchangeAccessKey(ctx, key.ID, key.Secret))(t)
			session := storetest.Must(s.Sessions.CreateSession(ctx, org, user.ID, castellan.SessionComplete, "test", castellan.DefaultSignInPolicy))(t)
			authorizer := &authz.Authorizer{Grants: s.Grants, Groups: s.Groups, Roles: s.Roles, Nodes: s.Nodes, Policies: s.ControlPolicies,
				ServiceAccounts: s.ServiceAccounts, Catalog: s.Catalog, Now: castellan.SystemClock}
			ann := castellan.Principal{Type: castellan.PrincipalUser, ID: user.ID, OrganizationID: org}
			robot := castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: sa.ID, OrganizationID: org}

			// Lookups by key of many rows at once, as the index reads what
			// an import batch changed: without statistics SQLite walked
			// the organization's index for a long IN list.
			keys := make([]string, 300)
			for i := range keys {
				keys[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			}
			keys[0], keys[1] = project.ID, user.ID
			nothing := func(string) error { return nil }

			log := db.TraceReads(url)
			lookups := []struct {
				name string
				run  func() error
			}{
				{"token", func() error { _, err := s.Tokens.FindCredential(ctx, res.Token); return err }},
				{"key token", func() error { _, err := s.Tokens.FindCredential(ctx, keyToken.Token); return err }},
				{"session", func() error { _, _, err := s.Sessions.AuthenticateSession(ctx, session.Token); return err }},
				{"user", func() error { _, err := s.Users.FindUserByID(ctx, org, user.ID, false); return err }},
				{"user groups", func() error { _, err := s.Groups.FindUserGroups(ctx, org, user.ID); return err }},
				{"grants of subject", func() error {
					_, _, err := s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &group, PageSize: castellan.MaxPageSize})
					return err
				}},
				{"authorize through group", decision(ctx, authorizer.Authorize, castellan.AuthzRequest{Principal: ann, Action: "compute:StartInstance", Resource: castellan.ProjectScope(project.ID).String()}, true)},
				{"explain near misses", decision(ctx, authorizer.Explain, castellan.AuthzRequest{Principal: ann, Action: "s3e:GetObject", Resource: "rn:s3e:" + project.ID + ":bucket/other"}, false)},
				{"authorize service account", decision(ctx, authorizer.Authorize, castellan.AuthzRequest{Principal: robot, Action: "organizations:GetProject", Resource: castellan.ProjectScope(project.ID).String()}, true)},
				{"grants by ID", func() error {
					_, err := s.Grants.FindGrantsByID(ctx, org, keys)
					if castellan.ErrorKind(err) == castellan.ENOTFOUND {
						err = nil // most of the keys name no grant
					}
					return err
				}},
				{"nodes by ID", func() error { _, err := s.Nodes.FindNodesByID(ctx, org, keys); return err }},
				{"index reads by key", func() error {
					return db.ReadAuthz(ctx, func(r castellan.AuthzReader) error {
						return errors.Join(r.Users(org, keys, nothing), r.ServiceAccounts(org, keys, nothing),
							r.Grants(org, keys, func(castellan.AuthzGrant) error { return nil }))
					})
				}},
			}
			for _, l := range lookups {
				if err := l.run(); err != nil {
					t.Fatalf("%s: %v", l.name, err)
				}
				queries := log.Take()
				if len(queries) == 0 {
					t.Fatalf("%s: no read traced", l.name)
				}
				for _, q := range queries {
					checkPlan(t, db, l.name, q)
				}
			}
		})
	}
}

// decision returns a lookup that runs decide on req and checks its answer.
func decision(ctx context.Context, decide func(context.Context, castellan.AuthzRequest) (castellan.Decision, error), req castellan.AuthzRequest, allowed bool) func() error {
	return func() error {
		d, err := decide(ctx, req)
		if err == nil && d.Allowed != allowed {
			err = fmt.Errorf("got %+v, want allowed %v", d, allowed)
		}
		return err
	}
}

func checkPlan(t *testing.T, db *sqlstore.DB, lookup string, q sqlstore.Query) {
	t.Helper()
	plan, err := db.Explain(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", lookup, err)
	}
	for _, line := range plan {
		if badPlan.MatchString(line) {
			t.Errorf("%s: %q\nplans %q in\n%s", lookup, strings.Join(strings.Fields(q.SQL), " "), line, strings.Join(plan, "\n"))
		}
	}
}
