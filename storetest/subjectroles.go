package storetest

import (
	"sort"
	"testing"

	"github.com/castellan-iam/castellan"
)

// rolesOf returns the sorted role IDs subject holds directly on scope.
func (f *grantFixture) rolesOf(t *testing.T, subject castellan.Subject, scope string) []string {
	t.Helper()
	grants := listed(f.s.Grants.FindGrants(operatorCtx("r"), f.org.OrganizationID, castellan.GrantFilter{Subject: &subject}))(t)
	var roles []string
	for _, g := range grants {
		if g.Scope == scope && g.Via == nil {
			roles = append(roles, g.RoleID)
		}
	}
	sort.Strings(roles)
	return roles
}

func wantRoles(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("got roles %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got roles %v, want %v", got, want)
		}
	}
}

// testSubjectRoles covers editing the roles of one user or group on one
// scope: at least one role remains, and removing all is its own operation.
func testSubjectRoles(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	ctx := operatorCtx("r-roles")
	org, scope := f.org.OrganizationID, f.projectScope()
	for _, subject := range []castellan.Subject{f.user(0), f.groupSubject()} {
		t.Run(string(subject.Type), func(t *testing.T) {
			grants, rev := must2(f.s.Grants.SetRoles(ctx, org, subject, scope, []string{"project.reader"}))(t)
			if len(grants) != 1 || grants[0].RoleID != "project.reader" || grants[0].Revision != rev {
				t.Fatalf("got %+v at %d", grants, rev)
			}
			// Edit: reader goes, member and admin come, in one revision.
			grants, rev = must2(f.s.Grants.SetRoles(ctx, org, subject, scope, []string{"project.member", "project.admin"}))(t)
			if len(grants) != 2 || grants[0].RoleID != "project.member" || grants[1].RoleID != "project.admin" {
				t.Fatalf("got %+v", grants)
			}
			wantRoles(t, f.rolesOf(t, subject, scope), "project.member", "project.admin")
			events := listed(f.s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:SetGrants")}))(t)
			if events[0].Revision != rev || len(events[0].Summary["created"]) == 0 || len(events[0].Summary["deleted"]) == 0 {
				t.Fatalf("got event %+v", events[0])
			}
			// The same set again changes nothing.
			before := takeSnapshot(t, f.s, org)
			_, again := must2(f.s.Grants.SetRoles(ctx, org, subject, scope, []string{"project.admin", "project.member"}))(t)
			if again != before.revision {
				t.Fatalf("no-op edit returned revision %d, want %d", again, before.revision)
			}
			unchanged(t, f.s, org, before)

			// Refused edits change nothing.
			for _, tc := range []struct {
				roles []string
				code  string
				field string
			}{
				{nil, castellan.CodeRolesRequired, "roleIds"},
				{[]string{"project.member", "no.such"}, castellan.CodeRoleNotFound, "roleIds[1]"},
				{[]string{"organization.admin"}, castellan.CodeRoleScopeMismatch, "scope"},
			} {
				_, _, err := f.s.Grants.SetRoles(ctx, org, subject, scope, tc.roles)
				if castellan.ErrorCode(err) != tc.code {
					t.Fatalf("%v: got %v, want %s", tc.roles, err, tc.code)
				}
				if fields := err.(*castellan.Error).Fields; len(fields) != 1 || fields[0].Field != tc.field {
					t.Fatalf("%v: got fields %+v, want %s", tc.roles, fields, tc.field)
				}
			}
			_, err := f.s.Grants.RemoveRoles(ctx, org, subject, scope, []string{"project.member", "project.admin"}, false)
			wantCode(t, err, castellan.EINVALID, castellan.CodeRolesRequired)
			_, err = f.s.Grants.RemoveRoles(ctx, org, subject, scope, []string{"project.reader"}, false)
			wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
			unchanged(t, f.s, org, before)

			// Remove in bulk, keeping one; then remove all.
			must(f.s.Grants.RemoveRoles(ctx, org, subject, scope, []string{"project.member"}, false))(t)
			wantRoles(t, f.rolesOf(t, subject, scope), "project.admin")
			must(f.s.Grants.RemoveRoles(ctx, org, subject, scope, nil, true))(t)
			wantRoles(t, f.rolesOf(t, subject, scope))
		})
	}
	t.Run("Renew", func(t *testing.T) { testSetRolesRenewal(t, f) })
	t.Run("LastOwner", func(t *testing.T) {
		before := takeSnapshot(t, f.s, org)
		_, _, err := f.s.Grants.SetRoles(ctx, org, f.owner(), f.orgScope(), []string{"organization.admin"})
		wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
		_, err = f.s.Grants.RemoveRoles(ctx, org, f.owner(), f.orgScope(), nil, true)
		wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
		unchanged(t, f.s, org, before)
	})
	t.Run("CrossOrganization", func(t *testing.T) {
		other := f.otherOrg.OrganizationID
		_, _, err := f.s.Grants.SetRoles(ctx, other, f.user(0), "project/"+f.otherProject.ID, []string{"project.reader"})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
		_, _, err = f.s.Grants.SetRoles(ctx, org, f.user(0), "project/"+f.otherProject.ID, []string{"project.reader"})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
	})
}
