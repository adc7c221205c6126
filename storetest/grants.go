package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// grantFixture is an organization with a project, users and a group, and
// a second organization to check isolation against.
type grantFixture struct {
	s             castellan.Services
	clock         *Clock
	org, otherOrg *castellan.BootstrapResult
	project       *castellan.Project
	otherProject  *castellan.Project
	users         []*castellan.User
	group         *castellan.Group
}

func newGrantFixture(t *testing.T, open Opener) *grantFixture {
	t.Helper()
	f := &grantFixture{clock: NewClock()}
	f.s = open(t, f.clock.Now)
	f.org, f.otherOrg = bootstrap(t, f.s, "Acme"), bootstrap(t, f.s, "Globex")
	ctx := operatorCtx("r-fixture")
	f.project = must(f.s.Projects.CreateProject(ctx, f.org.OrganizationID, castellan.ProjectCreate{Name: "web"}))(t)
	f.otherProject = must(f.s.Projects.CreateProject(ctx, f.otherOrg.OrganizationID, castellan.ProjectCreate{Name: "web"}))(t)
	f.users = newUsers(t, f.s, f.org.OrganizationID, "dev", 3)
	f.group = must(f.s.Groups.CreateGroup(ctx, f.org.OrganizationID, castellan.GroupCreate{Name: "devs"}))(t)
	must(f.s.Groups.AddGroupMembers(ctx, f.org.OrganizationID, f.group.ID, ids(f.users[:2])))(t)
	return f
}

func (f *grantFixture) user(i int) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectUser, ID: f.users[i].ID}
}

func (f *grantFixture) owner() castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectUser, ID: f.org.OwnerUserID}
}

func (f *grantFixture) groupSubject() castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectGroup, ID: f.group.ID}
}

func (f *grantFixture) orgScope() string { return "organization/" + f.org.OrganizationID }

func (f *grantFixture) projectScope() string { return "project/" + f.project.ID }

func (f *grantFixture) bucket(name string) string {
	return "rn:s3e:" + f.project.ID + ":bucket/" + name
}

func testGrants(t *testing.T, open Opener) {
	t.Run("BootstrapOwner", func(t *testing.T) {
		f := newGrantFixture(t, open)
		owner := f.owner()
		grants := listed(f.s.Grants.FindGrants(operatorCtx("r"), f.org.OrganizationID, castellan.GrantFilter{Subject: &owner}))(t)
		if len(grants) != 1 || grants[0].RoleID != castellan.OrganizationOwnerRoleID || grants[0].Scope != f.orgScope() ||
			grants[0].Subject != owner || grants[0].ExpiresAt != nil || grants[0].Revision != f.org.Revision || grants[0].Via != nil {
			t.Fatalf("got grants %+v, want the owner's organization.owner grant", grants)
		}
	})
	t.Run("OK", func(t *testing.T) { testGrantsOK(t, open) })
	t.Run("Find", func(t *testing.T) { testFindGrants(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testGrantErrors(t, open) })
	t.Run("Delete", func(t *testing.T) { testDeleteGrants(t, open) })
	t.Run("LastOwner", func(t *testing.T) { testLastOwner(t, open) })
	t.Run("LastOwnerConcurrent", func(t *testing.T) { testLastOwnerConcurrent(t, open) })
	t.Run("Expiry", func(t *testing.T) { testGrantExpiry(t, open) })
	t.Run("Renew", func(t *testing.T) { testGrantRenewal(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testGrantsCrossOrganization(t, open) })
	t.Run("SubjectRoles", func(t *testing.T) { testSubjectRoles(t, open) })
	t.Run("AllResourcesOfType", func(t *testing.T) {
		// Seed 003: one role for every bucket (or registry) of a project,
		// on rn:<service>:<project>:<type>/*, to users, groups and the
		// project's service accounts.
		f := newGrantFixture(t, open)
		ctx := operatorCtx("r")
		org := f.org.OrganizationID
		buckets, registries := "rn:s3e:"+f.project.ID+":bucket/*", "rn:registry:"+f.project.ID+":registry/*"
		created, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
			{RoleID: "s3e.viewer", Scope: buckets, Subject: f.user(0)},
			{RoleID: "registry.editor", Scope: registries, Subject: f.groupSubject()},
		}))(t)
		if created[0].Scope != buckets || created[1].Scope != registries {
			t.Fatalf("got %+v", created)
		}
		if got := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Scope: &buckets}))(t); len(got) != 1 || got[0].ID != created[0].ID {
			t.Fatalf("got grants on %s: %+v", buckets, got)
		}
		must(f.s.Projects.DeleteProject(ctx, org, f.project.ID))(t)
		if got := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Scope: &buckets}))(t); len(got) != 0 {
			t.Fatalf("got grants of a deleted project %+v", got)
		}
	})
	t.Run("DeleteProject", func(t *testing.T) {
		f := newGrantFixture(t, open)
		ctx := operatorCtx("r")
		org := f.org.OrganizationID
		keep := must(f.s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "api"}))(t)
		created, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
			{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)},
			{RoleID: "s3e.admin", Scope: f.bucket("logs"), Subject: f.user(0)},
			{RoleID: "project.admin", Scope: "project/" + keep.ID, Subject: f.user(0)},
			{RoleID: "s3e.admin", Scope: "rn:s3e:" + keep.ID + ":bucket/logs", Subject: f.user(0)},
		}))(t)
		must(f.s.Projects.DeleteProject(ctx, org, f.project.ID))(t)
		sub := f.user(0)
		left := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &sub}))(t)
		if len(left) != 2 || left[0].ID != created[2].ID || left[1].ID != created[3].ID {
			t.Fatalf("got grants %+v, want those on the other project only", left)
		}
	})
}

func testGrantsOK(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org := f.org.OrganizationID
	ctx := userCtx(f.org.OwnerUserID, org, "req-grant")
	custom := must(f.s.Roles.CreateRole(ctx, org, castellan.RoleCreate{Name: "ops", Kind: castellan.RoleServiceKind, Actions: []string{"compute:*"}}))(t)
	expires := f.clock.Now().Add(24 * time.Hour)
	items := []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)},
		{RoleID: "organization.reader", Scope: f.orgScope(), Subject: f.groupSubject()},
		{RoleID: "s3e.admin", Scope: f.bucket("logs"), Subject: f.user(1), ExpiresAt: &expires},
		{RoleID: custom.ID, Scope: f.projectScope(), Subject: f.user(2)},
		{RoleID: "iam.userAdmin", Scope: f.orgScope(), Subject: f.user(2)},
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)}, // a repeat
	}
	grants, rev := must2(f.s.Grants.CreateGrants(ctx, org, items))(t)
	if len(grants) != len(items) || rev <= custom.Revision {
		t.Fatalf("got %d grants at revision %d", len(grants), rev)
	}
	for i, g := range grants[:5] {
		it := items[i]
		if !castellan.ValidID(g.ID) || g.OrganizationID != org || g.RoleID != it.RoleID || g.Scope != it.Scope || g.Subject != it.Subject ||
			g.Revision != rev || !g.CreatedAt.Equal(f.clock.Now()) || g.CreatedBy != "user:"+f.org.OwnerUserID {
			t.Fatalf("grant %d: got %+v for %+v", i, g, it)
		}
	}
	if grants[5].ID != grants[0].ID {
		t.Fatalf("a repeated item made grant %s beside %s", grants[5].ID, grants[0].ID)
	}
	if grants[2].ExpiresAt == nil || !grants[2].ExpiresAt.Equal(expires) {
		t.Fatalf("got expiry %v, want %v", grants[2].ExpiresAt, expires)
	}
	events := listed(f.s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:SetGrants")}))(t)
	if len(events) != 1 || events[0].Revision != rev || events[0].RequestID != "req-grant" || len(events[0].Summary["created"]) == 0 {
		t.Fatalf("got events %+v", events)
	}
	// Granting again with the same expiry is a no-op that returns the
	// existing grants (Renew covers another expiry).
	before := takeSnapshot(t, f.s, org)
	again, againRev := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{items[2], items[0]}))(t)
	if again[0].ID != grants[2].ID || !again[0].ExpiresAt.Equal(expires) || again[1].ID != grants[0].ID || againRev != before.revision {
		t.Fatalf("got %+v at %d", again, againRev)
	}
	unchanged(t, f.s, org, before)
	if got := must(f.s.Groups.FindGroupByID(ctx, org, f.group.ID))(t); got.GrantCount != 1 {
		t.Fatalf("got group grant count %d, want 1", got.GrantCount)
	}
}

func testFindGrants(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org := f.org.OrganizationID
	ctx := operatorCtx("r")
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)},
		{RoleID: "organization.reader", Scope: f.orgScope(), Subject: f.groupSubject()},
		{RoleID: "project.reader", Scope: f.projectScope(), Subject: f.groupSubject()},
		{RoleID: "project.reader", Scope: f.projectScope(), Subject: f.user(2)},
	}))(t)
	find := func(filter castellan.GrantFilter) []*castellan.Grant {
		t.Helper()
		var all []*castellan.Grant
		for {
			page, next, err := f.s.Grants.FindGrants(ctx, org, filter)
			all = append(all, listed(page, next, err)(t)...)
			if next == "" {
				return all
			}
			filter.PageToken = next
		}
	}
	idsOf := func(gs []*castellan.Grant) string {
		var out []string
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return fmt.Sprint(out)
	}
	// user 0: direct, plus two through the group, marked with Via.
	sub := f.user(0)
	byUser := find(castellan.GrantFilter{Subject: &sub, PageSize: 2})
	if idsOf(byUser) != idsOf(grants[:3]) {
		t.Fatalf("by user: got %s, want %s", idsOf(byUser), idsOf(grants[:3]))
	}
	if byUser[0].Via != nil || byUser[1].Via == nil || *byUser[1].Via != f.groupSubject() || *byUser[2].Via != f.groupSubject() {
		t.Fatalf("by user: got via %v, %v, %v", byUser[0].Via, byUser[1].Via, byUser[2].Via)
	}
	group := f.groupSubject()
	if got := find(castellan.GrantFilter{Subject: &group}); idsOf(got) != idsOf(grants[1:3]) || got[0].Via != nil {
		t.Fatalf("by group: got %s", idsOf(got))
	}
	if got := find(castellan.GrantFilter{Scope: ptr(f.projectScope())}); idsOf(got) != fmt.Sprint([]string{grants[0].ID, grants[2].ID, grants[3].ID}) {
		t.Fatalf("by scope: got %s", idsOf(got))
	}
	if got := find(castellan.GrantFilter{RoleID: ptr("project.reader")}); idsOf(got) != idsOf(grants[2:]) {
		t.Fatalf("by role: got %s", idsOf(got))
	}
	if got := find(castellan.GrantFilter{PageSize: 1}); len(got) != 5 { // with the owner's
		t.Fatalf("all: got %d grants, want 5", len(got))
	}
	_, _, err := f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{PageToken: "x"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)

	byID := must(f.s.Grants.FindGrantsByID(ctx, org, []string{grants[3].ID, grants[0].ID}))(t)
	if idsOf(byID) != fmt.Sprint([]string{grants[3].ID, grants[0].ID}) {
		t.Fatalf("by ID: got %s", idsOf(byID))
	}
	_, err = f.s.Grants.FindGrantsByID(ctx, org, []string{grants[0].ID, unknownID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
	wantField(t, err, "grantIds[1]", "")

	// The authorizer's lookup: any of the subjects on any of the scopes.
	got := must(f.s.Grants.FindGrantsFor(ctx, org, []castellan.Subject{f.user(0), f.groupSubject()}, []string{f.orgScope(), f.projectScope()}))(t)
	if idsOf(got) != idsOf(grants[:3]) {
		t.Fatalf("for: got %s, want %s", idsOf(got), idsOf(grants[:3]))
	}
	got = must(f.s.Grants.FindGrantsFor(ctx, org, []castellan.Subject{f.user(0), f.user(2)}, []string{f.projectScope()}))(t)
	if idsOf(got) != fmt.Sprint([]string{grants[0].ID, grants[3].ID}) {
		t.Fatalf("for two users: got %s", idsOf(got))
	}
	if got := must(f.s.Grants.FindGrantsFor(ctx, org, []castellan.Subject{f.user(1)}, []string{f.orgScope()}))(t); len(got) != 0 {
		t.Fatalf("for a user with no direct grant: got %s", idsOf(got))
	}
	if got := must(f.s.Grants.FindGrantsFor(ctx, org, nil, []string{f.orgScope()}))(t); len(got) != 0 {
		t.Fatalf("for no subjects: got %s", idsOf(got))
	}
}

func testGrantErrors(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org := f.org.OrganizationID
	ctx := operatorCtx("r")
	good := castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)}
	past := f.clock.Now().Add(-time.Minute)
	now := f.clock.Now()
	otherUser := castellan.Subject{Type: castellan.SubjectUser, ID: f.otherOrg.OwnerUserID}
	before := takeSnapshot(t, f.s, org)
	for _, tc := range []struct {
		name        string
		bad         castellan.GrantCreate
		kind        castellan.Kind
		code, field string
		rule        string
	}{
		{"NoRole", castellan.GrantCreate{Scope: f.projectScope(), Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeInvalidField, ".roleId", "required"},
		{"UnknownRole", castellan.GrantCreate{RoleID: "project.nobody", Scope: f.projectScope(), Subject: f.user(0)},
			castellan.ENOTFOUND, castellan.CodeRoleNotFound, ".roleId", ""},
		{"UnknownCustomRole", castellan.GrantCreate{RoleID: unknownID, Scope: f.projectScope(), Subject: f.user(0)},
			castellan.ENOTFOUND, castellan.CodeRoleNotFound, ".roleId", ""},
		{"BadScope", castellan.GrantCreate{RoleID: "project.admin", Scope: "projects/web", Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeInvalidScope, ".scope", ""},
		{"OtherOrganizationScope", castellan.GrantCreate{RoleID: "organization.reader", Scope: "organization/" + f.otherOrg.OrganizationID, Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeInvalidScope, ".scope", ""},
		{"OtherOrganizationProject", castellan.GrantCreate{RoleID: "project.admin", Scope: "project/" + f.otherProject.ID, Subject: f.user(0)},
			castellan.ENOTFOUND, castellan.CodeProjectNotFound, ".scope", ""},
		{"OtherOrganizationResource", castellan.GrantCreate{RoleID: "s3e.admin", Scope: "rn:s3e:" + f.otherProject.ID + ":bucket/logs", Subject: f.user(0)},
			castellan.ENOTFOUND, castellan.CodeProjectNotFound, ".scope", ""},
		{"UnknownProject", castellan.GrantCreate{RoleID: "project.admin", Scope: "project/" + unknownID, Subject: f.user(0)},
			castellan.ENOTFOUND, castellan.CodeProjectNotFound, ".scope", ""},
		{"ProjectRoleOnOrganization", castellan.GrantCreate{RoleID: "project.admin", Scope: f.orgScope(), Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeRoleScopeMismatch, ".scope", "roleKind"},
		{"OrganizationRoleOnProject", castellan.GrantCreate{RoleID: "organization.owner", Scope: f.projectScope(), Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeRoleScopeMismatch, ".scope", "roleKind"},
		{"BucketRoleOnRegistry", castellan.GrantCreate{RoleID: "s3e.admin", Scope: "rn:registry:" + f.project.ID + ":registry/r1", Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeRoleScopeMismatch, ".scope", "roleKind"},
		{"BucketRoleOnAllRegistries", castellan.GrantCreate{RoleID: "s3e.viewer", Scope: "rn:registry:" + f.project.ID + ":registry/*", Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeRoleScopeMismatch, ".scope", "roleKind"},
		{"BucketRoleOnProject", castellan.GrantCreate{RoleID: "s3e.viewer", Scope: f.projectScope(), Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeRoleScopeMismatch, ".scope", "roleKind"},
		{"ProjectRoleOnAllBuckets", castellan.GrantCreate{RoleID: "project.reader", Scope: "rn:s3e:" + f.project.ID + ":bucket/*", Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeRoleScopeMismatch, ".scope", "roleKind"},
		{"PartialWildcard", castellan.GrantCreate{RoleID: "s3e.viewer", Scope: "rn:s3e:" + f.project.ID + ":bucket/logs*", Subject: f.user(0)},
			castellan.EINVALID, castellan.CodeInvalidScope, ".scope", ""},
		{"UnknownUser", castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: castellan.Subject{Type: castellan.SubjectUser, ID: unknownID}},
			castellan.ENOTFOUND, castellan.CodeUserNotFound, ".subject.id", ""},
		{"OtherOrganizationUser", castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: otherUser},
			castellan.ENOTFOUND, castellan.CodeUserNotFound, ".subject.id", ""},
		{"UnknownGroup", castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: unknownID}},
			castellan.ENOTFOUND, castellan.CodeGroupNotFound, ".subject.id", ""},
		{"UnknownServiceAccount", castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: unknownID}},
			castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound, ".subject.id", ""},
		{"SubjectType", castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: castellan.Subject{Type: "robot", ID: unknownID}},
			castellan.EINVALID, castellan.CodeInvalidField, ".subject.type", "enum"},
		{"Expired", castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(1), ExpiresAt: &past},
			castellan.EINVALID, castellan.CodeInvalidField, ".expiresAt", "future"},
		{"ExpiresNow", castellan.GrantCreate{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(1), ExpiresAt: &now},
			castellan.EINVALID, castellan.CodeInvalidField, ".expiresAt", "future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The bad item comes second: the good one before it is not made.
			_, _, err := f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{good, tc.bad})
			wantCode(t, err, tc.kind, tc.code)
			if tc.field != "" {
				wantField(t, err, "grants[1]"+tc.field, tc.rule)
			}
		})
	}
	tooMany := make([]castellan.GrantCreate, castellan.MaxBatchItems+1)
	for i := range tooMany {
		tooMany[i] = good
	}
	_, _, err := f.s.Grants.CreateGrants(ctx, org, tooMany)
	wantCode(t, err, castellan.EINVALID, castellan.CodeTooManyItems)
	_, _, err = f.s.Grants.CreateGrants(ctx, org, nil)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	_, _, err = f.s.Grants.CreateGrants(ctx, unknownID, []castellan.GrantCreate{good})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
	unchanged(t, f.s, org, before)
	sub := f.user(0)
	if got := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &sub}))(t); len(got) != 0 {
		t.Fatalf("rejected batches left grants %+v", got)
	}
	// The maximum batch is fine.
	must2(f.s.Grants.CreateGrants(ctx, org, tooMany[1:]))(t)
}

func testDeleteGrants(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org := f.org.OrganizationID
	ctx := operatorCtx("req-del")
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)},
		{RoleID: "project.reader", Scope: f.projectScope(), Subject: f.groupSubject()},
		{RoleID: "project.reader", Scope: f.projectScope(), Subject: f.user(2)},
	}))(t)
	before := takeSnapshot(t, f.s, org)
	_, err := f.s.Grants.DeleteGrants(ctx, org, []string{grants[0].ID, grants[1].ID, unknownID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
	wantField(t, err, "grantIds[2]", "")
	_, err = f.s.Grants.DeleteGrants(ctx, org, nil)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	tooMany := make([]string, castellan.MaxBatchItems+1)
	for i := range tooMany {
		tooMany[i] = grants[0].ID
	}
	_, err = f.s.Grants.DeleteGrants(ctx, org, tooMany)
	wantCode(t, err, castellan.EINVALID, castellan.CodeTooManyItems)
	unchanged(t, f.s, org, before)
	rev := must(f.s.Grants.DeleteGrants(ctx, org, []string{grants[0].ID, grants[1].ID, grants[0].ID}))(t)
	if rev <= before.revision {
		t.Fatalf("got revision %d, want > %d", rev, before.revision)
	}
	left := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Scope: ptr(f.projectScope())}))(t)
	if len(left) != 1 || left[0].ID != grants[2].ID {
		t.Fatalf("got grants %+v, want only the third", left)
	}
	events := listed(f.s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:SetGrants")}))(t)
	if events[0].Revision != rev || events[0].RequestID != "req-del" || len(events[0].Summary["deleted"]) == 0 {
		t.Fatalf("got event %+v", events[0])
	}
	_, err = f.s.Grants.DeleteGrants(ctx, org, []string{grants[0].ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
}

func testLastOwner(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org := f.org.OrganizationID
	ctx := operatorCtx("r")
	owner := f.owner()
	ownerGrant := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &owner}))(t)[0]
	before := takeSnapshot(t, f.s, org)
	_, err := f.s.Grants.DeleteGrants(ctx, org, []string{ownerGrant.ID})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
	unchanged(t, f.s, org, before)

	// An owner whose grant has an expiry does not count, even while that
	// grant is live: once it expired and was swept, nobody would own the
	// organization. (An owner through a group counts: see testOwnerRule.)
	expires := f.clock.Now().Add(time.Hour)
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: castellan.OrganizationOwnerRoleID, Scope: f.orgScope(), Subject: f.user(2), ExpiresAt: &expires},
	}))(t)
	for _, advance := range []time.Duration{0, 2 * time.Hour} { // live, then expired
		f.clock.Advance(advance)
		before = takeSnapshot(t, f.s, org)
		_, err = f.s.Grants.DeleteGrants(ctx, org, []string{ownerGrant.ID})
		wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
		unchanged(t, f.s, org, before)
	}
	// Nor may the last owner's grant be given an expiry by granting it
	// again, which replaces it.
	_, _, err = f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: castellan.OrganizationOwnerRoleID, Scope: f.orgScope(), Subject: owner, ExpiresAt: ptr(f.clock.Now().Add(time.Hour))},
	})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
	unchanged(t, f.s, org, before)

	// With a second direct owner, either may go, but not both at once.
	second := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: castellan.OrganizationOwnerRoleID, Scope: f.orgScope(), Subject: f.user(0)},
	}))
	secondGrant, _ := second(t)
	before = takeSnapshot(t, f.s, org)
	_, err = f.s.Grants.DeleteGrants(ctx, org, []string{grants[0].ID, ownerGrant.ID, secondGrant[0].ID})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
	unchanged(t, f.s, org, before)
	must(f.s.Grants.DeleteGrants(ctx, org, []string{ownerGrant.ID}))(t)
	_, err = f.s.Grants.DeleteGrants(ctx, org, []string{secondGrant[0].ID})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
}

func testGrantExpiry(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org, other := f.org.OrganizationID, f.otherOrg.OrganizationID
	ctx := operatorCtx("r")
	in1h := f.clock.Now().Add(time.Hour)
	in3h := f.clock.Now().Add(3 * time.Hour)
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0), ExpiresAt: &in1h},
		{RoleID: "project.reader", Scope: f.projectScope(), Subject: f.user(0), ExpiresAt: &in3h},
		{RoleID: "organization.reader", Scope: f.orgScope(), Subject: f.groupSubject(), ExpiresAt: &in1h},
	}))(t)
	otherGrants, _ := must2(f.s.Grants.CreateGrants(ctx, other, []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: "project/" + f.otherProject.ID, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: f.otherOrg.OwnerUserID}, ExpiresAt: &in1h},
	}))(t)
	// Nothing has expired yet: the sweep does nothing.
	before := takeSnapshot(t, f.s, org)
	if n := must(f.s.Grants.DeleteExpiredGrants(ctx))(t); n != 0 {
		t.Fatalf("swept %d grants before any expired", n)
	}
	unchanged(t, f.s, org, before)

	f.clock.Advance(2 * time.Hour)
	// Expired grants are still found until the sweep; the authorizer
	// checks Active.
	found := must(f.s.Grants.FindGrantsFor(ctx, org, []castellan.Subject{f.user(0)}, []string{f.projectScope()}))(t)
	if len(found) != 2 || found[0].ID != grants[0].ID || found[0].Active(f.clock.Now()) || !found[1].Active(f.clock.Now()) {
		t.Fatalf("got %+v, want the expired grant and the live one", found)
	}
	if n := must(f.s.Grants.DeleteExpiredGrants(ctx))(t); n != 3 {
		t.Fatalf("swept %d grants, want 3", n)
	}
	sub := f.user(0)
	left := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &sub}))(t)
	if len(left) != 1 || left[0].ID != grants[1].ID {
		t.Fatalf("got grants %+v, want only the live one", left)
	}
	_, err := f.s.Grants.FindGrantsByID(ctx, other, []string{otherGrants[0].ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
	for _, orgID := range []string{org, other} {
		events := listed(f.s.Audit.FindAuditEvents(ctx, orgID, castellan.AuditFilter{Action: ptr("iam:DeleteExpiredGrants")}))(t)
		if len(events) != 1 || events[0].Actor.Type != castellan.PrincipalSystem || !events[0].OccurredAt.Equal(f.clock.Now()) {
			t.Fatalf("organization %s: got sweep events %+v, want one by the system", orgID, events)
		}
	}
	if n := must(f.s.Grants.DeleteExpiredGrants(ctx))(t); n != 0 {
		t.Fatalf("second sweep removed %d grants, want 0", n)
	}
}

func testGrantsCrossOrganization(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org, other := f.org.OrganizationID, f.otherOrg.OrganizationID
	ctx := operatorCtx("r")
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)},
	}))(t)
	beforeAcme, beforeGlobex := takeSnapshot(t, f.s, org), takeSnapshot(t, f.s, other)
	_, err := f.s.Grants.DeleteGrants(ctx, other, []string{grants[0].ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
	_, err = f.s.Grants.FindGrantsByID(ctx, other, []string{grants[0].ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
	// Granting in Globex to Acme's group is not possible either.
	_, _, err = f.s.Grants.CreateGrants(ctx, other, []castellan.GrantCreate{
		{RoleID: "organization.reader", Scope: "organization/" + other, Subject: f.groupSubject()},
	})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	sub := f.user(0)
	for _, filter := range []castellan.GrantFilter{{}, {Subject: &sub}, {Scope: ptr(f.projectScope())}, {RoleID: ptr("project.admin")}} {
		for _, g := range listed(f.s.Grants.FindGrants(ctx, other, filter))(t) {
			if g.OrganizationID != other {
				t.Fatalf("Globex lists Acme's grant %+v", g)
			}
		}
	}
	if got := must(f.s.Grants.FindGrantsFor(ctx, other, []castellan.Subject{sub}, []string{f.projectScope()}))(t); len(got) != 0 {
		t.Fatalf("Globex finds Acme's grants %+v", got)
	}
	unchanged(t, f.s, org, beforeAcme)
	unchanged(t, f.s, other, beforeGlobex)
}

// testLastOwnerConcurrent deletes every owner grant at once, each in its own
// request: exactly one must survive, however the transactions interleave.
func testLastOwnerConcurrent(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org := f.org.OrganizationID
	ctx := operatorCtx("r")
	owner := f.owner()
	owners := []string{listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &owner}))(t)[0].ID}
	for i := range f.users {
		grants, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
			{RoleID: castellan.OrganizationOwnerRoleID, Scope: f.orgScope(), Subject: f.user(i)},
		}))(t)
		owners = append(owners, grants[0].ID)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(owners))
	for i, id := range owners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.s.Grants.DeleteGrants(ctx, org, []string{id})
		}()
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case castellan.ErrorCode(err) == castellan.CodeLastOwner:
			failed++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	left := listed(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{RoleID: ptr(castellan.OrganizationOwnerRoleID)}))(t)
	if failed != 1 || len(left) != 1 {
		t.Fatalf("got %d refusals and %d owner grants left, want 1 and 1", failed, len(left))
	}
}
