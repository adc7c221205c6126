package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
	"github.com/google/uuid"
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

// TestImportQueryPlans traces what an import's transactions read, update
// and delete, each query's first run, and refuses any plan that visits
// more than the rows asked for: one query per batch that walks the
// organization's users or grants makes an import quadratic (checking the
// batch's user names walked every user of the organization).
func TestImportQueryPlans(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.URL(t)
			db := sqltest.MustOpen(t, url, nil)
			s := db.Services()
			res := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
			org := res.OrganizationID
			old := storetest.Must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "old"}))(t)
			ann := storetest.Must(s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: "ann@acme.example"}))(t)
			later := time.Now().Add(time.Hour).UTC()
			annUser := castellan.Subject{Type: castellan.SubjectUser, ID: ann.ID}
			if _, _, err := s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
				{RoleID: "project.member", Scope: "project/" + old.ID, Subject: annUser, ExpiresAt: &later}}); err != nil {
				t.Fatal(err)
			}

			id := func() string { return uuid.Must(uuid.NewV7()).String() }
			ou, project, group, sa := id(), id(), id(), id()
			items := []*castellan.ImportItem{
				{Kind: castellan.ImportKindOrgUnit, ID: ou, OrgUnit: &castellan.OrgUnitCreate{ParentID: org, Name: "sales"}},
				{Kind: castellan.ImportKindProject, ID: project, Project: &castellan.ProjectCreate{ParentID: ou, Name: "web"}},
				{Kind: castellan.ImportKindProject, ID: id(), Project: &castellan.ProjectCreate{ParentID: ou, Name: "db"}},
				{Kind: castellan.ImportKindGroup, ID: group, Group: &castellan.GroupCreate{Name: "ops"}},
				{Kind: castellan.ImportKindServiceAccount, ID: sa, ServiceAccount: &castellan.ImportServiceAccount{ProjectID: project,
					ServiceAccountCreate: castellan.ServiceAccountCreate{Name: "ci"}}},
			}
			var users []string
			for i := range 3 {
				users = append(users, id())
				items = append(items, &castellan.ImportItem{Kind: castellan.ImportKindUser, ID: users[i], User: &castellan.UserRegistration{
					LoginID: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@acme.example", i), Name: "User", Mode: castellan.ModeInvitation,
					ConsoleAccess: true, APIAccess: true}})
			}
			for _, u := range append(users, ann.ID) {
				items = append(items, &castellan.ImportItem{Kind: castellan.ImportKindMembership, Membership: &castellan.ImportMembership{GroupID: group, UserID: u}})
			}
			for _, g := range []castellan.GrantCreate{
				{RoleID: "project.member", Scope: "project/" + old.ID, Subject: annUser}, // renews
				{RoleID: "project.reader", Scope: "project/" + project, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: users[0]}},
				{RoleID: "project.reader", Scope: "ou/" + ou, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: group}},
				{RoleID: "project.reader", Scope: "project/" + project, Subject: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: sa}},
				{RoleID: "s3e.viewer", Scope: "rn:s3e:" + project + ":bucket/logs", Subject: castellan.Subject{Type: castellan.SubjectUser, ID: users[1]}},
			} {
				items = append(items, &castellan.ImportItem{Kind: castellan.ImportKindGrant, Grant: &g})
			}
			for i, item := range items {
				item.Line = i + 1
			}

			log := db.TraceWrites(url)
			im := storetest.Must(db.Imports().BeginImport(ctx, org, castellan.ImportOptions{BatchSize: castellan.MaxImportBatchSize}))(t)
			pull, stop := iter.Pull(slices.Values(items))
			defer stop()
			result, err := im.Run(ctx, func() (*castellan.ImportItem, error) {
				if item, ok := pull(); ok {
					return item, nil
				}
				return nil, io.EOF
			}, func(*castellan.ImportProgress) error { return nil })
			if err != nil || result.Failed != 0 || result.Applied != len(items) {
				for _, item := range items {
					if item.Err != nil {
						t.Errorf("line %d: %v", item.Line, item.Err)
					}
				}
				t.Fatalf("import: got %+v, %v, want %d items applied", result, err, len(items))
			}
			queries := log.Take()
			if len(queries) < 10 {
				t.Fatalf("traced %d queries, want the import's reads", len(queries))
			}
			for _, q := range queries {
				checkPlan(t, db, "import", q)
			}
		})
	}
}
