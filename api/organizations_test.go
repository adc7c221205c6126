package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func TestOrganizationsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		resp := e.do(t, request{method: "POST", path: "/v1/organizations", token: e.operator, body: map[string]string{"name": "Initech", "description": "TPS reports"}})
		wantStatus(t, resp, http.StatusCreated)
		var org castellan.Organization
		resp.decode(t, &org)
		if org.Name != "Initech" || org.Description != "TPS reports" || !castellan.ValidID(org.ID) || org.Revision == 0 {
			t.Fatalf("got %+v", org)
		}

		names := func(token string) []string {
			t.Helper()
			resp := e.do(t, request{method: "GET", path: "/v1/organizations", token: token})
			wantStatus(t, resp, http.StatusOK)
			var list struct{ Organizations []castellan.Organization }
			resp.decode(t, &list)
			var out []string
			for _, o := range list.Organizations {
				out = append(out, o.Name)
			}
			return out
		}
		if got := names(e.operator); len(got) != 3 || got[0] != "Acme" || got[1] != "Globex" || got[2] != "Initech" {
			t.Fatalf("operator sees %v, want [Acme Globex Initech]", got)
		}
		if got := names(e.acme.Token); len(got) != 1 || got[0] != "Acme" {
			t.Fatalf("Acme's owner sees %v, want [Acme]", got)
		}

		// An owner may describe its own organization and require a second
		// factor of its users; names are unique across the installation,
		// so only the operator renames. Both changes are audited.
		acme := "/v1/organizations/" + e.acme.OrganizationID
		resp = e.do(t, request{method: "PATCH", path: acme, token: e.acme.Token, body: map[string]any{"description": "rockets", "mfaRequired": true}})
		wantStatus(t, resp, http.StatusOK)
		resp = e.do(t, request{method: "PATCH", path: acme, token: e.acme.Token, body: map[string]string{"name": "Acme Corp"}})
		wantStatus(t, resp, http.StatusForbidden)
		resp = e.do(t, request{method: "PATCH", path: acme, token: e.operator, body: map[string]string{"name": "Acme Corp"}})
		wantStatus(t, resp, http.StatusOK)
		resp = e.do(t, request{method: "GET", path: acme, token: e.acme.Token})
		var renamed castellan.Organization
		resp.decode(t, &renamed)
		if renamed.Name != "Acme Corp" || renamed.Description != "rockets" || !renamed.MFARequired || !strings.HasPrefix(renamed.UpdatedBy, "operator:") {
			t.Fatalf("got %+v", renamed)
		}
		resp = e.do(t, request{method: "GET", path: acme + "/audit-events?action=organizations:UpdateOrganization", token: e.acme.Token})
		var audit struct{ AuditEvents []castellan.AuditEvent }
		resp.decode(t, &audit)
		if len(audit.AuditEvents) != 2 || audit.AuditEvents[0].Actor.Type != castellan.PrincipalOperator || audit.AuditEvents[1].Actor.ID != e.acme.OwnerUserID {
			t.Fatalf("got %s", resp.body)
		}
		var name struct{ Old, New string }
		if err := json.Unmarshal(audit.AuditEvents[0].Summary["name"], &name); err != nil || name.Old != "Acme" || name.New != "Acme Corp" {
			t.Fatalf("got summary %s", audit.AuditEvents[0].Summary)
		}
		var mfa struct{ Old, New bool }
		if err := json.Unmarshal(audit.AuditEvents[1].Summary["mfaRequired"], &mfa); err != nil || mfa.Old || !mfa.New {
			t.Fatalf("got summary %s", audit.AuditEvents[1].Summary)
		}

		// The operator deletes an empty organization; its owner's token dies
		// with it.
		resp = e.do(t, request{method: "DELETE", path: "/v1/organizations/" + e.globex.OrganizationID, token: e.operator})
		wantStatus(t, resp, http.StatusOK)
		resp = e.do(t, request{method: "GET", path: "/v1/organizations", token: e.globex.Token})
		wantStatus(t, resp, http.StatusUnauthorized)
		if got := names(e.operator); len(got) != 2 {
			t.Fatalf("after delete the operator sees %v", got)
		}
	})
}
