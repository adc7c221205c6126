package authz_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/storetest"
)

// The tree helpers build OUs, accounts and projects in them through the
// store's own services, as the operator.
var asOperator = castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})

// ou creates an OU under parent (the root or an OU) and returns its ID.
func (f *fixture) ou(tb testing.TB, parent, name string) string {
	tb.Helper()
	return storetest.Must(f.s.OrgUnits.CreateOrgUnit(asOperator, f.org.OrganizationID, castellan.OrgUnitCreate{ParentID: parent, Name: name}))(tb).ID
}

// account creates an account under parent (the root or an OU) and
// returns its ID.
func (f *fixture) account(tb testing.TB, parent, name string) string {
	tb.Helper()
	email := name + "@accounts.example"
	return storetest.Must(f.s.Accounts.CreateAccount(asOperator, f.org.OrganizationID, castellan.AccountCreate{
		ParentID: parent, Name: name, Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"}))(tb).ID
}

// projectIn creates a project under parent (the root, an OU or an
// account) and returns its ID.
func (f *fixture) projectIn(tb testing.TB, parent, name string) string {
	tb.Helper()
	p := storetest.Must(f.s.Projects.CreateProject(context.Background(), f.org.OrganizationID, castellan.ProjectCreate{Name: name, ParentID: parent}))(tb)
	return p.ID
}

// policy creates a custom control policy with the Cedar document and
// returns its ID.
func (f *fixture) policy(tb testing.TB, document string) string {
	tb.Helper()
	f.users++ // a unique name
	return storetest.Must(f.s.ControlPolicies.CreateControlPolicy(asOperator, f.org.OrganizationID, castellan.ControlPolicyCreate{
		Name: fmt.Sprintf("policy-%d", f.users), Document: document}))(tb).ID
}

func (f *fixture) attach(tb testing.TB, policyID, nodeID string) {
	tb.Helper()
	storetest.Must(f.s.ControlPolicies.AttachControlPolicy(asOperator, f.org.OrganizationID, policyID, nodeID))(tb)
}

func (f *fixture) detach(tb testing.TB, policyID, nodeID string) {
	tb.Helper()
	storetest.Must(f.s.ControlPolicies.DetachControlPolicy(asOperator, f.org.OrganizationID, policyID, nodeID))(tb)
}

func ouScope(id string) string      { return "ou/" + id }
func accountScope(id string) string { return "account/" + id }
func inProject(id string) string    { return "project/" + id }
