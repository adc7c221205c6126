package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testControlPolicies(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testControlPoliciesOK(t, open) })
	t.Run("List", func(t *testing.T) { testControlPoliciesList(t, open) })
	t.Run("System", func(t *testing.T) { testControlPoliciesSystem(t, open) })
	t.Run("ErrName", func(t *testing.T) { testControlPoliciesErrName(t, open) })
	t.Run("ErrDocument", func(t *testing.T) { testControlPoliciesErrDocument(t, open) })
	t.Run("Attachments", func(t *testing.T) { testControlPoliciesAttachments(t, open) })
	t.Run("TooMany", func(t *testing.T) { testControlPoliciesTooMany(t, open) })
	t.Run("NodePolicies", func(t *testing.T) { testControlPoliciesNodePolicies(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testControlPoliciesCrossOrganization(t, open) })
	t.Run("ConcurrentDetach", func(t *testing.T) { testControlPoliciesConcurrentDetach(t, open) })
}

const (
	forbidStop = `forbid (principal, action == Action::"compute:StopInstance", resource);`
	permitAll  = "permit (principal, action, resource);"
)

// newControlPolicy creates a custom policy named name.
func newControlPolicy(tb testing.TB, s castellan.Services, orgID, name string) *castellan.ControlPolicy {
	tb.Helper()
	return must(s.ControlPolicies.CreateControlPolicy(operatorCtx("r-cp"), orgID, castellan.ControlPolicyCreate{Name: name, Document: forbidStop}))(tb)
}

// policyIDs lists the IDs of the policies of attachments, each with how
// and where it applies: <policy>/<method>/<node>.
func policyIDs(attachments []*castellan.PolicyAttachment) string {
	var out []string
	for _, a := range attachments {
		out = append(out, a.Policy.ID+"/"+string(a.Method)+"/"+a.Node.ID)
	}
	return strings.Join(out, " ")
}

func testControlPoliciesOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-cp")
	p := must(s.ControlPolicies.CreateControlPolicy(ctx, org, castellan.ControlPolicyCreate{Name: "no-stop", Description: "keep them running", Document: forbidStop}))(t)
	if !castellan.ValidID(p.ID) || p.OrganizationID != org || p.Name != "no-stop" || p.Description != "keep them running" || p.Document != forbidStop ||
		p.Type != castellan.ControlPolicyCustom || p.Revision <= res.Revision || !p.CreatedAt.Equal(clock.Now()) || p.CreatedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", p)
	}
	if got := must(s.ControlPolicies.FindControlPolicyByID(ctx, org, p.ID))(t); *got != *p {
		t.Fatalf("got %+v, want %+v", got, p)
	}
	clock.Advance(time.Second)
	name, doc := "no-stop-or-start", `forbid (principal, action in [Action::"compute:StopInstance", Action::"compute:StartInstance"], resource);`
	upd := must(s.ControlPolicies.UpdateControlPolicy(ctx, org, p.ID, castellan.ControlPolicyUpdate{Name: &name, Document: &doc}))(t)
	if upd.Name != name || upd.Document != doc || upd.Description != p.Description || upd.Revision <= p.Revision || !upd.UpdatedAt.Equal(clock.Now()) || !upd.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("got %+v", upd)
	}
	before := takeSnapshot(t, s, org)
	same := must(s.ControlPolicies.UpdateControlPolicy(ctx, org, p.ID, castellan.ControlPolicyUpdate{Name: &name}))(t)
	if same.Revision != upd.Revision {
		t.Fatalf("no-op update moved revision from %d to %d", upd.Revision, same.Revision)
	}
	unchanged(t, s, org, before)
	rev := must(s.ControlPolicies.DeleteControlPolicy(ctx, org, p.ID))(t)
	if rev <= upd.Revision {
		t.Fatalf("delete revision %d, want > %d", rev, upd.Revision)
	}
	_, err := s.ControlPolicies.FindControlPolicyByID(ctx, org, p.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeControlPolicyNotFound)
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &p.ID}))(t)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "organizations:DeleteControlPolicy organizations:UpdateControlPolicy organizations:CreateControlPolicy" ||
		events[2].RequestID != "req-cp" {
		t.Fatalf("got events %s", got)
	}
}

func testControlPoliciesList(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-list")
	for _, name := range []string{"charlie", "alpha", "bravo"} {
		newControlPolicy(t, s, org, name)
	}
	names := func(filter castellan.ControlPolicyFilter) string {
		t.Helper()
		var out []string
		for {
			page, next := paged(s.ControlPolicies.FindControlPolicies(ctx, org, filter))(t)
			for _, p := range page {
				out = append(out, p.Name)
			}
			if next == "" {
				return strings.Join(out, " ")
			}
			filter.PageToken = next
		}
	}
	system, custom := castellan.ControlPolicySystem, castellan.ControlPolicyCustom
	for _, tc := range []struct {
		filter castellan.ControlPolicyFilter
		want   string
	}{
		{castellan.ControlPolicyFilter{}, "FullAccess alpha bravo charlie"},
		{castellan.ControlPolicyFilter{PageSize: 1}, "FullAccess alpha bravo charlie"},
		{castellan.ControlPolicyFilter{PageSize: 2}, "FullAccess alpha bravo charlie"},
		{castellan.ControlPolicyFilter{Type: &system}, "FullAccess"},
		{castellan.ControlPolicyFilter{Type: &custom, PageSize: 2}, "alpha bravo charlie"},
	} {
		if got := names(tc.filter); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.filter, got, tc.want)
		}
	}
	_, _, err := s.ControlPolicies.FindControlPolicies(ctx, org, castellan.ControlPolicyFilter{PageToken: "nonsense"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}

// paged is must for one page of a list: the items and the next token.
func paged[T any](items []T, next string, err error) func(tb testing.TB) ([]T, string) {
	return func(tb testing.TB) ([]T, string) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return items, next
	}
}

func testControlPoliciesSystem(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-sys")
	full := must(s.ControlPolicies.FindControlPolicyByID(ctx, org, castellan.FullAccessPolicyID))(t)
	if full.Type != castellan.ControlPolicySystem || full.Document != castellan.SystemControlPolicy(castellan.FullAccessPolicyID).Document || full.OrganizationID != "" {
		t.Fatalf("got %+v", full)
	}
	before := takeSnapshot(t, s, org)
	d := "mine now"
	_, err := s.ControlPolicies.UpdateControlPolicy(ctx, org, castellan.FullAccessPolicyID, castellan.ControlPolicyUpdate{Description: &d})
	wantCode(t, err, castellan.EINVALID, castellan.CodeControlPolicySystem)
	_, err = s.ControlPolicies.DeleteControlPolicy(ctx, org, castellan.FullAccessPolicyID)
	wantCode(t, err, castellan.EINVALID, castellan.CodeControlPolicySystem)
	unchanged(t, s, org, before)
	// A changed copy of the system table would show here.
	if again := must(s.ControlPolicies.FindControlPolicyByID(ctx, org, castellan.FullAccessPolicyID))(t); *again != *full {
		t.Fatalf("got %+v, want %+v", again, full)
	}
}

func testControlPoliciesErrName(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-name")
	taken := newControlPolicy(t, s, org, "taken")
	other := newControlPolicy(t, s, org, "other")
	before := takeSnapshot(t, s, org)
	for _, tc := range []struct {
		name, rule string
	}{
		{castellan.FullAccessPolicyID, "reserved"},
		{"", ""},
		{strings.Repeat("n", castellan.MaxControlPolicyNameLength+1), ""},
		{" padded", ""},
		{"tab\there", ""},
	} {
		_, err := s.ControlPolicies.CreateControlPolicy(ctx, org, castellan.ControlPolicyCreate{Name: tc.name, Document: permitAll})
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, "name", tc.rule)
		_, err = s.ControlPolicies.UpdateControlPolicy(ctx, org, other.ID, castellan.ControlPolicyUpdate{Name: &tc.name})
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, "name", tc.rule)
	}
	long := strings.Repeat("d", castellan.MaxLongDescriptionLength+1)
	_, err := s.ControlPolicies.CreateControlPolicy(ctx, org, castellan.ControlPolicyCreate{Name: "fine", Description: long, Document: permitAll})
	wantField(t, err, "description", "")
	_, err = s.ControlPolicies.CreateControlPolicy(ctx, org, castellan.ControlPolicyCreate{Name: taken.Name, Document: permitAll})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeControlPolicyNameTaken)
	_, err = s.ControlPolicies.UpdateControlPolicy(ctx, org, other.ID, castellan.ControlPolicyUpdate{Name: &taken.Name})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeControlPolicyNameTaken)
	unchanged(t, s, org, before)
	// Names are case-sensitive, and another organization's are its own.
	newControlPolicy(t, s, org, "Taken")
	newControlPolicy(t, s, bootstrap(t, s, "Globex").OrganizationID, "taken")
}

func testControlPoliciesErrDocument(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-doc")
	p := newControlPolicy(t, s, org, "p")
	before := takeSnapshot(t, s, org)
	for _, tc := range []struct {
		document string
		rules    []string
	}{
		{"", []string{"required"}},
		{"permit (principal, action, resource)", []string{"syntax"}},
		{"// nothing but a comment", []string{"required"}},
		{strings.Repeat(" ", castellan.MaxControlPolicyDocumentLength) + permitAll, []string{"maxLength"}},
		{`forbid (principal, action == Action::"compute:Explode", resource);`, []string{"unknownAction"}},
		{`permit (principal is Castellan::Robot, action in Action::"nosuch:*", resource is compute::bucket);`,
			[]string{"unknownEntityType", "unknownAction", "unknownEntityType"}},
	} {
		check := func(err error) {
			t.Helper()
			wantCode(t, err, castellan.EINVALID, castellan.CodeControlPolicyInvalid)
			fields := err.(*castellan.Error).Fields
			var rules []string
			for _, f := range fields {
				if f.Field != "document" {
					t.Fatalf("%q: field %q, want document", tc.document, f.Field)
				}
				if strings.HasPrefix(f.Rule, "unknown") && !strings.HasPrefix(f.Message, "line 1, column ") {
					t.Fatalf("%q: message %q has no position", tc.document, f.Message)
				}
				rules = append(rules, f.Rule)
			}
			if fmt.Sprint(rules) != fmt.Sprint(tc.rules) {
				t.Fatalf("%.40q: got rules %v, want %v", tc.document, rules, tc.rules)
			}
		}
		_, err := s.ControlPolicies.CreateControlPolicy(ctx, org, castellan.ControlPolicyCreate{Name: "new", Document: tc.document})
		check(err)
		_, err = s.ControlPolicies.UpdateControlPolicy(ctx, org, p.ID, castellan.ControlPolicyUpdate{Document: &tc.document})
		check(err)
	}
	// A bad name beside a bad document: the document's code, both fields.
	_, err := s.ControlPolicies.CreateControlPolicy(ctx, org, castellan.ControlPolicyCreate{Name: castellan.FullAccessPolicyID, Document: "permit ("})
	wantCode(t, err, castellan.EINVALID, castellan.CodeControlPolicyInvalid)
	wantField(t, err, "name", "reserved")
	wantField(t, err, "document", "syntax")
	unchanged(t, s, org, before)
	if got := must(s.ControlPolicies.FindControlPolicyByID(ctx, org, p.ID))(t); got.Document != forbidStop {
		t.Fatalf("document changed to %q", got.Document)
	}
}

func testControlPoliciesAttachments(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-att")
	root := org
	p := newControlPolicy(t, s, org, "no-stop")
	project := must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
	full := castellan.FullAccessPolicyID

	clock.Advance(time.Second)
	a := must(s.ControlPolicies.AttachControlPolicy(ctx, org, p.ID, root))(t)
	if a.Policy.ID != p.ID || a.Method != castellan.AttachedDirect || a.Node.ID != root || a.Node.Kind != castellan.NodeRoot ||
		!a.AttachedAt.Equal(clock.Now()) || a.AttachedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", a)
	}
	if got := policyIDs(must(s.ControlPolicies.FindNodePolicies(ctx, org, root))(t)); got != full+"/direct/"+root+" "+p.ID+"/direct/"+root {
		t.Fatalf("root's policies %s", got)
	}
	targets := must(s.ControlPolicies.FindPolicyTargets(ctx, org, p.ID))(t)
	if len(targets) != 1 || targets[0].ID != root || targets[0].Kind != castellan.NodeRoot {
		t.Fatalf("targets %+v", targets)
	}

	before := takeSnapshot(t, s, org)
	_, err := s.ControlPolicies.AttachControlPolicy(ctx, org, p.ID, root)
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeControlPolicyAttached)
	_, err = s.ControlPolicies.AttachControlPolicy(ctx, org, full, root)
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeControlPolicyAttached)
	_, err = s.ControlPolicies.AttachControlPolicy(ctx, org, p.ID, project.ID)
	wantCode(t, err, castellan.EINVALID, castellan.CodeControlPolicyInvalidTarget)
	_, err = s.ControlPolicies.DetachControlPolicy(ctx, org, full, project.ID)
	wantCode(t, err, castellan.EINVALID, castellan.CodeControlPolicyInvalidTarget)
	_, err = s.ControlPolicies.DeleteControlPolicy(ctx, org, p.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeControlPolicyInUse)
	_, err = s.ControlPolicies.AttachControlPolicy(ctx, org, unknownID, root)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeControlPolicyNotFound)
	_, err = s.ControlPolicies.AttachControlPolicy(ctx, org, p.ID, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	unchanged(t, s, org, before)

	// FullAccess can go while no-stop stays; then no-stop is the last.
	rev := must(s.ControlPolicies.DetachControlPolicy(ctx, org, full, root))(t)
	if rev <= a.Policy.Revision {
		t.Fatalf("detach revision %d", rev)
	}
	before = takeSnapshot(t, s, org)
	_, err = s.ControlPolicies.DetachControlPolicy(ctx, org, p.ID, root)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeControlPolicyLastAttachment)
	_, err = s.ControlPolicies.DetachControlPolicy(ctx, org, full, root)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeControlPolicyNotAttached)
	unchanged(t, s, org, before)
	if got := policyIDs(must(s.ControlPolicies.FindNodePolicies(ctx, org, root))(t)); got != p.ID+"/direct/"+root {
		t.Fatalf("root's policies %s", got)
	}
	if got := must(s.ControlPolicies.FindPolicyTargets(ctx, org, full))(t); len(got) != 0 {
		t.Fatalf("FullAccess targets %+v", got)
	}

	// Replace it: attach first, then detach; then the policy can go.
	must(s.ControlPolicies.AttachControlPolicy(ctx, org, full, root))(t)
	must(s.ControlPolicies.DetachControlPolicy(ctx, org, p.ID, root))(t)
	must(s.ControlPolicies.DeleteControlPolicy(ctx, org, p.ID))(t)
	var kinds []string
	for _, e := range listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr(string(castellan.ActionAttachControlPolicy))}))(t) {
		kinds = append(kinds, e.Action)
	}
	if len(kinds) != 2 {
		t.Fatalf("got %d attach events, want 2", len(kinds))
	}
}

func testControlPoliciesTooMany(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-many")
	for i := 1; i < castellan.MaxPoliciesPerTarget; i++ {
		must(s.ControlPolicies.AttachControlPolicy(ctx, org, newControlPolicy(t, s, org, fmt.Sprintf("p%d", i)).ID, org))(t)
	}
	extra := newControlPolicy(t, s, org, "extra")
	before := takeSnapshot(t, s, org)
	_, err := s.ControlPolicies.AttachControlPolicy(ctx, org, extra.ID, org)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeControlPolicyTooMany)
	unchanged(t, s, org, before)
	if got := must(s.ControlPolicies.FindNodePolicies(ctx, org, org))(t); len(got) != castellan.MaxPoliciesPerTarget {
		t.Fatalf("got %d policies, want %d", len(got), castellan.MaxPoliciesPerTarget)
	}
}

func testControlPoliciesNodePolicies(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-node")
	project := must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
	// Created in reverse name and ID order, attached a second apart:
	// the list follows the attachment time.
	second, first := newControlPolicy(t, s, org, "b"), newControlPolicy(t, s, org, "a")
	for _, p := range []*castellan.ControlPolicy{second, first} {
		clock.Advance(time.Second)
		must(s.ControlPolicies.AttachControlPolicy(ctx, org, p.ID, org))(t)
	}
	full := castellan.FullAccessPolicyID
	if got, want := policyIDs(must(s.ControlPolicies.FindNodePolicies(ctx, org, org))(t)),
		full+"/direct/"+org+" "+second.ID+"/direct/"+org+" "+first.ID+"/direct/"+org; got != want {
		t.Fatalf("root: got %s, want %s", got, want)
	}
	// A project has none of its own: every policy is its root's.
	tab := must(s.ControlPolicies.FindNodePolicies(ctx, org, project.ID))(t)
	if got, want := policyIDs(tab), full+"/inherited/"+org+" "+second.ID+"/inherited/"+org+" "+first.ID+"/inherited/"+org; got != want {
		t.Fatalf("project: got %s, want %s", got, want)
	}
	if tab[1].Policy.Name != "b" || tab[1].Policy.Document != forbidStop || tab[1].Node.Kind != castellan.NodeRoot || tab[0].Policy.Type != castellan.ControlPolicySystem {
		t.Fatalf("project: got %+v", tab[1])
	}
	// An update shows in every attachment at once.
	doc := permitAll
	must(s.ControlPolicies.UpdateControlPolicy(ctx, org, second.ID, castellan.ControlPolicyUpdate{Document: &doc}))(t)
	if tab := must(s.ControlPolicies.FindNodePolicies(ctx, org, project.ID))(t); tab[1].Policy.Document != permitAll {
		t.Fatalf("project: got %+v", tab[1].Policy)
	}
	_, err := s.ControlPolicies.FindNodePolicies(ctx, org, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
}

// testControlPoliciesCrossOrganization names another organization's
// policy or node through each method: not found, and nothing changes.
func testControlPoliciesCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme").OrganizationID, bootstrap(t, s, "Globex").OrganizationID
	ctx := operatorCtx("r-cross")
	theirs := newControlPolicy(t, s, globex, "theirs")
	must(s.ControlPolicies.AttachControlPolicy(ctx, globex, theirs.ID, globex))(t)
	ours := newControlPolicy(t, s, acme, "ours")
	acmeBefore, globexBefore := takeSnapshot(t, s, acme), takeSnapshot(t, s, globex)
	notFound := func(err error, code string) {
		t.Helper()
		wantCode(t, err, castellan.ENOTFOUND, code)
	}
	d := "x"
	_, err := s.ControlPolicies.FindControlPolicyByID(ctx, acme, theirs.ID)
	notFound(err, castellan.CodeControlPolicyNotFound)
	_, err = s.ControlPolicies.UpdateControlPolicy(ctx, acme, theirs.ID, castellan.ControlPolicyUpdate{Description: &d})
	notFound(err, castellan.CodeControlPolicyNotFound)
	_, err = s.ControlPolicies.DeleteControlPolicy(ctx, acme, theirs.ID)
	notFound(err, castellan.CodeControlPolicyNotFound)
	_, err = s.ControlPolicies.FindPolicyTargets(ctx, acme, theirs.ID)
	notFound(err, castellan.CodeControlPolicyNotFound)
	_, err = s.ControlPolicies.AttachControlPolicy(ctx, acme, theirs.ID, acme)
	notFound(err, castellan.CodeControlPolicyNotFound)
	_, err = s.ControlPolicies.DetachControlPolicy(ctx, acme, theirs.ID, acme)
	notFound(err, castellan.CodeControlPolicyNotAttached)
	// Their node through our organization.
	_, err = s.ControlPolicies.AttachControlPolicy(ctx, acme, ours.ID, globex)
	notFound(err, castellan.CodeNodeNotFound)
	_, err = s.ControlPolicies.DetachControlPolicy(ctx, acme, theirs.ID, globex)
	notFound(err, castellan.CodeNodeNotFound)
	_, err = s.ControlPolicies.FindNodePolicies(ctx, acme, globex)
	notFound(err, castellan.CodeNodeNotFound)
	// Our policy and node through their organization.
	_, err = s.ControlPolicies.AttachControlPolicy(ctx, globex, ours.ID, globex)
	notFound(err, castellan.CodeControlPolicyNotFound)
	_, err = s.ControlPolicies.DetachControlPolicy(ctx, globex, castellan.FullAccessPolicyID, acme)
	notFound(err, castellan.CodeNodeNotFound)
	unchanged(t, s, acme, acmeBefore)
	unchanged(t, s, globex, globexBefore)
	if got := policyIDs(must(s.ControlPolicies.FindNodePolicies(ctx, globex, globex))(t)); got != castellan.FullAccessPolicyID+"/direct/"+globex+" "+theirs.ID+"/direct/"+globex {
		t.Fatalf("Globex's root: %s", got)
	}
}

// testControlPoliciesConcurrentDetach detaches the last two policies of
// the root at once, many times: one detach wins, the other finds it the
// last, and the root never ends with none.
func testControlPoliciesConcurrentDetach(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-race")
	p := newControlPolicy(t, s, org, "p")
	const rounds = 25
	for round := 0; round < rounds; round++ {
		must(s.ControlPolicies.AttachControlPolicy(ctx, org, p.ID, org))(t)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, id := range []string{castellan.FullAccessPolicyID, p.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.ControlPolicies.DetachControlPolicy(ctx, org, id, org)
			}()
		}
		wg.Wait()
		left := must(s.ControlPolicies.FindNodePolicies(ctx, org, org))(t)
		if len(left) != 1 {
			t.Fatalf("round %d: %d policies left (%v, %v)", round, len(left), errs[0], errs[1])
		}
		for i, err := range errs {
			if (err == nil) == (left[0].Policy.ID == []string{castellan.FullAccessPolicyID, p.ID}[i]) {
				t.Fatalf("round %d: detach %d returned %v, yet %s is left", round, i, err, left[0].Policy.ID)
			}
			if err != nil {
				wantCode(t, err, castellan.EPRECONDITION, castellan.CodeControlPolicyLastAttachment)
			}
		}
		// Put FullAccess back as the one left, for the next round.
		if left[0].Policy.ID == p.ID {
			must(s.ControlPolicies.AttachControlPolicy(ctx, org, castellan.FullAccessPolicyID, org))(t)
			must(s.ControlPolicies.DetachControlPolicy(ctx, org, p.ID, org))(t)
		}
	}
}
