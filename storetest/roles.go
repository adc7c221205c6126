package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testRoles(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testRolesOK(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testRolesErrInvalid(t, open) })
	t.Run("ErrNameTaken", func(t *testing.T) { testRolesErrNameTaken(t, open) })
	t.Run("ErrBuiltIn", func(t *testing.T) { testRolesErrBuiltIn(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testRolesErrNotFound(t, open) })
	t.Run("Delete", func(t *testing.T) { testRolesDelete(t, open) })
	t.Run("List", func(t *testing.T) { testRolesList(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testRolesCrossOrganization(t, open) })
}

func testRolesOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-r")
	r := must(s.Roles.CreateRole(ctx, org, castellan.RoleCreate{
		Name: "Bucket reader", Description: "reads buckets", Kind: castellan.RoleServiceKind,
		Actions: []string{"s3e:Get*", "s3e:ListBuckets"},
	}))(t)
	if !castellan.ValidID(r.ID) || r.OrganizationID != org || r.Name != "Bucket reader" || r.Kind != castellan.RoleServiceKind ||
		fmt.Sprint(r.Actions) != "[s3e:Get* s3e:ListBuckets]" || r.BuiltIn || r.Revision <= res.Revision ||
		!r.CreatedAt.Equal(clock.Now()) || r.CreatedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", r)
	}
	got := must(s.Roles.FindRoleByID(ctx, org, r.ID))(t)
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", r) {
		t.Fatalf("got %+v, want %+v", got, r)
	}
	owner := must(s.Roles.FindRoleByID(ctx, org, "organization.owner"))(t)
	if !owner.BuiltIn || owner.Kind != castellan.RoleOrganization || owner.OrganizationID != "" {
		t.Fatalf("got built-in role %+v", owner)
	}
	clock.Advance(time.Second)
	upd := must(s.Roles.UpdateRole(ctx, org, r.ID, castellan.RoleUpdate{Name: ptr("Bucket viewer"), Actions: []string{"s3e:Get*"}}))(t)
	if upd.Name != "Bucket viewer" || fmt.Sprint(upd.Actions) != "[s3e:Get*]" || upd.Description != r.Description ||
		upd.Kind != r.Kind || upd.Revision <= r.Revision || !upd.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("got %+v", upd)
	}
	before := takeSnapshot(t, s, org)
	same := must(s.Roles.UpdateRole(ctx, org, r.ID, castellan.RoleUpdate{Actions: []string{"s3e:Get*"}}))(t)
	if same.Revision != upd.Revision {
		t.Fatalf("no-op update moved revision from %d to %d", upd.Revision, same.Revision)
	}
	unchanged(t, s, org, before)
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &r.ID}))(t)
	if len(events) != 2 || events[0].Action != "iam:UpdateRole" || events[1].Action != "iam:CreateRole" {
		t.Fatalf("got events %+v", events)
	}
}

func testRolesErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	r := must(s.Roles.CreateRole(ctx, org, castellan.RoleCreate{Name: "ops", Kind: castellan.RoleProject, Actions: []string{"compute:*"}}))(t)
	before := takeSnapshot(t, s, org)
	ok := []string{"compute:StartInstance"}
	for _, tc := range []struct {
		rc          castellan.RoleCreate
		code, field string
		rule        string
	}{
		{castellan.RoleCreate{Name: "", Kind: castellan.RoleProject, Actions: ok}, castellan.CodeInvalidField, "name", "required"},
		{castellan.RoleCreate{Name: strings.Repeat("r", 101), Kind: castellan.RoleProject, Actions: ok}, castellan.CodeInvalidField, "name", "maxLength"},
		{castellan.RoleCreate{Name: "x", Kind: castellan.RoleResource, Actions: ok}, castellan.CodeInvalidField, "kind", "enum"},
		{castellan.RoleCreate{Name: "x", Kind: "planet", Actions: ok}, castellan.CodeInvalidField, "kind", "enum"},
		{castellan.RoleCreate{Name: "x", Kind: castellan.RoleProject}, castellan.CodeInvalidField, "actions", "minItems"},
		{castellan.RoleCreate{Name: "x", Kind: castellan.RoleProject, Actions: []string{"not an action"}}, castellan.CodeInvalidField, "actions[0]", "pattern"},
		{castellan.RoleCreate{Name: "x", Kind: castellan.RoleProject, Actions: []string{"compute:StartInstance", "nosuch:Thing"}},
			castellan.CodeUnknownAction, "actions[1]", "unknownAction"},
	} {
		_, err := s.Roles.CreateRole(ctx, org, tc.rc)
		wantCode(t, err, castellan.EINVALID, tc.code)
		wantField(t, err, tc.field, tc.rule)
	}
	_, err := s.Roles.UpdateRole(ctx, org, r.ID, castellan.RoleUpdate{Actions: []string{"compute:Explode"}})
	wantCode(t, err, castellan.EINVALID, castellan.CodeUnknownAction)
	_, err = s.Roles.UpdateRole(ctx, org, r.ID, castellan.RoleUpdate{Name: ptr(" ops")})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	unchanged(t, s, org, before)
}

func testRolesErrNameTaken(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	rc := castellan.RoleCreate{Name: "ops", Kind: castellan.RoleProject, Actions: []string{"compute:*"}}
	must(s.Roles.CreateRole(ctx, acme.OrganizationID, rc))(t)
	other := must(s.Roles.CreateRole(ctx, acme.OrganizationID, castellan.RoleCreate{Name: "dev", Kind: castellan.RoleProject, Actions: []string{"compute:*"}}))(t)
	before := takeSnapshot(t, s, acme.OrganizationID)
	_, err := s.Roles.CreateRole(ctx, acme.OrganizationID, rc)
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeRoleNameTaken)
	_, err = s.Roles.UpdateRole(ctx, acme.OrganizationID, other.ID, castellan.RoleUpdate{Name: ptr("ops")})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeRoleNameTaken)
	unchanged(t, s, acme.OrganizationID, before)
	must(s.Roles.CreateRole(ctx, globex.OrganizationID, rc))(t)
}

func testRolesErrBuiltIn(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	before := takeSnapshot(t, s, org)
	for _, id := range []string{"organization.owner", "project.admin", "s3e.admin"} {
		_, err := s.Roles.UpdateRole(ctx, org, id, castellan.RoleUpdate{Name: ptr("mine")})
		wantCode(t, err, castellan.EINVALID, castellan.CodeRoleBuiltIn)
		_, err = s.Roles.DeleteRole(ctx, org, id, true)
		wantCode(t, err, castellan.EINVALID, castellan.CodeRoleBuiltIn)
	}
	unchanged(t, s, org, before)
}

func testRolesErrNotFound(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	for _, id := range []string{unknownID, "organization.nobody", ""} {
		_, err := s.Roles.FindRoleByID(ctx, org, id)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
		_, err = s.Roles.UpdateRole(ctx, org, id, castellan.RoleUpdate{Name: ptr("x")})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
		_, err = s.Roles.DeleteRole(ctx, org, id, false)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
	}
}

func testRolesDelete(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("req-del")
	r := must(s.Roles.CreateRole(ctx, org, castellan.RoleCreate{Name: "ops", Kind: castellan.RoleServiceKind, Actions: []string{"compute:*"}}))(t)
	p := must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
	owner := castellan.Subject{Type: castellan.SubjectUser, ID: res.OwnerUserID}
	grants, _ := must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: r.ID, Scope: "organization/" + org, Subject: owner},
		{RoleID: r.ID, Scope: "project/" + p.ID, Subject: owner},
		{RoleID: "project.reader", Scope: "project/" + p.ID, Subject: owner},
	}))(t)
	before := takeSnapshot(t, s, org)
	_, err := s.Roles.DeleteRole(ctx, org, r.ID, false)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeRoleInUse)
	unchanged(t, s, org, before)
	rev := must(s.Roles.DeleteRole(ctx, org, r.ID, true))(t)
	_, err = s.Roles.FindRoleByID(ctx, org, r.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
	left := listed(s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &owner}))(t)
	if len(left) != 2 || left[0].RoleID != castellan.OrganizationOwnerRoleID || left[1].ID != grants[2].ID {
		t.Fatalf("got grants %+v, want the owner's and project.reader", left)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &r.ID}))(t)
	if events[0].Action != "iam:DeleteRole" || events[0].Revision != rev {
		t.Fatalf("got event %+v", events[0])
	}
	// A role granted nowhere goes without force.
	unused := must(s.Roles.CreateRole(ctx, org, castellan.RoleCreate{Name: "unused", Kind: castellan.RoleProject, Actions: []string{"compute:*"}}))(t)
	must(s.Roles.DeleteRole(ctx, org, unused.ID, false))(t)
}

func testRolesList(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	var custom []string
	for i := 4; i >= 0; i-- {
		kind := []castellan.RoleKind{castellan.RoleProject, castellan.RoleOrganization}[i%2]
		name := fmt.Sprintf("custom-%d", i)
		must(s.Roles.CreateRole(ctx, org, castellan.RoleCreate{Name: name, Kind: kind, Actions: []string{"compute:*"}}))(t)
		custom = append([]string{name}, custom...)
	}
	var want []string
	for _, r := range s.Catalog.Roles {
		want = append(want, r.ID)
	}
	want = append(want, custom...)
	list := func(f castellan.RoleFilter) []string {
		t.Helper()
		var got []string
		for {
			roles, next, err := s.Roles.FindRoles(ctx, org, f)
			for _, r := range listed(roles, next, err)(t) {
				if r.BuiltIn {
					got = append(got, r.ID)
				} else {
					got = append(got, r.Name)
				}
			}
			if next == "" {
				return got
			}
			f.PageToken = next
		}
	}
	// Page sizes that end pages inside the built-ins, at their end and
	// inside the custom roles.
	for _, size := range []int{1, 3, len(s.Catalog.Roles), len(s.Catalog.Roles) + 2, 1000} {
		if got := list(castellan.RoleFilter{PageSize: size}); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("page size %d: got %v, want %v", size, got, want)
		}
	}
	kind := castellan.RoleProject
	var wantProject []string
	for _, r := range s.Catalog.Roles {
		if r.Kind == kind {
			wantProject = append(wantProject, r.ID)
		}
	}
	wantProject = append(wantProject, "custom-0", "custom-2", "custom-4")
	if got := list(castellan.RoleFilter{Kind: &kind, PageSize: 2}); fmt.Sprint(got) != fmt.Sprint(wantProject) {
		t.Fatalf("kind project: got %v, want %v", got, wantProject)
	}
	_, _, err := s.Roles.FindRoles(ctx, org, castellan.RoleFilter{PageToken: "bad"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}

func testRolesCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	r := must(s.Roles.CreateRole(ctx, acme.OrganizationID, castellan.RoleCreate{Name: "ops", Kind: castellan.RoleProject, Actions: []string{"compute:*"}}))(t)
	beforeAcme, beforeGlobex := takeSnapshot(t, s, acme.OrganizationID), takeSnapshot(t, s, globex.OrganizationID)
	_, err := s.Roles.FindRoleByID(ctx, globex.OrganizationID, r.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
	_, err = s.Roles.UpdateRole(ctx, globex.OrganizationID, r.ID, castellan.RoleUpdate{Name: ptr("stolen")})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
	_, err = s.Roles.DeleteRole(ctx, globex.OrganizationID, r.ID, true)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
	for _, role := range listed(s.Roles.FindRoles(ctx, globex.OrganizationID, castellan.RoleFilter{PageSize: 1000}))(t) {
		if !role.BuiltIn {
			t.Fatalf("Globex lists Acme's role %+v", role)
		}
	}
	// Nor can Globex grant it.
	_, _, err = s.Grants.CreateGrants(ctx, globex.OrganizationID, []castellan.GrantCreate{{RoleID: r.ID,
		Scope: "organization/" + globex.OrganizationID, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: globex.OwnerUserID}}})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleNotFound)
	unchanged(t, s, acme.OrganizationID, beforeAcme)
	unchanged(t, s, globex.OrganizationID, beforeGlobex)
}
