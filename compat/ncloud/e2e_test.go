package ncloud_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sealing"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const prefix = "/compat/ncloud/api/v1"

var system = context.Background()

// env is the whole server (castellan serve's handler, the API at its
// default prefix) on a store that seals access key secrets, with Acme
// and Globex bootstrapped.
type env struct {
	db      *sqlstore.DB
	clock   *storetest.Clock
	srv     *httptest.Server
	acme    *castellan.BootstrapResult
	globex  *castellan.BootstrapResult
	project string // Acme's, where the keys are
}

func newEnv(t testing.TB, url string) *env {
	t.Helper()
	kek := make([]byte, sealing.KeySize)
	rand.Read(kek)
	keyring, err := sealing.Parse("keys", []byte("k1 "+base64.StdEncoding.EncodeToString(kek)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: storetest.NewClock()}
	e.db = sqltest.MustOpenWith(t, url, sqlstore.Options{Clock: e.clock.Now, Sealer: keyring})
	tokens := e.db.Tokens()
	if e.acme, err = tokens.BootstrapOrganization(system, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example", OwnerPassword: apitest.OwnerPassword}); err != nil {
		t.Fatal(err)
	}
	if e.globex, err = tokens.BootstrapOrganization(system, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example", OwnerPassword: apitest.OwnerPassword}); err != nil {
		t.Fatal(err)
	}
	p, err := e.db.Services().Projects.CreateProject(system, e.acme.OrganizationID, castellan.ProjectCreate{Name: "keys"})
	if err != nil {
		t.Fatal(err)
	}
	e.project = p.ID
	e.srv = httptest.NewServer(apitest.Handler(e.db.Services(), apitest.Options{Clock: e.clock.Now, Revisions: apitest.Feed(t, e.db)}))
	t.Cleanup(e.srv.Close)
	return e
}

// user registers an active user of org with API access.
func (e *env) user(t *testing.T, org, login string) *castellan.User {
	t.Helper()
	r, err := e.db.Services().Users.RegisterUser(system, org, castellan.UserRegistration{LoginID: login, Name: "User " + login,
		Mode: castellan.ModePassword, Password: "Blue-Harbor-Lantern-42!", APIAccess: true})
	if err != nil {
		t.Fatal(err)
	}
	return r.User
}

// signer signs requests with an access key, as the platform's gateway
// requires: written here from the algorithm, not with the package's code.
type signer struct {
	keyID, secret string
	// skew moves the timestamp away from the server's clock.
	skew time.Duration
}

// key creates a key of a user of org in project (Globex's have their own).
func (e *env) key(t testing.TB, org, userID, project string) signer {
	t.Helper()
	if project == "" {
		p, err := e.db.Services().Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "keys-" + userID[:8]})
		if err != nil {
			t.Fatal(err)
		}
		project = p.ID
	}
	k, err := e.db.Services().AccessKeys.CreateAccessKey(system, org, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: userID}, ProjectID: project, Name: "script"})
	if err != nil {
		t.Fatal(err)
	}
	return signer{keyID: k.ID, secret: k.Secret}
}

// answer is a finished exchange.
type answer struct {
	status      int
	contentType string
	body        []byte
}

func (e *env) send(t testing.TB, s signer, method, uri string, body []byte) answer {
	t.Helper()
	return e.sendSignedFor(t, s, method, uri, method, uri, body)
}

// sendSignedFor sends method uri with a signature of signedMethod
// signedURI: an attacker's try at reusing a signature.
func (e *env) sendSignedFor(t testing.TB, s signer, signedMethod, signedURI, method, uri string, body []byte) answer {
	t.Helper()
	ts := strconv.FormatInt(e.clock.Now().Add(s.skew).UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(s.secret))
	mac.Write([]byte(signedMethod + " " + signedURI + "\n" + ts + "\n" + s.keyID))
	req, err := http.NewRequest(method, e.srv.URL+uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-ncp-apigw-timestamp", ts)
	req.Header.Set("x-ncp-iam-access-key", s.keyID)
	req.Header.Set("x-ncp-apigw-signature-v2", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return do(t, req)
}

func do(t testing.TB, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("%s: %v", a.body, err)
	}
}

func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var body struct{ Error struct{ ErrorCode string } }
	a.decode(t, &body)
	return body.Error.ErrorCode
}

var generatedPassword = regexp.MustCompile(`"generatedPassword":"[^"]+"`)

// golden compares the whole answer, with the IDs of names replaced by
// their names, to testdata/<name>.golden.
func golden(t *testing.T, name string, a answer, ids map[string]string) {
	t.Helper()
	got := fmt.Sprintf("HTTP %d\nContent-Type: %s\n\n%s", a.status, a.contentType, a.body)
	for id, placeholder := range ids {
		got = strings.ReplaceAll(got, id, placeholder)
	}
	got = generatedPassword.ReplaceAllString(got, `"generatedPassword":"<generated password>"`)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s:\ngot\n%s\nwant\n%s", name, got, want)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// userCount counts org's users, deleted ones included.
func (e *env) userCount(t *testing.T, org string) int {
	t.Helper()
	users, _, err := e.db.Services().Users.FindUsers(system, org, castellan.UserFilter{PageSize: castellan.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return len(users)
}

// TestGolden sends the seed's requests with a key of Acme's owner and
// compares each whole answer with its golden file, on each backend;
// refused requests leave the users as they were.
func TestGolden(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.URL(t))
			org := e.acme.OrganizationID
			owner := e.key(t, org, e.acme.OwnerUserID, e.project)
			ids := map[string]string{org: "<organizationId>"}

			created := e.send(t, owner, "POST", prefix+"/sub-accounts", readFile(t, "create_sub_account.json"))
			var result struct{ ID string }
			created.decode(t, &result)
			ids[result.ID] = "<subAccountId>"
			golden(t, "create_sub_account", created, ids)

			generated := e.send(t, owner, "POST", prefix+"/sub-accounts", readFile(t, "create_sub_account_generated.json"))
			var gen struct{ ID, GeneratedPassword string }
			generated.decode(t, &gen)
			if gen.GeneratedPassword == "" {
				t.Fatalf("no generated password: %s", generated.body)
			}
			ids[gen.ID] = "<generatedSubAccountId>"
			golden(t, "create_sub_account_generated", generated, ids)

			before := e.userCount(t, org)
			for _, name := range []string{"create_duplicate_id", "create_unsafe_password", "create_invalid_login", "create_invalid_lists"} {
				golden(t, name, e.send(t, owner, "POST", prefix+"/sub-accounts", readFile(t, name+".json")), ids)
			}

			group, err := e.db.Services().Groups.CreateGroup(system, org, castellan.GroupCreate{Name: "Developers"})
			if err != nil {
				t.Fatal(err)
			}
			ids[group.ID] = "<groupId>"
			if _, err := e.db.Services().Groups.AddGroupMembers(system, org, group.ID, []string{result.ID}); err != nil {
				t.Fatal(err)
			}
			// Refused by the plumbing, before the handler: in the platform's
			// shape too.
			dup := bytes.Replace(readFile(t, "create_sub_account.json"), []byte(`"active": true,`), []byte(`"active": true, "active": false,`), 1)
			golden(t, "create_duplicate_key", e.send(t, owner, "POST", prefix+"/sub-accounts", dup), ids)
			golden(t, "no_such_route", e.send(t, owner, "GET", prefix+"/sub-accounts", nil), ids)
			golden(t, "get_user", e.send(t, owner, "GET", prefix+"/users/"+result.ID, nil), ids)
			golden(t, "get_user_generated", e.send(t, owner, "GET", prefix+"/users/"+gen.ID+"?includeDeleted=false", nil), ids)
			golden(t, "get_nonexistent", e.send(t, owner, "GET", prefix+"/users/"+e.globex.OwnerUserID, nil), ids)
			golden(t, "get_not_uuid", e.send(t, owner, "GET", prefix+"/users/jane.doe", nil), ids)
			golden(t, "get_bad_include_deleted", e.send(t, owner, "GET", prefix+"/users/"+result.ID+"?includeDeleted=yes", nil), ids)

			late := owner
			late.skew = -6 * time.Minute
			golden(t, "auth_old_timestamp", e.send(t, late, "GET", prefix+"/users/"+result.ID, nil), ids)
			forged := owner
			forged.secret = "not-the-secret"
			golden(t, "auth_bad_signature", e.send(t, forged, "POST", prefix+"/sub-accounts", readFile(t, "create_sub_account_generated.json")), ids)
			outsider := e.user(t, org, "no.role")
			denied := e.key(t, org, outsider.ID, e.project)
			golden(t, "permission_denied", e.send(t, denied, "POST", prefix+"/sub-accounts", readFile(t, "create_sub_account_generated.json")), ids)

			disabled := castellan.AccessKeyDisabled
			if _, err := e.db.Services().AccessKeys.UpdateAccessKey(system, org, denied.keyID, castellan.AccessKeyUpdate{Status: &disabled}); err != nil {
				t.Fatal(err)
			}
			golden(t, "auth_disabled_key", e.send(t, denied, "GET", prefix+"/users/"+result.ID, nil), ids)
			if _, err := e.db.Services().AccessKeys.DeleteAccessKey(system, org, denied.keyID); err != nil {
				t.Fatal(err)
			}
			golden(t, "auth_deleted_key", e.send(t, denied, "GET", prefix+"/users/"+result.ID, nil), ids)
			if after := e.userCount(t, org); after != before+1 { // no.role
				t.Fatalf("refused requests left %d users, want %d", after, before+1)
			}
		})
	}
}

// TestSignedClientLifecycle is a client written from the platform's
// algorithm: it creates a sub account, reads it, deletes it through the
// REST API and reads it again, with and without includeDeleted.
func TestSignedClientLifecycle(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.URL(t))
			org := e.acme.OrganizationID
			owner := e.key(t, org, e.acme.OwnerUserID, e.project)
			body := []byte(`{"active":true,"canAPIGatewayAccess":false,"canConsoleAccess":true,"loginId":"temp.worker",` +
				`"name":"Temp Worker","needPasswordReset":false,"password":"Blue-Harbor-Lantern-42!"}`)
			a := e.send(t, owner, "POST", prefix+"/sub-accounts", body)
			var created struct {
				Success bool
				ID      string
			}
			a.decode(t, &created)
			if a.status != 200 || !created.Success {
				t.Fatalf("create: %d %s", a.status, a.body)
			}
			var got struct {
				SubAccountID, LoginID, PrincipalType string
				Active, Deleted                      bool
			}
			a = e.send(t, owner, "GET", prefix+"/users/"+created.ID, nil)
			a.decode(t, &got)
			if a.status != 200 || got.SubAccountID != created.ID || got.LoginID != "temp.worker" || !got.Active || got.Deleted || got.PrincipalType != "IamUser" {
				t.Fatalf("read: %d %s", a.status, a.body)
			}

			req, _ := http.NewRequest("DELETE", e.srv.URL+"/v1/organizations/"+org+"/users/"+created.ID+"?confirm=temp.worker", nil)
			req.Header.Set("Authorization", "Bearer "+e.acme.Token)
			if del := do(t, req); del.status >= 300 {
				t.Fatalf("delete: %d %s", del.status, del.body)
			}

			a = e.send(t, owner, "GET", prefix+"/users/"+created.ID, nil)
			if a.status != 401 || a.errorCode(t) != "30" {
				t.Fatalf("read deleted: %d %s, want 401 30", a.status, a.body)
			}
			a = e.send(t, owner, "GET", prefix+"/users/"+created.ID+"?includeDeleted=true", nil)
			golden(t, "get_user_deleted", a, map[string]string{created.ID: "<subAccountId>"})
			got = struct {
				SubAccountID, LoginID, PrincipalType string
				Active, Deleted                      bool
			}{}
			a.decode(t, &got)
			if a.status != 200 || got.SubAccountID != created.ID || !got.Deleted || got.Active {
				t.Fatalf("read deleted with includeDeleted: %d %s", a.status, a.body)
			}
		})
	}
}

// TestOtherOrganization: a user of another organization does not exist
// for the caller, deleted or not, and a sub account is created in the
// caller's organization.
func TestOtherOrganization(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.URL(t))
			globexOwner := e.key(t, e.globex.OrganizationID, e.globex.OwnerUserID, "")
			acmeUser := e.user(t, e.acme.OrganizationID, "acme.user")
			for _, q := range []string{"", "?includeDeleted=true"} {
				a := e.send(t, globexOwner, "GET", prefix+"/users/"+acmeUser.ID+q, nil)
				if a.status != 401 || a.errorCode(t) != "30" {
					t.Fatalf("GET%s: %d %s, want 401 30", q, a.status, a.body)
				}
			}
			before := e.userCount(t, e.acme.OrganizationID)
			a := e.send(t, globexOwner, "POST", prefix+"/sub-accounts", readFile(t, "create_sub_account_generated.json"))
			var created struct{ ID string }
			a.decode(t, &created)
			u, err := e.db.Services().Users.FindUserByID(system, e.globex.OrganizationID, created.ID, false)
			if a.status != 200 || err != nil || u.LoginID != "john.roe" {
				t.Fatalf("create: %d %s (%v)", a.status, a.body, err)
			}
			if after := e.userCount(t, e.acme.OrganizationID); after != before {
				t.Fatalf("Acme has %d users, want %d", after, before)
			}
		})
	}
}

// TestRoleUsers reads role users (principal type IamRole): sessions of
// an account role and of an SSO role, assumed through the regular API's
// services, with their source identities as the seed's table gives them;
// an ended session is read only with includeDeleted, and another
// organization's is nonexistent.
func TestRoleUsers(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.URL(t))
			org := e.acme.OrganizationID
			owner := e.key(t, org, e.acme.OwnerUserID, e.project)
			roles := e.db.Services().RoleIdentities
			admin, err := roles.CreateRoleIdentity(system, org, castellan.RoleIdentityCreate{Name: "BillingAdmin", Kind: castellan.RoleKindAccount})
			if err != nil {
				t.Fatal(err)
			}
			sso, err := roles.CreateRoleIdentity(system, org, castellan.RoleIdentityCreate{Name: "Engineers", Kind: castellan.RoleKindSSO})
			if err != nil {
				t.Fatal(err)
			}
			// An account role is assumed by the calling user, through /v1.
			req, err := http.NewRequest("POST", e.srv.URL+"/v1/organizations/"+org+"/roleIdentities/"+admin.ID+":assume", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.acme.Token)
			req.Header.Set("Content-Type", "application/json")
			assumed := do(t, req)
			var account castellan.RoleSession
			assumed.decode(t, &account)
			if assumed.status != http.StatusCreated {
				t.Fatalf("assume: got %d %s", assumed.status, assumed.body)
			}
			federated, err := roles.AssumeRoleIdentity(system, org, sso.ID, castellan.SourceIdentity{
				Type: castellan.SourceFederatedUser, ID: "jdoe@corp.example", Provider: "0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e"})
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]string{org: "<organizationId>", e.acme.OwnerUserID: "<ownerUserId>", admin.ID: "<roleId>", sso.ID: "<ssoRoleId>",
				account.ID: "<sessionId>", federated.ID: "<ssoSessionId>"}
			golden(t, "get_role_user_account", e.send(t, owner, "GET", prefix+"/users/"+account.ID, nil), ids)
			golden(t, "get_role_user_sso", e.send(t, owner, "GET", prefix+"/users/"+federated.ID, nil), ids)

			if _, err := roles.EndRoleSession(system, org, account.ID); err != nil {
				t.Fatal(err)
			}
			if a := e.send(t, owner, "GET", prefix+"/users/"+account.ID, nil); a.status != 401 || a.errorCode(t) != "30" {
				t.Fatalf("ended session: got %d %s, want 401 30", a.status, a.body)
			}
			var ended struct {
				Deleted, Active bool
				PrincipalType   string
			}
			a := e.send(t, owner, "GET", prefix+"/users/"+account.ID+"?includeDeleted=true", nil)
			a.decode(t, &ended)
			if a.status != 200 || !ended.Deleted || ended.Active || ended.PrincipalType != "IamRole" {
				t.Fatalf("ended session with includeDeleted: got %d %s", a.status, a.body)
			}
			globexOwner := e.key(t, e.globex.OrganizationID, e.globex.OwnerUserID, "")
			if a := e.send(t, globexOwner, "GET", prefix+"/users/"+federated.ID+"?includeDeleted=true", nil); a.status != 401 || a.errorCode(t) != "30" {
				t.Fatalf("another organization's session: got %d %s, want 401 30", a.status, a.body)
			}
		})
	}
}

// BenchmarkSignedGetUser measures one signed request of the sub-account
// API over a kept-alive connection: the signature checked against the
// sealed secret (a read, an AES-GCM open, an HMAC), the guard's
// authorization, and the user with its groups.
func BenchmarkSignedGetUser(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := newEnv(b, backend.URL(b))
			owner := e.key(b, e.acme.OrganizationID, e.acme.OwnerUserID, e.project)
			uri := prefix + "/users/" + e.acme.OwnerUserID
			for b.Loop() {
				if a := e.send(b, owner, "GET", uri, nil); a.status != http.StatusOK {
					b.Fatalf("got %d %s", a.status, a.body)
				}
			}
		})
	}
}
