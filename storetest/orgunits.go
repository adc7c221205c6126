package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testOrgUnits(t *testing.T, open Opener) {
	t.Run("Create", func(t *testing.T) { testOrgUnitsCreate(t, open) })
	t.Run("DepthLimit", func(t *testing.T) { testOrgUnitsDepthLimit(t, open) })
	t.Run("Names", func(t *testing.T) { testOrgUnitsNames(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testOrgUnitsErrInvalid(t, open) })
	t.Run("Policies", func(t *testing.T) { testOrgUnitsPolicies(t, open) })
	t.Run("ListAndSubItems", func(t *testing.T) { testOrgUnitsListAndSubItems(t, open) })
	t.Run("Update", func(t *testing.T) { testOrgUnitsUpdate(t, open) })
	t.Run("Move", func(t *testing.T) { testOrgUnitsMove(t, open) })
	t.Run("Delete", func(t *testing.T) { testOrgUnitsDelete(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testOrgUnitsCrossOrganization(t, open) })
	t.Run("ConcurrentMoves", func(t *testing.T) { testOrgUnitsConcurrentMoves(t, open) })
	t.Run("Projects", func(t *testing.T) { testProjectsInTree(t, open) })
}

// newOU creates an OU named name under parent, failing tb on error.
func newOU(tb testing.TB, s castellan.Services, orgID, parent, name string) *castellan.OrgUnit {
	tb.Helper()
	return must(s.OrgUnits.CreateOrgUnit(operatorCtx("r-ou"), orgID, castellan.OrgUnitCreate{ParentID: parent, Name: name}))(tb)
}

// ouChain creates n OUs, each under the previous, the first under the
// root, named <prefix>1 … <prefix>n.
func ouChain(tb testing.TB, s castellan.Services, orgID, prefix string, n int) []*castellan.OrgUnit {
	tb.Helper()
	units := make([]*castellan.OrgUnit, n)
	parent := orgID
	for i := range units {
		units[i] = newOU(tb, s, orgID, parent, fmt.Sprintf("%s%d", prefix, i+1))
		parent = units[i].ID
	}
	return units
}

// refIDs returns the IDs of refs.
func refIDs(refs []castellan.NodeRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.ID
	}
	return out
}

// changesSince returns the change-log rows after rev as "type:operation"
// strings, in order.
func changesSince(tb testing.TB, s castellan.Services, rev int64) []string {
	tb.Helper()
	rows := must(s.ChangeLog.Changes(context.Background(), rev, 100))(tb)
	out := make([]string, len(rows))
	for i, c := range rows {
		out[i] = c.EntityType + ":" + c.Operation
	}
	return out
}

func testOrgUnitsCreate(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	ctx := userCtx("u-1", org.ID, "req-ou")
	rev := must(s.ChangeLog.Revision(ctx))(t)
	top := must(s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Sales", Description: "the sellers"}))(t)
	if !castellan.ValidID(top.ID) || top.OrganizationID != org.ID || top.ParentID != org.ID || top.Name != "Sales" ||
		top.Description != "the sellers" || top.Depth != 1 || top.CreatedBy != "user:u-1" || top.UpdatedBy != "user:u-1" ||
		!top.CreatedAt.Equal(clock.Now()) || top.Revision <= rev {
		t.Fatalf("got %+v", top)
	}
	if len(top.Path) != 1 || top.Path[0].ID != org.ID || top.Path[0].Kind != castellan.NodeRoot {
		t.Fatalf("got path %+v, want the root", top.Path)
	}
	if got, want := changesSince(t, s, rev), []string{"node:create", "policy_attachment:create"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got change log %v, want %v", got, want)
	}
	sub := must(s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: top.ID, Name: "Europe"}))(t)
	if sub.ParentID != top.ID || sub.Depth != 2 || !reflect.DeepEqual(refIDs(sub.Path), []string{org.ID, top.ID}) || sub.Path[1].Kind != castellan.NodeOU {
		t.Fatalf("got %+v", sub)
	}
	got := must(s.OrgUnits.FindOrgUnitByID(ctx, org.ID, sub.ID))(t)
	if !reflect.DeepEqual(got, sub) {
		t.Fatalf("got %+v, want %+v", got, sub)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{TargetID: &sub.ID}))(t)
	if len(events) != 1 || events[0].Action != string(castellan.ActionCreateOrganizationalUnit) || events[0].RequestID != "req-ou" {
		t.Fatalf("got events %+v", events)
	}
}

func testOrgUnitsDepthLimit(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	chain := ouChain(t, s, org.ID, "L", castellan.MaxOUDepth)
	if d := chain[len(chain)-1].Depth; d != castellan.MaxOUDepth {
		t.Fatalf("got depth %d, want %d", d, castellan.MaxOUDepth)
	}
	before := takeSnapshot(t, s, org.ID)
	_, err := s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: chain[len(chain)-1].ID, Name: "L6"})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeOUTooDeep)
	unchanged(t, s, org.ID, before)
	// A project may still hang under the deepest OU: the limit is on OUs.
	must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: chain[len(chain)-1].ID, Name: "deep"}))(t)
}

func testOrgUnitsNames(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	sales := newOU(t, s, org.ID, org.ID, "Sales")
	before := takeSnapshot(t, s, org.ID)
	_, err := s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Sales"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeOUNameTaken)
	unchanged(t, s, org.ID, before)
	// Case-sensitive, unique among sibling OUs only: another case, another
	// parent and a project of the same name are all fine.
	newOU(t, s, org.ID, org.ID, "sales")
	newOU(t, s, org.ID, sales.ID, "Sales")
	must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "Sales"}))(t)
	if n := len(listed(s.OrgUnits.FindOrgUnits(ctx, org.ID, castellan.OrgUnitFilter{}))(t)); n != 3 {
		t.Fatalf("got %d OUs, want 3", n)
	}
}

func testOrgUnitsErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	project := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web"}))(t)
	// The longest description is accepted.
	newOU := func(c castellan.OrgUnitCreate) error { _, err := s.OrgUnits.CreateOrgUnit(ctx, org.ID, c); return err }
	if err := newOU(castellan.OrgUnitCreate{ParentID: org.ID, Name: "Long", Description: strings.Repeat("d", castellan.MaxLongDescriptionLength)}); err != nil {
		t.Fatal(err)
	}
	before := takeSnapshot(t, s, org.ID)
	for _, tc := range []struct {
		name        string
		c           castellan.OrgUnitCreate
		kind        castellan.Kind
		code, field string
	}{
		{"EmptyName", castellan.OrgUnitCreate{ParentID: org.ID}, castellan.EINVALID, castellan.CodeInvalidField, "name"},
		{"LongName", castellan.OrgUnitCreate{ParentID: org.ID, Name: strings.Repeat("n", castellan.MaxOUNameLength+1)}, castellan.EINVALID, castellan.CodeInvalidField, "name"},
		{"LongDescription", castellan.OrgUnitCreate{ParentID: org.ID, Name: "x", Description: strings.Repeat("d", castellan.MaxLongDescriptionLength+1)}, castellan.EINVALID, castellan.CodeInvalidField, "description"},
		{"BadParent", castellan.OrgUnitCreate{ParentID: "x", Name: "x"}, castellan.EINVALID, castellan.CodeInvalidField, "parentId"},
		{"UnknownParent", castellan.OrgUnitCreate{ParentID: unknownID, Name: "x"}, castellan.ENOTFOUND, castellan.CodeNodeNotFound, "parentId"},
		{"ProjectParent", castellan.OrgUnitCreate{ParentID: project.ID, Name: "x"}, castellan.EINVALID, castellan.CodeInvalidParent, "parentId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newOU(tc.c)
			wantCode(t, err, tc.kind, tc.code)
			wantField(t, err, tc.field, "")
			unchanged(t, s, org.ID, before)
		})
	}
}

// directPolicies returns the IDs of the policies attached to the node
// itself.
func directPolicies(tb testing.TB, s castellan.Services, orgID, nodeID string) []string {
	tb.Helper()
	var out []string
	for _, a := range must(s.ControlPolicies.FindNodePolicies(operatorCtx("r"), orgID, nodeID))(tb) {
		if a.Method == castellan.AttachedDirect {
			out = append(out, a.Policy.ID)
		}
	}
	return out
}

func testOrgUnitsPolicies(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	plain := newOU(t, s, org.ID, org.ID, "Plain")
	if got := directPolicies(t, s, org.ID, plain.ID); !reflect.DeepEqual(got, []string{castellan.FullAccessPolicyID}) {
		t.Fatalf("got %v, want FullAccess by default", got)
	}
	open1 := must(s.ControlPolicies.CreateControlPolicy(ctx, org.ID, castellan.ControlPolicyCreate{Name: "Open", Document: "permit(principal, action, resource);"}))(t)
	named := must(s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Named", PolicyIDs: []string{open1.ID}}))(t)
	if got := directPolicies(t, s, org.ID, named.ID); !reflect.DeepEqual(got, []string{open1.ID}) {
		t.Fatalf("got %v, want only %s", got, open1.ID)
	}
	other := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t)
	theirs := must(s.ControlPolicies.CreateControlPolicy(ctx, other.ID, castellan.ControlPolicyCreate{Name: "Theirs", Document: "permit(principal, action, resource);"}))(t)
	before := takeSnapshot(t, s, org.ID)
	_, err := s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Bad", PolicyIDs: []string{castellan.FullAccessPolicyID, unknownID}})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeControlPolicyNotFound)
	wantField(t, err, "policyIds[1]", "exists")
	unchanged(t, s, org.ID, before)
	// Another organization's policy is unknown here.
	_, err = s.OrgUnits.CreateOrgUnit(ctx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Bad", PolicyIDs: []string{theirs.ID}})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeControlPolicyNotFound)
	unchanged(t, s, org.ID, before)
}

func testOrgUnitsListAndSubItems(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	a := newOU(t, s, org.ID, org.ID, "A")
	b2 := newOU(t, s, org.ID, a.ID, "b2")
	b := newOU(t, s, org.ID, a.ID, "B")
	p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: a.ID, Name: "a-web"}))(t)

	names := func(units []*castellan.OrgUnit) string {
		var out []string
		for _, u := range units {
			out = append(out, u.Name+"@"+strings.Join(refIDs(u.Path), ">"))
		}
		return strings.Join(out, " ")
	}
	under := listed(s.OrgUnits.FindOrgUnits(ctx, org.ID, castellan.OrgUnitFilter{ParentID: &a.ID}))(t)
	if got, want := names(under), "B@"+org.ID+">"+a.ID+" b2@"+org.ID+">"+a.ID; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Every OU by name, two at a time.
	var all []*castellan.OrgUnit
	token := ""
	for {
		page, next, err := s.OrgUnits.FindOrgUnits(ctx, org.ID, castellan.OrgUnitFilter{PageSize: 2, PageToken: token})
		all = append(all, must(page, err)(t)...)
		if next == "" {
			break
		}
		token = next
	}
	if len(all) != 3 || all[0].ID != a.ID || all[1].ID != b.ID || all[2].ID != b2.ID {
		t.Fatalf("got %s", names(all))
	}
	_, _, err := s.OrgUnits.FindOrgUnits(ctx, org.ID, castellan.OrgUnitFilter{ParentID: ptr(unknownID)})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)

	// Sub-items: OUs (then accounts) by default, projects when asked,
	// page by page.
	kids := listed(s.Nodes.FindChildren(ctx, org.ID, a.ID, castellan.ChildFilter{}))(t)
	if len(kids) != 2 || kids[0].ID != b.ID || kids[1].ID != b2.ID || kids[0].Depth != 2 {
		t.Fatalf("got %+v", kids)
	}
	var ids []string
	token = ""
	for {
		page, next, err := s.Nodes.FindChildren(ctx, org.ID, a.ID, castellan.ChildFilter{
			Kinds: []castellan.NodeKind{castellan.NodeProject, castellan.NodeOU}, PageSize: 1, PageToken: token})
		for _, n := range must(page, err)(t) {
			ids = append(ids, n.ID)
		}
		if next == "" {
			break
		}
		token = next
	}
	if want := []string{b.ID, b2.ID, p.ID}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("got %v, want %v", ids, want)
	}
}

func testOrgUnitsUpdate(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	a := newOU(t, s, org.ID, org.ID, "A")
	newOU(t, s, org.ID, org.ID, "B")
	child := newOU(t, s, org.ID, a.ID, "child")
	clock.Advance(60e9)
	got := must(s.OrgUnits.UpdateOrgUnit(userCtx("u-2", org.ID, "r1"), org.ID, a.ID, castellan.OrgUnitUpdate{Name: ptr("Alpha"), Description: ptr("first")}))(t)
	if got.Name != "Alpha" || got.Description != "first" || got.UpdatedBy != "user:u-2" || !got.UpdatedAt.Equal(clock.Now()) ||
		got.CreatedBy != a.CreatedBy || !got.CreatedAt.Equal(a.CreatedAt) || got.Revision <= child.Revision {
		t.Fatalf("got %+v", got)
	}
	// The path of the OUs below names the new name.
	if c := must(s.OrgUnits.FindOrgUnitByID(ctx, org.ID, child.ID))(t); c.Path[1].Name != "Alpha" {
		t.Fatalf("got path %+v", c.Path)
	}
	before := takeSnapshot(t, s, org.ID)
	// An update that changes nothing writes nothing.
	same := must(s.OrgUnits.UpdateOrgUnit(ctx, org.ID, a.ID, castellan.OrgUnitUpdate{Name: ptr("Alpha")}))(t)
	if same.Revision != got.Revision {
		t.Fatalf("got revision %d, want %d", same.Revision, got.Revision)
	}
	_, err := s.OrgUnits.UpdateOrgUnit(ctx, org.ID, a.ID, castellan.OrgUnitUpdate{Name: ptr("B")})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeOUNameTaken)
	_, err = s.OrgUnits.UpdateOrgUnit(ctx, org.ID, a.ID, castellan.OrgUnitUpdate{Description: ptr(strings.Repeat("d", castellan.MaxLongDescriptionLength+1))})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "description", "")
	_, err = s.OrgUnits.UpdateOrgUnit(ctx, org.ID, unknownID, castellan.OrgUnitUpdate{Name: ptr("x")})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOUNotFound)
	unchanged(t, s, org.ID, before)
	// Case matters: "b" is not "B".
	must(s.OrgUnits.UpdateOrgUnit(ctx, org.ID, a.ID, castellan.OrgUnitUpdate{Name: ptr("b")}))(t)
}

func testOrgUnitsMove(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	abc := ouChain(t, s, org.ID, "x", 3) // x1 ─ x2 ─ x3
	d := newOU(t, s, org.ID, org.ID, "D")
	project := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: abc[2].ID, Name: "web"}))(t)

	rev := must(s.ChangeLog.Revision(ctx))(t)
	moved := must(s.OrgUnits.MoveOrgUnit(ctx, org.ID, abc[1].ID, d.ID))(t)
	if moved.ParentID != d.ID || moved.Depth != 2 || !reflect.DeepEqual(refIDs(moved.Path), []string{org.ID, d.ID}) {
		t.Fatalf("got %+v", moved)
	}
	if got := changesSince(t, s, rev); !reflect.DeepEqual(got, []string{"node:update"}) {
		t.Fatalf("got change log %v, want one node update", got)
	}
	// The subtree moved with it.
	if x3 := must(s.OrgUnits.FindOrgUnitByID(ctx, org.ID, abc[2].ID))(t); !reflect.DeepEqual(refIDs(x3.Path), []string{org.ID, d.ID, abc[1].ID}) || x3.Depth != 3 {
		t.Fatalf("got %+v", x3)
	}
	chain := must(s.Nodes.FindAncestors(ctx, org.ID, project.ID))(t)
	if len(chain) != 5 || chain[0].Depth != 4 || chain[2].ID != abc[1].ID || chain[3].ID != d.ID {
		t.Fatalf("got ancestors %+v", chain)
	}

	before := takeSnapshot(t, s, org.ID)
	refuse := func(id, parent string, kind castellan.Kind, code string) {
		t.Helper()
		_, err := s.OrgUnits.MoveOrgUnit(ctx, org.ID, id, parent)
		wantCode(t, err, kind, code)
		unchanged(t, s, org.ID, before)
	}
	refuse(d.ID, d.ID, castellan.EPRECONDITION, castellan.CodeOUCycle)
	refuse(d.ID, abc[2].ID, castellan.EPRECONDITION, castellan.CodeOUCycle)
	refuse(d.ID, project.ID, castellan.EINVALID, castellan.CodeInvalidParent)
	refuse(d.ID, unknownID, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	refuse(unknownID, org.ID, castellan.ENOTFOUND, castellan.CodeOUNotFound)
	refuse(project.ID, org.ID, castellan.ENOTFOUND, castellan.CodeOUNotFound)
	_, err := s.OrgUnits.MoveOrgUnit(ctx, org.ID, d.ID, "x")
	wantField(t, err, "parentId", "format")

	// Depth: D ─ x2 ─ x3 is three deep; under y2 its deepest OU would be 5,
	// under y3 it would be 6.
	ys := ouChain(t, s, org.ID, "y", 3)
	before = takeSnapshot(t, s, org.ID)
	refuse(d.ID, ys[2].ID, castellan.EPRECONDITION, castellan.CodeOUTooDeep)
	must(s.OrgUnits.MoveOrgUnit(ctx, org.ID, d.ID, ys[1].ID))(t)
	if x3 := must(s.OrgUnits.FindOrgUnitByID(ctx, org.ID, abc[2].ID))(t); x3.Depth != castellan.MaxOUDepth {
		t.Fatalf("got depth %d, want %d", x3.Depth, castellan.MaxOUDepth)
	}

	// Name clash at the destination.
	newOU(t, s, org.ID, org.ID, "Same")
	same := newOU(t, s, org.ID, abc[0].ID, "Same")
	before = takeSnapshot(t, s, org.ID)
	refuse(same.ID, org.ID, castellan.ECONFLICT, castellan.CodeOUNameTaken)

	// Moving an OU where it is writes nothing.
	if got := must(s.OrgUnits.MoveOrgUnit(ctx, org.ID, same.ID, abc[0].ID))(t); got.Revision != same.Revision {
		t.Fatalf("got revision %d, want %d", got.Revision, same.Revision)
	}
	unchanged(t, s, org.ID, before)
}

func testOrgUnitsDelete(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	a := newOU(t, s, org.ID, org.ID, "A")
	b := newOU(t, s, org.ID, a.ID, "B")
	c := newOU(t, s, org.ID, org.ID, "C")
	p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: c.ID, Name: "web"}))(t)

	before := takeSnapshot(t, s, org.ID)
	for _, id := range []string{a.ID, c.ID} {
		_, err := s.OrgUnits.DeleteOrgUnit(ctx, org.ID, id)
		wantCode(t, err, castellan.EPRECONDITION, castellan.CodeOUNotEmpty)
		unchanged(t, s, org.ID, before)
	}
	_, err := s.OrgUnits.DeleteOrgUnit(ctx, org.ID, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOUNotFound)
	_, err = s.OrgUnits.DeleteOrgUnit(ctx, org.ID, p.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOUNotFound)
	unchanged(t, s, org.ID, before)

	rev := must(s.OrgUnits.DeleteOrgUnit(ctx, org.ID, b.ID))(t)
	if rev <= before.revision {
		t.Fatalf("got revision %d, want > %d", rev, before.revision)
	}
	if got, want := changesSince(t, s, before.revision), []string{"node:delete", "policy_attachment:delete"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got change log %v, want %v", got, want)
	}
	_, err = s.OrgUnits.FindOrgUnitByID(ctx, org.ID, b.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOUNotFound)
	_, err = s.Nodes.FindNodeByID(ctx, org.ID, b.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	// A is empty now; C is once its project moves out.
	must(s.OrgUnits.DeleteOrgUnit(ctx, org.ID, a.ID))(t)
	must(s.Projects.MoveProject(ctx, org.ID, p.ID, org.ID))(t)
	must(s.OrgUnits.DeleteOrgUnit(ctx, org.ID, c.ID))(t)
	if n := len(listed(s.OrgUnits.FindOrgUnits(ctx, org.ID, castellan.OrgUnitFilter{}))(t)); n != 0 {
		t.Fatalf("got %d OUs, want none", n)
	}
}

func testOrgUnitsCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	acme := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	globex := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t)
	mine := newOU(t, s, acme.ID, acme.ID, "Mine")
	myProject := must(s.Projects.CreateProject(ctx, acme.ID, castellan.ProjectCreate{Name: "web"}))(t)
	theirs := newOU(t, s, globex.ID, globex.ID, "Theirs")
	theirProject := must(s.Projects.CreateProject(ctx, globex.ID, castellan.ProjectCreate{ParentID: theirs.ID, Name: "web"}))(t)

	before := takeSnapshot(t, s, acme.ID)
	beforeThem := takeSnapshot(t, s, globex.ID)
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"Find", func() error { _, err := s.OrgUnits.FindOrgUnitByID(ctx, acme.ID, theirs.ID); return err }, castellan.CodeOUNotFound},
		{"List", func() error {
			_, _, err := s.OrgUnits.FindOrgUnits(ctx, acme.ID, castellan.OrgUnitFilter{ParentID: &theirs.ID})
			return err
		}, castellan.CodeNodeNotFound},
		{"Create", func() error {
			_, err := s.OrgUnits.CreateOrgUnit(ctx, acme.ID, castellan.OrgUnitCreate{ParentID: theirs.ID, Name: "x"})
			return err
		}, castellan.CodeNodeNotFound},
		{"CreateUnderTheirRoot", func() error {
			_, err := s.OrgUnits.CreateOrgUnit(ctx, acme.ID, castellan.OrgUnitCreate{ParentID: globex.ID, Name: "x"})
			return err
		}, castellan.CodeNodeNotFound},
		{"Update", func() error {
			_, err := s.OrgUnits.UpdateOrgUnit(ctx, acme.ID, theirs.ID, castellan.OrgUnitUpdate{Name: ptr("x")})
			return err
		}, castellan.CodeOUNotFound},
		{"Move", func() error { _, err := s.OrgUnits.MoveOrgUnit(ctx, acme.ID, theirs.ID, acme.ID); return err }, castellan.CodeOUNotFound},
		{"MoveUnderTheirs", func() error { _, err := s.OrgUnits.MoveOrgUnit(ctx, acme.ID, mine.ID, theirs.ID); return err }, castellan.CodeNodeNotFound},
		{"Delete", func() error { _, err := s.OrgUnits.DeleteOrgUnit(ctx, acme.ID, theirs.ID); return err }, castellan.CodeOUNotFound},
		{"CreateProject", func() error {
			_, err := s.Projects.CreateProject(ctx, acme.ID, castellan.ProjectCreate{ParentID: theirs.ID, Name: "x"})
			return err
		}, castellan.CodeNodeNotFound},
		{"MoveProjectUnderTheirs", func() error { _, err := s.Projects.MoveProject(ctx, acme.ID, myProject.ID, theirs.ID); return err }, castellan.CodeNodeNotFound},
		{"MoveTheirProject", func() error { _, err := s.Projects.MoveProject(ctx, acme.ID, theirProject.ID, acme.ID); return err }, castellan.CodeProjectNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.call(), castellan.ENOTFOUND, tc.code)
			unchanged(t, s, acme.ID, before)
			unchanged(t, s, globex.ID, beforeThem)
		})
	}
}
