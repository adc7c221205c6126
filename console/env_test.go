package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// system is the context of calls the tests make to the store directly.
var system = context.Background()

// env is a server of every surface on a store with two organizations.
type env struct {
	*apitest.Env
	srv *httptest.Server
}

// forEachBackend runs fn against a server on SQLite and on PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, b.URL(t)))
		})
	}
}

func newEnv(t testing.TB, url string) *env {
	e := &env{Env: apitest.New(t, url)}
	e.srv = e.serveWith(t, func(*apitest.Options) {})
	return e
}

// serveWith starts another server on e's store, with edit's options.
func (e *env) serveWith(t testing.TB, edit func(*apitest.Options)) *httptest.Server {
	var o apitest.Options
	edit(&o)
	return e.Serve(t, e.Services(), o)
}

// signedIn is a browser whose user completed its sign-in.
func (e *env) signedIn(t *testing.T, u *castellan.User) *apitest.Browser {
	return apitest.SignedIn(t, e.srv, u)
}

// bearerStatus is the status of a GET of path on srv with a bearer token.
func bearerStatus(t *testing.T, srv *httptest.Server, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// grantOrg gives u role on its organization.
func (e *env) grantOrg(t testing.TB, u *castellan.User, role string) {
	t.Helper()
	if _, _, err := e.DB.Services().Grants.CreateGrants(system, u.OrganizationID, []castellan.GrantCreate{{RoleID: role,
		Scope: castellan.OrganizationScope(u.OrganizationID).String(), Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}}}); err != nil {
		t.Fatal(err)
	}
}

// acmeAdmin registers login in Acme as an Organization Admin and signs it
// in.
func (e *env) acmeAdmin(t *testing.T, login string) (*castellan.User, *apitest.Browser) {
	t.Helper()
	u := e.ConsoleUser(t, e.Acme.OrganizationID, login, nil)
	e.grantOrg(t, u, "organization.admin")
	return u, e.signedIn(t, u)
}
