package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/castellan-iam/castellan"
)

// The principals of the role matrix: each built-in organization role on
// the organization, each project role on one project, a user with no role
// and the owner of another organization.
const (
	owner         = "organization.owner@org"
	admin         = "organization.admin@org"
	reader        = "organization.reader@org"
	projectAdmin  = "project.admin@project"
	projectMember = "project.member@project"
	projectReader = "project.reader@project"
	userAdmin     = "iam.userAdmin@org"
	userAdminP    = "iam.userAdmin@project"
	authorizer    = "platform.authorizer@org"
	projectUser   = "project.user@project"
	serviceUser   = "services.user@project"
	noRole        = "no role"
	otherOwner    = "owner of another organization"
)

var matrixPrincipals = []string{owner, admin, reader, projectAdmin, projectMember, projectReader,
	userAdmin, userAdminP, authorizer, projectUser, serviceUser, noRole, otherOwner}

// fixture is what the rows of the matrix build their requests from. Rows
// that change or delete something create their own target first, as the
// system, so that every request finds what it needs.
type fixture struct {
	t       testing.TB
	e       *env
	org     string // Acme
	project string // the project the project roles are granted on
	n       atomic.Int64
}

var system = context.Background()

func (f *fixture) unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, f.n.Add(1)) }

func (f *fixture) newProject() string {
	p, err := f.e.db.Services().Projects.CreateProject(system, f.org, castellan.ProjectCreate{Name: f.unique("p")})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ID
}

func (f *fixture) newGroup() string {
	g, err := f.e.db.Services().Groups.CreateGroup(system, f.org, castellan.GroupCreate{Name: f.unique("g")})
	if err != nil {
		f.t.Fatal(err)
	}
	return g.ID
}

func (f *fixture) newUser() string {
	u, err := f.e.db.Services().Users.CreateUser(system, f.org, castellan.UserCreate{Email: f.unique("u") + "@acme.example"})
	if err != nil {
		f.t.Fatal(err)
	}
	return u.ID
}

func (f *fixture) grant(role, scope string, subject castellan.Subject) *castellan.Grant {
	grants, _, err := f.e.db.Services().Grants.CreateGrants(system, f.org, []castellan.GrantCreate{{RoleID: role, Scope: scope, Subject: subject}})
	if err != nil {
		f.t.Fatal(err)
	}
	return grants[0]
}

func (f *fixture) newRole() string {
	r, err := f.e.db.Services().Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: f.unique("r"), Kind: castellan.RoleProject, Actions: []string{"s3e:Get*"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.ID
}

func (f *fixture) orgPath() string { return "/v1/organizations/" + f.org }

func (f *fixture) check(action, resource string) map[string]any {
	return map[string]any{
		"principal": map[string]string{"type": "user", "id": f.e.acme.OwnerUserID, "organizationId": f.org},
		"action":    action, "resource": resource,
	}
}

// matrixRow is one API operation with a request and the principals allowed
// to make it.
type matrixRow struct {
	op      string // OpenAPI operationId
	variant string
	build   func(f *fixture) request // the token is filled in per principal
	allowed []string
	// verify, when set, checks the body of an allowed answer: operations
	// open to everyone must still show each only its own.
	verify func(t *testing.T, principal string, resp *response)
}

func all() []string { return matrixPrincipals }

var (
	orgManagers   = []string{owner, admin}
	orgReaders    = []string{owner, admin, reader}
	groupManagers = []string{owner, admin, userAdmin}
	groupReaders  = []string{owner, admin, reader, userAdmin}
	deciders      = []string{owner, admin, authorizer}
)

// subjectRoleRows are the rows of the IAM-roles tab of users and groups,
// all on the project the project roles are granted on.
func subjectRoleRows() []matrixRow {
	var rows []matrixRow
	projectManagers := []string{owner, admin, projectAdmin}
	for _, kind := range []struct {
		plural, singular string
		subjectType      castellan.SubjectType
		create           func(f *fixture) string
	}{
		{"users", "user", castellan.SubjectUser, (*fixture).newUser},
		{"groups", "group", castellan.SubjectGroup, (*fixture).newGroup},
	} {
		path := func(f *fixture, id string) string { return f.orgPath() + "/" + kind.plural + "/" + id + "/roles" }
		holding := func(f *fixture, roles ...string) string {
			id := kind.create(f)
			for _, r := range roles {
				f.grant(r, "project/"+f.project, castellan.Subject{Type: kind.subjectType, ID: id})
			}
			return id
		}
		rows = append(rows,
			matrixRow{op: "list-" + kind.singular + "-roles", build: func(f *fixture) request {
				return request{method: "GET", path: path(f, holding(f, "project.reader")) + "?scope=project/" + f.project}
			}, allowed: []string{owner, admin, reader, projectAdmin, projectReader}},
			matrixRow{op: "set-" + kind.singular + "-roles", build: func(f *fixture) request {
				return request{method: "POST", path: path(f, holding(f, "project.reader")) + ":set",
					body: map[string]any{"scope": "project/" + f.project, "roleIds": []string{"project.member"}}}
			}, allowed: projectManagers},
			matrixRow{op: "remove-" + kind.singular + "-roles", build: func(f *fixture) request {
				return request{method: "POST", path: path(f, holding(f, "project.reader", "project.member")) + ":batchRemove",
					body: map[string]any{"scope": "project/" + f.project, "roleIds": []string{"project.member"}}}
			}, allowed: projectManagers},
			matrixRow{op: "remove-all-" + kind.singular + "-roles", build: func(f *fixture) request {
				return request{method: "POST", path: path(f, holding(f, "project.reader")) + ":removeAll",
					body: map[string]any{"scope": "project/" + f.project}}
			}, allowed: projectManagers},
		)
	}
	return rows
}

// matrixRowSets are more rows, added by the init functions of other test
// files (one per resource), so that each endpoint's file carries its rows.
var matrixRowSets []func() []matrixRow

func matrixRows() []matrixRow {
	rows := subjectRoleRows()
	for _, set := range matrixRowSets {
		rows = append(rows, set()...)
	}
	return append(rows, []matrixRow{
		{op: "get-health", build: func(f *fixture) request { return request{method: "GET", path: "/healthz"} }, allowed: all()},
		{op: "get-metrics", build: func(f *fixture) request { return request{method: "GET", path: "/metrics"} }, allowed: all()},
		{op: "get-readiness", build: func(f *fixture) request { return request{method: "GET", path: "/readyz"} }, allowed: all()},
		{op: "list-services", build: func(f *fixture) request { return request{method: "GET", path: "/v1/services"} }, allowed: all(),
			verify: func(t *testing.T, _ string, resp *response) {
				var out struct{ Services []castellan.Service }
				resp.decode(t, &out)
				if len(out.Services) < 5 {
					t.Fatalf("got %d services", len(out.Services))
				}
			}},

		{op: "create-organization", build: func(f *fixture) request {
			return request{method: "POST", path: "/v1/organizations", body: map[string]string{"name": f.unique("Org")}}
		}},
		{op: "list-organizations", build: func(f *fixture) request { return request{method: "GET", path: "/v1/organizations"} }, allowed: all(),
			verify: func(t *testing.T, principal string, resp *response) {
				var out struct{ Organizations []castellan.Organization }
				resp.decode(t, &out)
				want := 0
				if slices.Contains(orgReaders, principal) || principal == otherOwner {
					want = 1 // its own organization, and only that
				}
				if len(out.Organizations) != want {
					t.Fatalf("got %d organizations, want %d", len(out.Organizations), want)
				}
			}},
		{op: "get-organization", build: func(f *fixture) request { return request{method: "GET", path: f.orgPath()} }, allowed: orgReaders},
		{op: "update-organization", build: func(f *fixture) request {
			return request{method: "PATCH", path: f.orgPath(), body: map[string]string{"description": f.unique("d")}}
		}, allowed: []string{owner}},
		{op: "delete-organization", build: func(f *fixture) request { return request{method: "DELETE", path: f.orgPath()} }},

		{op: "create-project", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/projects", body: map[string]string{"name": f.unique("p")}}
		}, allowed: orgManagers},
		{op: "list-projects", build: func(f *fixture) request { return request{method: "GET", path: f.orgPath() + "/projects"} }, allowed: orgReaders},
		{op: "get-project", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/projects/" + f.project}
		}, allowed: []string{owner, admin, reader, projectAdmin, projectMember, projectReader, projectUser}},
		{op: "update-project", build: func(f *fixture) request {
			return request{method: "PATCH", path: f.orgPath() + "/projects/" + f.project, body: map[string]string{"description": f.unique("d")}}
		}, allowed: []string{owner, admin, projectAdmin}},
		{op: "delete-project", build: func(f *fixture) request {
			return request{method: "DELETE", path: f.orgPath() + "/projects/" + f.newProject()}
		}, allowed: orgManagers},

		{op: "list-audit-events", build: func(f *fixture) request { return request{method: "GET", path: f.orgPath() + "/audit-events"} }, allowed: orgReaders},

		{op: "import", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + ":import", body: `{"kind": "group", "name": "` + f.unique("g") + `"}` + "\n",
				header: map[string]string{"Content-Type": "application/x-ndjson"}}
		}, allowed: orgManagers, verify: verifyImported},
		{op: "create-group", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/groups", body: map[string]string{"name": f.unique("g")}}
		}, allowed: groupManagers},
		{op: "list-groups", build: func(f *fixture) request { return request{method: "GET", path: f.orgPath() + "/groups"} }, allowed: groupReaders},
		{op: "get-group", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/groups/" + f.newGroup()}
		}, allowed: groupReaders},
		{op: "update-group", build: func(f *fixture) request {
			return request{method: "PATCH", path: f.orgPath() + "/groups/" + f.newGroup(), body: map[string]string{"description": "x"}}
		}, allowed: groupManagers},
		{op: "delete-group", build: func(f *fixture) request {
			return request{method: "DELETE", path: f.orgPath() + "/groups/" + f.newGroup()}
		}, allowed: groupManagers},
		{op: "add-group-members", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/groups/" + f.newGroup() + "/members:batchAdd", body: map[string][]string{"userIds": {f.newUser()}}}
		}, allowed: groupManagers},
		{op: "remove-group-members", build: func(f *fixture) request {
			group, user := f.newGroup(), f.newUser()
			if _, err := f.e.db.Services().Groups.AddGroupMembers(system, f.org, group, []string{user}); err != nil {
				f.t.Fatal(err)
			}
			return request{method: "POST", path: f.orgPath() + "/groups/" + group + "/members:batchRemove", body: map[string][]string{"userIds": {user}}}
		}, allowed: groupManagers},
		{op: "list-group-members", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/groups/" + f.newGroup() + "/members"}
		}, allowed: groupReaders},
		{op: "list-user-groups", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/users/" + f.e.acme.OwnerUserID + "/groups"}
		}, allowed: groupReaders},

		{op: "list-grants", variant: "organization", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/grants"}
		}, allowed: orgReaders},
		{op: "list-grants", variant: "project", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/grants?scope=project/" + f.project}
		}, allowed: []string{owner, admin, reader, projectAdmin, projectReader}},
		{op: "create-grants", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/grants:batchCreate", body: map[string]any{"grants": []map[string]any{{
				"roleId": "project.reader", "scope": "project/" + f.project, "subject": map[string]string{"type": "user", "id": f.newUser()},
			}}}}
		}, allowed: []string{owner, admin, projectAdmin}},
		{op: "delete-grants", build: func(f *fixture) request {
			g := f.grant("project.reader", "project/"+f.project, castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()})
			return request{method: "POST", path: f.orgPath() + "/grants:batchDelete", body: map[string][]string{"grantIds": {g.ID}}}
		}, allowed: []string{owner, admin, projectAdmin}},

		{op: "list-roles", build: func(f *fixture) request { return request{method: "GET", path: f.orgPath() + "/roles"} }, allowed: groupReaders},
		{op: "get-role", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/roles/project.member"}
		}, allowed: groupReaders},
		{op: "create-role", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/roles", body: map[string]any{"name": f.unique("r"), "kind": "project", "actions": []string{"s3e:Get*"}}}
		}, allowed: orgManagers},
		{op: "update-role", build: func(f *fixture) request {
			return request{method: "PATCH", path: f.orgPath() + "/roles/" + f.newRole(), body: map[string]string{"description": "x"}}
		}, allowed: orgManagers},
		{op: "delete-role", build: func(f *fixture) request {
			return request{method: "DELETE", path: f.orgPath() + "/roles/" + f.newRole()}
		}, allowed: orgManagers},

		{op: "authorize", build: func(f *fixture) request {
			return request{method: "POST", path: "/v1/authorize", body: f.check("compute:StartInstance", "project/"+f.project)}
		}, allowed: deciders},
		{op: "authorize-batch", build: func(f *fixture) request {
			return request{method: "POST", path: "/v1/authorize:batch", body: map[string]any{"checks": []any{f.check("compute:StartInstance", "project/"+f.project)}}}
		}, allowed: deciders},
		{op: "authorize-explain", build: func(f *fixture) request {
			return request{method: "POST", path: "/v1/authorize:explain", body: f.check("compute:StartInstance", "project/"+f.project)}
		}, allowed: deciders},
	}...)
}

// TestRoleMatrix runs every API operation as every principal of the matrix
// through real HTTP and checks allow or deny against one table. An
// operation without a row fails the test.
func TestRoleMatrix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		tokens := map[string]string{owner: e.acme.Token, otherOwner: e.globex.Token}
		for _, principal := range matrixPrincipals {
			if tokens[principal] != "" {
				continue
			}
			user := f.newUser()
			token, err := e.db.Services().Tokens.CreateUserToken(system, f.org, user)
			if err != nil {
				t.Fatal(err)
			}
			tokens[principal] = token
			if role, where, ok := strings.Cut(principal, "@"); ok {
				scope := "organization/" + f.org
				if where == "project" {
					scope = "project/" + f.project
				}
				f.grant(role, scope, castellan.Subject{Type: castellan.SubjectUser, ID: user})
			}
		}

		covered := map[string]bool{}
		for _, row := range matrixRows() {
			covered[row.op] = true
			allowed := map[string]bool{}
			for _, p := range row.allowed {
				allowed[p] = true
			}
			for _, principal := range matrixPrincipals {
				name := row.op
				if row.variant != "" {
					name += " (" + row.variant + ")"
				}
				t.Run(name+" as "+principal, func(t *testing.T) {
					req := row.build(f)
					req.token = tokens[principal]
					resp := e.do(t, req)
					code := ""
					if resp.status >= 400 {
						code = resp.problem(t).Code
					}
					refused := resp.status == http.StatusForbidden ||
						resp.status == http.StatusNotFound && code == castellan.CodeOrgNotFound
					if allowed[principal] && resp.status >= 400 {
						t.Fatalf("got %d %s, want it allowed: %s", resp.status, code, resp.body)
					}
					if !allowed[principal] && !refused {
						t.Fatalf("got %d, want it refused: %s", resp.status, resp.body)
					}
					if allowed[principal] && row.verify != nil {
						row.verify(t, principal, resp)
					}
				})
			}
		}
		for _, op := range operationIDs(t, e) {
			if !covered[op] {
				t.Errorf("operation %s has no row in the role matrix", op)
			}
		}
	})
}

// compatibility reports whether an operation of the document is one of
// a compatibility API, by its tag.
func compatibility(tags []string) bool {
	return slices.ContainsFunc(tags, func(tag string) bool { return strings.Contains(tag, "(compatibility)") })
}

// operationIDs lists the operations of the API's OpenAPI document but
// those of the compatibility APIs: each compat package has its own role
// matrix, which authenticates the way its platform does.
func operationIDs(t *testing.T, e *env) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(fetchOpenAPI(t, e), &doc); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, methods := range doc.Paths {
		for _, op := range methods {
			if compatibility(op.Tags) {
				continue // the compatibility APIs have their own role matrices
			}
			ids = append(ids, op.OperationID)
		}
	}
	if len(ids) < 30 {
		t.Fatalf("got %d operations, want the whole API", len(ids))
	}
	return ids
}
