package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testProjects(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testProjectsOK(t, open) })
	t.Run("ErrNameTaken", func(t *testing.T) { testProjectsErrNameTaken(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testProjectsErrInvalid(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testProjectsCrossOrganization(t, open) })
	t.Run("UpdateDelete", func(t *testing.T) { testProjectsUpdateDelete(t, open) })
	t.Run("PagesStableUnderInserts", func(t *testing.T) { testProjectsPagesStableUnderInserts(t, open) })
}

func testProjectsOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	ctx := userCtx("u-1", org.ID, "req-7")
	p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web-prod", Description: "the shop"}))(t)
	if !castellan.ValidID(p.ID) || p.OrganizationID != org.ID || p.ParentID != org.ID || p.Name != "web-prod" ||
		p.Description != "the shop" || p.CreatedBy != "user:u-1" || !p.CreatedAt.Equal(clock.Now()) || p.Revision <= org.Revision {
		t.Fatalf("got %+v", p)
	}
	got := must(s.Projects.FindProjectByID(ctx, org.ID, p.ID))(t)
	if *got != *p {
		t.Fatalf("got %+v, want %+v", got, p)
	}
}

func testProjectsErrNameTaken(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	other := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t)
	must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web"}))(t)
	before := takeSnapshot(t, s, org.ID)
	_, err := s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeProjectNameTaken)
	unchanged(t, s, org.ID, before)
	// Names are case-sensitive and unique per parent only.
	must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "Web"}))(t)
	must(s.Projects.CreateProject(ctx, other.ID, castellan.ProjectCreate{Name: "web"}))(t)
	if n := len(listed(s.Projects.FindProjects(ctx, org.ID, castellan.ProjectFilter{}))(t)); n != 2 {
		t.Fatalf("got %d projects, want 2", n)
	}
}

func testProjectsErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	before := takeSnapshot(t, s, org.ID)
	for _, tc := range []struct {
		pc   castellan.ProjectCreate
		rule string
	}{
		{castellan.ProjectCreate{Name: ""}, "required"},
		{castellan.ProjectCreate{Name: strings.Repeat("a", 64)}, "maxLength"},
		{castellan.ProjectCreate{Name: "-web"}, "pattern"},
		{castellan.ProjectCreate{Name: "web site"}, "pattern"},
		{castellan.ProjectCreate{Name: "web", Description: strings.Repeat("d", 257)}, "maxLength"},
	} {
		_, err := s.Projects.CreateProject(ctx, org.ID, tc.pc)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		if e := err.(*castellan.Error); len(e.Fields) != 1 || e.Fields[0].Rule != tc.rule {
			t.Fatalf("%+v: got fields %+v, want rule %s", tc.pc, e.Fields, tc.rule)
		}
	}
	unchanged(t, s, org.ID, before)
	_, err := s.Projects.CreateProject(ctx, "0190d3a8-0000-7000-8000-000000000000", castellan.ProjectCreate{Name: "web"})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
	unchanged(t, s, org.ID, before)
}

func testProjectsCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	acme := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	globex := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t)
	p := must(s.Projects.CreateProject(ctx, acme.ID, castellan.ProjectCreate{Name: "web"}))(t)
	beforeAcme, beforeGlobex := takeSnapshot(t, s, acme.ID), takeSnapshot(t, s, globex.ID)
	_, err := s.Projects.FindProjectByID(ctx, globex.ID, p.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
	name := "stolen"
	_, err = s.Projects.UpdateProject(ctx, globex.ID, p.ID, castellan.ProjectUpdate{Name: &name})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
	_, err = s.Projects.DeleteProject(ctx, globex.ID, p.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
	if n := len(listed(s.Projects.FindProjects(ctx, globex.ID, castellan.ProjectFilter{}))(t)); n != 0 {
		t.Fatalf("other organization lists %d projects, want 0", n)
	}
	unchanged(t, s, acme.ID, beforeAcme)
	unchanged(t, s, globex.ID, beforeGlobex)
	if got := must(s.Projects.FindProjectByID(ctx, acme.ID, p.ID))(t); got.Name != "web" {
		t.Fatalf("project changed: %+v", got)
	}
}

func testProjectsUpdateDelete(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web"}))(t)
	must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "api"}))(t)
	clock.Advance(60e9)
	name, desc := "www", "renamed"
	upd := must(s.Projects.UpdateProject(ctx, org.ID, p.ID, castellan.ProjectUpdate{Name: &name, Description: &desc}))(t)
	if upd.Name != name || upd.Description != desc || upd.Revision <= p.Revision || !upd.UpdatedAt.Equal(clock.Now()) || !upd.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("got %+v", upd)
	}
	before := takeSnapshot(t, s, org.ID)
	taken := "api"
	_, err := s.Projects.UpdateProject(ctx, org.ID, p.ID, castellan.ProjectUpdate{Name: &taken})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeProjectNameTaken)
	unchanged(t, s, org.ID, before)
	rev := must(s.Projects.DeleteProject(ctx, org.ID, p.ID))(t)
	if rev <= upd.Revision {
		t.Fatalf("got delete revision %d, want > %d", rev, upd.Revision)
	}
	_, err = s.Projects.FindProjectByID(ctx, org.ID, p.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
	_, err = s.Projects.DeleteProject(ctx, org.ID, p.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeProjectNotFound)
}

func testProjectsPagesStableUnderInserts(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	want := map[string]bool{}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("p%02d", i*2)
		must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: name}))(t)
		want[name] = true
	}
	seen := map[string]int{}
	var order []string
	token := ""
	for page := 0; ; page++ {
		projects, next, err := s.Projects.FindProjects(ctx, org.ID, castellan.ProjectFilter{PageSize: 3, PageToken: token})
		for _, p := range listed(projects, next, err)(t) {
			seen[p.Name]++
			order = append(order, p.Name)
		}
		if next == "" {
			break
		}
		token = next
		// Between pages, insert one project before and one after the
		// cursor: the first must never show up, the second must.
		before := fmt.Sprintf("p%02d", page*6-1)
		after := fmt.Sprintf("p%02d", page*6+11)
		for _, name := range []string{before, after} {
			if name > "p00" && name < "p99" && !want[name] && seen[name] == 0 {
				must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: name}))(t)
				if name == after {
					want[name] = true
				}
			}
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("project %s listed %d times", name, n)
		}
	}
	for name := range want {
		if seen[name] != 1 {
			t.Fatalf("project %s was skipped; got %v", name, order)
		}
	}
	if !sort.StringsAreSorted(order) {
		t.Fatalf("got %v, want name order", order)
	}
	_, _, err := s.Projects.FindProjects(ctx, org.ID, castellan.ProjectFilter{PageToken: token + "x"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}
