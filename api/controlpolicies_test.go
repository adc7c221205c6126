package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// customControlPolicy creates a custom policy as the system.
func (f *fixture) customControlPolicy() string {
	p, err := f.e.db.Services().ControlPolicies.CreateControlPolicy(system, f.org, castellan.ControlPolicyCreate{
		Name: f.unique("cp"), Document: `forbid (principal, action == Action::"compute:StopInstance", resource);`})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ID
}

// policyOU creates an OU under the root, with FullAccess, as the system:
// a target of its own for each attachment a row makes.
func (f *fixture) policyOU() string {
	ou, err := f.e.db.OrgUnits().CreateOrgUnit(system, f.org, castellan.OrgUnitCreate{ParentID: f.org, Name: f.unique("ou")})
	if err != nil {
		f.t.Fatal(err)
	}
	return ou.ID
}

func (f *fixture) attachAsSystem(policy, node string) {
	if _, err := f.e.db.Services().ControlPolicies.AttachControlPolicy(system, f.org, policy, node); err != nil {
		f.t.Fatal(err)
	}
}

func controlPolicyRows() []matrixRow {
	cp := func(f *fixture) string { return f.orgPath() + "/control-policies" }
	return []matrixRow{
		{op: "create-control-policy", build: func(f *fixture) request {
			return request{method: "POST", path: cp(f), body: map[string]string{"name": f.unique("cp"), "document": "permit (principal, action, resource);"}}
		}, allowed: orgManagers},
		{op: "list-control-policies", build: func(f *fixture) request { return request{method: "GET", path: cp(f)} }, allowed: orgReaders},
		{op: "get-control-policy", build: func(f *fixture) request {
			return request{method: "GET", path: cp(f) + "/" + f.customControlPolicy()}
		}, allowed: orgReaders},
		{op: "update-control-policy", build: func(f *fixture) request {
			return request{method: "PATCH", path: cp(f) + "/" + f.customControlPolicy(), body: map[string]string{"description": f.unique("d")}}
		}, allowed: orgManagers},
		{op: "delete-control-policy", build: func(f *fixture) request {
			return request{method: "DELETE", path: cp(f) + "/" + f.customControlPolicy()}
		}, allowed: orgManagers},
		{op: "list-control-policy-targets", build: func(f *fixture) request {
			return request{method: "GET", path: cp(f) + "/" + castellan.FullAccessPolicyID + "/targets"}
		}, allowed: orgReaders},
		{op: "attach-control-policy", build: func(f *fixture) request {
			return request{method: "POST", path: cp(f) + "/" + f.customControlPolicy() + ":attach", body: map[string]string{"nodeId": f.policyOU()}}
		}, allowed: orgManagers},
		{op: "detach-control-policy", build: func(f *fixture) request {
			policy, ou := f.customControlPolicy(), f.policyOU()
			f.attachAsSystem(policy, ou)
			return request{method: "POST", path: cp(f) + "/" + policy + ":detach", body: map[string]string{"nodeId": ou}}
		}, allowed: orgManagers},
		{op: "list-node-control-policies", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/nodes/" + f.org + "/control-policies"}
		}, allowed: orgReaders},
	}
}

func init() { matrixRowSets = append(matrixRowSets, controlPolicyRows) }

type controlPolicyList struct {
	ControlPolicies []castellan.ControlPolicy
	NextPageToken   string
}

func TestControlPolicyAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		base := f.orgPath() + "/control-policies"
		call := func(method, path string, body any) *response {
			t.Helper()
			return e.do(t, request{method: method, path: path, token: e.acme.Token, body: body})
		}
		// refused sends a request that must fail with status and code
		// and leave the store as it was.
		refused := func(status int, code string, method, path string, body any) castellan.Error {
			t.Helper()
			p := e.refused(t, request{method: method, path: path, token: e.acme.Token, body: body}, status, code)
			return castellan.Error{Code: p.Code, Fields: p.Errors}
		}

		resp := call("POST", base, map[string]string{"name": "no-stop", "description": "keep instances running",
			"document": `forbid (principal, action == Action::"compute:StopInstance", resource);`})
		wantStatus(t, resp, http.StatusCreated)
		var p castellan.ControlPolicy
		resp.decode(t, &p)
		if p.Name != "no-stop" || p.Type != castellan.ControlPolicyCustom || p.OrganizationID != f.org || p.UpdatedAt.IsZero() {
			t.Fatalf("created %+v", p)
		}

		t.Run("InvalidDocument", func(t *testing.T) {
			err := refused(http.StatusBadRequest, castellan.CodeControlPolicyInvalid, "POST", base, map[string]string{"name": "bad",
				"document": "permit (principal, action in [Action::\"compute:Fly\", Action::\"iam:*\"], resource)\nwhen { resource is iam::robot };"})
			want := []string{
				"body.document unknownAction line 1, column 31:",
				"body.document unknownEntityType line 2, column 20:",
			}
			if len(err.Fields) != len(want) {
				t.Fatalf("got %+v, want %q", err.Fields, want)
			}
			for i, f := range err.Fields {
				if got := f.Field + " " + f.Rule + " " + f.Message; !strings.HasPrefix(got, want[i]) {
					t.Errorf("got %q, want prefix %q", got, want[i])
				}
			}
			err = refused(http.StatusBadRequest, castellan.CodeControlPolicyInvalid, "PATCH", base+"/"+p.ID, map[string]string{"document": "permit (principal,"})
			if len(err.Fields) != 1 || err.Fields[0].Field != "body.document" || err.Fields[0].Rule != "syntax" || !strings.HasPrefix(err.Fields[0].Message, "line 1, column ") {
				t.Fatalf("got %+v", err.Fields)
			}
		})
		t.Run("InvalidName", func(t *testing.T) {
			err := refused(http.StatusBadRequest, castellan.CodeInvalidField, "POST", base, map[string]string{"name": castellan.FullAccessPolicyID, "document": "permit (principal, action, resource);"})
			if len(err.Fields) != 1 || err.Fields[0].Field != "body.name" || err.Fields[0].Rule != "reserved" {
				t.Fatalf("got %+v", err.Fields)
			}
			err = refused(http.StatusBadRequest, castellan.CodeInvalidField, "POST", base, map[string]string{"name": strings.Repeat("n", castellan.MaxControlPolicyNameLength+1), "document": "permit (principal, action, resource);"})
			if len(err.Fields) != 1 || err.Fields[0].Field != "body.name" {
				t.Fatalf("got %+v", err.Fields)
			}
		})
		t.Run("NameTaken", func(t *testing.T) {
			refused(http.StatusConflict, castellan.CodeControlPolicyNameTaken, "POST", base, map[string]string{"name": "no-stop", "document": "permit (principal, action, resource);"})
		})
		t.Run("System", func(t *testing.T) {
			resp := call("GET", base+"/"+castellan.FullAccessPolicyID, nil)
			wantStatus(t, resp, http.StatusOK)
			var full castellan.ControlPolicy
			resp.decode(t, &full)
			if full.Type != castellan.ControlPolicySystem || full.Name != "FullAccess" {
				t.Fatalf("got %+v", full)
			}
			refused(http.StatusBadRequest, castellan.CodeControlPolicySystem, "PATCH", base+"/"+castellan.FullAccessPolicyID, map[string]string{"description": "x"})
			refused(http.StatusBadRequest, castellan.CodeControlPolicySystem, "DELETE", base+"/"+castellan.FullAccessPolicyID, nil)
		})
		t.Run("List", func(t *testing.T) {
			for query, want := range map[string]string{"": "FullAccess no-stop", "?type=system": "FullAccess", "?type=custom": "no-stop"} {
				resp := call("GET", base+query, nil)
				wantStatus(t, resp, http.StatusOK)
				var list controlPolicyList
				resp.decode(t, &list)
				var names []string
				for _, p := range list.ControlPolicies {
					names = append(names, p.Name)
				}
				if got := strings.Join(names, " "); got != want {
					t.Errorf("%q: got %q, want %q", query, got, want)
				}
			}
			wantStatus(t, call("GET", base+"?type=other", nil), http.StatusBadRequest)
		})

		ou := f.policyOU()
		t.Run("AttachDetach", func(t *testing.T) {
			e.clock.Advance(60e9) // the tab lists a node's policies by attachment time
			resp := call("POST", base+"/"+p.ID+":attach", map[string]string{"nodeId": ou})
			wantStatus(t, resp, http.StatusOK)
			var a castellan.PolicyAttachment
			resp.decode(t, &a)
			if a.Policy.ID != p.ID || a.Node.ID != ou || a.Method != castellan.AttachedDirect {
				t.Fatalf("attached %+v", a)
			}
			refused(http.StatusConflict, castellan.CodeControlPolicyAttached, "POST", base+"/"+p.ID+":attach", map[string]string{"nodeId": ou})
			refused(http.StatusPreconditionFailed, castellan.CodeControlPolicyInUse, "DELETE", base+"/"+p.ID, nil)

			resp = call("GET", base+"/"+p.ID+"/targets", nil)
			wantStatus(t, resp, http.StatusOK)
			var targets struct{ Targets []castellan.NodeRef }
			resp.decode(t, &targets)
			if len(targets.Targets) != 1 || targets.Targets[0].ID != ou || targets.Targets[0].Kind != castellan.NodeOU {
				t.Fatalf("targets %+v", targets)
			}

			resp = call("GET", f.orgPath()+"/nodes/"+ou+"/control-policies", nil)
			wantStatus(t, resp, http.StatusOK)
			var tab struct{ ControlPolicies []castellan.PolicyAttachment }
			resp.decode(t, &tab)
			var got []string
			for _, a := range tab.ControlPolicies {
				got = append(got, a.Policy.Name+"/"+string(a.Method)+"/"+string(a.Node.Kind))
			}
			if strings.Join(got, " ") != "FullAccess/direct/ou no-stop/direct/ou FullAccess/inherited/root" {
				t.Fatalf("policies tab %q", got)
			}

			resp = call("POST", base+"/"+castellan.FullAccessPolicyID+":detach", map[string]string{"nodeId": ou})
			wantStatus(t, resp, http.StatusOK)
			refused(http.StatusPreconditionFailed, castellan.CodeControlPolicyLastAttachment, "POST", base+"/"+p.ID+":detach", map[string]string{"nodeId": ou})
			refused(http.StatusNotFound, castellan.CodeControlPolicyNotAttached, "POST", base+"/"+castellan.FullAccessPolicyID+":detach", map[string]string{"nodeId": ou})
			project := f.newProject()
			refused(http.StatusBadRequest, castellan.CodeControlPolicyInvalidTarget, "POST", base+"/"+p.ID+":attach", map[string]string{"nodeId": project})
			// Fill the OU up to the limit, then one more.
			for n := 1; n < castellan.MaxPoliciesPerTarget; n++ {
				f.attachAsSystem(f.customControlPolicy(), ou)
			}
			refused(http.StatusPreconditionFailed, castellan.CodeControlPolicyTooMany, "POST", base+"/"+castellan.FullAccessPolicyID+":attach", map[string]string{"nodeId": ou})
		})
		t.Run("UnknownCustomMethod", func(t *testing.T) {
			refused(http.StatusNotFound, castellan.CodeNotFound, "POST", base+"/"+p.ID+":explode", map[string]string{"nodeId": ou})
		})
		t.Run("UpdateDelete", func(t *testing.T) {
			other := f.customControlPolicy()
			resp := call("PATCH", base+"/"+other, map[string]string{"name": "renamed", "document": "permit (principal, action, resource is s3e::bucket);"})
			wantStatus(t, resp, http.StatusOK)
			var u castellan.ControlPolicy
			resp.decode(t, &u)
			if u.Name != "renamed" || u.Document != "permit (principal, action, resource is s3e::bucket);" {
				t.Fatalf("updated %+v", u)
			}
			refused(http.StatusConflict, castellan.CodeControlPolicyNameTaken, "PATCH", base+"/"+other, map[string]string{"name": "no-stop"})
			wantStatus(t, call("DELETE", base+"/"+other, nil), http.StatusOK)
			refused(http.StatusNotFound, castellan.CodeControlPolicyNotFound, "GET", base+"/"+other, nil)
		})
		t.Run("CrossOrganization", func(t *testing.T) {
			// Globex's owner names Acme's policy and node through
			// Globex: not found, and nothing changes.
			g := "/v1/organizations/" + e.globex.OrganizationID
			other := func(status int, code, method, path string, body any) {
				t.Helper()
				e.refused(t, request{method: method, path: path, token: e.globex.Token, body: body}, status, code)
			}
			gp := g + "/control-policies/" + p.ID
			other(http.StatusNotFound, castellan.CodeControlPolicyNotFound, "GET", gp, nil)
			other(http.StatusNotFound, castellan.CodeControlPolicyNotFound, "PATCH", gp, map[string]string{"description": "x"})
			other(http.StatusNotFound, castellan.CodeControlPolicyNotFound, "DELETE", gp, nil)
			other(http.StatusNotFound, castellan.CodeControlPolicyNotFound, "GET", gp+"/targets", nil)
			other(http.StatusNotFound, castellan.CodeControlPolicyNotFound, "POST", gp+":attach", map[string]string{"nodeId": e.globex.OrganizationID})
			other(http.StatusNotFound, castellan.CodeNodeNotFound, "POST", g+"/control-policies/FullAccess:attach", map[string]string{"nodeId": ou})
			other(http.StatusNotFound, castellan.CodeNodeNotFound, "POST", g+"/control-policies/FullAccess:detach", map[string]string{"nodeId": ou})
			other(http.StatusNotFound, castellan.CodeNodeNotFound, "GET", g+"/nodes/"+ou+"/control-policies", nil)
			// And through Acme's own paths, Globex's owner is a stranger.
			a := base + "/" + p.ID
			other(http.StatusNotFound, castellan.CodeOrgNotFound, "GET", a, nil)
			other(http.StatusNotFound, castellan.CodeOrgNotFound, "POST", a+":attach", map[string]string{"nodeId": ou})
			other(http.StatusNotFound, castellan.CodeOrgNotFound, "GET", f.orgPath()+"/nodes/"+ou+"/control-policies", nil)
		})
	})
}
