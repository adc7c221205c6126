package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testDecisionLog(t *testing.T, open Opener) {
	t.Run("RecordAndMerge", func(t *testing.T) { testDecisionLogRecordAndMerge(t, open) })
	t.Run("Find", func(t *testing.T) { testDecisionLogFind(t, open) })
	t.Run("Coverage", func(t *testing.T) { testDecisionLogCoverage(t, open) })
	t.Run("Prune", func(t *testing.T) { testDecisionLogPrune(t, open) })
	t.Run("UnusedPermissions", func(t *testing.T) { testUnusedPermissions(t, open) })
}

// recorderAt is a recorder of mode heard of last at seen, flushing every
// minute.
func recorderAt(id string, mode castellan.DecisionLogMode, started, seen time.Time) castellan.DecisionRecorder {
	rate := 1.0
	if mode == castellan.DecisionLogSample {
		rate = 0.5
	}
	return castellan.DecisionRecorder{ID: id, Mode: mode, SampleRate: rate, FlushInterval: time.Minute, StartedAt: started, SeenAt: seen}
}

// decided is a record of n decisions about user of org, the allowed
// ones at `at`.
func decided(org, user, action, scope string, allowed, denied int64, at time.Time) castellan.DecisionRecord {
	r := castellan.DecisionRecord{OrganizationID: org, PrincipalType: castellan.PrincipalUser, PrincipalID: user, Action: action, Scope: scope,
		Allowed: allowed, Denied: denied, FirstSeen: at, LastSeen: at}
	if allowed > 0 {
		r.LastAllowed = &at
	}
	return r
}

// allRecords lists every record of org page by page.
func allRecords(tb testing.TB, s castellan.Services, org string, f castellan.DecisionLogFilter) []*castellan.DecisionRecord {
	tb.Helper()
	var out []*castellan.DecisionRecord
	for {
		page := must(s.DecisionLog.FindDecisionRecords(context.Background(), org, f))(tb)
		out = append(out, page.Records...)
		if page.Next == "" {
			return out
		}
		f.PageToken = page.Next
	}
}

func testDecisionLogRecordAndMerge(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	ctx, org, user := context.Background(), f.org.OrganizationID, f.users[0].ID
	t0 := f.clock.Now()
	rec := recorderAt("r1", castellan.DecisionLogAll, t0, t0)
	scope := f.projectScope()
	must(0, f.s.DecisionLog.RecordDecisions(ctx, rec, []castellan.DecisionRecord{
		decided(org, user, "s3e:GetObject", scope, 2, 1, t0),
		decided(org, user, "s3e:PutObject", scope, 0, 3, t0),
		// An organization deleted since its decisions is left out.
		decided("0190a0b0-0000-7000-8000-00000000dead", user, "s3e:GetObject", scope, 1, 0, t0),
	}))(t)
	t1, before := t0.Add(time.Hour), t0.Add(-time.Hour)
	// The second flush overlaps the first: counts add up, first seen
	// goes back, last seen and last allowed forward; a denied-only
	// record keeps the last allowed it had.
	late := decided(org, user, "s3e:GetObject", scope, 1, 0, t1)
	late.FirstSeen = before
	must(0, f.s.DecisionLog.RecordDecisions(ctx, rec, []castellan.DecisionRecord{late,
		decided(org, user, "s3e:PutObject", scope, 0, 1, t1)}))(t)

	got := allRecords(t, f.s, org, castellan.DecisionLogFilter{})
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2", len(got))
	}
	get, put := got[0], got[1]
	if get.Action != "s3e:GetObject" || get.Allowed != 3 || get.Denied != 1 || get.Count != 4 || !get.FirstSeen.Equal(before) ||
		!get.LastSeen.Equal(t1) || get.LastAllowed == nil || !get.LastAllowed.Equal(t1) || get.Scope != scope || get.PrincipalID != user {
		t.Errorf("got %+v, want s3e:GetObject merged", get)
	}
	if put.Action != "s3e:PutObject" || put.Allowed != 0 || put.Denied != 4 || put.LastAllowed != nil || !put.FirstSeen.Equal(t0) || !put.LastSeen.Equal(t1) {
		t.Errorf("got %+v, want s3e:PutObject merged, never allowed", put)
	}
	if other := allRecords(t, f.s, f.otherOrg.OrganizationID, castellan.DecisionLogFilter{}); len(other) != 0 {
		t.Errorf("got %d records in another organization, want none", len(other))
	}
}

func testDecisionLogFind(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	ctx, org := context.Background(), f.org.OrganizationID
	t0 := f.clock.Now()
	t1 := t0.Add(time.Hour)
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("r1", castellan.DecisionLogAll, t0, t1), []castellan.DecisionRecord{
		decided(org, f.users[0].ID, "s3e:GetObject", f.projectScope(), 1, 0, t0),
		decided(org, f.users[0].ID, "s3e:ListObjects", f.projectScope(), 0, 1, t1),
		decided(org, f.users[0].ID, "s3e:PutObject", f.projectScope(), 1, 0, t1),
		decided(org, f.users[1].ID, "s3e:GetObject", f.projectScope(), 1, 0, t1),
	}))(t)
	actions := func(rs []*castellan.DecisionRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Action)
		}
		return out
	}
	u0 := f.user(0)
	for _, c := range []struct {
		name   string
		filter castellan.DecisionLogFilter
		want   []string
	}{
		{"Principal", castellan.DecisionLogFilter{Principal: &u0, PageSize: 1}, []string{"s3e:GetObject", "s3e:ListObjects", "s3e:PutObject"}},
		{"Since", castellan.DecisionLogFilter{Principal: &u0, Since: t1}, []string{"s3e:ListObjects", "s3e:PutObject"}},
		{"AllowedSince", castellan.DecisionLogFilter{Principal: &u0, AllowedSince: t1}, []string{"s3e:PutObject"}},
	} {
		if got := actions(allRecords(t, f.s, org, c.filter)); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if n := len(allRecords(t, f.s, org, castellan.DecisionLogFilter{PageSize: 3})); n != 4 {
		t.Errorf("got %d records in pages of 3, want 4", n)
	}
	_, err := f.s.DecisionLog.FindDecisionRecords(ctx, org, castellan.DecisionLogFilter{PageToken: "garbage"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}

func testDecisionLogCoverage(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	ctx, org := context.Background(), f.org.OrganizationID
	coverage := func() castellan.DecisionLogCoverage {
		return must(f.s.DecisionLog.FindDecisionRecords(ctx, org, castellan.DecisionLogFilter{}))(t).Coverage
	}
	if c := coverage(); c.RecordingSince != nil {
		t.Fatalf("got recording since %v before any recorder, want none", c.RecordingSince)
	}
	t0 := f.clock.Now()
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("a", castellan.DecisionLogAll, t0, t0), nil))(t)
	f.clock.Advance(time.Minute)
	// A second process starts while the first still records; the first
	// stops.
	t1 := f.clock.Now()
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("b", castellan.DecisionLogSample, t1, t1), nil))(t)
	f.clock.Advance(90 * time.Second)
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("b", castellan.DecisionLogSample, t1, f.clock.Now()), nil))(t)
	if c := coverage(); c.RecordingSince == nil || !c.RecordingSince.Equal(t0) || !c.Sampled {
		t.Fatalf("got %+v, want sampled recording since %v", c, t0)
	}
	// Three intervals without a heartbeat: nobody records now.
	f.clock.Advance(3 * time.Minute)
	if c := coverage(); c.RecordingSince != nil {
		t.Fatalf("got recording since %v after the last process stopped, want none", c.RecordingSince)
	}
	// A process starting after the gap records from its start only.
	t2 := f.clock.Now()
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("c", castellan.DecisionLogAll, t2, t2), nil))(t)
	if c := coverage(); c.RecordingSince == nil || !c.RecordingSince.Equal(t2) || c.Sampled {
		t.Fatalf("got %+v, want full recording since %v", c, t2)
	}
}

func testDecisionLogPrune(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	ctx, org, user := context.Background(), f.org.OrganizationID, f.users[0].ID
	t0 := f.clock.Now()
	f.clock.Advance(48 * time.Hour)
	now := f.clock.Now()
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("r", castellan.DecisionLogAll, t0, now), []castellan.DecisionRecord{
		decided(org, user, "s3e:GetObject", f.projectScope(), 1, 0, t0),
		decided(org, user, "s3e:PutObject", f.projectScope(), 1, 0, now),
	}))(t)
	cutoff := now.Add(-24 * time.Hour)
	if n := must(f.s.DecisionLog.DeleteDecisionRecordsBefore(ctx, cutoff))(t); n != 1 {
		t.Fatalf("pruned %d records, want 1", n)
	}
	page := must(f.s.DecisionLog.FindDecisionRecords(ctx, org, castellan.DecisionLogFilter{}))(t)
	if len(page.Records) != 1 || page.Records[0].Action != "s3e:PutObject" {
		t.Fatalf("got %+v, want the record seen after the cutoff", page.Records)
	}
	// What was before the cutoff is gone: the log covers from it on.
	if c := page.Coverage; c.RecordingSince == nil || !c.RecordingSince.Equal(cutoff) {
		t.Fatalf("got recording since %v, want %v", c.RecordingSince, cutoff)
	}
}

func testUnusedPermissions(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	ctx, org := operatorCtx("r"), f.org.OrganizationID
	other := must(f.s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "other"}))(t)
	user := f.user(0) // a member of f.group
	expires := f.clock.Now().Add(time.Minute)
	grants, _, err := f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "project.member", Scope: f.projectScope(), Subject: user},
		{RoleID: "project.member", Scope: "project/" + other.ID, Subject: user},
		{RoleID: "organization.reader", Scope: f.orgScope(), Subject: f.groupSubject()},
		{RoleID: "project.reader", Scope: "project/" + other.ID, Subject: user, ExpiresAt: &expires},
	})
	must(0, err)(t)
	onProject, onOther, viaGroup := grants[0], grants[1], grants[2]
	t0 := f.clock.Now()
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("r", castellan.DecisionLogAll, t0, t0), nil))(t)
	f.clock.Advance(2 * time.Minute) // the expiring grant has expired
	now := f.clock.Now()
	must(0, f.s.DecisionLog.RecordDecisions(ctx, recorderAt("r", castellan.DecisionLogAll, t0, now), []castellan.DecisionRecord{
		// On a bucket of the project: under the project and the root. A
		// denied decision is no use.
		decided(org, user.ID, "s3e:GetObject", f.bucket("logs"), 1, 0, now),
		decided(org, user.ID, "s3e:PutObject", f.bucket("logs"), 0, 2, now),
		// Another user's use is not this user's.
		decided(org, f.users[1].ID, "s3e:ListBuckets", f.projectScope(), 1, 0, now),
	}))(t)

	u := must(f.s.DecisionLog.UnusedPermissions(ctx, org, user, now.Add(-time.Minute)))(t)
	if !u.Complete || u.IncompleteReason != "" || u.Coverage.RecordingSince == nil || u.Principal != user {
		t.Fatalf("got %+v, want a complete answer", u)
	}
	byGrant := map[string]castellan.UnusedGrant{}
	for _, g := range u.Grants {
		byGrant[g.GrantID] = g
	}
	if len(u.Grants) != 3 {
		t.Fatalf("got %d grants, want the 3 live ones", len(u.Grants))
	}
	wantUsed := map[string][]string{onProject.ID: {"s3e:GetObject"}, onOther.ID: {}, viaGroup.ID: {"s3e:GetObject"}}
	for id, used := range wantUsed {
		g := byGrant[id]
		role := must(f.s.Roles.FindRoleByID(ctx, org, g.RoleID))(t)
		if !slices.Equal(g.UsedActions, used) || len(g.UsedActions)+len(g.UnusedActions) != len(f.s.Catalog.Expand(role.Actions)) ||
			slices.Contains(g.UnusedActions, "s3e:GetObject") != (len(used) == 0) || role.Allows("s3e:PutObject") != slices.Contains(g.UnusedActions, "s3e:PutObject") {
			t.Errorf("grant %s (%s on %s): got used %v, unused %v; want used %v", id, g.RoleID, g.Scope, g.UsedActions, g.UnusedActions, used)
		}
	}
	if g := byGrant[viaGroup.ID]; g.Via == nil || *g.Via != f.groupSubject() {
		t.Errorf("got via %v, want the group", g.Via)
	}
	// A period that began before the recording is incomplete.
	if u := must(f.s.DecisionLog.UnusedPermissions(ctx, org, user, t0.Add(-time.Hour)))(t); u.Complete || u.IncompleteReason != castellan.IncompleteStartedLater {
		t.Errorf("got complete=%v %q, want %s", u.Complete, u.IncompleteReason, castellan.IncompleteStartedLater)
	}

	account := must(f.s.ServiceAccounts.CreateServiceAccount(ctx, org, f.project.ID, castellan.ServiceAccountCreate{Name: "robot"}))(t)
	robot := castellan.Subject{Type: castellan.SubjectServiceAccount, ID: account.ID}
	if _, _, err := f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: "project.reader", Scope: f.projectScope(), Subject: robot}}); err != nil {
		t.Fatal(err)
	}
	if u := must(f.s.DecisionLog.UnusedPermissions(ctx, org, robot, t0))(t); len(u.Grants) != 1 || len(u.Grants[0].UsedActions) != 0 {
		t.Errorf("got %+v, want the service account's one grant, unused", u.Grants)
	}

	_, err = f.s.DecisionLog.UnusedPermissions(ctx, f.otherOrg.OrganizationID, user, t0)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	_, err = f.s.DecisionLog.UnusedPermissions(ctx, org, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: f.users[1].ID}, t0)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound)
	_, err = f.s.DecisionLog.UnusedPermissions(ctx, org, f.groupSubject(), t0)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
}
