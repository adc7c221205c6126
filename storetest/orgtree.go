package storetest

import (
	"reflect"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
)

// testOrgUnitsConcurrentMoves moves OUs of a forest into each other from
// 25 goroutines at once, many of the moves pairwise opposite, so that
// without serialization two of them would close a cycle or stack two
// subtrees past the depth limit. Whatever the order, the tree read back
// must have no cycle, every OU's path must extend its parent's, and no OU
// may be deeper than MaxOUDepth.
func testOrgUnitsConcurrentMoves(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	var units []*castellan.OrgUnit
	for _, prefix := range []string{"a", "b", "c", "d"} {
		units = append(units, ouChain(t, s, org.ID, prefix, 3)...)
	}
	const movers = 25
	start := make(chan struct{})
	errs := make([]error, movers)
	var wg sync.WaitGroup
	for i := range movers {
		from, to := units[i%len(units)], units[(i*7+5)%len(units)]
		if i%2 == 1 { // the opposite of the previous move
			prev := i - 1
			from, to = units[(prev*7+5)%len(units)], units[prev%len(units)]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.OrgUnits.MoveOrgUnit(ctx, org.ID, from.ID, to.ID)
		}()
	}
	close(start)
	wg.Wait()
	moved := 0
	for i, err := range errs {
		switch castellan.ErrorCode(err) {
		case "":
			moved++
		case castellan.CodeOUCycle, castellan.CodeOUTooDeep:
		default:
			t.Fatalf("move %d: got %v, want success, ou.cycle or ou.too_deep", i, err)
		}
	}
	if moved == 0 {
		t.Fatal("no move succeeded")
	}
	t.Logf("%d of %d moves succeeded", moved, movers)

	tree := listed(s.Nodes.FindTree(ctx, org.ID, castellan.TreeFilter{Kinds: []castellan.NodeKind{castellan.NodeRoot, castellan.NodeOU}, PageSize: castellan.MaxPageSize}))(t)
	if len(tree) != len(units)+1 || tree[0].ID != org.ID {
		t.Fatalf("got %d nodes in the tree, want %d reachable from the root", len(tree), len(units)+1)
	}
	depth := map[string]int{org.ID: 0}
	for _, n := range tree[1:] {
		parentDepth, ok := depth[n.ParentID]
		if !ok {
			t.Fatalf("%s (%s) comes before its parent %s: the tree is broken", n.Name, n.ID, n.ParentID)
		}
		if n.Depth != parentDepth+1 || n.Depth > castellan.MaxOUDepth {
			t.Fatalf("%s: got depth %d under a parent of depth %d (limit %d)", n.Name, n.Depth, parentDepth, castellan.MaxOUDepth)
		}
		depth[n.ID] = n.Depth
	}
	for _, u := range units {
		chain := must(s.Nodes.FindAncestors(ctx, org.ID, u.ID))(t)
		if len(chain)-1 != depth[u.ID] || chain[len(chain)-1].ID != org.ID {
			t.Fatalf("%s: got %d ancestors ending at %s, want depth %d", u.Name, len(chain)-1, chain[len(chain)-1].ID, depth[u.ID])
		}
		for i := 0; i+1 < len(chain); i++ {
			if chain[i].ParentID != chain[i+1].ID {
				t.Fatalf("%s: ancestry breaks between %s and %s", u.Name, chain[i].ID, chain[i+1].ID)
			}
		}
		ou := must(s.OrgUnits.FindOrgUnitByID(ctx, org.ID, u.ID))(t)
		if ou.Depth != depth[u.ID] || len(ou.Path) != ou.Depth || ou.Path[len(ou.Path)-1].ID != ou.ParentID {
			t.Fatalf("%s: got %+v", u.Name, ou)
		}
	}
}

// testProjectsInTree creates and moves projects between the root, OUs
// and accounts' places in the tree.
func testProjectsInTree(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	ou := newOU(t, s, org.ID, org.ID, "Sales")
	p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: ou.ID, Name: "web"}))(t)
	if p.ParentID != ou.ID {
		t.Fatalf("got parent %s, want %s", p.ParentID, ou.ID)
	}
	if got := must(s.Projects.FindProjectByID(ctx, org.ID, p.ID))(t); *got != *p {
		t.Fatalf("got %+v, want %+v", got, p)
	}
	chain := must(s.Nodes.FindAncestors(ctx, org.ID, p.ID))(t)
	if len(chain) != 3 || chain[1].ID != ou.ID || chain[2].ID != org.ID || chain[0].Kind != castellan.NodeProject {
		t.Fatalf("got ancestors %+v", chain)
	}
	rootWeb := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web"}))(t)
	other := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t)
	otherProject := must(s.Projects.CreateProject(ctx, other.ID, castellan.ProjectCreate{Name: "web"}))(t)
	// Found in one read, in no order: a repeat once, an unknown ID and a
	// node of another organization left out.
	found := must(s.Nodes.FindNodesByID(ctx, org.ID, []string{p.ID, unknownID, ou.ID, otherProject.ID, p.ID}))(t)
	byID := map[string]*castellan.Node{}
	for _, n := range found {
		byID[n.ID] = n
	}
	if len(found) != 2 || byID[p.ID] == nil || byID[ou.ID] == nil || byID[p.ID].Kind != castellan.NodeProject || byID[ou.ID].ParentID != org.ID {
		t.Fatalf("FindNodesByID: got %+v, want the project and the OU", found)
	}
	_, err := s.Nodes.FindNodesByID(ctx, org.ID, make([]string, castellan.MaxFindNodes+1))
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)

	before := takeSnapshot(t, s, org.ID)
	for _, tc := range []struct {
		name   string
		parent string
		kind   castellan.Kind
		code   string
	}{
		{"UnknownParent", unknownID, castellan.ENOTFOUND, castellan.CodeNodeNotFound},
		{"ProjectParent", p.ID, castellan.EINVALID, castellan.CodeInvalidParent},
	} {
		_, err := s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: tc.parent, Name: "x"})
		wantCode(t, err, tc.kind, tc.code)
		wantField(t, err, "parentId", "")
		_, err = s.Projects.MoveProject(ctx, org.ID, rootWeb.ID, tc.parent)
		wantCode(t, err, tc.kind, tc.code)
		unchanged(t, s, org.ID, before)
	}
	_, err = s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{ParentID: "x", Name: "x"})
	wantField(t, err, "parentId", "format")
	// A project named as one at the destination cannot move there.
	_, err = s.Projects.MoveProject(ctx, org.ID, p.ID, org.ID)
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeProjectNameTaken)
	unchanged(t, s, org.ID, before)

	api := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "api"}))(t)
	rev := must(s.ChangeLog.Revision(ctx))(t)
	moved := must(s.Projects.MoveProject(ctx, org.ID, api.ID, ou.ID))(t)
	if moved.ParentID != ou.ID || moved.Revision <= rev || moved.Name != "api" {
		t.Fatalf("got %+v", moved)
	}
	if got := changesSince(t, s, rev); !reflect.DeepEqual(got, []string{"project:update"}) {
		t.Fatalf("got change log %v, want one project update", got)
	}
	if chain := must(s.Nodes.FindAncestors(ctx, org.ID, api.ID))(t); len(chain) != 3 || chain[1].ID != ou.ID {
		t.Fatalf("got ancestors %+v", chain)
	}
	// Where it is already: nothing written.
	before = takeSnapshot(t, s, org.ID)
	if again := must(s.Projects.MoveProject(ctx, org.ID, api.ID, ou.ID))(t); again.Revision != moved.Revision {
		t.Fatalf("got revision %d, want %d", again.Revision, moved.Revision)
	}
	unchanged(t, s, org.ID, before)
	back := must(s.Projects.MoveProject(ctx, org.ID, api.ID, org.ID))(t)
	if chain := must(s.Nodes.FindAncestors(ctx, org.ID, back.ID))(t); back.ParentID != org.ID || len(chain) != 2 || chain[0].Depth != 1 {
		t.Fatalf("got %+v with ancestors %+v", back, chain)
	}
}
