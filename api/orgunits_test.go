package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, orgUnitRows) }

func (f *fixture) newOU(parent string) string {
	if parent == "" {
		parent = f.org
	}
	ou, err := f.e.db.Services().OrgUnits.CreateOrgUnit(system, f.org, castellan.OrgUnitCreate{ParentID: parent, Name: f.unique("ou")})
	if err != nil {
		f.t.Fatal(err)
	}
	return ou.ID
}

func orgUnitRows() []matrixRow {
	ous := func(f *fixture) string { return f.orgPath() + "/ous" }
	return []matrixRow{
		{op: "create-ou", build: func(f *fixture) request {
			return request{method: "POST", path: ous(f), body: map[string]string{"parentId": f.org, "name": f.unique("ou")}}
		}, allowed: orgManagers},
		{op: "list-ous", build: func(f *fixture) request { return request{method: "GET", path: ous(f)} }, allowed: orgReaders},
		{op: "list-ous", variant: "under an OU", build: func(f *fixture) request {
			return request{method: "GET", path: ous(f) + "?parent_id=" + f.newOU("")}
		}, allowed: orgReaders},
		{op: "get-ou", build: func(f *fixture) request { return request{method: "GET", path: ous(f) + "/" + f.newOU("")} }, allowed: orgReaders},
		{op: "update-ou", build: func(f *fixture) request {
			return request{method: "PATCH", path: ous(f) + "/" + f.newOU(""), body: map[string]string{"description": f.unique("d")}}
		}, allowed: orgManagers},
		{op: "move-ou", build: func(f *fixture) request {
			return request{method: "POST", path: ous(f) + "/" + f.newOU("") + ":move", body: map[string]string{"parentId": f.newOU("")}}
		}, allowed: orgManagers},
		{op: "delete-ou", build: func(f *fixture) request { return request{method: "DELETE", path: ous(f) + "/" + f.newOU("")} }, allowed: orgManagers},
		{op: "create-project", variant: "under an OU", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/projects", body: map[string]string{"parentId": f.newOU(""), "name": f.unique("p")}}
		}, allowed: orgManagers},
		{op: "move-project", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/projects/" + f.newProject() + ":move", body: map[string]string{"parentId": f.newOU("")}}
		}, allowed: orgManagers},
		{op: "get-tree", build: func(f *fixture) request { return request{method: "GET", path: f.orgPath() + "/tree"} }, allowed: orgReaders},
		{op: "get-node", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/nodes/" + f.project}
		}, allowed: orgReaders},
		{op: "list-node-children", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/nodes/" + f.org + "/children"}
		}, allowed: orgReaders},
	}
}

// TestOrgUnitsAPI walks an OU through its life over HTTP: create under
// the root and under an OU, list, read, rename, move and delete, with
// every refusal's status, code and field, and nothing changed by it.
func TestOrgUnitsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		token, org := e.acme.Token, e.acme.OrganizationID
		ous := "/v1/organizations/" + org + "/ous"
		create := func(parent, name string) castellan.OrgUnit {
			t.Helper()
			resp := e.do(t, request{method: "POST", path: ous, token: token, body: map[string]string{"parentId": parent, "name": name}})
			wantStatus(t, resp, http.StatusCreated)
			var ou castellan.OrgUnit
			resp.decode(t, &ou)
			return ou
		}
		sales := create(org, "Sales")
		europe := create(sales.ID, "Europe")
		if sales.Depth != 1 || europe.Depth != 2 || europe.ParentID != sales.ID || len(europe.Path) != 2 || europe.Path[1].ID != sales.ID {
			t.Fatalf("got %+v and %+v", sales, europe)
		}
		resp := e.do(t, request{method: "GET", path: ous + "?parent_id=" + sales.ID, token: token})
		wantStatus(t, resp, http.StatusOK)
		var list struct{ OrgUnits []castellan.OrgUnit }
		resp.decode(t, &list)
		if len(list.OrgUnits) != 1 || list.OrgUnits[0].ID != europe.ID {
			t.Fatalf("got %s", resp.body)
		}
		resp = e.do(t, request{method: "PATCH", path: ous + "/" + europe.ID, token: token, body: map[string]string{"name": "EMEA", "description": "east and west"}})
		wantStatus(t, resp, http.StatusOK)
		var renamed castellan.OrgUnit
		resp.decode(t, &renamed)
		if renamed.Name != "EMEA" || renamed.Description != "east and west" || renamed.Revision <= europe.Revision {
			t.Fatalf("got %+v", renamed)
		}

		// Bad input: 400 naming the field and rule.
		p := wantRefused(t, e, request{method: "POST", path: ous, token: token, body: map[string]string{"parentId": "x", "name": "Ok"}}, http.StatusBadRequest, castellan.CodeInvalidID)
		wantFieldError(t, p, "body.parentId", "format")
		p = wantRefused(t, e, request{method: "POST", path: ous, token: token, body: map[string]any{"parentId": org, "name": "Ok", "policyIds": []string{"not a policy"}}}, http.StatusBadRequest, castellan.CodeInvalidField)
		wantFieldError(t, p, "body.policyIds[0]", "format")
		p = wantRefused(t, e, request{method: "PATCH", path: ous + "/" + sales.ID, token: token, body: map[string]string{"description": strings.Repeat("d", castellan.MaxLongDescriptionLength+1)}}, http.StatusBadRequest, castellan.CodeInvalidField)
		wantFieldError(t, p, "body.description", "maxLength")
		p = wantRefused(t, e, request{method: "GET", path: ous + "/x", token: token}, http.StatusBadRequest, castellan.CodeInvalidID)
		wantFieldError(t, p, "path.ou", "format")
		p = wantRefused(t, e, request{method: "GET", path: ous + "?parent_id=x", token: token}, http.StatusBadRequest, castellan.CodeInvalidID)
		wantFieldError(t, p, "query.parent_id", "format")
		p = wantRefused(t, e, request{method: "POST", path: ous + "/" + sales.ID + ":move", token: token, body: map[string]string{"parentId": "x"}}, http.StatusBadRequest, castellan.CodeInvalidID)
		wantFieldError(t, p, "body.parentId", "format")
		p = wantRefused(t, e, request{method: "POST", path: ous, token: token, body: map[string]any{"parentId": org, "name": "Ok", "policyIds": []string{castellan.FullAccessPolicyID, "0190d3a8-0000-7000-8000-000000000000"}}}, http.StatusNotFound, castellan.CodeControlPolicyNotFound)
		wantFieldError(t, p, "body.policyIds[1]", "exists")

		// Conflicts and preconditions: 409 and 412 with their codes.
		wantRefused(t, e, request{method: "POST", path: ous, token: token, body: map[string]string{"parentId": org, "name": "Sales"}}, http.StatusConflict, castellan.CodeOUNameTaken)
		emeaAtRoot := create(org, "EMEA")
		wantRefused(t, e, request{method: "POST", path: ous + "/" + europe.ID + ":move", token: token, body: map[string]string{"parentId": org}}, http.StatusConflict, castellan.CodeOUNameTaken)
		wantRefused(t, e, request{method: "POST", path: ous + "/" + sales.ID + ":move", token: token, body: map[string]string{"parentId": europe.ID}}, http.StatusPreconditionFailed, castellan.CodeOUCycle)
		wantRefused(t, e, request{method: "DELETE", path: ous + "/" + sales.ID, token: token}, http.StatusPreconditionFailed, castellan.CodeOUNotEmpty)
		deepest := europe.ID
		for _, name := range []string{"L3", "L4", "L5"} {
			deepest = create(deepest, name).ID
		}
		wantRefused(t, e, request{method: "POST", path: ous, token: token, body: map[string]string{"parentId": deepest, "name": "L6"}}, http.StatusPreconditionFailed, castellan.CodeOUTooDeep)
		// Sales holds four levels; under EMEA (depth 1) its deepest would be 6.
		wantRefused(t, e, request{method: "POST", path: ous + "/" + sales.ID + ":move", token: token, body: map[string]string{"parentId": emeaAtRoot.ID}}, http.StatusPreconditionFailed, castellan.CodeOUTooDeep)
		project := e.do(t, request{method: "POST", path: "/v1/organizations/" + org + "/projects", token: token, body: map[string]string{"name": "web"}})
		var web castellan.Project
		project.decode(t, &web)
		p = wantRefused(t, e, request{method: "POST", path: ous + "/" + emeaAtRoot.ID + ":move", token: token, body: map[string]string{"parentId": web.ID}}, http.StatusBadRequest, castellan.CodeInvalidParent)
		wantFieldError(t, p, "body.parentId", "parentKind")

		// A move and a deletion that may.
		resp = e.do(t, request{method: "POST", path: ous + "/" + emeaAtRoot.ID + ":move", token: token, body: map[string]string{"parentId": sales.ID}})
		wantStatus(t, resp, http.StatusConflict) // Sales already holds an EMEA
		resp = e.do(t, request{method: "POST", path: ous + "/" + deepest + ":move", token: token, body: map[string]string{"parentId": emeaAtRoot.ID}})
		wantStatus(t, resp, http.StatusOK)
		var moved castellan.OrgUnit
		resp.decode(t, &moved)
		if moved.ParentID != emeaAtRoot.ID || moved.Depth != 2 || len(moved.Path) != 2 || moved.Path[1].ID != emeaAtRoot.ID {
			t.Fatalf("got %+v", moved)
		}
		resp = e.do(t, request{method: "DELETE", path: ous + "/" + moved.ID, token: token})
		wantStatus(t, resp, http.StatusOK)
		wantRefused(t, e, request{method: "GET", path: ous + "/" + moved.ID, token: token}, http.StatusNotFound, castellan.CodeOUNotFound)
	})
}

// TestOrgUnitsAPICrossOrganization: another organization's OUs and nodes
// are not found through every endpoint, and asking changes nothing.
func TestOrgUnitsAPICrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		acme, globex := e.acme.OrganizationID, e.globex.OrganizationID
		s := e.db.Services()
		mine, err := s.OrgUnits.CreateOrgUnit(system, acme, castellan.OrgUnitCreate{ParentID: acme, Name: "Mine"})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := s.OrgUnits.CreateOrgUnit(system, globex, castellan.OrgUnitCreate{ParentID: globex, Name: "Theirs"})
		if err != nil {
			t.Fatal(err)
		}
		project, err := s.Projects.CreateProject(system, acme, castellan.ProjectCreate{Name: "web"})
		if err != nil {
			t.Fatal(err)
		}
		org := "/v1/organizations/" + acme
		for _, tc := range []struct {
			req  request
			code string
		}{
			{request{method: "GET", path: org + "/ous/" + theirs.ID}, castellan.CodeOUNotFound},
			{request{method: "PATCH", path: org + "/ous/" + theirs.ID, body: map[string]string{"name": "x"}}, castellan.CodeOUNotFound},
			{request{method: "DELETE", path: org + "/ous/" + theirs.ID}, castellan.CodeOUNotFound},
			{request{method: "POST", path: org + "/ous/" + theirs.ID + ":move", body: map[string]string{"parentId": acme}}, castellan.CodeOUNotFound},
			{request{method: "POST", path: org + "/ous/" + mine.ID + ":move", body: map[string]string{"parentId": theirs.ID}}, castellan.CodeNodeNotFound},
			{request{method: "POST", path: org + "/ous", body: map[string]string{"parentId": theirs.ID, "name": "x"}}, castellan.CodeNodeNotFound},
			{request{method: "GET", path: org + "/ous?parent_id=" + theirs.ID}, castellan.CodeNodeNotFound},
			{request{method: "POST", path: org + "/projects", body: map[string]string{"parentId": theirs.ID, "name": "x"}}, castellan.CodeNodeNotFound},
			{request{method: "POST", path: org + "/projects/" + project.ID + ":move", body: map[string]string{"parentId": theirs.ID}}, castellan.CodeNodeNotFound},
			{request{method: "GET", path: org + "/tree?root_id=" + theirs.ID}, castellan.CodeNodeNotFound},
			{request{method: "GET", path: org + "/nodes/" + theirs.ID}, castellan.CodeNodeNotFound},
			{request{method: "GET", path: org + "/nodes/" + globex}, castellan.CodeNodeNotFound},
			{request{method: "GET", path: org + "/nodes/" + theirs.ID + "/children"}, castellan.CodeNodeNotFound},
		} {
			for name, token := range map[string]string{"owner": e.acme.Token, "operator": e.operator} {
				tc.req.token = token
				t.Run(tc.req.method+" "+tc.req.path+" as "+name, func(t *testing.T) {
					wantRefused(t, e, tc.req, http.StatusNotFound, tc.code)
				})
			}
		}
		// Globex's owner learns nothing of Acme's OU.
		wantRefused(t, e, request{method: "GET", path: org + "/ous/" + mine.ID, token: e.globex.Token}, http.StatusNotFound, castellan.CodeOrgNotFound)
	})
}
