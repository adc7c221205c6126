package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// BenchmarkAuthorizeHTTP measures one POST /v1/authorize over a kept-alive
// connection: token check, caller authorization and the decision, with the
// store-backed authorizer (the in-memory index is a later issue).
func BenchmarkAuthorizeHTTP(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := newEnv(b, backend.URL(b))
			f := &fixture{t: b, e: e, org: e.acme.OrganizationID}
			f.project = f.newProject()
			body, _ := json.Marshal(f.check("compute:StartInstance", "project/"+f.project))
			client := e.srv.Client()
			for b.Loop() {
				req, _ := http.NewRequest("POST", e.srv.URL+"/v1/authorize", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.acme.Token)
				req.Header.Set("Content-Type", "application/json")
				sendOK(b, client, req)
			}
		})
	}
}

// BenchmarkAuthenticatedRequest measures one cheap authenticated call, GET
// of a project with an access key's token over a kept-alive connection:
// token check, authorization (store-backed) and one read. "cache" checks
// the token from the token cache, "store" from the database.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := newEnv(b, backend.URL(b))
			f, token := keyReader(b, e)
			for _, s := range []struct {
				name   string
				tokens castellan.TokenService
			}{{"cache", e.cache}, {"store", e.db.Services().Tokens}} {
				b.Run(s.name, func(b *testing.B) { getProject(b, e.serve(b, s.tokens, nil), f, token) })
			}
		})
	}
}

// keyReader makes a project and a user who reads it, and returns the
// fixture (its project set) and the token of the user's access key.
func keyReader(b *testing.B, e *env) (*fixture, string) {
	b.Helper()
	f := &fixture{t: b, e: e, org: e.acme.OrganizationID}
	f.project = f.newProject()
	u := f.newUser()
	f.grant("project.reader", "project/"+f.project, userSubject(u))
	k := f.newKey(userSubject(u))
	token, err := e.db.Services().AccessKeys.ExchangeAccessKey(system, k.ID, k.Secret)
	if err != nil {
		b.Fatal(err)
	}
	return f, token.Token
}

// getProject measures GET of f's project on srv with token, over a
// kept-alive connection.
func getProject(b *testing.B, srv *httptest.Server, f *fixture, token string) {
	client := srv.Client()
	for b.Loop() {
		req, _ := http.NewRequest("GET", srv.URL+f.orgPath()+"/projects/"+f.project, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		sendOK(b, client, req)
	}
}

// sendOK sends req and fails b unless the answer is 200 OK.
func sendOK(b *testing.B, client *http.Client, req *http.Request) {
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("got %d", resp.StatusCode)
	}
}
