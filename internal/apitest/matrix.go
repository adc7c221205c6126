package apitest

import (
	"context"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// The principals of the compatibility APIs' role matrices, as the REST
// API's (api/rolematrix_test.go): each built-in organization role on the
// organization, each project role on one project, a user with no role
// and the owner of another organization. A name "role@org" or
// "role@project" says the role and where it is granted.
const (
	Owner         = "organization.owner@org"
	Admin         = "organization.admin@org"
	Reader        = "organization.reader@org"
	ProjectAdmin  = "project.admin@project"
	ProjectMember = "project.member@project"
	ProjectReader = "project.reader@project"
	UserAdmin     = "iam.userAdmin@org"
	UserAdminP    = "iam.userAdmin@project"
	Authorizer    = "platform.authorizer@org"
	ProjectUser   = "project.user@project"
	ServiceUser   = "services.user@project"
	NoRole        = "no role"
	OtherOwner    = "owner of another organization"
)

// MatrixPrincipals are the principals every row is tried as.
var MatrixPrincipals = []string{Owner, Admin, Reader, ProjectAdmin, ProjectMember, ProjectReader,
	UserAdmin, UserAdminP, Authorizer, ProjectUser, ServiceUser, NoRole, OtherOwner}

// GrantMatrixRole grants user of org the role principal names, on org or
// on project; NoRole grants nothing. Owner and OtherOwner are the
// bootstrapped owners, not made with it.
func GrantMatrixRole(t testing.TB, s castellan.Services, org, project, principal, user string) {
	t.Helper()
	role, where, ok := strings.Cut(principal, "@")
	if !ok {
		return
	}
	scope := "organization/" + org
	if where == "project" {
		scope = "project/" + project
	}
	if _, _, err := s.Grants.CreateGrants(context.Background(), org, []castellan.GrantCreate{{RoleID: role, Scope: scope,
		Subject: castellan.Subject{Type: castellan.SubjectUser, ID: user}}}); err != nil {
		t.Fatal(err)
	}
}
