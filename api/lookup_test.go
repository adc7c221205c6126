package api_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

type lookupResourcesPage struct {
	Resources     []string `json:"resources"`
	NextPageToken string   `json:"nextPageToken"`
}

type lookupSubjectsPage struct {
	Subjects      []castellan.SubjectAccess `json:"subjects"`
	NextPageToken string                    `json:"nextPageToken"`
}

// TestLookups asks both lookups through HTTP: a project where a group
// of the user may read every bucket is one wildcard, a bucket of another
// project granted to the user alone is listed by name, pages of one
// follow each other with tokens, and who may read the project says
// through which grant.
func TestLookups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		s := e.db.Services()
		user, group := f.newUser(), f.newGroup()
		if _, err := s.Groups.AddGroupMembers(system, f.org, group, []string{user}); err != nil {
			t.Fatal(err)
		}
		shared, own := f.newProject(), f.newProject()
		viaGroup := f.grant("project.reader", "project/"+shared, castellan.Subject{Type: castellan.SubjectGroup, ID: group})
		bucket := "rn:s3e:" + own + ":bucket/logs"
		f.grant("s3e.viewer", bucket, castellan.Subject{Type: castellan.SubjectUser, ID: user})

		principal := map[string]string{"type": "user", "id": user, "organizationId": f.org}
		var got []string
		token := ""
		for pages := 1; ; pages++ {
			resp := e.do(t, request{method: "POST", path: "/v1/authorize:lookup-resources?page_size=1&page_token=" + url.QueryEscape(token), token: e.acme.Token,
				body: map[string]any{"principal": principal, "action": "s3e:GetObject", "resourceType": "s3e:bucket"}})
			wantStatus(t, resp, 200)
			var page lookupResourcesPage
			resp.decode(t, &page)
			got = append(got, page.Resources...)
			if token = page.NextPageToken; token == "" {
				break
			}
			if pages > 2 {
				t.Fatalf("got %d pages of one and more, want 2", pages)
			}
		}
		want := []string{"rn:s3e:" + shared + ":bucket/*", bucket}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}

		resp := e.do(t, request{method: "POST", path: "/v1/authorize:lookup-subjects", token: e.acme.Token,
			body: map[string]any{"organizationId": f.org, "action": "s3e:GetObject", "resource": "rn:s3e:" + shared + ":bucket/x"}})
		wantStatus(t, resp, 200)
		var subjects lookupSubjectsPage
		resp.decode(t, &subjects)
		found := false
		for _, sa := range subjects.Subjects {
			if sa.Subject.ID != user {
				continue
			}
			found = true
			if len(sa.Grants) != 1 || sa.Grants[0].Grant.ID != viaGroup.ID || sa.Grants[0].Group == nil || sa.Grants[0].Group.ID != group {
				t.Fatalf("got %+v, want the group's grant %s", sa.Grants, viaGroup.ID)
			}
		}
		if !found || subjects.NextPageToken != "" {
			t.Fatalf("got %+v, want the user among every subject", subjects)
		}
	})
}

// TestLookupRefusals checks bad lookups (problem+json naming the field,
// nothing changed) and that no caller reaches another organization.
func TestLookupRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqltest.SQLiteURL(t))
	f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
	project := f.newProject()
	acmeOwner := map[string]string{"type": "user", "id": e.acme.OwnerUserID, "organizationId": f.org}
	resources := func(change func(map[string]any)) map[string]any {
		body := map[string]any{"principal": acmeOwner, "action": "s3e:GetObject", "resourceType": "project"}
		change(body)
		return body
	}
	subjects := func(change func(map[string]any)) map[string]any {
		body := map[string]any{"organizationId": f.org, "action": "s3e:GetObject", "resource": "project/" + project}
		change(body)
		return body
	}
	for _, tc := range []struct {
		name, path  string
		body        map[string]any
		code, field string
	}{
		{"unknown type", "lookup-resources", resources(func(b map[string]any) { b["resourceType"] = "s3e:vault" }), castellan.CodeInvalidField, "body.resourceType"},
		{"unknown action", "lookup-resources", resources(func(b map[string]any) { b["action"] = "s3e:Fly" }), castellan.CodeInvalidField, "body.action"},
		{"operator asked about", "lookup-resources", resources(func(b map[string]any) {
			b["principal"] = map[string]string{"type": "operator", "id": e.acme.OwnerUserID, "organizationId": f.org}
		}), castellan.CodeInvalidField, "body.principal.type"},
		{"bad resource", "lookup-subjects", subjects(func(b map[string]any) { b["resource"] = "bucket/logs" }), castellan.CodeInvalidScope, "body.resource"},
		{"unknown action", "lookup-subjects", subjects(func(b map[string]any) { b["action"] = "nope:Nothing" }), castellan.CodeInvalidField, "body.action"},
		{"bad organization", "lookup-subjects", subjects(func(b map[string]any) { b["organizationId"] = "acme" }), castellan.CodeInvalidID, "body.organizationId"},
	} {
		t.Run(tc.path+" "+tc.name, func(t *testing.T) {
			p := e.refused(t, request{method: "POST", path: "/v1/authorize:" + tc.path, token: e.acme.Token, body: tc.body}, 400, tc.code)
			if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Fatalf("got %+v, want field %s", p.Errors, tc.field)
			}
		})
	}
	for _, path := range []string{"lookup-resources", "lookup-subjects"} {
		body := resources(func(map[string]any) {})
		if path == "lookup-subjects" {
			body = subjects(func(map[string]any) {})
		}
		p := e.refused(t, request{method: "POST", path: "/v1/authorize:" + path + "?page_token=junk", token: e.acme.Token, body: body}, 400, castellan.CodeInvalidPageToken)
		if len(p.Errors) == 0 || p.Errors[0].Field != "query.page_token" {
			t.Fatalf("%s: got %+v, want field query.page_token", path, p.Errors)
		}
		// Globex's owner may ask about Globex only.
		e.refused(t, request{method: "POST", path: "/v1/authorize:" + path, token: e.globex.Token, body: body}, 403, castellan.CodePermissionDenied)
	}
	// Asking about Acme's project as Globex finds no one of either.
	resp := e.do(t, request{method: "POST", path: "/v1/authorize:lookup-subjects", token: e.globex.Token,
		body: map[string]any{"organizationId": e.globex.OrganizationID, "action": "s3e:GetObject", "resource": "project/" + project}})
	wantStatus(t, resp, 200)
	var page lookupSubjectsPage
	resp.decode(t, &page)
	if len(page.Subjects) != 0 || page.NextPageToken != "" {
		t.Fatalf("got %+v, want no subjects", page)
	}
	// Nor does a Globex principal hold any of Acme's projects.
	globexOwner := map[string]string{"type": "user", "id": e.globex.OwnerUserID, "organizationId": e.globex.OrganizationID}
	resp = e.do(t, request{method: "POST", path: "/v1/authorize:lookup-resources", token: e.globex.Token,
		body: map[string]any{"principal": globexOwner, "action": "s3e:GetObject", "resourceType": "project"}})
	wantStatus(t, resp, 200)
	var projects lookupResourcesPage
	resp.decode(t, &projects)
	if slices.Contains(projects.Resources, "project/"+project) {
		t.Fatalf("got %v, want none of Acme's", projects.Resources)
	}
}
