package cloudru_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

const placeholder = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxxx"

// seedPermission is the seed's permissions body with its object and
// subject filled in.
func seedPermission(t *testing.T, object, subject string) string {
	t.Helper()
	body := strings.Replace(readFile(t, "permissions.json"), placeholder, object, 1)
	return strings.Replace(body, placeholder, subject, 1)
}

// corrected drops the seed's trailing comma, which makes it invalid JSON.
func corrected(body string) string {
	return strings.Replace(body, `"2025-05-28T07:19:34.563Z",`, `"2025-05-28T07:19:34.563Z"`, 1)
}

// TestPermissionsSeed sends the seed's body as it is (invalid JSON),
// corrected (its expiry is past on the test's clock) and with a future
// expiry, which grants; the grant is in /v1 with that expiry.
func TestPermissionsSeed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		project := newProject(t, e, org)
		_, user := e.userToken(t, org, "", "")
		bucket := "rn:s3e:" + project + ":bucket/backups"
		ids := map[string]string{project: "<project>", user: "<user>"}

		before := e.Snapshot(t)
		seed := seedPermission(t, bucket, user)
		r := e.post(t, "/api/v1/permissions", e.Acme.Token, seed)
		wantError(t, r, http.StatusBadRequest, 3, "")
		golden(t, "permissions_seed", r, ids)

		r = e.post(t, "/api/v1/permissions", e.Acme.Token, corrected(seed))
		wantError(t, r, http.StatusBadRequest, 3, "invalid CreatePermissionRequest.ExpiresAt: value must be greater than now")
		golden(t, "permissions_past", r, ids)
		e.unchanged(t, before)

		future := strings.Replace(corrected(seed), "2025-05-28", "2026-05-28", 1)
		r = e.post(t, "/api/v1/permissions", e.Acme.Token, future)
		var out struct {
			PermissionID string `json:"permission_id"`
		}
		decode(t, r, &out)
		ids[out.PermissionID] = "<grant>"
		golden(t, "permissions", r, ids)

		grants, err := e.DB.Services().Grants.FindGrantsByID(system, org, []string{out.PermissionID})
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2026, 5, 28, 7, 19, 34, 563e6, time.UTC)
		g := grants[0]
		if g.RoleID != "s3e.admin" || g.Scope != bucket || g.Subject != (castellan.Subject{Type: castellan.SubjectUser, ID: user}) ||
			g.ExpiresAt == nil || !g.ExpiresAt.Equal(want) {
			t.Fatalf("got %+v", g)
		}
		// /v1 shows the grant with the expiry.
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/organizations/"+org+"/grants?scope="+bucket, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.Acme.Token)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct{ Grants []castellan.Grant }
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Grants) != 1 || list.Grants[0].ID != out.PermissionID ||
			list.Grants[0].ExpiresAt == nil || !list.Grants[0].ExpiresAt.Equal(want) {
			t.Fatalf("GET /v1 grants: got %+v %v", list, err)
		}
	})
}

// TestPermissionObjects grants on each kind of object and subject, and
// refuses what is not one.
func TestPermissionObjects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		project := newProject(t, e, org)
		_, user := e.userToken(t, org, "", "")
		group, err := e.DB.Services().Groups.CreateGroup(system, org, castellan.GroupCreate{Name: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		ou, err := e.DB.Services().OrgUnits.CreateOrgUnit(system, org, castellan.OrgUnitCreate{ParentID: org, Name: "Sales"})
		if err != nil {
			t.Fatal(err)
		}
		grant := func(role, object, objectType, subject, subjectType string) response {
			return e.post(t, "/api/v1/permissions", e.Acme.Token, jsonBody(t, map[string]string{
				"role": role, "objectId": object, "objectType": objectType, "subjectId": subject, "subjectType": subjectType}))
		}
		for _, tc := range []struct {
			role, object, objectType, subject, subjectType, scope string
		}{
			{"organization.reader", org, "customer", user, "user", "organization/" + org},
			{"project.reader", project, "resource", user, "user", "project/" + project},
			{"project.member", strings.ToUpper(project), "resource", group.ID, "group", "project/" + project},
			{"project.reader", ou.ID, "resource", user, "user", "ou/" + ou.ID},
			{"s3e.viewer", "rn:s3e:" + project + ":bucket/*", "resource", group.ID, "group", "rn:s3e:" + project + ":bucket/*"},
		} {
			r := grant(tc.role, tc.object, tc.objectType, tc.subject, tc.subjectType)
			var out struct {
				PermissionID string  `json:"permission_id"`
				ObjectID     string  `json:"object_id"`
				SubjectType  string  `json:"subject_type"`
				ExpiresAt    *string `json:"expires_at"`
			}
			decode(t, r, &out)
			grants, err := e.DB.Services().Grants.FindGrantsByID(system, org, []string{out.PermissionID})
			if err != nil {
				t.Fatal(err)
			}
			if g := grants[0]; g.Scope != tc.scope || g.RoleID != tc.role || g.Subject.ID != tc.subject || out.SubjectType != tc.subjectType ||
				out.ExpiresAt != nil || g.ExpiresAt != nil {
				t.Fatalf("%s on %s: got %+v and %s", tc.role, tc.object, g, r.body)
			}
		}

		before := e.Snapshot(t)
		for _, tc := range []struct {
			body         map[string]string
			status, code int
			message      string
		}{
			{map[string]string{"objectId": "bucket-1"}, http.StatusBadRequest, 3, "invalid CreatePermissionRequest.ObjectId: value must be a valid UUID"},
			{map[string]string{"objectType": "bucket"}, http.StatusBadRequest, 3, "invalid CreatePermissionRequest.ObjectType: value must be in list [customer resource]"},
			{map[string]string{"subjectType": "robot"}, http.StatusBadRequest, 3,
				"invalid CreatePermissionRequest.SubjectType: value must be in list [user service_account group]"},
			{map[string]string{"expiresAt": "tomorrow"}, http.StatusBadRequest, 3, "invalid CreatePermissionRequest.ExpiresAt: value must be a valid RFC 3339 timestamp"},
			{map[string]string{"role": ""}, http.StatusBadRequest, 3, "invalid CreatePermissionRequest.Role: value length must be at least 1 runes"},
			{map[string]string{"role": "s3e.admin"}, http.StatusBadRequest, 3, ""},
			{map[string]string{"objectId": "rn:s3e:nope"}, http.StatusBadRequest, 3, ""},
			{map[string]string{"role": "no.such.role"}, http.StatusNotFound, 5, "CreatePermissionRequest.Role: role no.such.role not found"},
			{map[string]string{"objectId": "0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e"}, http.StatusNotFound, 5, ""},
			{map[string]string{"subjectId": "0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e"}, http.StatusNotFound, 5, ""},
			{map[string]string{"unknown": "x"}, http.StatusBadRequest, 3, `invalid CreatePermissionRequest: unknown field "unknown"`},
			// Another organization as the customer: not the caller's.
			{map[string]string{"objectType": "customer", "objectId": e.Globex.OrganizationID, "role": "organization.reader"}, http.StatusForbidden, 7, ""},
		} {
			body := map[string]string{"role": "project.reader", "objectId": project, "objectType": "resource", "subjectId": user, "subjectType": "user"}
			for k, v := range tc.body {
				body[k] = v
			}
			wantError(t, e.post(t, "/api/v1/permissions", e.Acme.Token, jsonBody(t, body)), tc.status, tc.code, tc.message)
		}
		e.unchanged(t, before)
	})
}

// TestPermissionHierarchy: a user administrator cannot grant the owner
// role it does not hold (the hierarchy principle, the guard's).
func TestPermissionHierarchy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		token, self := e.userToken(t, org, "iam.userAdmin", "organization/"+org)
		before := e.Snapshot(t)
		r := e.post(t, "/api/v1/permissions", token, jsonBody(t, map[string]string{
			"role": castellan.OrganizationOwnerRoleID, "objectId": org, "objectType": "customer", "subjectId": self, "subjectType": "user"}))
		wantError(t, r, http.StatusForbidden, 7, "")
		e.unchanged(t, before)
	})
}
