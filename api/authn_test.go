package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// keyCaller is a user with project.reader on the fixture's project, an
// access key there and the key's token.
type keyCaller struct {
	id    string
	key   *castellan.NewAccessKey
	token string
}

func (f *fixture) keyCaller(t *testing.T) keyCaller {
	t.Helper()
	id := f.newUser()
	f.grant("project.reader", "project/"+f.project, userSubject(id))
	k := f.newKey(userSubject(id))
	return keyCaller{id: id, key: k, token: mustExchange(t, f.e, k)}
}

// readProject reads the fixture's project with token: a cheap call that
// project.reader may make.
func (f *fixture) readProject(token string) request {
	return request{method: "GET", path: f.orgPath() + "/projects/" + f.project, token: token}
}

// wantRefused sends req, wants a problem with status and code, and checks
// that the refused request changed nothing. It returns the problem.
func wantRefused(t *testing.T, e *env, req request, status int, code string) api.Problem {
	t.Helper()
	before := e.state(t)
	resp := e.do(t, req)
	if resp.status != status {
		t.Fatalf("%s %s: got %d, want %d: %s", req.method, req.path, resp.status, status, resp.body)
	}
	p := resp.problem(t)
	if p.Code != code {
		t.Fatalf("%s %s: got code %s, want %s", req.method, req.path, p.Code, code)
	}
	if after := e.state(t); !after.equal(before) {
		t.Fatalf("the refused request changed the store: %+v, then %+v", before, after)
	}
	return p
}

func (f *fixture) updateUser(t *testing.T, id string, u castellan.UserUpdate) {
	t.Helper()
	if _, err := f.e.db.Services().Users.UpdateUser(system, f.org, id, u); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestTokenRefusedOnTheNextRequest: every change that makes a token
// unusable refuses it on the very next request, though the request before
// put it in the token cache.
func TestTokenRefusedOnTheNextRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		s := e.db.Services()
		for _, tc := range []struct {
			name   string
			revoke func(t *testing.T, c keyCaller) error
		}{
			{"UserDeleted", func(t *testing.T, c keyCaller) error {
				u, err := s.Users.FindUserByID(system, f.org, c.id, false)
				if err != nil {
					return err
				}
				_, err = s.Users.DeleteUser(system, f.org, c.id, u.LoginID)
				return err
			}},
			{"UserDisabled", func(t *testing.T, c keyCaller) error {
				_, err := s.Users.UpdateUser(system, f.org, c.id, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
				return err
			}},
			{"APIAccessOff", func(t *testing.T, c keyCaller) error {
				_, err := s.Users.UpdateUser(system, f.org, c.id, castellan.UserUpdate{APIAccess: ptr(false)})
				return err
			}},
			{"KeyDeleted", func(t *testing.T, c keyCaller) error {
				_, err := s.AccessKeys.DeleteAccessKey(system, f.org, c.key.ID)
				return err
			}},
			{"KeyDisabled", func(t *testing.T, c keyCaller) error {
				_, err := s.AccessKeys.UpdateAccessKey(system, f.org, c.key.ID, castellan.AccessKeyUpdate{Status: ptr(castellan.AccessKeyDisabled)})
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := f.keyCaller(t)
				wantStatus(t, e.do(t, f.readProject(c.token)), http.StatusOK)
				if err := tc.revoke(t, c); err != nil {
					t.Fatal(err)
				}
				wantRefused(t, e, f.readProject(c.token), http.StatusUnauthorized, castellan.CodeUnauthenticated)
			})
		}

		t.Run("ServiceAccountDeleted", func(t *testing.T) {
			a := f.newServiceAccount(f.project)
			account := castellan.Subject{Type: castellan.SubjectServiceAccount, ID: a}
			f.grant("project.reader", "project/"+f.project, account)
			token := mustExchange(t, e, f.newKey(account))
			wantStatus(t, e.do(t, f.readProject(token)), http.StatusOK)
			if _, err := s.ServiceAccounts.DeleteServiceAccount(system, f.org, f.project, a); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, e, f.readProject(token), http.StatusUnauthorized, castellan.CodeUnauthenticated)
		})

		t.Run("ProjectDeleted", func(t *testing.T) {
			project := f.newProject()
			u := f.newUser()
			f.grant("organization.reader", "organization/"+f.org, userSubject(u))
			k, err := s.AccessKeys.CreateAccessKey(system, f.org, castellan.AccessKeyCreate{Owner: userSubject(u), ProjectID: project, Name: "p"})
			if err != nil {
				t.Fatal(err)
			}
			token := mustExchange(t, e, k)
			list := request{method: "GET", path: f.orgPath() + "/projects", token: token}
			wantStatus(t, e.do(t, list), http.StatusOK)
			if _, err := s.Projects.DeleteProject(system, f.org, project); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, e, list, http.StatusUnauthorized, castellan.CodeUnauthenticated)
		})

		t.Run("APIAccessOffRefusesUserTokensAndExchange", func(t *testing.T) {
			c := f.keyCaller(t)
			userToken, err := s.Tokens.CreateUserToken(system, f.org, c.id)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, e.do(t, f.readProject(userToken)), http.StatusOK)
			f.updateUser(t, c.id, castellan.UserUpdate{APIAccess: ptr(false)})
			wantRefused(t, e, f.readProject(userToken), http.StatusUnauthorized, castellan.CodeUnauthenticated)
			wantRefused(t, e, request{method: "POST", path: "/v1/tokens", body: map[string]any{"keyId": c.key.ID, "secret": c.key.Secret}},
				http.StatusUnauthorized, castellan.CodeUnauthenticated)
			f.updateUser(t, c.id, castellan.UserUpdate{APIAccess: ptr(true)})
			wantStatus(t, e.do(t, f.readProject(userToken)), http.StatusOK)
			wantStatus(t, e.do(t, f.readProject(c.token)), http.StatusOK)
		})
	})
}

// TestGroupAccessEndsOnTheNextRequest: a user whose only access is through
// a group loses it on the next request after leaving the group, and after
// the group is deleted: leaving signs it out (its token is refused), and
// a new token after joining again is denied once the group is gone.
func TestGroupAccessEndsOnTheNextRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		groups := e.db.Services().Groups
		u, g := f.newUser(), f.newGroup()
		f.grant("project.reader", "project/"+f.project, castellan.Subject{Type: castellan.SubjectGroup, ID: g})
		join := func() {
			if _, err := groups.AddGroupMembers(system, f.org, g, []string{u}); err != nil {
				t.Fatal(err)
			}
		}
		join()
		k := f.newKey(userSubject(u))
		token := mustExchange(t, e, k)
		wantStatus(t, e.do(t, f.readProject(token)), http.StatusOK)
		if _, err := groups.RemoveGroupMembers(system, f.org, g, []string{u}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, e, f.readProject(token), http.StatusUnauthorized, castellan.CodeUnauthenticated)
		token = mustExchange(t, e, k)
		wantRefused(t, e, f.readProject(token), http.StatusForbidden, castellan.CodePermissionDenied)
		join()
		wantStatus(t, e.do(t, f.readProject(token)), http.StatusOK)
		if _, err := groups.DeleteGroup(system, f.org, g); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, e, f.readProject(token), http.StatusUnauthorized, castellan.CodeUnauthenticated)
		wantRefused(t, e, f.readProject(mustExchange(t, e, k)), http.StatusForbidden, castellan.CodePermissionDenied)
	})
}

// TestGroupChangeSignsMembersOut: seed 000 — removing members from a group
// through the API expires their API tokens (their own and their access
// keys') and ends their console sessions on the next request, even for a
// member who keeps access through another group; deleting a group does
// the same to its members, except those who belong to another group that
// holds a grant. Members the change does not touch stay signed in.
func TestGroupChangeSignsMembersOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		groups := e.db.Services().Groups
		group := func(grants bool) string {
			g := f.newGroup()
			if grants {
				f.grant("project.reader", "project/"+f.project, castellan.Subject{Type: castellan.SubjectGroup, ID: g})
			}
			return g
		}
		devs, ops, bare := group(true), group(true), group(false)
		// member is a console user with a session, a user token and an
		// access key's token, in the groups given.
		type member struct {
			id              string
			browser         *apitest.Browser
			token, keyToken string
		}
		newMember := func(login string, in ...string) member {
			u := e.consoleUser(t, f.org, login, nil)
			for _, g := range in {
				if _, err := groups.AddGroupMembers(system, f.org, g, []string{u.ID}); err != nil {
					t.Fatal(err)
				}
			}
			token, err := e.db.Services().Tokens.CreateUserToken(system, f.org, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return member{id: u.ID, browser: e.signedIn(t, u), token: token, keyToken: mustExchange(t, e, f.newKey(userSubject(u.ID)))}
		}
		signedIn := func(m member) {
			t.Helper()
			apitest.WantPage(t, m.browser.Get("/console"), http.StatusOK, "Signed in as")
			wantStatus(t, e.do(t, f.readProject(m.token)), http.StatusOK)
			wantStatus(t, e.do(t, f.readProject(m.keyToken)), http.StatusOK)
		}
		signedOut := func(m member) {
			t.Helper()
			wantRefused(t, e, f.readProject(m.token), http.StatusUnauthorized, castellan.CodeUnauthenticated)
			wantRefused(t, e, f.readProject(m.keyToken), http.StatusUnauthorized, castellan.CodeUnauthenticated)
			apitest.WantRedirect(t, m.browser.Get("/console"), "/console/sign-in")
		}
		ann, bob := newMember("ann", devs, ops), newMember("bob", devs)
		cid, dan := newMember("cid", devs, ops), newMember("dan", devs, bare)
		for _, m := range []member{ann, bob, cid, dan} {
			signedIn(m)
		}

		resp := e.do(t, request{method: "POST", path: f.orgPath() + "/groups/" + devs + "/members:batchRemove", token: e.acme.Token,
			body: map[string][]string{"userIds": {ann.id}}})
		wantStatus(t, resp, http.StatusOK)
		signedOut(ann)
		signedIn(bob)

		resp = e.do(t, request{method: "DELETE", path: f.orgPath() + "/groups/" + devs, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		signedOut(bob)
		signedOut(dan) // bare holds no grant
		signedIn(cid)  // ops does
	})
}

// TestAPIAllowSources: a user's tokens and key exchanges are held to its
// API allow sources; the client address is the peer's unless the peer is
// a trusted proxy, and gateway headers count only from one.
func TestAPIAllowSources(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		// The test client connects from 127.0.0.1: a plain client to e.srv,
		// a proxy to proxied.
		proxied := e.serve(t, e.cache, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")})
		c := f.keyCaller(t)
		userToken, err := e.db.Services().Tokens.CreateUserToken(system, f.org, c.id)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.do(t, f.readProject(c.token)), http.StatusOK)
		f.updateUser(t, c.id, castellan.UserUpdate{UseAPIAllowSource: ptr(true), APIAllowSources: &[]castellan.APIAllowSource{
			{Type: castellan.SourceIP, Source: "203.0.113.0/24"}, {Type: castellan.SourceIP, Source: "2001:db8::/32"},
			{Type: castellan.SourceVPC, Source: "vpc-1"}, {Type: castellan.SourceVPCServer, Source: "4242"},
		}})
		const xff, vpc, vpcServer = "X-Forwarded-For", "X-Castellan-Source-Vpc", "X-Castellan-Source-Vpc-Server"
		cases := []struct {
			name    string
			srv     *httptest.Server
			header  map[string]string
			allowed bool
		}{
			{"PeerNotAllowed", nil, nil, false},
			{"ForwardedForFromUntrustedPeerIgnored", nil, map[string]string{xff: "203.0.113.5"}, false},
			{"VPCFromUntrustedPeerIgnored", nil, map[string]string{vpc: "vpc-1"}, false},
			{"VPCServerFromUntrustedPeerIgnored", nil, map[string]string{vpcServer: "4242"}, false},
			{"ProxyItselfNotAllowed", proxied, nil, false},
			{"ForwardedAllowed", proxied, map[string]string{xff: "203.0.113.5"}, true},
			{"ForwardedIPv6Allowed", proxied, map[string]string{xff: "2001:db8::7"}, true},
			{"ForwardedNotAllowed", proxied, map[string]string{xff: "192.0.2.1"}, false},
			{"SpoofedEntryLeftOfClientIgnored", proxied, map[string]string{xff: "203.0.113.5, 192.0.2.1"}, false},
			{"TrustedHopsSkipped", proxied, map[string]string{xff: "203.0.113.5, 10.1.2.3"}, true},
			{"UnparsableHopMakesClientUnknown", proxied, map[string]string{xff: "203.0.113.5, junk"}, false},
			{"VPCFromProxy", proxied, map[string]string{vpc: "vpc-1"}, true},
			{"OtherVPCFromProxy", proxied, map[string]string{vpc: "vpc-2"}, false},
			{"VPCServerFromProxy", proxied, map[string]string{vpcServer: "4242"}, true},
		}
		for _, token := range []struct{ name, token string }{{"KeyToken", c.token}, {"UserToken", userToken}} {
			for _, tc := range cases {
				t.Run(token.name+"/"+tc.name, func(t *testing.T) {
					req := f.readProject(token.token)
					req.srv, req.header = tc.srv, tc.header
					if tc.allowed {
						wantStatus(t, e.do(t, req), http.StatusOK)
						return
					}
					wantRefused(t, e, req, http.StatusForbidden, castellan.CodeSourceNotAllowed)
				})
			}
		}

		t.Run("Exchange", func(t *testing.T) {
			body := map[string]any{"keyId": c.key.ID, "secret": c.key.Secret}
			wantRefused(t, e, request{method: "POST", path: "/v1/tokens", body: body}, http.StatusForbidden, castellan.CodeSourceNotAllowed)
			wrong := map[string]any{"keyId": c.key.ID, "secret": f.newKey(userSubject(f.newUser())).Secret}
			wantRefused(t, e, request{method: "POST", path: "/v1/tokens", body: wrong}, http.StatusUnauthorized, castellan.CodeUnauthenticated)
			resp := e.do(t, request{method: "POST", path: "/v1/tokens", body: body, srv: proxied, header: map[string]string{xff: "203.0.113.9"}})
			wantStatus(t, resp, http.StatusOK)
			events, _, err := e.db.Services().Audit.FindAuditEvents(system, f.org, castellan.AuditFilter{PageSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Action != "iam:ExchangeAccessKey" || events[0].SourceIP != "203.0.113.9" {
				t.Fatalf("got %+v, want the exchange from the forwarded address", events)
			}
		})

		t.Run("TurnedOff", func(t *testing.T) {
			f.updateUser(t, c.id, castellan.UserUpdate{UseAPIAllowSource: ptr(false)})
			wantStatus(t, e.do(t, f.readProject(c.token)), http.StatusOK)
			wantStatus(t, e.do(t, f.readProject(userToken)), http.StatusOK)
		})
	})
}

// TestKeyActsInItsProjectOnly: a key's token is refused in another
// project though its owner holds an organization-wide grant; the
// organization itself is decided by the grants, and other organizations
// stay out of reach.
func TestKeyActsInItsProjectOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		other := f.newProject()
		u := f.newUser()
		f.grant("organization.admin", "organization/"+f.org, userSubject(u))
		k := f.newKey(userSubject(u))
		token := mustExchange(t, e, k)
		userToken, err := e.db.Services().Tokens.CreateUserToken(system, f.org, u)
		if err != nil {
			t.Fatal(err)
		}
		otherPath := f.orgPath() + "/projects/" + other

		wantStatus(t, e.do(t, f.readProject(token)), http.StatusOK)
		wantStatus(t, e.do(t, request{method: "GET", path: f.orgPath() + "/projects", token: token}), http.StatusOK)
		wantRefused(t, e, request{method: "GET", path: otherPath, token: token}, http.StatusForbidden, castellan.CodePermissionDenied)
		wantRefused(t, e, request{method: "PATCH", path: otherPath, token: token, body: map[string]any{"description": "x"}},
			http.StatusForbidden, castellan.CodePermissionDenied)
		wantRefused(t, e, request{method: "POST", path: otherPath + "/serviceAccounts", token: token, body: map[string]any{"name": "x"}},
			http.StatusForbidden, castellan.CodePermissionDenied)
		// The same user's token that no key binds reaches every project.
		wantStatus(t, e.do(t, request{method: "GET", path: otherPath, token: userToken}), http.StatusOK)

		// Another service asks the decision API about the key's caller,
		// with the project its introspection reported.
		explain := func(resource string) (reason string) {
			t.Helper()
			resp := e.do(t, request{method: "POST", path: "/v1/authorize:explain", token: e.acme.Token, body: map[string]any{
				"principal": map[string]string{"type": "user", "id": u, "organizationId": f.org, "projectId": f.project},
				"action":    "compute:StartInstance", "resource": resource}})
			wantStatus(t, resp, http.StatusOK)
			var d castellan.Decision
			resp.decode(t, &d)
			return d.Reason
		}
		if got := explain("project/" + other); got != castellan.ReasonKeyProjectMismatch {
			t.Fatalf("explain in another project: got %s, want %s", got, castellan.ReasonKeyProjectMismatch)
		}
		if got := explain("rn:compute:" + f.project + ":instance/web-1"); got != castellan.ReasonAllowed {
			t.Fatalf("explain in the key's project: got %s, want allowed", got)
		}
		wantRefused(t, e, request{method: "POST", path: "/v1/authorize", token: e.acme.Token, body: map[string]any{
			"principal": map[string]string{"type": "user", "id": u, "organizationId": f.org, "projectId": "nope"},
			"action":    "compute:StartInstance", "resource": "project/" + other}}, http.StatusBadRequest, castellan.CodeInvalidField)

		info := introspect(t, e, e.acme.Token, token)
		if !info.Active || info.KeyID != k.ID || info.ProjectID != f.project {
			t.Fatalf("got %+v", info)
		}

		globexProject := storeProject(t, e, e.globex.OrganizationID)
		for _, tok := range []string{token, userToken} {
			wantRefused(t, e, request{method: "GET", path: "/v1/organizations/" + e.globex.OrganizationID + "/projects/" + globexProject, token: tok},
				http.StatusNotFound, castellan.CodeOrgNotFound)
		}
		wantRefused(t, e, request{method: "GET", path: f.orgPath() + "/projects/" + globexProject, token: userToken},
			http.StatusNotFound, castellan.CodeProjectNotFound)
		wantRefused(t, e, request{method: "GET", path: f.orgPath() + "/projects/" + globexProject, token: token},
			http.StatusForbidden, castellan.CodePermissionDenied)
	})
}

// TestKeyLastUsedPerRequest: every authenticated request counts as a use
// of its key, written in batches as bookkeeping: no revision, no audit.
func TestKeyLastUsedPerRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		c := f.keyCaller(t)
		e.clock.Advance(time.Hour / 2)
		wantStatus(t, e.do(t, f.readProject(c.token)), http.StatusOK)
		used := e.clock.Now()
		before := e.state(t)
		if err := e.cache.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("flushing key uses changed the revision or the audit log: %+v, then %+v", before, after)
		}
		k, err := e.db.Services().AccessKeys.FindAccessKeyByID(system, f.org, c.key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if k.LastUsedAt == nil || !k.LastUsedAt.Equal(used.Truncate(time.Microsecond)) {
			t.Fatalf("got lastUsedAt %v, want %v", k.LastUsedAt, used)
		}
	})
}

// TestKeyCannotMintKeysElsewhere: managing one's own keys skips the
// authorizer, so a key's token is held to its project there too: it can
// rotate keys of its project, but neither create, read, change nor delete
// the owner's keys of another project.
func TestKeyCannotMintKeysElsewhere(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		other := f.newProject()
		u := f.newUser()
		f.grant("project.member", "project/"+f.project, userSubject(u))
		f.grant("project.member", "project/"+other, userSubject(u))
		token := mustExchange(t, e, f.newKey(userSubject(u)))
		keys := f.orgPath() + "/users/" + u + "/accessKeys"

		wantStatus(t, e.do(t, request{method: "POST", path: keys, token: token, body: map[string]any{"projectId": f.project, "name": "rotated"}}),
			http.StatusCreated)
		wantRefused(t, e, request{method: "POST", path: keys, token: token, body: map[string]any{"projectId": other, "name": "escape"}},
			http.StatusForbidden, castellan.CodePermissionDenied)
		elsewhere, err := e.db.Services().AccessKeys.CreateAccessKey(system, f.org, castellan.AccessKeyCreate{
			Owner: userSubject(u), ProjectID: other, Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []request{
			{method: "GET", path: keys + "/" + elsewhere.ID, token: token},
			{method: "PATCH", path: keys + "/" + elsewhere.ID, token: token, body: map[string]any{"status": "disabled"}},
			{method: "DELETE", path: keys + "/" + elsewhere.ID, token: token},
		} {
			wantRefused(t, e, r, http.StatusForbidden, castellan.CodePermissionDenied)
		}
	})
}
