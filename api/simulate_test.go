package api_test

import (
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, simulateRows) }

// newPolicy creates a custom control policy of Acme, as the system.
func (f *fixture) newPolicy(document string) string {
	p, err := f.e.db.Services().ControlPolicies.CreateControlPolicy(system, f.org, castellan.ControlPolicyCreate{Name: f.unique("policy"), Document: document})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ID
}

func simulatePath(org, policy string) string {
	return "/v1/organizations/" + org + "/control-policies/" + policy + ":simulate"
}

func simulateRows() []matrixRow {
	return []matrixRow{
		{op: "simulate-control-policy", build: func(f *fixture) request {
			return request{method: "POST", path: simulatePath(f.org, f.newPolicy(`forbid (principal, action, resource);`)),
				// A new, empty OU: who may ask is the question here, not
				// what the whole organization would lose (slow).
				body: map[string]any{"operation": "attach", "targetId": f.newOU(f.org)}}
		}, allowed: orgManagers, verify: func(t *testing.T, _ string, resp *response) {
			var out castellan.SimulationResult
			resp.decode(t, &out)
			if out.Counts == nil || out.Losses == nil {
				t.Fatalf("got %s, want counts and losses as lists", resp.body)
			}
		}},
	}
}

// TestSimulateControlPolicyAPI simulates a guardrail on an account
// through HTTP, pages through the answer, checks each refusal with its
// code and field, another organization's IDs as not found, and that the
// decision API then names the policy that refuses.
func TestSimulateControlPolicyAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		raw := e.db.Services()
		acct, err := e.db.Accounts().CreateAccount(system, org, castellan.AccountCreate{ParentID: org, Name: "prod",
			Email: "root@prod.example", EmailConfirmation: "root@prod.example", IAMRoleName: "OrgAdmin"})
		if err != nil {
			t.Fatal(err)
		}
		user, err := raw.Users.CreateUser(system, org, castellan.UserCreate{Email: "dev@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := raw.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member", Scope: "account/" + acct.ID,
			Subject: castellan.Subject{Type: castellan.SubjectUser, ID: user.ID}}}); err != nil {
			t.Fatal(err)
		}
		forbid, err := raw.ControlPolicies.CreateControlPolicy(system, org, castellan.ControlPolicyCreate{Name: "no compute",
			Document: `forbid (principal, action in Action::"compute:*", resource);`})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := raw.ControlPolicies.CreateControlPolicy(system, e.globex.OrganizationID, castellan.ControlPolicyCreate{Name: "theirs",
			Document: `forbid (principal, action, resource);`})
		if err != nil {
			t.Fatal(err)
		}
		attach := map[string]any{"operation": "attach", "targetId": acct.ID}

		var losses []castellan.SimulationLoss
		var counts []castellan.SimulationCount
		token := ""
		for page := 0; ; page++ {
			path := simulatePath(org, forbid.ID) + "?page_size=5"
			if token != "" {
				path += "&page_token=" + token
			}
			resp := e.do(t, request{method: "POST", path: path, token: e.acme.Token, body: attach})
			if resp.status != http.StatusOK {
				t.Fatalf("page %d: got %d %s", page, resp.status, resp.body)
			}
			var out castellan.SimulationResult
			resp.decode(t, &out)
			losses, counts, token = append(losses, out.Losses...), out.Counts, out.NextPageToken
			if token == "" {
				break
			}
		}
		compute := len(raw.Catalog.Service("compute").Actions)
		// The user, the account's root user and the owner (whose grant on
		// the root reaches the account) each lose every compute action
		// on the account.
		if len(losses) != 3*compute || len(counts) != compute || counts[0].Count != 3 {
			t.Fatalf("got %d losses and counts %+v, want %d compute actions lost by three principals", len(losses), counts, compute)
		}
		lost := map[string]bool{}
		for _, l := range losses {
			lost[l.Principal.ID] = true
		}
		if !lost[user.ID] || !lost[acct.RootUserID] || !lost[e.acme.OwnerUserID] {
			t.Fatalf("got losses of %v, want the user, the root user and the owner", lost)
		}
		for _, l := range losses {
			if l.Scope != "account/"+acct.ID {
				t.Fatalf("got a loss on %s", l.Scope)
			}
		}

		for _, tc := range []struct {
			name   string
			path   string
			token  string
			body   map[string]any
			status int
			code   string
			field  string
		}{
			{"an unknown operation", simulatePath(org, forbid.ID), e.acme.Token, map[string]any{"operation": "move", "targetId": acct.ID},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.operation"},
			{"a replace without the replaced policy", simulatePath(org, forbid.ID), e.acme.Token, map[string]any{"operation": "replace", "targetId": acct.ID},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.replacedPolicyId"},
			{"a bad page token", simulatePath(org, forbid.ID) + "?page_token=nope", e.acme.Token, attach,
				http.StatusBadRequest, castellan.CodeInvalidPageToken, "query.page_token"},
			{"an unknown policy", simulatePath(org, "0190d3a8-0000-7000-8000-000000000000"), e.acme.Token, attach,
				http.StatusNotFound, castellan.CodeControlPolicyNotFound, ""},
			{"another organization's policy", simulatePath(org, theirs.ID), e.acme.Token, attach,
				http.StatusNotFound, castellan.CodeControlPolicyNotFound, ""},
			{"another organization's target", simulatePath(org, forbid.ID), e.acme.Token, map[string]any{"operation": "attach", "targetId": e.globex.OrganizationID},
				http.StatusNotFound, castellan.CodeNodeNotFound, ""},
			{"another organization's caller", simulatePath(org, forbid.ID), e.globex.Token, attach,
				http.StatusNotFound, castellan.CodeOrgNotFound, ""},
			{"an attached policy", simulatePath(org, castellan.FullAccessPolicyID), e.acme.Token, attach,
				http.StatusConflict, castellan.CodeControlPolicyAttached, ""},
			{"the last policy", simulatePath(org, castellan.FullAccessPolicyID), e.acme.Token, map[string]any{"operation": "detach", "targetId": acct.ID},
				http.StatusPreconditionFailed, castellan.CodeControlPolicyLastAttachment, ""},
			{"an unknown custom method", "/v1/organizations/" + org + "/control-policies/" + forbid.ID + ":nope", e.acme.Token, attach,
				http.StatusNotFound, castellan.CodeNotFound, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := e.do(t, request{method: "POST", path: tc.path, token: tc.token, body: tc.body})
				p := resp.problem(t)
				if resp.status != tc.status || p.Code != tc.code {
					t.Fatalf("got %d %s, want %d %s", resp.status, p.Code, tc.status, tc.code)
				}
				if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
					t.Fatalf("got errors %+v, want %s", p.Errors, tc.field)
				}
			})
		}

		// Once attached, the decision API names the policy and its node.
		if _, err := raw.ControlPolicies.AttachControlPolicy(system, org, forbid.ID, acct.ID); err != nil {
			t.Fatal(err)
		}
		check := map[string]any{
			"principal": map[string]string{"type": "user", "id": user.ID, "organizationId": org},
			"action":    "compute:StartInstance", "resource": "account/" + acct.ID,
		}
		for _, path := range []string{"/v1/authorize", "/v1/authorize:explain"} {
			resp := e.do(t, request{method: "POST", path: path, token: e.acme.Token, body: check})
			var d castellan.Decision
			resp.decode(t, &d)
			if resp.status != http.StatusOK || d.Allowed || d.Reason != castellan.ReasonPolicyForbids || d.Policy == nil ||
				d.Policy.PolicyID != forbid.ID || d.Policy.Node.ID != acct.ID {
				t.Fatalf("%s: got %d %s, want control_policy_forbids naming %s at %s", path, resp.status, resp.body, forbid.ID, acct.ID)
			}
			if path == "/v1/authorize:explain" && len(d.Matches) != 1 {
				t.Fatalf("explain: got %s, want the grant that allowed", resp.body)
			}
		}
	})
}

// TestControlPolicyContext: a guardrail's condition reads the request's
// context: a forbid unless the source IP is in the corporate range
// refuses a request from elsewhere and one without a context (its
// condition cannot be evaluated: closed), and allows one from inside; a
// context that is no Cedar record is a clear 400.
func TestControlPolicyContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		raw := e.db.Services()
		user, err := raw.Users.CreateUser(system, org, castellan.UserCreate{Email: "dev@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		ou, err := raw.OrgUnits.CreateOrgUnit(system, org, castellan.OrgUnitCreate{ParentID: org, Name: "corp"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := raw.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member", Scope: "ou/" + ou.ID,
			Subject: castellan.Subject{Type: castellan.SubjectUser, ID: user.ID}}}); err != nil {
			t.Fatal(err)
		}
		corp, err := raw.ControlPolicies.CreateControlPolicy(system, org, castellan.ControlPolicyCreate{Name: "corporate network",
			Document: `forbid (principal, action, resource) unless { context.sourceIp.isInRange(ip("10.0.0.0/8")) };`})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ControlPolicies.AttachControlPolicy(system, org, corp.ID, ou.ID); err != nil {
			t.Fatal(err)
		}
		ask := func(ctx any) *response {
			body := map[string]any{
				"principal": map[string]string{"type": "user", "id": user.ID, "organizationId": org},
				"action":    "compute:StartInstance", "resource": "ou/" + ou.ID,
			}
			if ctx != nil {
				body["context"] = ctx
			}
			return e.do(t, request{method: "POST", path: "/v1/authorize", token: e.acme.Token, body: body})
		}
		ip := func(s string) map[string]any {
			return map[string]any{"sourceIp": map[string]any{"__extn": map[string]string{"fn": "ip", "arg": s}}}
		}
		// Twice each, in turns: no verdict is kept from one for another.
		for range 2 {
			for _, tc := range []struct {
				name    string
				ctx     any
				allowed bool
			}{
				{"inside", ip("10.1.2.3"), true},
				{"outside", ip("192.0.2.1"), false},
				{"no context", nil, false},
			} {
				resp := ask(tc.ctx)
				var d castellan.Decision
				resp.decode(t, &d)
				if resp.status != http.StatusOK || d.Allowed != tc.allowed || (!tc.allowed && (d.Reason != castellan.ReasonPolicyForbids || d.Policy == nil || d.Policy.PolicyID != corp.ID)) {
					t.Fatalf("%s: got %d %s, want allowed %v (else refused by %s)", tc.name, resp.status, resp.body, tc.allowed, corp.ID)
				}
			}
		}
		resp := ask(map[string]any{"ratio": 0.5})
		p := resp.problem(t)
		if resp.status != http.StatusBadRequest || p.Code != castellan.CodeInvalidField || len(p.Errors) == 0 || p.Errors[0].Field != "body.context" {
			t.Fatalf("a context with a fraction: got %d %s, want 400 naming context", resp.status, resp.body)
		}
	})
}
