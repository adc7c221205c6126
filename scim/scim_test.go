package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var system = context.Background()

// env is a server on a store with Acme and Globex, a federation of
// Acme's and a SCIM token of Acme's owner provisioning into it.
type env struct {
	*apitest.Env
	srv    *httptest.Server
	org    string
	fed    *castellan.Federation
	token  string
	scimID string
}

func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, b.URL(t)))
		})
	}
}

func newEnv(t testing.TB, url string) *env {
	t.Helper()
	e := &env{Env: apitest.New(t, url)}
	e.srv = e.Serve(t, e.Services(), apitest.Options{})
	e.org = e.Acme.OrganizationID
	s := e.DB.Services()
	var err error
	if e.fed, err = s.Federations.CreateFederation(system, e.org, castellan.FederationCreate{Name: "Entra", Issuer: "https://login.example.com",
		ClientID: "castellan", AllowedDomains: []string{"acme.example"}}); err != nil {
		t.Fatal(err)
	}
	e.token, e.scimID = e.newToken(t, e.Acme.OwnerUserID, e.fed.ID)
	return e
}

// newToken makes a SCIM token of Acme acting as user.
func (e *env) newToken(t testing.TB, user, federation string) (secret, id string) {
	t.Helper()
	ctx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: user, OrganizationID: e.org})
	tok, err := e.DB.Services().SCIMTokens.CreateSCIMToken(ctx, e.org, castellan.SCIMTokenCreate{Name: "provisioning", FederationID: federation})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret, tok.SCIMToken.ID
}

// exchange is one request and its answer.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// do sends a SCIM request to path (under Acme's endpoint unless it
// starts with /) with the token.
func (e *env) do(t testing.TB, token, method, path string, body any) exchange {
	t.Helper()
	if !strings.HasPrefix(path, "/") {
		path = "/scim/v2/organizations/" + e.org + "/" + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}
}

// id reads the id of a resource answer.
func (x exchange) id(t testing.TB) string {
	t.Helper()
	var r struct{ ID string }
	if err := json.Unmarshal(x.body, &r); err != nil || r.ID == "" {
		t.Fatalf("no id in %d %s", x.status, x.body)
	}
	return r.ID
}

// wantSCIMError checks a SCIM error answer: status, scimType (when not
// ""), the error schema and the content type.
func wantSCIMError(t *testing.T, x exchange, status int, scimType string) {
	t.Helper()
	var e struct {
		Schemas  []string
		Status   string
		ScimType string
		Detail   string
	}
	if err := json.Unmarshal(x.body, &e); err != nil || x.status != status || e.Status != fmt.Sprint(status) || e.Detail == "" ||
		len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || e.ScimType != scimType ||
		x.header.Get("Content-Type") != "application/scim+json" {
		t.Fatalf("got %d %s, want a SCIM error %d %q", x.status, x.body, status, scimType)
	}
}

// transcript records exchanges for a golden file, with what differs from
// run to run (IDs, times, revisions, the server's address, secrets)
// replaced by stable names.
type transcript struct {
	e   *env
	buf strings.Builder
	ids map[string]string
}

var (
	uuidPattern     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timePattern     = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`)
	revisionPattern = regexp.MustCompile(`W/\\"\d+\\"`)
)

func (tr *transcript) stable(s string) string {
	s = strings.ReplaceAll(s, tr.e.srv.URL, "https://castellan.example")
	s = strings.ReplaceAll(s, tr.e.org, "ORG")
	s = uuidPattern.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := tr.ids[id]; !ok {
			tr.ids[id] = fmt.Sprintf("ID-%d", len(tr.ids)+1)
		}
		return tr.ids[id]
	})
	s = timePattern.ReplaceAllString(s, `"TIME"`)
	return revisionPattern.ReplaceAllString(s, `W/\"REV\"`)
}

// step sends a request and records it and its answer under title.
func (tr *transcript) step(t *testing.T, title, method, path string, body any) exchange {
	t.Helper()
	x := tr.e.do(t, tr.e.token, method, path, body)
	fmt.Fprintf(&tr.buf, "### %s\n%s %s\n", title, method, tr.stable(path))
	if body != nil {
		j, _ := json.MarshalIndent(body, "", "  ")
		fmt.Fprintf(&tr.buf, "%s\n", tr.stable(string(j)))
	}
	fmt.Fprintf(&tr.buf, "\n%d %s\n", x.status, http.StatusText(x.status))
	if loc := x.header.Get("Location"); loc != "" {
		fmt.Fprintf(&tr.buf, "Location: %s\n", tr.stable(loc))
	}
	if len(x.body) > 0 {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, x.body, "", "  "); err != nil {
			t.Fatalf("%s: not JSON: %s", title, x.body)
		}
		fmt.Fprintf(&tr.buf, "%s\n", tr.stable(pretty.String()))
	}
	tr.buf.WriteString("\n")
	return x
}

// check compares the transcript with testdata/name, or rewrites it with
// -update.
func (tr *transcript) check(t *testing.T, name string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(tr.buf.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.buf.String(); got != string(want) {
		t.Errorf("%s differs (go test ./scim -update rewrites it):\n%s", path, diffLines(string(want), got))
	}
}

// diffLines shows the first lines where want and got differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant %s\ngot  %s", i+1, a, b)
		}
	}
	return ""
}

func newTranscript(e *env) *transcript { return &transcript{e: e, ids: map[string]string{}} }

const patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// TestEntraIDProvisioning replays, as golden request and answer pairs,
// the calls Microsoft Entra ID's provisioning service makes: discovery,
// look up by userName, create, get, update by PATCH (string booleans
// included), create a group, add and remove a member by PATCH,
// deactivate, delete.
func TestEntraIDProvisioning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tr := newTranscript(e)
		tr.step(t, "Discovery", "GET", "ServiceProviderConfig", nil)
		tr.step(t, "Is the user there?", "GET", `Users?filter=userName+eq+%22ann%40acme.example%22`, nil)
		created := tr.step(t, "Create the user", "POST", "Users", map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
			"externalId": "ann", "userName": "ann@acme.example", "active": true, "displayName": "Ann Lee",
			"emails": []map[string]any{{"primary": true, "type": "work", "value": "ann@acme.example"}},
			"name":   map[string]string{"formatted": "Ann Lee", "familyName": "Lee", "givenName": "Ann"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]string{"department": "Engineering"},
		})
		if created.status != http.StatusCreated {
			t.Fatalf("create: %d %s", created.status, created.body)
		}
		user := created.id(t)
		tr.step(t, "Read it back", "GET", "Users/"+user, nil)
		tr.step(t, "Find it by userName", "GET", `Users?filter=userName+eq+%22ann%40acme.example%22`, nil)
		tr.step(t, "Update names", "PATCH", "Users/"+user, map[string]any{"schemas": []string{patchOp}, "Operations": []map[string]any{
			{"op": "Replace", "path": "displayName", "value": "Ann Smith"},
			{"op": "Replace", "path": "name.familyName", "value": "Smith"},
			{"op": "Add", "path": `emails[type eq "work"].value`, "value": "ann.smith@acme.example"},
			{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Platform"},
		}})
		tr.step(t, "Is the group there?", "GET", `Groups?excludedAttributes=members&filter=displayName+eq+%22Engineers%22`, nil)
		group := tr.step(t, "Create the group", "POST", "Groups", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "externalId": "eng", "displayName": "Engineers", "members": []any{},
		}).id(t)
		tr.step(t, "Add the member", "PATCH", "Groups/"+group, map[string]any{"schemas": []string{patchOp}, "Operations": []map[string]any{
			{"op": "Add", "path": "members", "value": []map[string]string{{"value": user}}},
		}})
		tr.step(t, "Read the group", "GET", "Groups/"+group, nil)
		tr.step(t, "Remove the member", "PATCH", "Groups/"+group, map[string]any{"schemas": []string{patchOp}, "Operations": []map[string]any{
			{"op": "Remove", "path": "members", "value": []map[string]string{{"value": user}}},
		}})
		tr.step(t, "Deactivate", "PATCH", "Users/"+user, map[string]any{"schemas": []string{patchOp}, "Operations": []map[string]any{
			{"op": "Replace", "path": "active", "value": "False"},
		}})
		tr.step(t, "Delete", "DELETE", "Users/"+user, nil)
		tr.step(t, "Gone", "GET", "Users/"+user, nil)
		tr.check(t, "entra.golden")
	})
}

// TestOktaProvisioning replays the calls Okta's SCIM 2.0 client makes:
// look up with paging, create, get, replace with PUT, deactivate by a
// PATCH without path, push a group with a member, remove the member by
// a value filter path, rename, delete the group.
func TestOktaProvisioning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tr := newTranscript(e)
		tr.step(t, "Is the user there?", "GET", `Users?filter=userName%20eq%20%22bob%40acme.example%22&startIndex=1&count=100`, nil)
		user := tr.step(t, "Create the user", "POST", "Users", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "bob@acme.example",
			"name":        map[string]string{"givenName": "Bob", "familyName": "Stone"},
			"emails":      []map[string]any{{"primary": true, "value": "bob@acme.example", "type": "work"}},
			"displayName": "Bob Stone", "locale": "en-US", "externalId": "00u1", "groups": []any{}, "active": true,
		}).id(t)
		tr.step(t, "Read it back", "GET", "Users/"+user, nil)
		tr.step(t, "Replace the user", "PUT", "Users/"+user, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": user, "userName": "bob@acme.example",
			"name":        map[string]string{"givenName": "Robert", "familyName": "Stone"},
			"emails":      []map[string]any{{"primary": true, "value": "bob@acme.example", "type": "work"}},
			"displayName": "Robert Stone", "active": true,
		})
		tr.step(t, "Deactivate", "PATCH", "Users/"+user, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}}})
		group := tr.step(t, "Push a group", "POST", "Groups", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Ops",
			"members": []map[string]string{{"value": user, "display": "bob@acme.example"}},
		}).id(t)
		tr.step(t, "Remove the member", "PATCH", "Groups/"+group, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "remove", "path": `members[value eq "` + user + `"]`}}})
		tr.step(t, "Rename the group", "PATCH", "Groups/"+group, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"id": group, "displayName": "Operations"}}}})
		tr.step(t, "Read the group", "GET", "Groups/"+group, nil)
		tr.step(t, "Delete the group", "DELETE", "Groups/"+group, nil)
		tr.check(t, "okta.golden")
	})
}
