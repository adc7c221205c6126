package ncloud_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/castellan-iam/castellan/compat/ncloud"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// The principals are apitest.MatrixPrincipals; each signs with an access
// key of its own in Acme's project (Globex's owner in one of Globex's).

// matrixRow is one operation with the principals the guard lets through;
// the others are refused with 401 210, but for Globex's owner where it
// says otherOwnerCode: another organization's sub account does not
// exist for it.
type matrixRow struct {
	op             string
	method         string
	uri            func(e *env) string
	body           func() []byte // nil for none; each call a new sub account
	allowed        []string
	otherOwnerCode string
}

func matrixRows(t *testing.T) []matrixRow {
	seed, n := readFile(t, "create_sub_account_generated.json"), 0
	body := func() []byte {
		n++
		return bytes.Replace(seed, []byte(`"john.roe"`), fmt.Appendf(nil, `"john.roe%d"`, n), 1)
	}
	return []matrixRow{
		{op: "ncloud-create-sub-account", method: "POST", uri: func(*env) string { return prefix + "/sub-accounts" }, body: body,
			// Globex's owner creates it in Globex.
			allowed: []string{apitest.Owner, apitest.Admin, apitest.UserAdmin, apitest.OtherOwner}},
		{op: "ncloud-get-user", method: "GET", uri: func(e *env) string { return prefix + "/users/" + e.acme.OwnerUserID },
			allowed: []string{apitest.Owner, apitest.Admin, apitest.Reader, apitest.UserAdmin}, otherOwnerCode: "30"},
	}
}

// TestRoleMatrix signs every operation of the API as every principal and
// checks the guard's answer; every operation of the API's tag in the
// OpenAPI document has a row.
func TestRoleMatrix(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.URL(t))
			org := e.acme.OrganizationID
			keys := map[string]signer{
				apitest.Owner:      e.key(t, org, e.acme.OwnerUserID, e.project),
				apitest.OtherOwner: e.key(t, e.globex.OrganizationID, e.globex.OwnerUserID, ""),
			}
			for i, principal := range apitest.MatrixPrincipals {
				if _, ok := keys[principal]; ok {
					continue
				}
				u := e.user(t, org, "principal."+string(rune('a'+i)))
				apitest.GrantMatrixRole(t, e.db.Services(), org, e.project, principal, u.ID)
				keys[principal] = e.key(t, org, u.ID, e.project)
			}

			covered := map[string]bool{}
			for _, row := range matrixRows(t) {
				covered[row.op] = true
				for _, principal := range apitest.MatrixPrincipals {
					t.Run(row.op+" as "+principal, func(t *testing.T) {
						var body []byte
						if row.body != nil {
							body = row.body()
						}
						a := e.send(t, keys[principal], row.method, row.uri(e), body)
						switch {
						case slices.Contains(row.allowed, principal):
							if a.status != http.StatusOK {
								t.Fatalf("got %d %s, want it allowed", a.status, a.body)
							}
						case principal == apitest.OtherOwner && row.otherOwnerCode != "":
							if a.status != http.StatusUnauthorized || a.errorCode(t) != row.otherOwnerCode {
								t.Fatalf("got %d %s, want 401 %s", a.status, a.body, row.otherOwnerCode)
							}
						default:
							if a.status != http.StatusUnauthorized || a.errorCode(t) != "210" {
								t.Fatalf("got %d %s, want it refused (401 210)", a.status, a.body)
							}
						}
					})
				}
			}
			for _, op := range taggedOperations(t, e) {
				if !covered[op] {
					t.Errorf("operation %s has no row in the role matrix", op)
				}
			}
		})
	}
}

// taggedOperations lists the operations of the API's tag in the OpenAPI
// document the server publishes.
func taggedOperations(t *testing.T, e *env) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/openapi.json", nil)
	a := do(t, req)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(a.body, &doc); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, methods := range doc.Paths {
		for _, op := range methods {
			if slices.Contains(op.Tags, ncloud.Tag) {
				ids = append(ids, op.OperationID)
			}
		}
	}
	if len(ids) != 2 {
		t.Fatalf("got operations %v, want the API's two", ids)
	}
	return ids
}
