package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, accessKeyRows) }

func (f *fixture) newKey(owner castellan.Subject) *castellan.NewAccessKey {
	k, err := f.e.db.Services().AccessKeys.CreateAccessKey(system, f.org, castellan.AccessKeyCreate{Owner: owner, ProjectID: f.project, Name: f.unique("k")})
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

func accessKeyRows() []matrixRow {
	keyManagers := []string{owner, admin, projectAdmin}
	keyReaders := []string{owner, admin, reader, projectAdmin, projectReader}
	userKeys := func(f *fixture) (string, *castellan.NewAccessKey) {
		u := f.newUser()
		return f.orgPath() + "/users/" + u + "/accessKeys", f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: u})
	}
	accountKeys := func(f *fixture) (string, *castellan.NewAccessKey) {
		a := f.newServiceAccount(f.project)
		return f.orgPath() + "/projects/" + f.project + "/serviceAccounts/" + a + "/accessKeys",
			f.newKey(castellan.Subject{Type: castellan.SubjectServiceAccount, ID: a})
	}
	rows := []matrixRow{
		{op: "create-user-access-key", build: func(f *fixture) request {
			u := f.newUser()
			f.grant("project.reader", "project/"+f.project, userSubject(u))
			return request{method: "POST", path: f.orgPath() + "/users/" + u + "/accessKeys",
				body: map[string]any{"projectId": f.project, "name": "ci"}}
		}, allowed: keyManagers},
		{op: "list-user-access-keys", build: func(f *fixture) request {
			path, _ := userKeys(f)
			return request{method: "GET", path: path}
		}, allowed: orgReaders},
		{op: "list-access-keys", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/accessKeys?expired=false"}
		}, allowed: orgReaders},
		{op: "create-service-account-access-key", build: func(f *fixture) request {
			path, _ := accountKeys(f)
			return request{method: "POST", path: path, body: map[string]any{"name": "ci"}}
		}, allowed: keyManagers},
		{op: "list-service-account-access-keys", build: func(f *fixture) request {
			path, _ := accountKeys(f)
			return request{method: "GET", path: path}
		}, allowed: keyReaders},
		{op: "create-token", build: func(f *fixture) request {
			_, k := userKeys(f)
			return request{method: "POST", path: "/v1/tokens", body: map[string]any{"keyId": k.ID, "secret": k.Secret}}
		}, allowed: all()},
		{op: "introspect-token", build: func(f *fixture) request {
			return request{method: "POST", path: "/v1/tokens:introspect", body: map[string]any{"token": f.e.acme.Token}}
		}, allowed: append(append([]string{}, deciders...), otherOwner)},
	}
	for _, kind := range []struct {
		name string
		keys func(f *fixture) (string, *castellan.NewAccessKey)
	}{{"user", userKeys}, {"service-account", accountKeys}} {
		rows = append(rows,
			matrixRow{op: "get-" + kind.name + "-access-key", build: func(f *fixture) request {
				path, k := kind.keys(f)
				return request{method: "GET", path: path + "/" + k.ID}
			}, allowed: keyReaders},
			matrixRow{op: "update-" + kind.name + "-access-key", build: func(f *fixture) request {
				path, k := kind.keys(f)
				return request{method: "PATCH", path: path + "/" + k.ID, body: map[string]any{"status": "disabled"}}
			}, allowed: keyManagers},
			matrixRow{op: "delete-" + kind.name + "-access-key", build: func(f *fixture) request {
				path, k := kind.keys(f)
				return request{method: "DELETE", path: path + "/" + k.ID}
			}, allowed: keyManagers},
		)
	}
	return append(rows, heldKeyRows()...)
}

// heldKeyRows are the key operations on the keys of an Organization Owner
// and an Organization Admin: only a caller holding every role of the
// key's owner may create, change or delete them (hierarchy principle).
func heldKeyRows() []matrixRow {
	var rows []matrixRow
	for _, target := range []struct {
		role    string
		allowed []string
	}{{castellan.OrganizationOwnerRoleID, []string{owner}}, {"organization.admin", orgManagers}} {
		variant := "key of an " + target.role
		holder := func(f *fixture) (string, *castellan.NewAccessKey) {
			u := f.newUser()
			f.grant(target.role, "organization/"+f.org, userSubject(u))
			return f.orgPath() + "/users/" + u + "/accessKeys", f.newKey(userSubject(u))
		}
		rows = append(rows,
			matrixRow{op: "create-user-access-key", variant: variant, build: func(f *fixture) request {
				path, _ := holder(f)
				return request{method: "POST", path: path, body: map[string]any{"projectId": f.project, "name": "ci"}}
			}, allowed: target.allowed},
			matrixRow{op: "update-user-access-key", variant: variant, build: func(f *fixture) request {
				path, k := holder(f)
				return request{method: "PATCH", path: path + "/" + k.ID, body: map[string]any{"status": "disabled", "name": "renamed"}}
			}, allowed: target.allowed},
			matrixRow{op: "delete-user-access-key", variant: variant, build: func(f *fixture) request {
				path, k := holder(f)
				return request{method: "DELETE", path: path + "/" + k.ID}
			}, allowed: target.allowed},
		)
	}
	return rows
}

// keyUser is a user with a bootstrap token and project.member on the
// fixture's project.
func keyUser(t *testing.T, f *fixture) (id, token string) {
	t.Helper()
	id = f.newUser()
	f.grant("project.member", "project/"+f.project, castellan.Subject{Type: castellan.SubjectUser, ID: id})
	token, err := f.e.db.Services().Tokens.CreateUserToken(system, f.org, id)
	if err != nil {
		t.Fatal(err)
	}
	return id, token
}

func exchange(t *testing.T, e *env, keyID, secret string) *response {
	t.Helper()
	return e.do(t, request{method: "POST", path: "/v1/tokens", body: map[string]any{"keyId": keyID, "secret": secret}})
}

func mustExchange(t *testing.T, e *env, k *castellan.NewAccessKey) string {
	t.Helper()
	resp := exchange(t, e, k.ID, k.Secret)
	if resp.status != http.StatusOK {
		t.Fatalf("exchange: got %d: %s", resp.status, resp.body)
	}
	var out castellan.AccessToken
	resp.decode(t, &out)
	if out.TokenType != "Bearer" || !castellan.ValidTokenSyntax(out.Token) {
		t.Fatalf("got %s", resp.body)
	}
	return out.Token
}

func TestAccessKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		user, userToken := keyUser(t, f)
		keysPath := f.orgPath() + "/users/" + user + "/accessKeys"

		t.Run("SelfServiceSecretShownOnce", func(t *testing.T) {
			resp := e.do(t, request{method: "POST", path: keysPath, token: userToken, body: map[string]any{"projectId": f.project, "name": "laptop"}})
			if resp.status != http.StatusCreated {
				t.Fatalf("got %d: %s", resp.status, resp.body)
			}
			var k castellan.NewAccessKey
			resp.decode(t, &k)
			if !castellan.ValidAccessKeyID(k.ID) || !castellan.ValidAccessKeySecret(k.Secret) || k.Status != "enabled" {
				t.Fatalf("got %s", resp.body)
			}
			for _, path := range []string{keysPath, keysPath + "/" + k.ID, f.orgPath() + "/accessKeys"} {
				resp := e.do(t, request{method: "GET", path: path, token: e.acme.Token})
				if resp.status != http.StatusOK || containsString(resp.body, k.Secret) || containsString(resp.body, `"secret"`) {
					t.Fatalf("GET %s: got %d: %s", path, resp.status, resp.body)
				}
			}
			token := mustExchange(t, e, &k)
			if resp := e.do(t, request{method: "GET", path: keysPath, token: token}); resp.status != http.StatusOK {
				t.Fatalf("the key's token: got %d: %s", resp.status, resp.body)
			}
			if resp := e.do(t, request{method: "DELETE", path: keysPath + "/" + k.ID, token: userToken}); resp.status != http.StatusOK {
				t.Fatalf("delete own key: got %d: %s", resp.status, resp.body)
			}
		})

		t.Run("SelfServiceNeedsAGrantOnTheProject", func(t *testing.T) {
			other := f.newProject()
			resp := e.do(t, request{method: "POST", path: keysPath, token: userToken, body: map[string]any{"projectId": other, "name": "x"}})
			if resp.status != http.StatusNotFound {
				t.Fatalf("got %d: %s", resp.status, resp.body)
			}
			other2 := f.newUser()
			resp = e.do(t, request{method: "POST", path: f.orgPath() + "/users/" + other2 + "/accessKeys", token: userToken,
				body: map[string]any{"projectId": f.project, "name": "x"}})
			if resp.status != http.StatusForbidden {
				t.Fatalf("another's key: got %d: %s", resp.status, resp.body)
			}
		})

		t.Run("LimitUnderConcurrency", func(t *testing.T) {
			u, _ := keyUser(t, f)
			f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: u})
			var wg sync.WaitGroup
			statuses := make([]int, 20)
			codes := make([]string, 20)
			for i := range statuses {
				wg.Go(func() {
					resp := e.do(t, request{method: "POST", path: f.orgPath() + "/users/" + u + "/accessKeys", token: e.acme.Token,
						body: map[string]any{"projectId": f.project, "name": "k"}})
					statuses[i] = resp.status
					if resp.status >= 400 {
						var p struct{ Code string }
						json.Unmarshal(resp.body, &p)
						codes[i] = p.Code
					}
				})
			}
			wg.Wait()
			created := 0
			for i, s := range statuses {
				switch {
				case s == http.StatusCreated:
					created++
				case s != http.StatusConflict || codes[i] != castellan.CodeAccessKeyLimitReached:
					t.Fatalf("create %d: got %d %s", i, s, codes[i])
				}
			}
			if created != 1 {
				t.Fatalf("got %d created, want 1", created)
			}
		})

		t.Run("RevokedOnTheNextRequest", func(t *testing.T) {
			probe := func(token string) int {
				return e.do(t, request{method: "POST", path: "/v1/tokens:introspect", token: token, body: map[string]any{"token": "x"}}).status
			}
			u, _ := keyUser(t, f)
			f.grant("platform.authorizer", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectUser, ID: u})
			path := f.orgPath() + "/users/" + u + "/accessKeys/"
			k := f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: u})

			token := mustExchange(t, e, k)
			if got := probe(token); got != http.StatusOK {
				t.Fatalf("fresh token: got %d", got)
			}
			e.do(t, request{method: "PATCH", path: path + k.ID, token: e.acme.Token, body: map[string]any{"status": "disabled"}})
			if got := probe(token); got != http.StatusUnauthorized {
				t.Fatalf("after disable: got %d", got)
			}
			e.do(t, request{method: "PATCH", path: path + k.ID, token: e.acme.Token, body: map[string]any{"status": "enabled"}})
			if got := probe(token); got != http.StatusUnauthorized {
				t.Fatalf("after re-enable, the old token: got %d", got)
			}

			token = mustExchange(t, e, k)
			e.do(t, request{method: "DELETE", path: path + k.ID, token: e.acme.Token})
			if got := probe(token); got != http.StatusUnauthorized {
				t.Fatalf("after key delete: got %d", got)
			}

			k = f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: u})
			token = mustExchange(t, e, k)
			disabled := castellan.UserDisabled
			if _, err := e.db.Services().Users.UpdateUser(system, f.org, u, castellan.UserUpdate{Status: &disabled}); err != nil {
				t.Fatal(err)
			}
			if got := probe(token); got != http.StatusUnauthorized {
				t.Fatalf("after user disable: got %d", got)
			}
			active := castellan.UserActive
			if _, err := e.db.Services().Users.UpdateUser(system, f.org, u, castellan.UserUpdate{Status: &active}); err != nil {
				t.Fatal(err)
			}
			if got := probe(token); got != http.StatusOK {
				t.Fatalf("after user enable: got %d", got)
			}
			found, err := e.db.Services().Users.FindUserByID(system, f.org, u, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.db.Services().Users.DeleteUser(system, f.org, u, found.LoginID); err != nil {
				t.Fatal(err)
			}
			if got := probe(token); got != http.StatusUnauthorized {
				t.Fatalf("after user delete: got %d", got)
			}
		})

		t.Run("ServiceAccount", func(t *testing.T) {
			a := f.newServiceAccount(f.project)
			path := f.orgPath() + "/projects/" + f.project + "/serviceAccounts/" + a + "/accessKeys"
			resp := e.do(t, request{method: "POST", path: path, token: e.acme.Token, body: map[string]any{"name": "deployer"}})
			if resp.status != http.StatusCreated {
				t.Fatalf("got %d: %s", resp.status, resp.body)
			}
			var k castellan.NewAccessKey
			resp.decode(t, &k)
			token := mustExchange(t, e, &k)
			info := introspect(t, e, e.acme.Token, token)
			if !info.Active || info.PrincipalType != "serviceAccount" || info.Subject != a || info.KeyID != k.ID || info.Organization != f.org ||
				info.ExpiresAt-info.IssuedAt != 3600 {
				t.Fatalf("got %+v", info)
			}
			// No role: authenticated, then refused.
			if resp := e.do(t, request{method: "GET", path: f.orgPath() + "/accessKeys", token: token}); resp.status != http.StatusForbidden {
				t.Fatalf("got %d: %s", resp.status, resp.body)
			}
			if _, err := e.db.Services().ServiceAccounts.DeleteServiceAccount(system, f.org, f.project, a); err != nil {
				t.Fatal(err)
			}
			if resp := e.do(t, request{method: "GET", path: f.orgPath() + "/accessKeys", token: token}); resp.status != http.StatusUnauthorized {
				t.Fatalf("after account delete: got %d: %s", resp.status, resp.body)
			}
			if info := introspect(t, e, e.acme.Token, token); info.Active {
				t.Fatalf("after account delete: got %+v", info)
			}
		})

		t.Run("ExchangeRefusalsIdentical", func(t *testing.T) {
			u := f.newUser()
			owned := castellan.Subject{Type: castellan.SubjectUser, ID: u}
			good := f.newKey(owned)
			disabledKey := f.newKey(owned)
			status := castellan.AccessKeyDisabled
			if _, err := e.db.Services().AccessKeys.UpdateAccessKey(system, f.org, disabledKey.ID, castellan.AccessKeyUpdate{Status: &status}); err != nil {
				t.Fatal(err)
			}
			soon := e.clock.Now().Add(time.Minute)
			expiring, err := e.db.Services().AccessKeys.CreateAccessKey(system, f.org, castellan.AccessKeyCreate{
				Owner: castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()}, ProjectID: f.project, Name: "soon", ExpiresAt: &soon})
			if err != nil {
				t.Fatal(err)
			}
			gone := f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()})
			gu, _ := e.db.Services().Users.FindUserByID(system, f.org, gone.Owner.ID, false)
			if _, err := e.db.Services().Users.DeleteUser(system, f.org, gu.ID, gu.LoginID); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(2 * time.Minute)
			cases := map[string][2]string{
				"UnknownKey":   {"CAKAAAAAAAAAAAAAAAAAAAA", good.Secret},
				"WrongSecret":  {good.ID, disabledKey.Secret},
				"Disabled":     {disabledKey.ID, disabledKey.Secret},
				"Expired":      {expiring.ID, expiring.Secret},
				"DeletedOwner": {gone.ID, gone.Secret},
				"Malformed":    {"nope", "nope"},
			}
			var first []byte
			for name, c := range cases {
				resp := exchange(t, e, c[0], c[1])
				if resp.status != http.StatusUnauthorized {
					t.Fatalf("%s: got %d: %s", name, resp.status, resp.body)
				}
				var p map[string]any
				resp.decode(t, &p)
				delete(p, "requestId")
				b, _ := json.Marshal(p)
				if first == nil {
					first = b
				} else if string(b) != string(first) {
					t.Fatalf("%s: got %s, want %s", name, b, first)
				}
			}
			mustExchange(t, e, good)
		})

		t.Run("CrossOrganization", func(t *testing.T) {
			u, _ := keyUser(t, f)
			k := f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: u})
			token := mustExchange(t, e, k)
			globex := "/v1/organizations/" + e.globex.OrganizationID
			resp := e.do(t, request{method: "GET", path: globex + "/users/" + e.globex.OwnerUserID + "/accessKeys", token: token})
			if resp.status != http.StatusNotFound || resp.problem(t).Code != castellan.CodeOrgNotFound {
				t.Fatalf("got %d: %s", resp.status, resp.body)
			}
			resp = e.do(t, request{method: "GET", path: f.orgPath() + "/users/" + u + "/accessKeys/" + k.ID, token: e.globex.Token})
			if resp.status != http.StatusNotFound {
				t.Fatalf("got %d: %s", resp.status, resp.body)
			}
			if info := introspect(t, e, e.globex.Token, token); info.Active {
				t.Fatalf("another organization's token: got %+v", info)
			}
		})

		t.Run("Introspection", func(t *testing.T) {
			resp := e.do(t, request{method: "POST", path: "/v1/tokens:introspect", token: e.acme.Token, body: map[string]any{"token": "cst_garbage"}})
			if resp.status != http.StatusOK || string(resp.body) != `{"active":false}`+"\n" && string(resp.body) != `{"active":false}` {
				t.Fatalf("got %d: %q", resp.status, resp.body)
			}
			if info := introspect(t, e, e.acme.Token, e.acme.Token); info.Active {
				t.Fatalf("a bootstrap token: got %+v", info)
			}
			_, plain := keyUser(t, f)
			resp = e.do(t, request{method: "POST", path: "/v1/tokens:introspect", token: plain, body: map[string]any{"token": "x"}})
			if resp.status != http.StatusForbidden {
				t.Fatalf("without iam:Authorize: got %d: %s", resp.status, resp.body)
			}
		})

		t.Run("ExpiredFilter", func(t *testing.T) {
			for _, expired := range []string{"true", "false"} {
				resp := e.do(t, request{method: "GET", path: f.orgPath() + "/accessKeys?expired=" + expired, token: e.acme.Token})
				var out struct{ AccessKeys []castellan.AccessKey }
				resp.decode(t, &out)
				if len(out.AccessKeys) == 0 {
					t.Fatalf("expired=%s: none", expired)
				}
				for _, k := range out.AccessKeys {
					if k.Expired(e.clock.Now()) != (expired == "true") || k.ProjectID == f.project && k.ProjectName == "" {
						t.Fatalf("expired=%s: got %+v", expired, k)
					}
				}
			}
		})
	})
}

func introspect(t *testing.T, e *env, caller, token string) castellan.TokenIntrospection {
	t.Helper()
	resp := e.do(t, request{method: "POST", path: "/v1/tokens:introspect", token: caller, body: map[string]any{"token": token}})
	if resp.status != http.StatusOK {
		t.Fatalf("introspect: got %d: %s", resp.status, resp.body)
	}
	var out castellan.TokenIntrospection
	resp.decode(t, &out)
	return out
}

func containsString(b []byte, s string) bool { return strings.Contains(string(b), s) }
