package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestHierarchyAPI reads root ─ Sales ─ {Europe, account ─ project} over
// HTTP: the tree page by page and by kind, a node's details with its path
// and a node's sub-items; a project moves between the root, the OU and
// the account.
func TestHierarchyAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		token, orgID := e.acme.Token, e.acme.OrganizationID
		org := "/v1/organizations/" + orgID
		s := e.db.Services()
		sales, err := s.OrgUnits.CreateOrgUnit(system, orgID, castellan.OrgUnitCreate{ParentID: orgID, Name: "Sales"})
		if err != nil {
			t.Fatal(err)
		}
		europe, err := s.OrgUnits.CreateOrgUnit(system, orgID, castellan.OrgUnitCreate{ParentID: sales.ID, Name: "Europe"})
		if err != nil {
			t.Fatal(err)
		}
		acct, err := e.db.Accounts().CreateAccount(system, orgID, castellan.AccountCreate{ParentID: sales.ID, Name: "sales-prod",
			Email: "root@sales.example", EmailConfirmation: "root@sales.example", IAMRoleName: "OrgAdmin"})
		if err != nil {
			t.Fatal(err)
		}
		resp := e.do(t, request{method: "POST", path: org + "/projects", token: token, body: map[string]string{"parentId": acct.ID, "name": "web"}})
		wantStatus(t, resp, http.StatusCreated)
		var web castellan.Project
		resp.decode(t, &web)
		if web.ParentID != acct.ID {
			t.Fatalf("got %+v", web)
		}

		type nodes struct {
			Nodes         []castellan.Node
			NextPageToken string
		}
		ids := func(path string) []string {
			t.Helper()
			var out []string
			token := ""
			for {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				resp := e.do(t, request{method: "GET", path: path + sep + "page_size=2&page_token=" + token, token: e.acme.Token})
				wantStatus(t, resp, http.StatusOK)
				var page nodes
				resp.decode(t, &page)
				for _, n := range page.Nodes {
					out = append(out, n.ID)
				}
				if page.NextPageToken == "" {
					return out
				}
				token = page.NextPageToken
			}
		}
		wantIDs := func(got []string, want ...string) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("got %v, want %v", got, want)
				}
			}
		}
		wantIDs(ids(org+"/tree"), orgID, sales.ID, europe.ID, acct.ID)
		wantIDs(ids(org+"/tree?kinds=ou,project"), sales.ID, europe.ID, web.ID)
		wantIDs(ids(org+"/tree?root_id="+sales.ID), sales.ID, europe.ID, acct.ID)
		wantIDs(ids(org+"/nodes/"+sales.ID+"/children"), europe.ID, acct.ID)
		wantIDs(ids(org+"/nodes/"+acct.ID+"/children?kinds=project"), web.ID)

		resp = e.do(t, request{method: "GET", path: org + "/tree", token: token})
		var tree nodes
		resp.decode(t, &tree)
		a := tree.Nodes[3]
		if a.Kind != castellan.NodeAccount || a.Email != "root@sales.example" || a.Depth != 2 || a.JoinedAt.IsZero() || a.CreatedAt.IsZero() {
			t.Fatalf("got account node %+v", a)
		}

		resp = e.do(t, request{method: "GET", path: org + "/nodes/" + web.ID, token: token})
		wantStatus(t, resp, http.StatusOK)
		var details struct {
			Node castellan.Node
			Path []castellan.NodeRef
		}
		resp.decode(t, &details)
		if details.Node.ID != web.ID || details.Node.Depth != 3 || len(details.Path) != 3 ||
			details.Path[0].ID != orgID || details.Path[1].ID != sales.ID || details.Path[2].ID != acct.ID {
			t.Fatalf("got %s", resp.body)
		}

		p := wantRefused(t, e, request{method: "GET", path: org + "/tree?kinds=ou,galaxy", token: token}, http.StatusBadRequest, castellan.CodeInvalidField)
		wantFieldError(t, p, "query.kinds[1]", "enum")
		p = wantRefused(t, e, request{method: "GET", path: org + "/nodes/x/children", token: token}, http.StatusBadRequest, castellan.CodeInvalidID)
		wantFieldError(t, p, "path.node", "format")
		p = wantRefused(t, e, request{method: "GET", path: org + "/tree?root_id=x", token: token}, http.StatusBadRequest, castellan.CodeInvalidID)
		wantFieldError(t, p, "query.root_id", "format")

		// The project moves to the root, to the OU and back to the account.
		move := func(parent string) castellan.Project {
			t.Helper()
			resp := e.do(t, request{method: "POST", path: org + "/projects/" + web.ID + ":move", token: token, body: map[string]string{"parentId": parent}})
			wantStatus(t, resp, http.StatusOK)
			var p castellan.Project
			resp.decode(t, &p)
			if p.ParentID != parent {
				t.Fatalf("got %+v, want it under %s", p, parent)
			}
			return p
		}
		move(orgID)
		move(sales.ID)
		move(acct.ID)
		wantIDs(ids(org+"/nodes/"+acct.ID+"/children?kinds=project"), web.ID)
		p = wantRefused(t, e, request{method: "POST", path: org + "/projects/" + web.ID + ":move", token: token,
			body: map[string]string{"parentId": web.ID}}, http.StatusBadRequest, castellan.CodeInvalidParent)
		wantFieldError(t, p, "body.parentId", "parentKind")
		wantRefused(t, e, request{method: "POST", path: org + "/projects", token: token,
			body: map[string]string{"parentId": "0190d3a8-0000-7000-8000-000000000000", "name": "x"}}, http.StatusNotFound, castellan.CodeNodeNotFound)
		if _, err := s.Projects.CreateProject(system, orgID, castellan.ProjectCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, e, request{method: "POST", path: org + "/projects/" + web.ID + ":move", token: token,
			body: map[string]string{"parentId": orgID}}, http.StatusConflict, castellan.CodeProjectNameTaken)
	})
}
