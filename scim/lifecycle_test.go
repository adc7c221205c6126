package scim_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestSCIMDeprovisioning: active=false and deletion take effect on the
// user's next request, as the API's do: its console session and API
// token stop at once.
func TestSCIMDeprovisioning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.DB.Services()
		for _, c := range []struct {
			name   string
			method string
			body   any
			status int
		}{
			{"deactivate", "PATCH", map[string]any{"schemas": []string{patchOp},
				"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}}}, http.StatusOK},
			{"delete", "DELETE", nil, http.StatusNoContent},
		} {
			u := e.ConsoleUser(t, e.org, "leaver-"+c.name, nil)
			session, err := s.Sessions.CreateSession(system, e.org, u.ID, castellan.SessionComplete, "test", castellan.DefaultSignInPolicy)
			if err != nil {
				t.Fatal(err)
			}
			token, err := s.Tokens.CreateUserToken(system, e.org, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Cache.Authenticate(system, token); err != nil {
				t.Fatalf("%s: token before: %v", c.name, err)
			}
			if x := e.do(t, e.token, c.method, "Users/"+u.ID, c.body); x.status != c.status {
				t.Fatalf("%s: got %d %s", c.name, x.status, x.body)
			}
			if _, _, err := s.Sessions.AuthenticateSession(system, session.Token); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
				t.Errorf("%s: the session still works: %v", c.name, err)
			}
			if _, err := e.Cache.Authenticate(system, token); castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
				t.Errorf("%s: the API token still works: %v", c.name, err)
			}
		}
	})
}

// TestSCIMHierarchy: a token acts as its creator, with the creator's
// limits: an admin's token may not deactivate or delete an owner, and the
// token of a user with no role reads nothing.
func TestSCIMHierarchy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.ConsoleUser(t, e.org, "adm", nil)
		grantAdmin(t, e, admin.ID)
		token, _ := e.newToken(t, admin.ID, "")
		before := e.Snapshot(t)
		owner := "Users/" + e.Acme.OwnerUserID
		wantSCIMError(t, e.do(t, token, "PATCH", owner, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}), http.StatusForbidden, "")
		wantSCIMError(t, e.do(t, token, "DELETE", owner, nil), http.StatusForbidden, "")
		unchanged(t, e, before)
		// A user with no role could do nothing with a token.
		nobody := e.ConsoleUser(t, e.org, "nobody", nil)
		weak, _ := e.newToken(t, nobody.ID, "")
		wantSCIMError(t, e.do(t, weak, "GET", "Users", nil), http.StatusForbidden, "")
	})
}

// TestSCIMAudit: every change over SCIM is audited as its token's actor,
// naming the token.
func TestSCIMAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		id := e.do(t, e.token, "POST", "Users", map[string]any{"userName": "ann@acme.example"}).id(t)
		group := e.do(t, e.token, "POST", "Groups", map[string]any{"displayName": "eng", "members": []map[string]string{{"value": id}}}).id(t)
		e.do(t, e.token, "DELETE", "Users/"+id, nil)
		events, _, err := e.DB.Services().Audit.FindAuditEvents(system, e.org, castellan.AuditFilter{ActorID: &e.Acme.OwnerUserID})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{string(castellan.ActionCreateUser): id, string(castellan.ActionCreateGroup): group,
			string(castellan.ActionAddGroupMembers): group, string(castellan.ActionDeleteUser): id}
		for _, ev := range events {
			var token string
			_ = json.Unmarshal(ev.Summary["scimTokenId"], &token)
			if target, ok := want[ev.Action]; ok && ev.Target.ID == target && token == e.scimID {
				delete(want, ev.Action)
			}
		}
		if len(want) != 0 {
			t.Fatalf("no audit event naming the SCIM token for %v", want)
		}
	})
}

// TestSCIMLocalUsers: a token without a federation provisions local
// users, invited by mail.
func TestSCIMLocalUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		token, _ := e.newToken(t, e.Acme.OwnerUserID, "")
		x := e.do(t, token, "POST", "Users", map[string]any{"userName": "carl", "emails": []map[string]any{{"value": "carl@acme.example", "primary": true}}})
		if x.status != http.StatusCreated {
			t.Fatalf("got %d %s", x.status, x.body)
		}
		u, err := e.DB.Services().Users.FindUserByID(system, e.org, x.id(t), false)
		if err != nil || u.AccountType != castellan.AccountLocal || u.Status != castellan.UserPendingInvitation {
			t.Fatalf("got %+v, %v", u, err)
		}
		to := "carl@acme.example"
		mails, _, err := e.DB.Services().Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &e.org, To: &to})
		if err != nil || len(mails) != 1 || mails[0].Template != castellan.MailInvitation {
			t.Fatalf("got mails %+v, %v", mails, err)
		}
		// Deprovisioned before accepting: disabled, its link void.
		x = e.do(t, token, "PATCH", "Users/"+u.ID, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}}})
		var res struct{ Active bool }
		if err := json.Unmarshal(x.body, &res); err != nil || x.status != http.StatusOK || res.Active {
			t.Fatalf("deactivate: %d %s", x.status, x.body)
		}
		if _, err := e.DB.Services().Users.AcceptInvitation(system, mails[0].Data["invitationToken"], "Correct-Horse-7-battery"); castellan.ErrorKind(err) != castellan.ENOTFOUND {
			t.Fatalf("the link still works: %v", err)
		}
	})
}

// TestSCIMConcurrentCreate sends 25 creates of one userName at once: one
// user is made, the others are told it exists.
func TestSCIMConcurrentCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const n = 25
		status := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				status[i] = e.do(t, e.token, "POST", "Users", map[string]any{"userName": "zed@acme.example"}).status
			})
		}
		wg.Wait()
		created := 0
		for _, st := range status {
			switch st {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Fatalf("got status %d", st)
			}
		}
		var list struct{ TotalResults int }
		if err := json.Unmarshal(e.do(t, e.token, "GET", `Users?filter=userName+eq+%22zed%40acme.example%22`, nil).body, &list); err != nil ||
			created != 1 || list.TotalResults != 1 {
			t.Fatalf("created %d, listed %d", created, list.TotalResults)
		}
	})
}

// TestSCIMFilterByID: id eq finds the one user, and none of another
// organization's.
func TestSCIMFilterByID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		id := e.do(t, e.token, "POST", "Users", map[string]any{"userName": "ann@acme.example"}).id(t)
		theirs := e.ConsoleUser(t, e.Globex.OrganizationID, "spy", nil)
		for filter, want := range map[string]int{id: 1, theirs.ID: 0, "not-an-id": 0} {
			var list struct{ TotalResults int }
			x := e.do(t, e.token, "GET", `Users?filter=id+eq+%22`+filter+`%22`, nil)
			if err := json.Unmarshal(x.body, &list); err != nil || x.status != http.StatusOK || list.TotalResults != want {
				t.Fatalf("id eq %s: got %d %s, want %d results", filter, x.status, x.body, want)
			}
		}
	})
}
