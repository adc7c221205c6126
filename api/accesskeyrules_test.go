package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
)

// listKeyIDs lists the IDs of the keys at path (a user's list or the
// organization's), as the owner sees them.
func listKeyIDs(t *testing.T, e *env, path string) []string {
	t.Helper()
	resp := e.do(t, request{method: "GET", path: path, token: e.acme.Token})
	if resp.status != http.StatusOK {
		t.Fatalf("GET %s: got %d: %s", path, resp.status, resp.body)
	}
	var out struct{ AccessKeys []castellan.AccessKey }
	resp.decode(t, &out)
	ids := []string{}
	for _, k := range out.AccessKeys {
		ids = append(ids, k.ID)
	}
	return ids
}

// wantFieldError fails t unless p names field with rule.
func wantFieldError(t *testing.T, p api.Problem, field, rule string) {
	t.Helper()
	if !slices.ContainsFunc(p.Errors, func(f castellan.FieldError) bool { return f.Field == field && f.Rule == rule }) {
		t.Fatalf("got errors %+v, want %s (%s)", p.Errors, field, rule)
	}
}

// TestAccessKeyHierarchy: an Organization Admin or a Project Admin may not
// create, rename, disable, enable or delete the keys of a principal who
// holds more than it does (an Owner, an Admin), and a refused operation
// changes nothing: the key stays enabled under its name and its token
// keeps working.
func TestAccessKeyHierarchy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		orgScope := "organization/" + f.org
		holding := func(role, scope string) (id, token string) {
			id = f.newUser()
			f.grant(role, scope, userSubject(id))
			token, err := e.db.Services().Tokens.CreateUserToken(system, f.org, id)
			if err != nil {
				t.Fatal(err)
			}
			return id, token
		}
		_, adminToken := holding("organization.admin", orgScope)
		_, projectAdminToken := holding("project.admin", "project/"+f.project)
		for _, c := range []struct {
			name, caller, targetRole string
		}{
			{"AdminOnOwnersKey", adminToken, castellan.OrganizationOwnerRoleID},
			{"ProjectAdminOnOwnersKey", projectAdminToken, castellan.OrganizationOwnerRoleID},
			{"ProjectAdminOnAdminsKey", projectAdminToken, "organization.admin"},
		} {
			t.Run(c.name, func(t *testing.T) {
				target, _ := holding(c.targetRole, orgScope)
				path := f.orgPath() + "/users/" + target + "/accessKeys"
				k := f.newKey(userSubject(target))
				token := mustExchange(t, e, k)
				refuse := func(req request) {
					t.Helper()
					req.token = c.caller
					wantFieldError(t, wantRefused(t, e, req, http.StatusForbidden, castellan.CodeEscalation), "path.user", "hierarchy")
				}
				refuse(request{method: "POST", path: path, body: map[string]any{"projectId": f.project, "name": "planted"}})
				refuse(request{method: "PATCH", path: path + "/" + k.ID, body: map[string]any{"status": "disabled", "name": "renamed"}})
				refuse(request{method: "PATCH", path: path + "/" + k.ID, body: map[string]any{"name": "renamed"}})
				refuse(request{method: "DELETE", path: path + "/" + k.ID})
				got, err := e.db.Services().AccessKeys.FindAccessKeyByID(system, f.org, k.ID)
				if err != nil || got.Status != castellan.AccessKeyEnabled || got.Name != k.Name {
					t.Fatalf("got %+v, %v; want the key unchanged", got, err)
				}
				if ids := listKeyIDs(t, e, path); !slices.Equal(ids, []string{k.ID}) {
					t.Fatalf("got keys %v, want only %s", ids, k.ID)
				}
				if resp := e.do(t, request{method: "GET", path: path, token: token}); resp.status != http.StatusOK {
					t.Fatalf("the key's token: got %d: %s", resp.status, resp.body)
				}

				// A disabled key stays disabled.
				disabled := castellan.AccessKeyDisabled
				if _, err := e.db.Services().AccessKeys.UpdateAccessKey(system, f.org, k.ID, castellan.AccessKeyUpdate{Status: &disabled}); err != nil {
					t.Fatal(err)
				}
				refuse(request{method: "PATCH", path: path + "/" + k.ID, body: map[string]any{"status": "enabled"}})
				if got, _ := e.db.Services().AccessKeys.FindAccessKeyByID(system, f.org, k.ID); got.Status != castellan.AccessKeyDisabled {
					t.Fatalf("got %+v, want it still disabled", got)
				}
			})
		}
	})
}

// TestAccessKeyRules: the rules a key must meet when created, and that
// its owner's deletion takes it away, through HTTP.
func TestAccessKeyRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		creation := func(user string, body map[string]any) request {
			return request{method: "POST", path: f.orgPath() + "/users/" + user + "/accessKeys", token: e.acme.Token, body: body}
		}

		t.Run("ExpiryInThePast", func(t *testing.T) {
			u, _ := keyUser(t, f)
			account := f.orgPath() + "/projects/" + f.project + "/serviceAccounts/" + f.newServiceAccount(f.project) + "/accessKeys"
			for _, at := range []string{"1970-01-01T00:00:00Z", e.clock.Now().Add(-time.Second).Format(time.RFC3339), e.clock.Now().Format(time.RFC3339Nano)} {
				for _, req := range []request{
					creation(u, map[string]any{"projectId": f.project, "name": "old", "expiresAt": at}),
					{method: "POST", path: account, token: e.acme.Token, body: map[string]any{"name": "old", "expiresAt": at}},
				} {
					wantFieldError(t, wantRefused(t, e, req, http.StatusBadRequest, castellan.CodeInvalidField), "body.expiresAt", "future")
				}
			}
			if ids := listKeyIDs(t, e, f.orgPath()+"/users/"+u+"/accessKeys"); len(ids) != 0 {
				t.Fatalf("got keys %v", ids)
			}
		})

		t.Run("ExpiredKeysHoldNoPlace", func(t *testing.T) {
			u, _ := keyUser(t, f)
			newKey := func(body map[string]any) string {
				t.Helper()
				body["projectId"] = f.project
				resp := e.do(t, creation(u, body))
				if resp.status != http.StatusCreated {
					t.Fatalf("got %d: %s", resp.status, resp.body)
				}
				var k castellan.NewAccessKey
				resp.decode(t, &k)
				return k.ID
			}
			// third wants the limit error to name exactly the keys held.
			third := func(held []string, expired string) {
				t.Helper()
				p := wantRefused(t, e, creation(u, map[string]any{"projectId": f.project, "name": "third"}), http.StatusConflict,
					castellan.CodeAccessKeyLimitReached)
				for _, id := range held {
					if !strings.Contains(p.Detail, id) {
						t.Fatalf("got %q, want it to name %s", p.Detail, id)
					}
				}
				if expired != "" && strings.Contains(p.Detail, expired) {
					t.Fatalf("got %q, naming the expired key %s", p.Detail, expired)
				}
			}
			expiring := newKey(map[string]any{"name": "soon", "expiresAt": e.clock.Now().Add(time.Minute).Format(time.RFC3339)})
			lasting := newKey(map[string]any{"name": "lasting"})
			third([]string{expiring, lasting}, "")
			e.clock.Advance(time.Minute)
			replacement := newKey(map[string]any{"name": "replacement"})
			third([]string{lasting, replacement}, expiring)
		})

		t.Run("DeletedUsersKeysGone", func(t *testing.T) {
			u, _ := keyUser(t, f)
			k := f.newKey(userSubject(u))
			found, err := e.db.Services().Users.FindUserByID(system, f.org, u, false)
			if err != nil {
				t.Fatal(err)
			}
			resp := e.do(t, request{method: "DELETE", path: f.orgPath() + "/users/" + u + "?confirm=" + found.LoginID, token: e.acme.Token})
			if resp.status != http.StatusOK {
				t.Fatalf("delete user: got %d: %s", resp.status, resp.body)
			}
			if ids := listKeyIDs(t, e, f.orgPath()+"/users/"+u+"/accessKeys"); len(ids) != 0 {
				t.Fatalf("the user's list: got %v", ids)
			}
			if ids := listKeyIDs(t, e, f.orgPath()+"/accessKeys"); slices.Contains(ids, k.ID) {
				t.Fatalf("the organization's list: got %v, with %s", ids, k.ID)
			}
			wantRefused(t, e, request{method: "GET", path: f.orgPath() + "/users/" + u + "/accessKeys/" + k.ID, token: e.acme.Token},
				http.StatusNotFound, castellan.CodeAccessKeyNotFound)
			// The audit log keeps what went.
			resp = e.do(t, request{method: "GET", path: f.orgPath() + "/audit-events?target=" + u, token: e.acme.Token})
			if !containsString(resp.body, `"deletedAccessKeyIds":["`+k.ID+`"]`) {
				t.Fatalf("audit: got %s", resp.body)
			}
		})

		t.Run("NoKeyWithoutAPIAccess", func(t *testing.T) {
			u, _ := keyUser(t, f)
			kept := f.newKey(userSubject(u))
			user := f.orgPath() + "/users/" + u
			if resp := e.do(t, request{method: "PATCH", path: user, token: e.acme.Token, body: map[string]any{"apiAccess": false}}); resp.status != http.StatusOK {
				t.Fatalf("apiAccess off: got %d: %s", resp.status, resp.body)
			}
			wantRefused(t, e, creation(u, map[string]any{"projectId": f.project, "name": "ci"}),
				http.StatusPreconditionFailed, castellan.CodeAccessKeyAPIAccessDisabled)
			// The keys it has are kept but refused until API access is back.
			if ids := listKeyIDs(t, e, user+"/accessKeys"); !slices.Equal(ids, []string{kept.ID}) {
				t.Fatalf("got keys %v, want only %s", ids, kept.ID)
			}
			if resp := exchange(t, e, kept.ID, kept.Secret); resp.status != http.StatusUnauthorized {
				t.Fatalf("exchange without API access: got %d: %s", resp.status, resp.body)
			}
			e.do(t, request{method: "PATCH", path: user, token: e.acme.Token, body: map[string]any{"apiAccess": true}})
			mustExchange(t, e, kept)
		})

		t.Run("AdminNeedsTheUsersGrantInTheProject", func(t *testing.T) {
			u := f.newUser()
			p := wantRefused(t, e, creation(u, map[string]any{"projectId": f.project, "name": "ci"}),
				http.StatusPreconditionFailed, castellan.CodeAccessKeyNoGrantInProject)
			wantFieldError(t, p, "body.projectId", "granted")
			f.grant("project.reader", "project/"+f.project, userSubject(u))
			if resp := e.do(t, creation(u, map[string]any{"projectId": f.project, "name": "ci"})); resp.status != http.StatusCreated {
				t.Fatalf("with a grant: got %d: %s", resp.status, resp.body)
			}
		})
	})
}
