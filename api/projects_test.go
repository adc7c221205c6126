package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestWalkthrough is the README's five-minute tour: a bootstrapped owner
// creates a project, lists it and finds the creation in the audit log with
// its actor and request ID.
func TestWalkthrough(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		resp := e.do(t, request{method: "POST", path: org + "/projects", token: e.acme.Token,
			body: map[string]string{"name": "web-prod", "description": "the shop"}, header: map[string]string{"X-Request-Id": "walkthrough-1"}})
		wantStatus(t, resp, http.StatusCreated)
		if got := resp.header.Get("X-Request-Id"); got != "walkthrough-1" {
			t.Fatalf("got X-Request-Id %q, want walkthrough-1", got)
		}
		var p castellan.Project
		resp.decode(t, &p)
		if p.Name != "web-prod" || p.OrganizationID != e.acme.OrganizationID || p.Revision <= e.globex.Revision || p.CreatedBy != "user:"+e.acme.OwnerUserID {
			t.Fatalf("got %+v", p)
		}

		resp = e.do(t, request{method: "GET", path: org + "/projects", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var list struct {
			Projects      []castellan.Project
			NextPageToken *string
		}
		resp.decode(t, &list)
		if len(list.Projects) != 1 || list.Projects[0] != p || list.NextPageToken != nil {
			t.Fatalf("got %s", resp.body)
		}

		resp = e.do(t, request{method: "GET", path: org + "/audit-events?action=organizations:CreateProject", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var audit struct{ AuditEvents []castellan.AuditEvent }
		resp.decode(t, &audit)
		if len(audit.AuditEvents) != 1 {
			t.Fatalf("got %s", resp.body)
		}
		ev := audit.AuditEvents[0]
		if ev.Actor.ID != e.acme.OwnerUserID || ev.RequestID != "walkthrough-1" || ev.Target.ID != p.ID || ev.Revision != p.Revision || ev.SourceIP != "127.0.0.1" {
			t.Fatalf("got %+v", ev)
		}
	})
}

func TestProjectLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		var ids []string
		for i := 0; i < 5; i++ {
			resp := e.do(t, request{method: "POST", path: org + "/projects", token: e.acme.Token, body: map[string]string{"name": fmt.Sprintf("p%d", i)}})
			wantStatus(t, resp, http.StatusCreated)
			var p castellan.Project
			resp.decode(t, &p)
			ids = append(ids, p.ID)
		}
		// Page through two at a time.
		var names []string
		token := ""
		for {
			resp := e.do(t, request{method: "GET", path: org + "/projects?page_size=2&page_token=" + token, token: e.acme.Token})
			wantStatus(t, resp, http.StatusOK)
			var page struct {
				Projects      []castellan.Project
				NextPageToken string
			}
			resp.decode(t, &page)
			for _, p := range page.Projects {
				names = append(names, p.Name)
			}
			if page.NextPageToken == "" {
				break
			}
			token = page.NextPageToken
		}
		if fmt.Sprint(names) != "[p0 p1 p2 p3 p4]" {
			t.Fatalf("got %v", names)
		}

		path := org + "/projects/" + ids[0]
		resp := e.do(t, request{method: "PATCH", path: path, token: e.acme.Token, body: map[string]string{"description": "front"}})
		wantStatus(t, resp, http.StatusOK)
		var p castellan.Project
		resp.decode(t, &p)
		if p.Name != "p0" || p.Description != "front" {
			t.Fatalf("got %+v", p)
		}
		resp = e.do(t, request{method: "PATCH", path: path, token: e.acme.Token, body: map[string]string{"name": "p1"}})
		wantStatus(t, resp, http.StatusConflict)
		if got := resp.problem(t).Code; got != castellan.CodeProjectNameTaken {
			t.Fatalf("got %s", got)
		}
		resp = e.do(t, request{method: "DELETE", path: path, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var del struct{ Revision int64 }
		resp.decode(t, &del)
		if del.Revision <= p.Revision {
			t.Fatalf("got delete revision %d, want > %d", del.Revision, p.Revision)
		}
		resp = e.do(t, request{method: "GET", path: path, token: e.acme.Token})
		wantStatus(t, resp, http.StatusNotFound)
		if got := resp.problem(t).Code; got != castellan.CodeProjectNotFound {
			t.Fatalf("got %s", got)
		}
		// The operator may act in any organization.
		resp = e.do(t, request{method: "GET", path: org + "/projects/" + ids[1], token: e.operator})
		wantStatus(t, resp, http.StatusOK)
	})
}

func TestAuditEventsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		created := e.do(t, request{method: "POST", path: org + "/projects", token: e.acme.Token, body: map[string]string{"name": "web"}})
		wantStatus(t, created, http.StatusCreated)
		var p castellan.Project
		created.decode(t, &p)
		e.clock.Advance(3600e9)
		wantStatus(t, e.do(t, request{method: "DELETE", path: org + "/projects/" + p.ID, token: e.operator}), http.StatusOK)

		count := func(query string) int {
			t.Helper()
			resp := e.do(t, request{method: "GET", path: org + "/audit-events?" + query, token: e.acme.Token})
			wantStatus(t, resp, http.StatusOK)
			var out struct{ AuditEvents []castellan.AuditEvent }
			resp.decode(t, &out)
			return len(out.AuditEvents)
		}
		since := p.CreatedAt.Add(1800e9).Format("2006-01-02T15:04:05Z")
		for query, want := range map[string]int{
			"":                                   3, // bootstrap, create, delete
			"target=" + p.ID:                     2,
			"target_type=project":                2,
			"actor=" + e.acme.OwnerUserID:        1,
			"action=organizations:DeleteProject": 1,
			"since=" + since:                     1,
			"until=" + since:                     2,
			"page_size=1":                        1,
		} {
			if got := count(query); got != want {
				t.Errorf("?%s: got %d events, want %d", query, got, want)
			}
		}
		// Another organization's log holds none of it.
		resp := e.do(t, request{method: "GET", path: "/v1/organizations/" + e.globex.OrganizationID + "/audit-events", token: e.globex.Token})
		var other struct{ AuditEvents []castellan.AuditEvent }
		resp.decode(t, &other)
		if len(other.AuditEvents) != 1 || other.AuditEvents[0].Action != "organizations:BootstrapOrganization" {
			t.Fatalf("got %s", resp.body)
		}
	})
}
