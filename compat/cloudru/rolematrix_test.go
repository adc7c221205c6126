package cloudru_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/compat/cloudru"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// The principals are apitest.MatrixPrincipals, each with a token.

// matrixRow is one operation with a request and the principals allowed
// to make it.
type matrixRow struct {
	op, variant string
	// build returns the path and body of a request; rows that change
	// something make their own target first.
	build   func(t *testing.T, e *env, project string) (path, body string)
	allowed []string
}

// invitee registers a user in invitation mode, as the system.
func invitee(t *testing.T, e *env) string {
	t.Helper()
	login := "inv" + nextName()
	r, err := e.DB.Services().Users.RegisterUser(system, e.Acme.OrganizationID, castellan.UserRegistration{
		LoginID: login, Email: login + "@acme.example", Mode: castellan.ModeInvitation})
	if err != nil {
		t.Fatal(err)
	}
	return r.User.ID
}

func permission(role, object, objectType, subject string) string {
	b, _ := json.Marshal(map[string]string{"role": role, "objectId": object, "objectType": objectType, "subjectId": subject, "subjectType": "user"})
	return string(b)
}

func matrixRows() []matrixRow {
	userManagers := []string{apitest.Owner, apitest.Admin, apitest.UserAdmin}
	projectManagers := []string{apitest.Owner, apitest.Admin, apitest.ProjectAdmin}
	return []matrixRow{
		{op: "cloudru-add-user", build: func(t *testing.T, e *env, _ string) (string, string) {
			login := "new" + nextName()
			return e.usersPath(e.Acme.OrganizationID), `{"userName": "` + login + `", "email": "` + login + `@acme.example", "accountType": "USER_ACCOUNT_TYPE_LOCAL"}`
		}, allowed: userManagers},
		{op: "cloudru-reinvite-user", build: func(t *testing.T, e *env, _ string) (string, string) {
			return e.usersPath(e.Acme.OrganizationID) + "/reinvite", `{"userId": "` + invitee(t, e) + `"}`
		}, allowed: userManagers},
		{op: "cloudru-add-federated-users", build: func(t *testing.T, e *env, _ string) (string, string) {
			return "/api/v1/customers/" + e.Acme.OrganizationID + "/federations/" + newFederation(t, e, e.Acme.OrganizationID) + "/users",
				`{"emails": ["fed` + nextName() + `@acme.example", "fed` + nextName() + `@acme.example"]}`
		}, allowed: userManagers},
		{op: "cloudru-create-permission", variant: "customer", build: func(t *testing.T, e *env, _ string) (string, string) {
			_, user := e.userToken(t, e.Acme.OrganizationID, "", "")
			return "/api/v1/permissions", permission("organization.reader", e.Acme.OrganizationID, "customer", user)
		}, allowed: []string{apitest.Owner, apitest.Admin}},
		{op: "cloudru-create-permission", variant: "project", build: func(t *testing.T, e *env, project string) (string, string) {
			_, user := e.userToken(t, e.Acme.OrganizationID, "", "")
			return "/api/v1/permissions", permission("project.reader", project, "resource", user)
		}, allowed: projectManagers},
		{op: "cloudru-create-permission", variant: "bucket", build: func(t *testing.T, e *env, project string) (string, string) {
			_, user := e.userToken(t, e.Acme.OrganizationID, "", "")
			return "/api/v1/permissions", permission("s3e.viewer", "rn:s3e:"+project+":bucket/logs", "resource", user)
		}, allowed: projectManagers},
	}
}

// TestRoleMatrix runs every operation of the adapter as every principal
// of the matrix and checks allowed or refused (403 code 7, or 404 code 5
// for another organization) against one table; every operation of the
// adapter's tag in the OpenAPI document has rows.
func TestRoleMatrix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		project := newProject(t, e, org)
		tokens := map[string]string{apitest.Owner: e.Acme.Token, apitest.OtherOwner: e.Globex.Token}
		for _, principal := range apitest.MatrixPrincipals {
			if tokens[principal] != "" {
				continue
			}
			token, user := e.userToken(t, org, "", "")
			apitest.GrantMatrixRole(t, e.DB.Services(), org, project, principal, user)
			tokens[principal] = token
		}
		covered := map[string]bool{}
		for _, row := range matrixRows() {
			covered[row.op] = true
			for _, principal := range apitest.MatrixPrincipals {
				t.Run(row.op+" ("+row.variant+") as "+principal, func(t *testing.T) {
					path, body := row.build(t, e, project)
					r := e.post(t, path, tokens[principal], body)
					if slices.Contains(row.allowed, principal) {
						if r.status != http.StatusOK {
							t.Fatalf("got %d %s, want it allowed", r.status, r.body)
						}
						return
					}
					if principal == apitest.OtherOwner && r.status == http.StatusNotFound {
						wantError(t, r, http.StatusNotFound, 5, "")
						return
					}
					wantError(t, r, http.StatusForbidden, 7, "")
				})
			}
		}
		for _, op := range compatOperations(t, e) {
			if !covered[op] {
				t.Errorf("operation %s has no row in the role matrix", op)
			}
		}
	})
}

// compatOperations lists the operations of the adapter's tag in the
// API's OpenAPI document.
func compatOperations(t *testing.T, e *env) []string {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tags  []struct{ Name string }
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(doc.Tags, func(tag struct{ Name string }) bool { return tag.Name == cloudru.Tag }) {
		t.Errorf("the document's tags lack %q", cloudru.Tag)
	}
	var ops []string
	for path, methods := range doc.Paths {
		for _, op := range methods {
			if slices.Contains(op.Tags, cloudru.Tag) {
				if !strings.HasPrefix(path, cloudru.DefaultPrefix+"/api/v1/") || !strings.HasPrefix(op.OperationID, "cloudru-") {
					t.Errorf("%s %s: want the prefix and an operation ID starting cloudru-", path, op.OperationID)
				}
				ops = append(ops, op.OperationID)
			}
		}
	}
	if len(ops) != 4 {
		t.Fatalf("got operations %v, want the adapter's 4", ops)
	}
	return ops
}
