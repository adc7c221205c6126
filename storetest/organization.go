package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testOrganizations(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testOrganizationsOK(t, open) })
	t.Run("ErrNameTaken", func(t *testing.T) { testOrganizationsErrNameTaken(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testOrganizationsErrInvalid(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testOrganizationsErrNotFound(t, open) })
	t.Run("Update", func(t *testing.T) { testOrganizationsUpdate(t, open) })
	t.Run("Delete", func(t *testing.T) { testOrganizationsDelete(t, open) })
	t.Run("List", func(t *testing.T) { testOrganizationsList(t, open) })
}

func testOrganizationsOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := operatorCtx("req-1")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme", Description: "rockets"}))(t)
	if !castellan.ValidID(org.ID) || org.Name != "Acme" || org.Description != "rockets" || org.Revision <= 0 {
		t.Fatalf("got %+v", org)
	}
	if !org.CreatedAt.Equal(clock.Now()) || org.CreatedBy != "operator:op-1" {
		t.Fatalf("got created %v by %q, want %v by operator:op-1", org.CreatedAt, org.CreatedBy, clock.Now())
	}
	got := must(s.Organizations.FindOrganizationByID(ctx, org.ID))(t)
	if *got != *org {
		t.Fatalf("got %+v, want %+v", got, org)
	}
}

func testOrganizationsErrNameTaken(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("req-1")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	before := takeSnapshot(t, s, org.ID)
	_, err := s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeOrgNameTaken)
	unchanged(t, s, org.ID, before)
	orgs := listed(s.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{}))(t)
	if len(orgs) != 1 {
		t.Fatalf("got %d organizations, want 1", len(orgs))
	}
}

func testOrganizationsErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("req-1")
	for _, oc := range []castellan.OrganizationCreate{
		{Name: ""}, {Name: strings.Repeat("a", 101)}, {Name: " padded"}, {Name: "bell\a"},
		{Name: "ok", Description: strings.Repeat("d", 257)},
	} {
		_, err := s.Organizations.CreateOrganization(ctx, oc)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	}
	if rev := must(s.ChangeLog.Revision(ctx))(t); rev != 0 {
		t.Fatalf("got revision %d after rejected writes, want 0", rev)
	}
}

func testOrganizationsErrNotFound(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("req-1")
	id := "0190d3a8-0000-7000-8000-000000000000"
	_, err := s.Organizations.FindOrganizationByID(ctx, id)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
	name := "x"
	_, err = s.Organizations.UpdateOrganization(ctx, id, castellan.OrganizationUpdate{Name: &name})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
	_, err = s.Organizations.DeleteOrganization(ctx, id)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
}

func testOrganizationsUpdate(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := operatorCtx("req-1")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t)
	clock.Advance(1e9)
	name, desc := "Acme Corp", "new"
	upd := must(s.Organizations.UpdateOrganization(userCtx("u-1", org.ID, "req-2"), org.ID, castellan.OrganizationUpdate{Name: &name, Description: &desc}))(t)
	if upd.Name != name || upd.Description != desc || upd.Revision <= org.Revision || !upd.UpdatedAt.Equal(clock.Now()) || upd.UpdatedBy != "user:u-1" || !upd.CreatedAt.Equal(org.CreatedAt) {
		t.Fatalf("got %+v", upd)
	}
	// An update that changes nothing writes nothing.
	before := takeSnapshot(t, s, org.ID)
	same := must(s.Organizations.UpdateOrganization(ctx, org.ID, castellan.OrganizationUpdate{Name: &name}))(t)
	if same.Revision != upd.Revision {
		t.Fatalf("no-op update moved revision from %d to %d", upd.Revision, same.Revision)
	}
	unchanged(t, s, org.ID, before)
	taken := "Globex"
	_, err := s.Organizations.UpdateOrganization(ctx, org.ID, castellan.OrganizationUpdate{Name: &taken})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeOrgNameTaken)
	unchanged(t, s, org.ID, before)
	bad := ""
	_, err = s.Organizations.UpdateOrganization(ctx, org.ID, castellan.OrganizationUpdate{Name: &bad})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	unchanged(t, s, org.ID, before)
}

func testOrganizationsDelete(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("req-1")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web"}))(t)
	before := takeSnapshot(t, s, org.ID)
	_, err := s.Organizations.DeleteOrganization(ctx, org.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeOrgNotEmpty)
	unchanged(t, s, org.ID, before)
	must(s.Projects.DeleteProject(ctx, org.ID, p.ID))(t)
	rev := must(s.Organizations.DeleteOrganization(ctx, org.ID))(t)
	if rev <= p.Revision {
		t.Fatalf("got delete revision %d, want > %d", rev, p.Revision)
	}
	_, err = s.Organizations.FindOrganizationByID(ctx, org.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
	// The name is free again, and the audit log of the deleted
	// organization survives it.
	must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	events := listed(s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{}))(t)
	if len(events) == 0 || events[0].Action != "organizations:DeleteOrganization" {
		t.Fatalf("got %d events, want the deletion first", len(events))
	}
}

func testOrganizationsList(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("req-1")
	var want []string
	for i := 0; i < 7; i++ {
		name := fmt.Sprintf("org-%02d", 6-i) // created in reverse name order
		must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: name}))(t)
		want = append([]string{name}, want...)
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		orgs, next, err := s.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{PageSize: 3, PageToken: token})
		for _, o := range listed(orgs, next, err)(t) {
			got = append(got, o.Name)
		}
		if next == "" {
			if pages != 2 {
				t.Fatalf("got %d pages, want 3", pages+1)
			}
			break
		}
		token = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	one := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "solo"}))(t)
	only := listed(s.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{ID: &one.ID}))(t)
	if len(only) != 1 || only[0].ID != one.ID {
		t.Fatalf("filter by ID: got %d organizations", len(only))
	}
	_, _, err := s.Organizations.FindOrganizations(ctx, castellan.OrganizationFilter{PageToken: "garbage!"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}
