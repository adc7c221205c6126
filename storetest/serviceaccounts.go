package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testServiceAccounts(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testServiceAccountsOK(t, open) })
	t.Run("ErrNameTaken", func(t *testing.T) { testServiceAccountsErrNameTaken(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testServiceAccountsErrInvalid(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testServiceAccountsErrNotFound(t, open) })
	t.Run("List", func(t *testing.T) { testServiceAccountsList(t, open) })
	t.Run("Grants", func(t *testing.T) { testServiceAccountsGrants(t, open) })
	t.Run("Delete", func(t *testing.T) { testServiceAccountsDelete(t, open) })
	t.Run("DeleteProject", func(t *testing.T) { testServiceAccountsDeleteProject(t, open) })
	t.Run("NotGroupMembers", func(t *testing.T) { testServiceAccountsNotGroupMembers(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testServiceAccountsConcurrent(t, open) })
}

// accountFixture is an organization with two projects and another
// organization with a project of its own.
type accountFixture struct {
	s              castellan.Services
	clock          *Clock
	org, otherOrg  string
	owner          string
	project, other *castellan.Project // both in org
	foreign        *castellan.Project // in otherOrg
}

func newAccountFixture(t *testing.T, open Opener) *accountFixture {
	t.Helper()
	f := &accountFixture{clock: NewClock()}
	f.s = open(t, f.clock.Now)
	acme, globex := bootstrap(t, f.s, "Acme"), bootstrap(t, f.s, "Globex")
	f.org, f.otherOrg, f.owner = acme.OrganizationID, globex.OrganizationID, acme.OwnerUserID
	ctx := operatorCtx("r-fixture")
	f.project = must(f.s.Projects.CreateProject(ctx, f.org, castellan.ProjectCreate{Name: "web"}))(t)
	f.other = must(f.s.Projects.CreateProject(ctx, f.org, castellan.ProjectCreate{Name: "api"}))(t)
	f.foreign = must(f.s.Projects.CreateProject(ctx, f.otherOrg, castellan.ProjectCreate{Name: "web"}))(t)
	return f
}

func (f *accountFixture) create(t *testing.T, project *castellan.Project, name string) *castellan.ServiceAccount {
	t.Helper()
	return must(f.s.ServiceAccounts.CreateServiceAccount(operatorCtx("r-sa"), project.OrganizationID, project.ID, castellan.ServiceAccountCreate{Name: name}))(t)
}

func accountSubject(a *castellan.ServiceAccount) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectServiceAccount, ID: a.ID}
}

func testServiceAccountsOK(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := userCtx(f.owner, f.org, "req-sa")
	a := must(f.s.ServiceAccounts.CreateServiceAccount(ctx, f.org, f.project.ID, castellan.ServiceAccountCreate{Name: "ci-deployer", Description: "pushes images"}))(t)
	if !castellan.ValidID(a.ID) || a.OrganizationID != f.org || a.ProjectID != f.project.ID || a.Name != "ci-deployer" ||
		a.Description != "pushes images" || a.CreatedBy != "user:"+f.owner || a.UpdatedBy != a.CreatedBy ||
		!a.CreatedAt.Equal(f.clock.Now()) || !a.UpdatedAt.Equal(a.CreatedAt) || a.Revision <= f.foreign.Revision {
		t.Fatalf("got %+v", a)
	}
	if got := must(f.s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, a.ID))(t); *got != *a {
		t.Fatalf("got %+v, want %+v", got, a)
	}
	if rev := must(f.s.ChangeLog.Revision(ctx))(t); rev != a.Revision {
		t.Fatalf("got store revision %d, want the account's %d", rev, a.Revision)
	}

	f.clock.Advance(time.Second)
	name, desc := "ci-pusher", ""
	upd := must(f.s.ServiceAccounts.UpdateServiceAccount(ctx, f.org, f.project.ID, a.ID, castellan.ServiceAccountUpdate{Name: &name, Description: &desc}))(t)
	if upd.Name != name || upd.Description != "" || upd.Revision != a.Revision+1 || !upd.UpdatedAt.Equal(f.clock.Now()) ||
		!upd.CreatedAt.Equal(a.CreatedAt) || upd.ProjectID != f.project.ID {
		t.Fatalf("got %+v", upd)
	}
	before := takeSnapshot(t, f.s, f.org)
	same := must(f.s.ServiceAccounts.UpdateServiceAccount(ctx, f.org, f.project.ID, a.ID, castellan.ServiceAccountUpdate{Name: &name}))(t)
	if same.Revision != upd.Revision {
		t.Fatalf("no-op update moved the revision from %d to %d", upd.Revision, same.Revision)
	}
	unchanged(t, f.s, f.org, before)

	events := listed(f.s.Audit.FindAuditEvents(ctx, f.org, castellan.AuditFilter{TargetID: &a.ID}))(t)
	if len(events) != 2 || events[0].Action != "iam:UpdateServiceAccount" || events[1].Action != "iam:CreateServiceAccount" ||
		events[1].RequestID != "req-sa" || events[1].Target.Type != "service_account" || events[1].Target.Name != "ci-deployer" ||
		string(events[1].Summary["projectId"]) != `"`+f.project.ID+`"` || len(events[0].Summary["name"]) == 0 {
		t.Fatalf("got events %+v", events)
	}
	changes := must(f.s.ChangeLog.Changes(ctx, a.Revision-1, 10))(t)
	if len(changes) != 2 || changes[0].Revision != a.Revision || changes[0].OrganizationID != f.org ||
		changes[0].EntityType != "service_account" || changes[0].EntityID != a.ID || changes[0].Operation != "create" ||
		changes[1].Revision != upd.Revision || changes[1].Operation != "update" {
		t.Fatalf("got changes %+v", changes)
	}
}

func testServiceAccountsErrNameTaken(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := operatorCtx("r")
	a := f.create(t, f.project, "deployer")
	b := f.create(t, f.project, "builder")
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.ServiceAccounts.CreateServiceAccount(ctx, f.org, f.project.ID, castellan.ServiceAccountCreate{Name: "deployer"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeServiceAccountNameTaken)
	_, err = f.s.ServiceAccounts.UpdateServiceAccount(ctx, f.org, f.project.ID, b.ID, castellan.ServiceAccountUpdate{Name: &a.Name})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeServiceAccountNameTaken)
	unchanged(t, f.s, f.org, before)
	// Names are case-sensitive and unique per project only.
	f.create(t, f.project, "Deployer")
	f.create(t, f.other, "deployer")
	f.create(t, f.foreign, "deployer")
	if n := len(listed(f.s.ServiceAccounts.FindServiceAccounts(ctx, f.org, f.project.ID, castellan.ServiceAccountFilter{}))(t)); n != 3 {
		t.Fatalf("got %d accounts, want 3", n)
	}
	// A deleted account's name is free again.
	must(f.s.ServiceAccounts.DeleteServiceAccount(ctx, f.org, f.project.ID, a.ID))(t)
	if again := f.create(t, f.project, "deployer"); again.ID == a.ID {
		t.Fatalf("re-created account kept the ID %s", a.ID)
	}
}

func testServiceAccountsErrInvalid(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := operatorCtx("r")
	a := f.create(t, f.project, "deployer")
	before := takeSnapshot(t, f.s, f.org)
	for _, tc := range []struct {
		sc    castellan.ServiceAccountCreate
		field string
		rule  string
	}{
		{castellan.ServiceAccountCreate{Name: ""}, "name", "required"},
		{castellan.ServiceAccountCreate{Name: strings.Repeat("a", 64)}, "name", "maxLength"},
		{castellan.ServiceAccountCreate{Name: "-ci"}, "name", "pattern"},
		{castellan.ServiceAccountCreate{Name: "ci deployer"}, "name", "pattern"},
		{castellan.ServiceAccountCreate{Name: "сi"}, "name", "pattern"}, // Cyrillic es
		{castellan.ServiceAccountCreate{Name: "ci", Description: strings.Repeat("d", 257)}, "description", "maxLength"},
		{castellan.ServiceAccountCreate{Name: "ci", Description: "a\x00b"}, "description", "pattern"},
	} {
		_, err := f.s.ServiceAccounts.CreateServiceAccount(ctx, f.org, f.project.ID, tc.sc)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		if e := err.(*castellan.Error); len(e.Fields) != 1 || e.Fields[0].Field != tc.field || e.Fields[0].Rule != tc.rule {
			t.Fatalf("%+v: got fields %+v, want %s %s", tc.sc, e.Fields, tc.field, tc.rule)
		}
		upd := castellan.ServiceAccountUpdate{Name: &tc.sc.Name, Description: &tc.sc.Description}
		_, err = f.s.ServiceAccounts.UpdateServiceAccount(ctx, f.org, f.project.ID, a.ID, upd)
		wantField(t, err, tc.field, tc.rule)
	}
	for _, project := range []string{unknownID, f.foreign.ID, f.org} { // the root is a node but not a project
		_, err := f.s.ServiceAccounts.CreateServiceAccount(ctx, f.org, project, castellan.ServiceAccountCreate{Name: "ci"})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
	}
	unchanged(t, f.s, f.org, before)
}

func testServiceAccountsErrNotFound(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := operatorCtx("r")
	a := f.create(t, f.project, "deployer")
	foreign := f.create(t, f.foreign, "deployer")
	before := takeSnapshot(t, f.s, f.org)
	name := "renamed"
	for _, tc := range []struct{ name, org, project, id string }{
		{"Unknown", f.org, f.project.ID, unknownID},
		{"OtherProject", f.org, f.other.ID, a.ID},
		{"OtherOrganization", f.otherOrg, f.foreign.ID, a.ID},
		{"ForeignAccount", f.org, f.project.ID, foreign.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.s.ServiceAccounts.UpdateServiceAccount(ctx, tc.org, tc.project, tc.id, castellan.ServiceAccountUpdate{Name: &name})
			wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
			_, err = f.s.ServiceAccounts.DeleteServiceAccount(ctx, tc.org, tc.project, tc.id)
			wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
		})
	}
	for _, id := range []string{unknownID, foreign.ID} {
		_, err := f.s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, id)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
	}
	unchanged(t, f.s, f.org, before)
	if got := must(f.s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, a.ID))(t); *got != *a {
		t.Fatalf("got %+v after refused writes, want %+v", got, a)
	}
}

func testServiceAccountsList(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := operatorCtx("r")
	var want []string
	for _, name := range []string{"e", "a", "d", "b", "c"} {
		f.create(t, f.project, name)
		want = append(want, name)
	}
	slices.Sort(want)
	f.create(t, f.other, "z")
	f.create(t, f.foreign, "y")
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		page, next, err := f.s.ServiceAccounts.FindServiceAccounts(ctx, f.org, f.project.ID, castellan.ServiceAccountFilter{PageSize: 2, PageToken: token})
		for _, a := range must(page, err)(t) {
			if a.ProjectID != f.project.ID {
				t.Fatalf("listed %+v of another project", a)
			}
			got = append(got, a.Name)
		}
		if next == "" {
			if pages != 2 {
				t.Fatalf("got %d pages, want 3", pages+1)
			}
			break
		}
		token = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if n := len(listed(f.s.ServiceAccounts.FindServiceAccounts(ctx, f.org, f.other.ID, castellan.ServiceAccountFilter{}))(t)); n != 1 {
		t.Fatalf("got %d accounts in the other project, want 1", n)
	}
	for _, project := range []string{unknownID, f.foreign.ID} {
		_, _, err := f.s.ServiceAccounts.FindServiceAccounts(ctx, f.org, project, castellan.ServiceAccountFilter{})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
	}
	_, projectsToken := listed2(f.s.Projects.FindProjects(ctx, f.org, castellan.ProjectFilter{PageSize: 1}))(t)
	_, _, err := f.s.ServiceAccounts.FindServiceAccounts(ctx, f.org, f.project.ID, castellan.ServiceAccountFilter{PageToken: projectsToken})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}

// listed2 is must for list results keeping the next-page token.
func listed2[T any](items []T, next string, err error) func(tb testing.TB) ([]T, string) {
	return func(tb testing.TB) ([]T, string) {
		tb.Helper()
		return must(items, err)(tb), next
	}
}

func testServiceAccountsGrants(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := operatorCtx("r")
	a := f.create(t, f.project, "deployer")
	foreign := f.create(t, f.foreign, "deployer")
	bucket := "rn:s3e:" + f.project.ID + ":bucket/logs"
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{
		{RoleID: "project.reader", Scope: "project/" + f.project.ID, Subject: accountSubject(a)},
		{RoleID: "s3e.viewer", Scope: bucket, Subject: accountSubject(a)},
	}))(t)
	sub := accountSubject(a)
	if got := listed(f.s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Subject: &sub}))(t); len(got) != 2 || got[0].ID != grants[0].ID || got[1].Via != nil {
		t.Fatalf("got grants %+v", got)
	}
	found := must(f.s.Grants.FindGrantsFor(ctx, f.org, []castellan.Subject{sub}, []string{bucket, "project/" + f.project.ID}))(t)
	if len(found) != 2 {
		t.Fatalf("FindGrantsFor: got %+v", found)
	}

	// Only its own project and the resources in it.
	before := takeSnapshot(t, f.s, f.org)
	good := castellan.GrantCreate{RoleID: "project.member", Scope: "project/" + f.project.ID, Subject: sub}
	for _, tc := range []struct {
		name  string
		bad   castellan.GrantCreate
		kind  castellan.Kind
		code  string
		field string
		rule  string
	}{
		{"Organization", castellan.GrantCreate{RoleID: "organization.reader", Scope: "organization/" + f.org, Subject: sub},
			castellan.EINVALID, castellan.CodeSubjectScopeMismatch, ".scope", "subjectScope"},
		{"ServiceRoleOnOrganization", castellan.GrantCreate{RoleID: "services.user", Scope: "organization/" + f.org, Subject: sub},
			castellan.EINVALID, castellan.CodeSubjectScopeMismatch, ".scope", "subjectScope"},
		{"OtherProject", castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + f.other.ID, Subject: sub},
			castellan.EINVALID, castellan.CodeSubjectScopeMismatch, ".scope", "subjectScope"},
		{"OtherProjectResource", castellan.GrantCreate{RoleID: "s3e.viewer", Scope: "rn:s3e:" + f.other.ID + ":bucket/logs", Subject: sub},
			castellan.EINVALID, castellan.CodeSubjectScopeMismatch, ".scope", "subjectScope"},
		{"OtherOrganizationAccount", castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + f.project.ID, Subject: accountSubject(foreign)},
			castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound, ".subject.id", "exists"},
		{"UnknownAccount", castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + f.project.ID,
			Subject: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: unknownID}},
			castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound, ".subject.id", "exists"},
		{"UserIDAsAccount", castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + f.project.ID,
			Subject: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: f.owner}},
			castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound, ".subject.id", "exists"},
		{"AccountIDAsUser", castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + f.project.ID,
			Subject: castellan.Subject{Type: castellan.SubjectUser, ID: a.ID}},
			castellan.ENOTFOUND, castellan.CodeUserNotFound, ".subject.id", "exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{good, tc.bad})
			wantCode(t, err, tc.kind, tc.code)
			wantField(t, err, "grants[1]"+tc.field, tc.rule)
		})
	}
	// SetRoles checks the same rule.
	_, _, err := f.s.Grants.SetRoles(ctx, f.org, sub, "project/"+f.other.ID, []string{"project.reader"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeSubjectScopeMismatch)
	unchanged(t, f.s, f.org, before)
}

func testServiceAccountsDelete(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := userCtx(f.owner, f.org, "req-del")
	a := f.create(t, f.project, "deployer")
	keep := f.create(t, f.project, "builder")
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{
		{RoleID: "project.reader", Scope: "project/" + f.project.ID, Subject: accountSubject(a)},
		{RoleID: "s3e.viewer", Scope: "rn:s3e:" + f.project.ID + ":bucket/logs", Subject: accountSubject(a)},
		{RoleID: "project.reader", Scope: "project/" + f.project.ID, Subject: accountSubject(keep)},
	}))(t)
	key := must(f.s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: accountSubject(a), ProjectID: f.project.ID, Name: "ci"}))(t)
	kept := must(f.s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: accountSubject(keep), ProjectID: f.project.ID, Name: "ci"}))(t)
	rev := must(f.s.ServiceAccounts.DeleteServiceAccount(ctx, f.org, f.project.ID, a.ID))(t)
	if latest := must(f.s.ChangeLog.Revision(ctx))(t); rev != latest {
		t.Fatalf("got revision %d, want the store's %d", rev, latest)
	}
	_, err := f.s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, a.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
	sub := accountSubject(a)
	if left := listed(f.s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Subject: &sub}))(t); len(left) != 0 {
		t.Fatalf("the deleted account kept grants %+v", left)
	}
	_, err = f.s.Grants.FindGrantsByID(ctx, f.org, []string{grants[2].ID})
	if err != nil {
		t.Fatalf("the other account lost its grant: %v", err)
	}
	// Its keys go with it, not listed as enabled; the other account's stay.
	_, err = f.s.AccessKeys.FindAccessKeyByID(ctx, f.org, key.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccessKeyNotFound)
	if keys := listed(f.s.AccessKeys.FindAccessKeys(ctx, f.org, castellan.AccessKeyFilter{}))(t); len(keys) != 1 || keys[0].ID != kept.ID {
		t.Fatalf("got the organization's keys %+v, want the other account's alone", keys)
	}
	// One revision: the account, each of its grants and keys, so that
	// replicas revoke them together.
	var got []string
	for _, c := range must(f.s.ChangeLog.Changes(ctx, rev-1, 10))(t) {
		if c.Revision != rev {
			t.Fatalf("got change %+v, want revision %d only", c, rev)
		}
		got = append(got, c.EntityType+" "+c.EntityID+" "+c.Operation)
	}
	want := []string{"service_account " + a.ID + " delete", "grant " + grants[0].ID + " delete", "grant " + grants[1].ID + " delete",
		"access_key " + key.ID + " delete"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got changes %v, want %v", got, want)
	}
	events := listed(f.s.Audit.FindAuditEvents(ctx, f.org, castellan.AuditFilter{Action: ptr("iam:DeleteServiceAccount")}))(t)
	if len(events) != 1 || events[0].Revision != rev || events[0].Target.ID != a.ID || events[0].RequestID != "req-del" ||
		!strings.Contains(string(events[0].Summary["deletedGrants"]), grants[1].ID) ||
		string(events[0].Summary["deletedAccessKeyIds"]) != `["`+key.ID+`"]` {
		t.Fatalf("got events %+v", events)
	}
	before := takeSnapshot(t, f.s, f.org)
	_, err = f.s.ServiceAccounts.DeleteServiceAccount(ctx, f.org, f.project.ID, a.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
	// A grant to the deleted account is refused: nothing may hold a
	// grant for a principal that is gone.
	_, _, err = f.s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{{RoleID: "project.reader", Scope: "project/" + f.project.ID, Subject: sub}})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
	unchanged(t, f.s, f.org, before)
}

func testServiceAccountsDeleteProject(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := operatorCtx("r")
	doomed := []*castellan.ServiceAccount{f.create(t, f.project, "deployer"), f.create(t, f.project, "builder")}
	survivor := f.create(t, f.other, "deployer")
	var items []castellan.GrantCreate
	for _, a := range doomed {
		items = append(items, castellan.GrantCreate{RoleID: "s3e.viewer", Scope: "rn:s3e:" + f.project.ID + ":bucket/logs", Subject: accountSubject(a)})
	}
	items = append(items, castellan.GrantCreate{RoleID: "project.reader", Scope: "project/" + f.other.ID, Subject: accountSubject(survivor)})
	grants, _ := must2(f.s.Grants.CreateGrants(ctx, f.org, items))(t)
	key := must(f.s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: accountSubject(doomed[0]), ProjectID: f.project.ID, Name: "ci"}))(t)
	kept := must(f.s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: accountSubject(survivor), ProjectID: f.other.ID, Name: "ci"}))(t)

	rev := must(f.s.Projects.DeleteProject(ctx, f.org, f.project.ID))(t)
	if keys := listed(f.s.AccessKeys.FindAccessKeys(ctx, f.org, castellan.AccessKeyFilter{}))(t); len(keys) != 1 || keys[0].ID != kept.ID {
		t.Fatalf("got the organization's keys %+v, want the other project's alone", keys)
	}
	for _, a := range doomed {
		_, err := f.s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, a.ID)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
	}
	must(f.s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, survivor.ID))(t)
	if _, err := f.s.Grants.FindGrantsByID(ctx, f.org, []string{grants[2].ID}); err != nil {
		t.Fatalf("the other project's account lost its grant: %v", err)
	}
	var got []string
	for _, c := range must(f.s.ChangeLog.Changes(ctx, rev-1, 10))(t) {
		got = append(got, fmt.Sprintf("%s %s %s", c.EntityType, c.EntityID, c.Operation))
	}
	for _, want := range []string{
		"project " + f.project.ID + " delete",
		"service_account " + doomed[0].ID + " delete", "service_account " + doomed[1].ID + " delete",
		"grant " + grants[0].ID + " delete", "grant " + grants[1].ID + " delete",
		"access_key " + key.ID + " delete",
	} {
		if !slices.Contains(got, want) {
			t.Fatalf("got changes %v, want %q among them", got, want)
		}
	}
	if len(got) != 6 {
		t.Fatalf("got changes %v, want 6", got)
	}
	events := listed(f.s.Audit.FindAuditEvents(ctx, f.org, castellan.AuditFilter{Action: ptr("organizations:DeleteProject")}))(t)
	if len(events) != 1 || !strings.Contains(string(events[0].Summary["deletedServiceAccounts"]), doomed[1].ID) ||
		string(events[0].Summary["deletedAccessKeyIds"]) != `["`+key.ID+`"]` {
		t.Fatalf("got events %+v", events)
	}
	// The organization empties as before.
	must(f.s.Projects.DeleteProject(ctx, f.org, f.other.ID))(t)
	must(f.s.Organizations.DeleteOrganization(ctx, f.org))(t)
}

func testServiceAccountsNotGroupMembers(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	ctx := operatorCtx("r")
	a := f.create(t, f.project, "deployer")
	g := must(f.s.Groups.CreateGroup(ctx, f.org, castellan.GroupCreate{Name: "devs"}))(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Groups.AddGroupMembers(ctx, f.org, g.ID, []string{a.ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	wantField(t, err, "userIds[0]", "")
	unchanged(t, f.s, f.org, before)
	if m := listed(f.s.Groups.FindGroupMembers(context.Background(), f.org, g.ID, castellan.GroupFilter{}))(t); len(m) != 0 {
		t.Fatalf("got members %+v", m)
	}
}

// testServiceAccountsConcurrent races writes about one account: creates of
// one name (one wins), and grants to an account while it, or its project,
// is deleted (no grant outlives its account).
func testServiceAccountsConcurrent(t *testing.T, open Opener) {
	f := newAccountFixture(t, open)
	t.Run("CreateSameName", func(t *testing.T) { testServiceAccountsCreateSameName(t, f) })
	t.Run("GrantVersusDelete", func(t *testing.T) {
		f.raceGrant(t, func(i int) (*castellan.ServiceAccount, func() error) {
			a := f.create(t, f.project, fmt.Sprintf("grant-%d", i))
			return a, func() error {
				_, err := f.s.ServiceAccounts.DeleteServiceAccount(operatorCtx("r"), f.org, f.project.ID, a.ID)
				return err
			}
		})
	})
	t.Run("GrantVersusDeleteProject", func(t *testing.T) {
		f.raceGrant(t, func(i int) (*castellan.ServiceAccount, func() error) {
			p := must(f.s.Projects.CreateProject(operatorCtx("r"), f.org, castellan.ProjectCreate{Name: fmt.Sprintf("doomed-%d", i)}))(t)
			return f.create(t, p, "deployer"), func() error {
				_, err := f.s.Projects.DeleteProject(operatorCtx("r"), f.org, p.ID)
				return err
			}
		})
	})
}

func testServiceAccountsCreateSameName(t *testing.T, f *accountFixture) {
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = f.s.ServiceAccounts.CreateServiceAccount(operatorCtx("r"), f.org, f.project.ID, castellan.ServiceAccountCreate{Name: "same"})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantCode(t, err, castellan.ECONFLICT, castellan.CodeServiceAccountNameTaken)
	}
	if won != 1 {
		t.Fatalf("%d creates succeeded, want 1", won)
	}
}

// raceGrant runs rounds of a grant to a new account racing a deletion that
// takes the account; setup makes both. The deletion always succeeds, the
// grant succeeds or finds the account (or project) gone, and afterwards
// neither the account nor any grant of it remains.
func (f *accountFixture) raceGrant(t *testing.T, setup func(round int) (*castellan.ServiceAccount, func() error)) {
	ctx := operatorCtx("r")
	for i := 0; i < 10; i++ {
		a, remove := setup(i)
		var errGrant, errDelete error
		var wg sync.WaitGroup
		wg.Go(func() {
			_, _, errGrant = f.s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{
				{RoleID: "s3e.viewer", Scope: "rn:s3e:" + a.ProjectID + ":bucket/logs", Subject: accountSubject(a)},
			})
		})
		wg.Go(func() { errDelete = remove() })
		wg.Wait()
		if errDelete != nil {
			t.Fatalf("round %d: delete failed: %v", i, errDelete)
		}
		if code := castellan.ErrorCode(errGrant); errGrant != nil && code != castellan.CodeServiceAccountNotFound && code != castellan.CodeProjectNotFound {
			t.Fatalf("round %d: got %v, want success or a not-found code", i, errGrant)
		}
		sub := accountSubject(a)
		if left := listed(f.s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Subject: &sub}))(t); len(left) != 0 {
			t.Fatalf("round %d: grants %+v outlived the account", i, left)
		}
		_, err := f.s.ServiceAccounts.FindServiceAccountByID(ctx, f.org, a.ID)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
	}
}
