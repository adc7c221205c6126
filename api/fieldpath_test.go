package api_test

import (
	"encoding/json"
	"testing"

	"github.com/castellan-iam/castellan/api"
	"github.com/danielgtaylor/huma/v2"
)

func TestFieldPathToWire(t *testing.T) {
	listUsers := &huma.Operation{OperationID: "list-users", Parameters: []*huma.Param{
		{Name: "org", In: "path"}, {Name: "page_token", In: "query"}, {Name: "page_size", In: "query"},
		{Name: "group", In: "query"}, {Name: "status", In: "query"}, {Name: "q", In: "query"},
	}}
	setRoles := &huma.Operation{OperationID: "set-user-roles", Parameters: []*huma.Param{
		{Name: "org", In: "path"}, {Name: "subject", In: "path"},
	}}
	deleteUser := &huma.Operation{OperationID: "delete-user", Parameters: []*huma.Param{
		{Name: "org", In: "path"}, {Name: "user", In: "path"}, {Name: "confirm", In: "query"},
	}}
	for _, tc := range []struct {
		op          *huma.Operation
		field, want string
	}{
		{listUsers, "organizationId", "path.org"},
		{listUsers, "pageToken", "query.page_token"},
		{listUsers, "pageSize", "query.page_size"},
		{listUsers, "groupId", "query.group"},
		{listUsers, "status", "query.status"},
		{listUsers, "q", "query.q"},
		{listUsers, "name", "body.name"},
		{setRoles, "subjectId", "path.subject"},
		{setRoles, "roleIds[1]", "body.roleIds[1]"},
		{setRoles, "scope", "body.scope"},
		{setRoles, "grants[2].subject.id", "body.grants[2].subject.id"},
		{deleteUser, "userId", "path.user"},
		{deleteUser, "confirm", "body.confirm"},
		{nil, "status", "body.status"},
		{nil, "users[3].loginId", "body.users[3].loginId"},
		// Paths the API made itself are wire names already.
		{listUsers, "query.sort", "query.sort"},
		{nil, "body", "body"},
		{nil, "body.grants[0].roleId", "body.grants[0].roleId"},
		{nil, "header.Idempotency-Key", "header.Idempotency-Key"},
	} {
		if got := api.WireFieldPath(tc.op, tc.field); got != tc.want {
			t.Errorf("%v %s: got %s, want %s", tc.op != nil, tc.field, got, tc.want)
		}
	}
}

// TestFieldPathParams checks, on every operation of the document, that
// each path and query parameter is the wire name of its domain field: no
// two parameters of an operation share a domain name.
func TestFieldPathParams(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/castellan.db")
	var doc struct {
		Paths map[string]map[string]huma.Operation `json:"paths"`
	}
	if err := json.Unmarshal(fetchOpenAPI(t, e), &doc); err != nil {
		t.Fatal(err)
	}
	params := 0
	for path, methods := range doc.Paths {
		for method, op := range methods {
			for _, p := range op.Parameters {
				if p.In != "path" && p.In != "query" || op.OperationID == "delete-user" && p.Name == "confirm" {
					continue
				}
				params++
				if got, want := api.WireFieldPath(&op, api.DomainName(p)), p.In+"."+p.Name; got != want {
					t.Errorf("%s %s: domain field %s: got %s, want %s", method, path, api.DomainName(p), got, want)
				}
			}
		}
	}
	if params < 20 {
		t.Fatalf("checked %d parameters, want every parameter of the document", params)
	}
}
