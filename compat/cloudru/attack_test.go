package cloudru_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// TestForeignIDsLookMissing: an ID of another organization, in any field
// that takes one, is answered exactly as a random ID, so that a caller
// learns nothing of other organizations, and nothing changes.
func TestForeignIDsLookMissing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		acme, globex := e.Acme.OrganizationID, e.Globex.OrganizationID
		const random = "0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e"
		project := newProject(t, e, acme)
		_, user := e.userToken(t, acme, "", "")
		foreignProject := newProject(t, e, globex)
		_, foreignUser := e.userToken(t, globex, "", "")
		foreignAccount, err := e.DB.Services().ServiceAccounts.CreateServiceAccount(system, globex, foreignProject, castellan.ServiceAccountCreate{Name: "robot"})
		if err != nil {
			t.Fatal(err)
		}
		foreignGroup, err := e.DB.Services().Groups.CreateGroup(system, globex, castellan.GroupCreate{Name: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		foreignRole, err := e.DB.Services().Roles.CreateRole(system, globex, castellan.RoleCreate{Name: "ops", Kind: castellan.RoleProject, Actions: []string{"compute:*"}})
		if err != nil {
			t.Fatal(err)
		}
		foreignFederation := newFederation(t, e, globex)
		before := e.Snapshot(t)
		same := func(what, foreignID string, foreign, missing response) {
			t.Helper()
			if foreign.status < 400 {
				t.Fatalf("%s: another organization's ID was accepted: %d %s", what, foreign.status, foreign.body)
			}
			norm := func(r response, id string) string {
				return r.contentType + " " + strings.ReplaceAll(r.body, id, "<id>")
			}
			if foreign.status != missing.status || norm(foreign, foreignID) != norm(missing, random) {
				t.Errorf("%s: another organization's ID gives %d %s, a random one %d %s", what, foreign.status, foreign.body, missing.status, missing.body)
			}
		}
		grant := func(role, object, objectType, subject, subjectType string) response {
			return e.post(t, "/api/v1/permissions", e.Acme.Token, jsonBody(t, map[string]string{
				"role": role, "objectId": object, "objectType": objectType, "subjectId": subject, "subjectType": subjectType}))
		}
		same("customer", globex, grant("organization.reader", globex, "customer", user, "user"),
			grant("organization.reader", random, "customer", user, "user"))
		same("project", foreignProject, grant("project.reader", foreignProject, "resource", user, "user"),
			grant("project.reader", random, "resource", user, "user"))
		same("rn", foreignProject, grant("s3e.viewer", "rn:s3e:"+foreignProject+":bucket/*", "resource", user, "user"),
			grant("s3e.viewer", "rn:s3e:"+random+":bucket/*", "resource", user, "user"))
		same("user", foreignUser, grant("project.reader", project, "resource", foreignUser, "user"),
			grant("project.reader", project, "resource", random, "user"))
		same("service account", foreignAccount.ID, grant("project.reader", project, "resource", foreignAccount.ID, "service_account"),
			grant("project.reader", project, "resource", random, "service_account"))
		same("group", foreignGroup.ID, grant("project.reader", project, "resource", foreignGroup.ID, "group"),
			grant("project.reader", project, "resource", random, "group"))
		same("role", foreignRole.ID, grant(foreignRole.ID, project, "resource", user, "user"),
			grant(random, project, "resource", user, "user"))
		addUser := readFile(t, "add_user.json")
		same("add user", globex, e.post(t, e.usersPath(globex), e.Acme.Token, addUser), e.post(t, e.usersPath(random), e.Acme.Token, addUser))
		reinvite := `{"userId": "` + e.Globex.OwnerUserID + `"}`
		same("reinvite", globex, e.post(t, e.usersPath(globex)+"/reinvite", e.Acme.Token, reinvite),
			e.post(t, e.usersPath(random)+"/reinvite", e.Acme.Token, reinvite))
		same("reinvite user", foreignUser, e.post(t, e.usersPath(acme)+"/reinvite", e.Acme.Token, `{"userId": "`+foreignUser+`"}`),
			e.post(t, e.usersPath(acme)+"/reinvite", e.Acme.Token, `{"userId": "`+random+`"}`))
		fed := `{"emails": ["a@acme.example"]}`
		same("federated", globex, e.post(t, "/api/v1/customers/"+globex+"/federations/"+random+"/users", e.Acme.Token, fed),
			e.post(t, "/api/v1/customers/"+random+"/federations/"+random+"/users", e.Acme.Token, fed))
		same("federation", foreignFederation, e.post(t, "/api/v1/customers/"+acme+"/federations/"+foreignFederation+"/users", e.Acme.Token, fed),
			e.post(t, "/api/v1/customers/"+acme+"/federations/"+random+"/users", e.Acme.Token, fed))
		addFederatedUser := func(idp string) string {
			return strings.Replace(addUser, `"USER_ACCOUNT_TYPE_LOCAL"`, `"USER_ACCOUNT_TYPE_FEDERATED", "idpId": "`+idp+`"`, 1)
		}
		same("federated user", foreignFederation, e.post(t, e.usersPath(acme), e.Acme.Token, addFederatedUser(foreignFederation)),
			e.post(t, e.usersPath(acme), e.Acme.Token, addFederatedUser(random)))
		e.unchanged(t, before)
	})
}

// TestPermissionExpiry: an expiry in the past or now is refused with
// nothing granted; one far ahead is kept as given, whatever its offset.
func TestPermissionExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		project := newProject(t, e, org)
		_, user := e.userToken(t, org, "", "")
		grant := func(expiresAt string) response {
			return e.post(t, "/api/v1/permissions", e.Acme.Token, jsonBody(t, map[string]string{"role": "project.reader",
				"objectId": project, "objectType": "resource", "subjectId": user, "subjectType": "user", "expiresAt": expiresAt}))
		}
		before := e.Snapshot(t)
		for _, at := range []string{"0001-01-01T00:00:00Z", "2000-01-01T00:00:00+14:00", e.Clock.Now().UTC().Format(time.RFC3339Nano)} {
			wantError(t, grant(at), http.StatusBadRequest, 3, "invalid CreatePermissionRequest.ExpiresAt: value must be greater than now")
		}
		for _, at := range []string{"10000-01-01T00:00:00Z", "9999-12-31T23:59:59Z-01:00", "2030-01-01T00:00:00+25:00"} {
			wantError(t, grant(at), http.StatusBadRequest, 3, "invalid CreatePermissionRequest.ExpiresAt: value must be a valid RFC 3339 timestamp")
		}
		e.unchanged(t, before)
		for at, want := range map[string]string{
			"9999-12-31T23:59:59.999999999Z": "9999-12-31T23:59:59.999999Z",
			"2031-06-01T03:00:00+03:00":      "2031-06-01T00:00:00Z",
		} {
			var out struct {
				PermissionID string `json:"permission_id"`
				ExpiresAt    string `json:"expires_at"`
			}
			decode(t, grant(at), &out)
			grants, err := e.DB.Services().Grants.FindGrantsByID(system, org, []string{out.PermissionID})
			if err != nil {
				t.Fatal(err)
			}
			if out.ExpiresAt != want || grants[0].ExpiresAt == nil || timestampOf(t, want) != *grants[0].ExpiresAt {
				t.Fatalf("expiresAt %s: answered %q, stored %v; want %s", at, out.ExpiresAt, grants[0].ExpiresAt, want)
			}
		}
	})
}

func timestampOf(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
