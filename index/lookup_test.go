package index_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// lookupActions are the actions the lookups are tried with: one a
// control policy forbids, some it permits in a narrowed account, and
// some of the organization.
var lookupActions = []string{"compute:StartInstance", "s3e:GetObject", "s3e:PutObject", "organizations:GetProject", "iam:ListGrants"}

var lookupTypes = []string{"ou", "account", "project", "s3e:bucket", "compute:instance"}

// TestLookups compares the index's lookups with the reference's on a
// seeded organization, some of whose grants have expired, and both with
// the reference's Authorize over every candidate: every resource or
// subject it allows is listed, none it refuses.
func TestLookups(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, b, 5)
			w.clock.Advance(45 * time.Second)
			principals := w.principals()
			for i, p := range principals {
				if i%2 == 1 && p.ProjectID == "" {
					continue // half of them suffice for resources
				}
				for _, action := range lookupActions[:2] {
					for _, typ := range lookupTypes {
						w.checkResources(p, action, typ)
					}
				}
			}
			scopes := append(w.scopes(), "project/00000000-0000-4000-8000-000000000001", "organization/"+w.other)
			for i, scope := range scopes {
				for j, action := range lookupActions[2:] {
					// Every page size on a few: each page explains its
					// subjects from the store.
					w.checkSubjects(principals, action, scope, j == 0 && i%8 == 0)
				}
			}
			if w.reasons[castellan.ReasonExpired] == 0 || w.reasons[castellan.ReasonPolicyForbids] == 0 || w.reasons[castellan.ReasonAllowed] == 0 {
				t.Fatalf("the candidates met %v: want expired grants, a forbidding policy and allowed ones", w.reasons)
			}
		})
	}
}

// principals are the organization's users (the accounts' root users
// too) and service accounts, and one user bound to a project's key.
func (w *world) principals() []castellan.Principal {
	var out []castellan.Principal
	users, _, err := w.s.Users.FindUsers(asOperator, w.org, castellan.UserFilter{PageSize: castellan.MaxPageSize})
	if err != nil {
		w.tb.Fatal(err)
	}
	for _, u := range users {
		out = append(out, castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: w.org})
	}
	for _, sa := range w.sas {
		out = append(out, castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: sa, OrganizationID: w.org})
	}
	return append(out, castellan.Principal{Type: castellan.PrincipalUser, ID: w.owner, OrganizationID: w.org, ProjectID: w.projects[0]})
}

// allResources lists every page of a lookup of resources of size.
func allResources(tb testing.TB, lookup func(context.Context, castellan.LookupResourcesRequest) ([]string, string, error), req castellan.LookupResourcesRequest) []string {
	tb.Helper()
	var out []string
	for pages := 0; ; pages++ {
		page, next, err := lookup(context.Background(), req)
		if err != nil {
			tb.Fatalf("%+v: %v", req, err)
		}
		if size := castellan.PageSize(req.PageSize); len(page) > size {
			tb.Fatalf("%+v: a page of %d, want at most %d", req, len(page), size)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		if pages > 1000 {
			tb.Fatalf("%+v: no end", req)
		}
		req.PageToken = next
	}
}

// checkResources compares the lookups of p's resources of typ with each
// other, with the reference's Authorize on every candidate, and every
// page size with the whole list.
func (w *world) checkResources(p castellan.Principal, action, typ string) {
	w.tb.Helper()
	req := castellan.LookupResourcesRequest{Principal: p, Action: action, ResourceType: typ, PageSize: castellan.MaxPageSize}
	want := allResources(w.tb, w.reference.LookupResources, req)
	got := allResources(w.tb, w.index.LookupResources, req)
	if !slices.Equal(got, want) {
		w.tb.Fatalf("%+v: index %v, reference %v", req, got, want)
	}
	listed := map[string]bool{}
	for _, r := range got {
		listed[r] = true
	}
	if len(listed) != len(got) || !slices.IsSorted(got) {
		w.tb.Fatalf("%+v: %v not sorted or listed twice", req, got)
	}
	ctx := context.Background()
	unseen := maps.Clone(listed)
	for _, c := range w.resourceCandidates(typ) {
		d, err := w.reference.Authorize(ctx, castellan.AuthzRequest{Principal: p, Action: action, Resource: c})
		if err != nil {
			w.tb.Fatal(err)
		}
		w.reasons[d.Reason]++
		covered := false
		if scope, _ := castellan.ParseScope("c", c); scope.Kind == castellan.ScopeResource {
			covered = listed[scope.Resource.AllOfType().String()]
		}
		switch {
		case d.Allowed && !listed[c] && !covered:
			w.tb.Fatalf("%+v: %s allowed (%s) but not listed in %v", req, c, d.Reason, got)
		case !d.Allowed && listed[c]:
			w.tb.Fatalf("%+v: %s refused (%s) but listed", req, c, d.Reason)
		}
		delete(unseen, c)
	}
	if len(unseen) > 0 {
		w.tb.Fatalf("%+v: listed %v, no candidate", req, unseen)
	}
	for size := 1; size <= len(want)+1; size++ {
		req.PageSize = size
		if got := allResources(w.tb, w.index.LookupResources, req); !slices.Equal(got, want) {
			w.tb.Fatalf("%+v: pages of %d give %v, want %v", req, size, got, want)
		}
	}
}

// resourceCandidates are the resources of typ the test knows of: every
// node of the kind, or every wildcard and named resource of the type in
// every project.
func (w *world) resourceCandidates(typ string) []string {
	switch typ {
	case "organization":
		return []string{"organization/" + w.org}
	case "ou", "account", "project":
		var out []string
		for _, s := range w.scopes() {
			if strings.HasPrefix(s, typ+"/") {
				out = append(out, s)
			}
		}
		return out
	}
	service, rtype, _ := strings.Cut(typ, ":")
	var out []string
	for _, s := range w.scopes() {
		if strings.HasPrefix(s, "rn:"+service+":") && strings.Contains(s, ":"+rtype+"/") {
			out = append(out, s)
		}
	}
	for _, p := range w.projects {
		if all := "rn:" + service + ":" + p + ":" + rtype + "/*"; !slices.Contains(out, all) {
			out = append(out, all)
		}
	}
	return out
}

// allSubjects lists every page of a lookup of subjects.
func allSubjects(tb testing.TB, lookup func(context.Context, castellan.LookupSubjectsRequest) ([]castellan.SubjectAccess, string, error), req castellan.LookupSubjectsRequest) []castellan.SubjectAccess {
	tb.Helper()
	var out []castellan.SubjectAccess
	for pages := 0; ; pages++ {
		page, next, err := lookup(context.Background(), req)
		if err != nil {
			tb.Fatalf("%+v: %v", req, err)
		}
		if size := castellan.PageSize(req.PageSize); len(page) > size {
			tb.Fatalf("%+v: a page of %d, want at most %d", req, len(page), size)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		if pages > 1000 {
			tb.Fatalf("%+v: no end", req)
		}
		req.PageToken = next
	}
}

// checkSubjects compares the lookups of the subjects that may do action
// on scope with each other (and so the grants listed with the
// reference's Explain) and with the reference's Authorize of every
// principal, and, when everySize, every page size with the whole list.
func (w *world) checkSubjects(principals []castellan.Principal, action, scope string, everySize bool) {
	w.tb.Helper()
	req := castellan.LookupSubjectsRequest{OrganizationID: w.org, Action: action, Resource: scope}
	want := allSubjects(w.tb, w.reference.LookupSubjects, req)
	got := allSubjects(w.tb, w.index.LookupSubjects, req)
	if !reflect.DeepEqual(got, want) {
		w.tb.Fatalf("%+v: index %+v, reference %+v", req, got, want)
	}
	listed := map[string][]castellan.GrantMatch{}
	for _, s := range got {
		listed[string(s.Subject.Type)+"/"+s.Subject.ID] = s.Grants
	}
	for _, p := range principals {
		if p.ProjectID != "" {
			continue
		}
		d, err := w.reference.Authorize(context.Background(), castellan.AuthzRequest{Principal: p, Action: action, Resource: scope})
		if err != nil {
			w.tb.Fatal(err)
		}
		w.reasons[d.Reason]++
		key := "user/" + p.ID
		if p.Type == castellan.PrincipalServiceAccount {
			key = "serviceAccount/" + p.ID
		}
		grants, ok := listed[key]
		switch {
		case d.Allowed != ok:
			w.tb.Fatalf("%+v: %s %s, listed %v", req, key, d.Reason, ok)
		case ok && !w.holdsThrough(grants, action):
			w.tb.Fatalf("%+v: %s through %+v, none of which holds the action", req, key, grants)
		}
		delete(listed, key)
	}
	if len(listed) > 0 {
		w.tb.Fatalf("%+v: listed %v, no principal", req, listed)
	}
	for size := 1; everySize && size <= len(want)+1; size++ {
		req.PageSize = size
		if got := allSubjects(w.tb, w.index.LookupSubjects, req); !reflect.DeepEqual(got, want) {
			w.tb.Fatalf("%+v: pages of %d give %d subjects, want %d", req, size, len(got), len(want))
		}
	}
}

// holdsThrough reports whether grants are some, each on its scope of a
// role that allows action.
func (w *world) holdsThrough(grants []castellan.GrantMatch, action string) bool {
	for _, g := range grants {
		if g.Grant == nil || g.Role != g.Grant.RoleID || g.Scope != g.Grant.Scope {
			return false
		}
		role, err := w.s.Roles.FindRoleByID(asOperator, w.org, g.Role)
		if err != nil || !role.Allows(action) {
			return false
		}
	}
	return len(grants) > 0
}

// TestLookupRefusals checks the errors of bad lookups, the same from the
// index and the reference.
func TestLookupRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, sqltest.Backends()[0], 3)
	p := castellan.Principal{Type: castellan.PrincipalUser, ID: w.owner, OrganizationID: w.org}
	ok := castellan.LookupResourcesRequest{Principal: p, Action: "s3e:GetObject", ResourceType: "project", PageSize: 1}
	_, token, err := w.index.LookupResources(context.Background(), ok)
	if err != nil || token == "" {
		t.Fatalf("got token %q, %v, want a second page", token, err)
	}
	resources := func(change func(*castellan.LookupResourcesRequest)) castellan.LookupResourcesRequest {
		r := ok
		change(&r)
		return r
	}
	subjects := castellan.LookupSubjectsRequest{OrganizationID: w.org, Action: "s3e:GetObject", Resource: "project/" + w.projects[0]}
	for _, tc := range []struct {
		name        string
		resources   *castellan.LookupResourcesRequest
		subjects    *castellan.LookupSubjectsRequest
		code, field string
	}{
		{"unknown type", ptr(resources(func(r *castellan.LookupResourcesRequest) { r.ResourceType = "s3e:vault" })), nil, castellan.CodeInvalidField, "resourceType"},
		{"unknown service", ptr(resources(func(r *castellan.LookupResourcesRequest) { r.ResourceType = "bucket" })), nil, castellan.CodeInvalidField, "resourceType"},
		{"unknown action", ptr(resources(func(r *castellan.LookupResourcesRequest) { r.Action = "s3e:Fly" })), nil, castellan.CodeInvalidField, "action"},
		{"page too large", ptr(resources(func(r *castellan.LookupResourcesRequest) { r.PageSize = castellan.MaxPageSize + 1 })), nil, castellan.CodeInvalidField, "pageSize"},
		{"junk token", ptr(resources(func(r *castellan.LookupResourcesRequest) { r.PageToken = "junk" })), nil, castellan.CodeInvalidPageToken, "pageToken"},
		{"token of another type", ptr(resources(func(r *castellan.LookupResourcesRequest) { r.ResourceType, r.PageToken = "account", token })), nil, castellan.CodeInvalidPageToken, "pageToken"},
		{"subjects: bad resource", nil, ptr(func() castellan.LookupSubjectsRequest { r := subjects; r.Resource = "bucket/x"; return r }()), castellan.CodeInvalidScope, "resource"},
		{"subjects: unknown action", nil, ptr(func() castellan.LookupSubjectsRequest { r := subjects; r.Action = "nope:Nothing"; return r }()), castellan.CodeInvalidField, "action"},
		{"subjects: token of resources", nil, ptr(func() castellan.LookupSubjectsRequest { r := subjects; r.PageToken = token; return r }()), castellan.CodeInvalidPageToken, "pageToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, lookups := range map[string]castellan.Lookups{"index": w.index, "reference": w.reference} {
				var err error
				if tc.resources != nil {
					_, _, err = lookups.LookupResources(context.Background(), *tc.resources)
				} else {
					_, _, err = lookups.LookupSubjects(context.Background(), *tc.subjects)
				}
				var e *castellan.Error
				if !errors.As(err, &e) || e.Code != tc.code || len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
					t.Fatalf("%s: got %v, want %s on %s", name, err, tc.code, tc.field)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
