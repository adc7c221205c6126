package console_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sso"
)

// idp is an OpenID provider in the test process: zitadel/oidc's example
// provider (a complete implementation: discovery, keys, the authorization
// code flow with PKCE, its own login page), whose storage a test may make
// misbehave to see the relying party refuse.
type idp struct {
	srv     *httptest.Server
	handler http.Handler
	store   *tamperingStorage
	// swapClient makes the provider serve another of its clients,
	// other, whatever client the browser and the code exchange name:
	// Castellan then receives an ID token issued to that client.
	swapClient atomic.Bool
}

// tamperingStorage is the example storage, with the ID tokens it issues
// changed on demand: another nonce, or a lifetime in the past.
type tamperingStorage struct {
	*storage.Storage
	nonce   string
	expired bool
}

type tamperedRequest struct {
	op.AuthRequest
	s *tamperingStorage
}

func (r tamperedRequest) GetNonce() string {
	if r.s.nonce != "" {
		return r.s.nonce
	}
	return r.AuthRequest.GetNonce()
}

func (s *tamperingStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	return tamperedRequest{AuthRequest: r, s: s}, nil
}

type expiredClient struct{ op.Client }

func (expiredClient) IDTokenLifetime() time.Duration { return -time.Hour }

func (s *tamperingStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || !s.expired {
		return c, err
	}
	return expiredClient{c}, nil
}

// idpUsers are the provider's people.
type idpUsers map[string]*storage.User

func (u idpUsers) GetUserByID(id string) *storage.User { return u[id] }
func (u idpUsers) GetUserByUsername(name string) *storage.User {
	for _, user := range u {
		if user.Username == name {
			return user
		}
	}
	return nil
}
func (idpUsers) ExampleClientID() string { return storage.ServiceUserID }

// newIdP starts a provider; setup gives it its clients and users once
// the redirect URI, which names the federation, is known.
func newIdP(t *testing.T) *idp {
	t.Helper()
	p := &idp{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }))
	t.Cleanup(p.srv.Close)
	return p
}

// setup registers the client castellan, which may send browsers back to
// redirect, and other, and the users.
func (p *idp) setup(redirect string, users idpUsers) {
	p.store = &tamperingStorage{Storage: storage.NewStorageWithClients(users, map[string]*storage.Client{
		"castellan": storage.NativeClient("castellan", redirect),
		"other":     storage.NativeClient("other", redirect),
	})}
	provider := exampleop.SetupServer(p.srv.URL, p.store, nil, false)
	p.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.swapClient.Load() {
			swapClientID(r, "other")
		}
		provider.ServeHTTP(w, r)
	})
}

// swapClientID names client in the authorization request's query and in
// a token request's form.
func swapClientID(r *http.Request, client string) {
	q := r.URL.Query()
	if q.Has("client_id") {
		q.Set("client_id", client)
		r.URL.RawQuery = q.Encode()
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		if err := r.ParseForm(); err == nil && r.PostForm.Has("client_id") {
			r.PostForm.Set("client_id", client)
			body := r.PostForm.Encode()
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
			r.Form = nil
			r.PostForm = nil
		}
	}
}

// ssoBrowser is an HTTP client with cookies that follows redirects, as a
// browser does.
func ssoBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

var (
	refreshURL  = regexp.MustCompile(`http-equiv="refresh" content="0;url=([^"]+)"`)
	loginFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// ssoStart opens the sign-in page and sends its second form with ref.
func ssoStart(t *testing.T, c *http.Client, castellanURL, ref string) (*http.Response, string) {
	t.Helper()
	_, page := get(t, c, castellanURL+"/console/sign-in")
	token := csrfField.FindStringSubmatch(page)
	if token == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	resp, err := c.PostForm(castellanURL+"/console/sso/start", url.Values{"csrf": {token[1]}, "federation": {ref}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// ssoSignIn walks the flow as a browser: start at Castellan with ref,
// follow the refresh to the provider, sign in there as username, and
// follow the redirects back. It returns the last answer.
func ssoSignIn(t *testing.T, c *http.Client, castellanURL, ref, username string) (*http.Response, string) {
	t.Helper()
	resp, body := ssoStart(t, c, castellanURL, ref)
	m := refreshURL.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("start: got %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, c, html.UnescapeString(m[1]))
	id := loginFormID.FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no login form at the provider: %d %s", resp.StatusCode, body)
	}
	resp, err := c.PostForm(resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+"/login/username",
		url.Values{"id": {id[1]}, "username": {username}, "password": {"verysecure"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// ssoEnv is a Castellan on e's store whose console signs in through the
// returned provider, and a federation of Acme for it.
func ssoEnv(t *testing.T, e *env, users idpUsers, edit func(*castellan.FederationCreate)) (*httptest.Server, *idp, *castellan.Federation) {
	t.Helper()
	srv := e.serveWith(t, func(o *apitest.Options) { o.SSO = sso.New(sso.Options{AllowPrivateNetworks: true}) })
	p := newIdP(t)
	fc := castellan.FederationCreate{Name: "Acme IdP", Issuer: p.srv.URL, ClientID: "castellan", Scopes: []string{"email", "profile"},
		AllowedDomains: []string{"acme.example"}, MFAByIdP: true}
	if edit != nil {
		edit(&fc)
	}
	f, err := e.DB.Services().Federations.CreateFederation(system, e.Acme.OrganizationID, fc)
	if err != nil {
		t.Fatal(err)
	}
	p.setup(srv.URL+"/console/sso/callback/"+f.ID, users)
	return srv, p, f
}

func ann() idpUsers {
	return idpUsers{"sub-ann": {ID: "sub-ann", Username: "ann", Password: "verysecure", FirstName: "Ann", LastName: "Lee",
		Email: "ann@acme.example", EmailVerified: true}}
}

// TestSSOSignIn signs a federated user in end to end: added by email, it
// follows the console's flow through a real OpenID provider and lands
// signed in, bound to its subject, its last login recorded and the
// sign-in audited; password sign-in stays closed to it.
func TestSSOSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srv, _, f := ssoEnv(t, e, ann(), nil)
		reg, err := e.DB.Services().Users.RegisterUser(system, e.Acme.OrganizationID, castellan.UserRegistration{LoginID: "ann", Email: "ann@acme.example",
			AccountType: castellan.AccountFederated, FederationID: f.ID, ConsoleAccess: true})
		if err != nil {
			t.Fatal(err)
		}
		u := reg.User
		for _, ref := range []string{f.ID, "ann@acme.example"} {
			c := ssoBrowser(t)
			resp, body := ssoSignIn(t, c, srv.URL, ref, "ann")
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/console" || !strings.Contains(body, "Sign out") {
				t.Fatalf("%s: ended at %d %s: %s", ref, resp.StatusCode, resp.Request.URL, body)
			}
			// The session is real: a console page answers.
			if resp, _ := get(t, c, srv.URL+"/console/sessions"); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/console/sessions" {
				t.Fatalf("sessions page: %d %s", resp.StatusCode, resp.Request.URL)
			}
		}
		got, err := e.DB.Services().Users.FindUserByID(system, e.Acme.OrganizationID, u.ID, false)
		if err != nil || got.LastLoginAt == nil {
			t.Fatalf("got %+v, %v; want a last login", got, err)
		}
		var outcomes []string
		action := string(castellan.ActionSignIn)
		events, _, err := e.DB.Services().Audit.FindAuditEvents(system, e.Acme.OrganizationID, castellan.AuditFilter{Action: &action, TargetID: &u.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			var outcome, federation string
			_ = json.Unmarshal(ev.Summary["outcome"], &outcome)
			_ = json.Unmarshal(ev.Summary["federationId"], &federation)
			if federation != f.ID {
				t.Errorf("sign-in event %s names federation %q, want %s", outcome, federation, f.ID)
			}
			outcomes = append(outcomes, outcome)
		}
		if strings.Join(outcomes, " ") != "success success bound" {
			t.Fatalf("sign-in events of Ann: %q", outcomes)
		}
	})
}

// TestSSOSignInRefused: a token for another client, with another nonce
// or already expired, an unknown federation ID, a user the organization
// did not add, and a forged or missing flow are each refused, audited
// with their reason, and leave no session.
func TestSSOSignInRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		users := ann()
		users["sub-bob"] = &storage.User{ID: "sub-bob", Username: "bob", Password: "verysecure", Email: "bob@acme.example", EmailVerified: true}
		srv, p, f := ssoEnv(t, e, users, nil)
		if _, err := e.DB.Services().Users.RegisterUser(system, e.Acme.OrganizationID, castellan.UserRegistration{LoginID: "ann", Email: "ann@acme.example",
			AccountType: castellan.AccountFederated, FederationID: f.ID, ConsoleAccess: true}); err != nil {
			t.Fatal(err)
		}
		lastReason := func() string {
			action := string(castellan.ActionSignIn)
			events, _, err := e.DB.Services().Audit.FindAuditEvents(system, e.Acme.OrganizationID, castellan.AuditFilter{Action: &action})
			if err != nil {
				t.Fatal(err)
			}
			var reason string
			_ = json.Unmarshal(events[0].Summary["reason"], &reason)
			return reason
		}
		refused := func(name string, resp *http.Response, body, reason string) {
			t.Helper()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Request.URL.Path, "/console/sso/callback/") || !strings.Contains(body, "identity provider failed") {
				t.Fatalf("%s: got %d at %s: %s", name, resp.StatusCode, resp.Request.URL, body)
			}
			if got := lastReason(); got != reason {
				t.Fatalf("%s: audited reason %q, want %q", name, got, reason)
			}
		}
		for _, c := range []struct {
			name, reason string
			tamper       func()
		}{
			{"wrong audience", castellan.SSOWrongAudience, func() { p.swapClient.Store(true) }},
			{"wrong nonce", castellan.SSOWrongNonce, func() { p.store.nonce = "replayed-nonce" }},
			{"expired token", castellan.SSOTokenExpired, func() { p.store.expired = true }},
		} {
			c.tamper()
			resp, body := ssoSignIn(t, ssoBrowser(t), srv.URL, f.ID, "ann")
			refused(c.name, resp, body, c.reason)
			p.swapClient.Store(false)
			p.store.nonce, p.store.expired = "", false
		}
		// Bob is the provider's, but Acme never added him.
		resp, body := ssoSignIn(t, ssoBrowser(t), srv.URL, f.ID, "bob")
		refused("not added", resp, body, castellan.SSOUserNotAdded)

		// An unknown federation ID goes nowhere.
		resp, body = ssoStart(t, ssoBrowser(t), srv.URL, "0190d3a8-0000-7000-8000-00000000dead")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "No identity provider matches") {
			t.Fatalf("unknown federation: %d %s", resp.StatusCode, body)
		}
		// A start without the sign-in page's token is refused: no other
		// site starts a sign-in in the browser.
		resp, _ = ssoBrowser(t).PostForm(srv.URL+"/console/sso/start", url.Values{"federation": {f.ID}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("start without a token: %d", resp.StatusCode)
		}
		callback := srv.URL + "/console/sso/callback/" + f.ID
		// A callback without this browser's flow is refused, whatever it
		// carries.
		resp, body = get(t, ssoBrowser(t), callback+"?code=stolen&state=guess")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "identity provider failed") {
			t.Fatalf("callback without a flow: %d %s", resp.StatusCode, body)
		}
		refusedAt := func(name, reason, to string) {
			t.Helper()
			c := ssoBrowser(t)
			if resp, body := ssoStart(t, c, srv.URL, f.ID); resp.StatusCode != http.StatusOK {
				t.Fatalf("start: %d %s", resp.StatusCode, body)
			}
			resp, body := get(t, c, to)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "identity provider failed") {
				t.Fatalf("%s: got %d %s", name, resp.StatusCode, body)
			}
			if got := lastReason(); got != reason {
				t.Fatalf("%s: audited reason %q, want %q", name, got, reason)
			}
		}
		// A state that is not the browser's, an answer brought to another
		// federation's redirect URI (the mix-up attack), and one naming
		// another issuer are refused and audited.
		refusedAt("state mismatch", castellan.SSOStateMismatch, callback+"?code=stolen&state=guess")
		refusedAt("another federation's URI", castellan.SSOStateMismatch, srv.URL+"/console/sso/callback/0190d3a8-0000-7000-8000-00000000beef?code=x&state=y")
		refusedAt("another issuer", castellan.SSOIssuerMismatch, callback+"?code=x&state=y&iss="+url.QueryEscape("https://evil.example"))

		// Ann signed in nowhere: she has no session.
		sessions, err := e.DB.Services().Sessions.FindSessions(system, e.Acme.OrganizationID, mustUserID(t, e, "ann"))
		if err != nil || len(sessions) != 0 {
			t.Fatalf("got sessions %+v, %v", sessions, err)
		}
	})
}

func mustUserID(t *testing.T, e *env, login string) string {
	t.Helper()
	q := login
	users, _, err := e.DB.Services().Users.FindUsers(system, e.Acme.OrganizationID, castellan.UserFilter{Query: &q})
	if err != nil || len(users) != 1 {
		t.Fatalf("got %+v, %v", users, err)
	}
	return users[0].ID
}

// TestSSOAutoProvisionAndMFA: with autoProvision a new subject becomes a
// user at its first sign-in; without mfaByIdp it then meets Castellan's
// second-factor setup, as a local user whose organization requires one.
func TestSSOAutoProvisionAndMFA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srv, _, f := ssoEnv(t, e, ann(), func(fc *castellan.FederationCreate) { fc.AutoProvision, fc.MFAByIdP = true, false })
		required := true
		if _, err := e.DB.Services().Organizations.UpdateOrganization(system, e.Acme.OrganizationID, castellan.OrganizationUpdate{MFARequired: &required}); err != nil {
			t.Fatal(err)
		}
		resp, body := ssoSignIn(t, ssoBrowser(t), srv.URL, f.ID, "ann")
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/console/mfa/setup" {
			t.Fatalf("ended at %d %s: %s", resp.StatusCode, resp.Request.URL, body)
		}
		u, err := e.DB.Services().Users.FindUserByID(system, e.Acme.OrganizationID, mustUserID(t, e, "ann@acme.example"), false)
		if err != nil || u.AccountType != castellan.AccountFederated || u.FederationID != f.ID || u.Email != "ann@acme.example" {
			t.Fatalf("provisioned %+v, %v", u, err)
		}
	})
}
