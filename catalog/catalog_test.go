package catalog_test

import (
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/catalog"
)

func mustDefault(t *testing.T) *castellan.Catalog {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestRoleMatrix pins the role matrix of the user and group management seed
// (000): which built-in role may do each feature. The seed's table lost its
// cells in extraction; its text says "Only Org Admin can register users",
// "Org Admin can delete users", "Org Admin can create groups", and the
// owner holds everything, so features that change users and groups belong
// to Owner and Admin, and viewing them also to Reader. Project roles get
// none of the organization-wide IAM features.
func TestRoleMatrix(t *testing.T) {
	cat := mustDefault(t)
	roles := []string{"organization.owner", "organization.admin", "organization.reader", "project.admin", "project.member", "project.reader"}
	const (
		Y = true
		N = false
	)
	for _, row := range []struct {
		feature string
		action  string
		allowed [6]bool // in the order of roles
	}{
		{"Register user", "iam:CreateUser", [6]bool{Y, Y, N, N, N, N}},
		{"View user information within organization", "iam:GetUser", [6]bool{Y, Y, Y, N, N, N}},
		{"View user list", "iam:ListUsers", [6]bool{Y, Y, Y, N, N, N}},
		{"Delete user", "iam:DeleteUser", [6]bool{Y, Y, N, N, N, N}},
		{"Create group", "iam:CreateGroup", [6]bool{Y, Y, N, N, N, N}},
		{"Delete group", "iam:DeleteGroup", [6]bool{Y, Y, N, N, N, N}},
		{"Add group members", "iam:AddGroupMembers", [6]bool{Y, Y, N, N, N, N}},
		{"Remove group members", "iam:RemoveGroupMembers", [6]bool{Y, Y, N, N, N, N}},
		{"View group members", "iam:ListGroupMembers", [6]bool{Y, Y, Y, N, N, N}},
		{"Add group permissions", "iam:SetGrants", [6]bool{Y, Y, N, Y, N, N}},
		{"Remove group permissions", "iam:SetGrants", [6]bool{Y, Y, N, Y, N, N}},
		{"View group permissions", "iam:ListGrants", [6]bool{Y, Y, Y, Y, N, Y}},
		{"View access keys", "iam:ListAccessKeys", [6]bool{Y, Y, Y, Y, N, Y}},
		{"Change the organization", "organizations:UpdateOrganization", [6]bool{Y, N, N, N, N, N}},
		{"Create project", "organizations:CreateProject", [6]bool{Y, Y, N, N, N, N}},
		{"Update project", "organizations:UpdateProject", [6]bool{Y, Y, N, Y, N, N}},
		{"View project", "organizations:GetProject", [6]bool{Y, Y, Y, Y, Y, Y}},
		{"Read the audit log", "iam:ListAuditEvents", [6]bool{Y, Y, Y, N, N, N}},
		{"Read the decision log", "iam:ListDecisionLog", [6]bool{Y, Y, Y, N, N, N}},
		{"List unused permissions", "iam:GetUnusedPermissions", [6]bool{Y, Y, Y, N, N, N}},
		{"Start an instance", "compute:StartInstance", [6]bool{Y, Y, N, Y, Y, N}},
		{"List instances", "compute:ListInstances", [6]bool{Y, Y, Y, Y, Y, Y}},
	} {
		for i, id := range roles {
			role := cat.Role(id)
			if role == nil {
				t.Fatalf("built-in role %s missing", id)
			}
			if got := role.Allows(row.action); got != row.allowed[i] {
				t.Errorf("%s (%s) for %s: got %v, want %v", row.feature, row.action, role.Name, got, row.allowed[i])
			}
		}
	}
}

// TestRoleKinds checks the role kinds of the cloud IAM seed (003):
// organization roles, project roles, service roles such as User
// Administrator, Service User and Project User, and per-bucket and
// per-registry roles; Project Admin includes the admin service roles.
func TestRoleKinds(t *testing.T) {
	cat := mustDefault(t)
	for id, kind := range map[string]castellan.RoleKind{
		"organization.owner": castellan.RoleOrganization, "organization.admin": castellan.RoleOrganization, "organization.reader": castellan.RoleOrganization,
		"project.admin": castellan.RoleProject, "project.member": castellan.RoleProject, "project.reader": castellan.RoleProject,
		"iam.userAdmin": castellan.RoleServiceKind, "services.user": castellan.RoleServiceKind, "project.user": castellan.RoleServiceKind,
		"platform.authorizer": castellan.RoleOrganization,
		"s3e.admin":           castellan.RoleResource, "s3e.editor": castellan.RoleResource, "s3e.viewer": castellan.RoleResource,
		"registry.admin": castellan.RoleResource, "registry.editor": castellan.RoleResource, "registry.viewer": castellan.RoleResource,
	} {
		r := cat.Role(id)
		if r == nil || r.Kind != kind || !r.BuiltIn {
			t.Errorf("%s: got %+v, want a built-in %s role", id, r, kind)
		}
	}
	projectAdmin := cat.Role("project.admin")
	for _, admin := range []string{"s3e.admin", "registry.admin"} {
		for _, a := range cat.Expand(cat.Role(admin).Actions) {
			if !projectAdmin.Allows(a) {
				t.Errorf("project.admin lacks %s of %s", a, admin)
			}
		}
	}
	for _, a := range cat.Actions() {
		if !cat.Role("organization.owner").Allows(a) {
			t.Errorf("owner lacks %s", a)
		}
	}
	// The admin cannot make owners: the owner holds actions the admin lacks.
	if len(cat.Expand(cat.Role("organization.owner").Actions)) <= len(cat.Expand(cat.Role("organization.admin").Actions)) {
		t.Error("organization.admin holds everything organization.owner does")
	}
}

func TestLoadRejects(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unknown service in role", `{"roles":[{"id":"x.y","name":"X","kind":"service","service":"nope","actions":["iam:GetUser"]}]}`, `unknown service "nope"`},
		{"duplicate action", `{"services":[{"name":"iam","actions":["GetUser"]}]}`, "duplicate action iam:GetUser"},
		{"bad pattern", `{"roles":[{"id":"x.y","name":"X","kind":"organization","actions":["iam GetUser"]}]}`, "is not an action pattern"},
		{"pattern matching nothing", `{"roles":[{"id":"x.y","name":"X","kind":"organization","actions":["iam:Fly*"]}]}`, "matches no action"},
		{"bad verb", `{"services":[{"name":"dns","actions":["get-record"]}]}`, "must be a verb"},
		{"duplicate role", `{"roles":[{"id":"s3e.admin","name":"X","kind":"organization","actions":["*"]}]}`, "duplicate role ID"},
		{"bad kind", `{"roles":[{"id":"x.y","name":"X","kind":"galaxy","actions":["*"]}]}`, "kind \"galaxy\""},
		{"resource role on unknown type", `{"roles":[{"id":"x.y","name":"X","kind":"resource","service":"s3e","resourceType":"queue","actions":["s3e:GetObject"]}]}`, `no resource type "queue"`},
		{"resource role with foreign action", `{"roles":[{"id":"x.y","name":"X","kind":"resource","service":"s3e","resourceType":"bucket","actions":["compute:*"]}]}`, "not of service s3e"},
		{"unknown field", `{"servicez":[]}`, "unknown field"},
		{"not JSON", `services:`, "invalid character"},
	} {
		_, err := catalog.Load(catalog.NamedFile{Name: "ops.json", Data: []byte(tc.file)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadExtends(t *testing.T) {
	cat, err := catalog.Load(catalog.NamedFile{Name: "ops.json", Data: []byte(`{
		"services": [{"name": "dns", "title": "DNS", "resourceTypes": ["zone"], "actions": ["GetRecord", "UpdateRecord"]},
		             {"name": "compute", "actions": ["ResizeInstance"]}],
		"roles": [{"id": "dns.editor", "name": "DNS Editor", "kind": "resource", "service": "dns", "resourceType": "zone", "actions": ["dns:*"]}]
	}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !cat.HasAction("dns:UpdateRecord") || !cat.HasAction("compute:ResizeInstance") || !cat.HasAction("compute:StartInstance") {
		t.Fatal("extension actions missing")
	}
	if r := cat.Role("dns.editor"); r == nil || !r.Allows("dns:GetRecord") || r.Allows("compute:ResizeInstance") {
		t.Fatalf("got %+v", r)
	}
	if !cat.Role("organization.owner").Allows("dns:UpdateRecord") {
		t.Fatal("owner's * does not cover the new service")
	}
}

// TestAdminGrantsEveryLesserOrganizationRole: by the hierarchy principle
// a role can be granted only by who holds all its actions, so an
// Organization Admin must hold every action of the Reader (and of every
// project and service role) to grant it; only the Owner's stay beyond it.
func TestAdminGrantsEveryLesserOrganizationRole(t *testing.T) {
	cat := mustDefault(t)
	admin := map[string]bool{}
	for _, a := range cat.Expand(cat.Role("organization.admin").Actions) {
		admin[a] = true
	}
	for _, id := range []string{"organization.reader", "account.admin", "project.admin", "project.member", "project.reader", "iam.userAdmin"} {
		for _, a := range cat.Expand(cat.Role(id).Actions) {
			if !admin[a] {
				t.Errorf("%s has %s, which organization.admin lacks: the admin could not grant it", id, a)
			}
		}
	}
}
