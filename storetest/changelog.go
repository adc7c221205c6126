package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// testChangeLog checks that every kind of write leaves its change-log rows
// under its revision, that revisions have no gaps, and that rejected and
// no-op writes leave nothing.
func testChangeLog(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r-log")
	boot := bootstrap(t, s, "Acme")
	org := boot.OrganizationID

	type step struct {
		name  string
		write func() int64
		want  []string // "entityType operation", in order
	}
	var project *castellan.Project
	var group *castellan.Group
	var user *castellan.User
	steps := []step{
		{"create project", func() int64 {
			project = must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
			return project.Revision
		}, []string{"project create"}},
		{"update project", func() int64 {
			d := "changed"
			return must(s.Projects.UpdateProject(ctx, org, project.ID, castellan.ProjectUpdate{Description: &d}))(t).Revision
		}, []string{"project update"}},
		{"create user", func() int64 {
			user = must(s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: "dev@acme.example"}))(t)
			return must(s.ChangeLog.Revision(ctx))(t)
		}, []string{"user create"}},
		{"create group", func() int64 {
			group = must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs"}))(t)
			return group.Revision
		}, []string{"group create"}},
		{"add member", func() int64 {
			return must(s.Groups.AddGroupMembers(ctx, org, group.ID, []string{user.ID}))(t)
		}, []string{"group_member create"}},
		{"grant", func() int64 {
			_, rev := must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{
				RoleID: "project.member", Scope: "project/" + project.ID, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: group.ID},
			}}))(t)
			return rev
		}, []string{"grant create"}},
		{"delete group", func() int64 {
			return must(s.Groups.DeleteGroup(ctx, org, group.ID))(t)
		}, nil}, // checked below: the group, its member and its grant
		{"delete project", func() int64 {
			return must(s.Projects.DeleteProject(ctx, org, project.ID))(t)
		}, []string{"project delete"}},
	}
	last := boot.Revision
	for _, st := range steps {
		rev := st.write()
		if rev != last+1 {
			t.Fatalf("%s: got revision %d, want %d (no gaps)", st.name, rev, last+1)
		}
		changes := must(s.ChangeLog.Changes(ctx, last, 10))(t)
		var got []string
		for _, c := range changes {
			if c.Revision != rev || c.OrganizationID != org {
				t.Fatalf("%s: got change %+v at revision %d", st.name, c, rev)
			}
			got = append(got, c.EntityType+" "+c.Operation)
		}
		if st.want == nil {
			joined := strings.Join(got, ",")
			for _, want := range []string{"group delete", "group_member delete", "grant delete"} {
				if !strings.Contains(joined, want) {
					t.Fatalf("%s: got %v, want %s among them", st.name, got, want)
				}
			}
		} else if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("%s: got %v, want %v", st.name, got, st.want)
		}
		last = rev
	}

	// Rejected and no-op writes leave no row and no revision.
	_, err := s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "bad name"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	name := "Acme"
	must(s.Organizations.UpdateOrganization(ctx, org, castellan.OrganizationUpdate{Name: &name}))(t)
	if rev := must(s.ChangeLog.Revision(ctx))(t); rev != last {
		t.Fatalf("got revision %d after a rejected and a no-op write, want %d", rev, last)
	}
	if changes := must(s.ChangeLog.Changes(ctx, last, 10))(t); len(changes) != 0 {
		t.Fatalf("got changes %+v after the last write", changes)
	}
	// A window of revisions.
	window := must(s.ChangeLog.Changes(ctx, boot.Revision, 2))(t)
	if len(window) != 2 || window[0].Revision != boot.Revision+1 || window[1].Revision != boot.Revision+2 {
		t.Fatalf("got %+v, want the two revisions after bootstrap", window)
	}
}
