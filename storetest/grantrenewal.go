package storetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// testGrantRenewal re-grants what exists: a grant that is expired, or
// whose expiry differs from the one asked for, is replaced by a new one in
// one revision; one with the same expiry is left as it is.
func testGrantRenewal(t *testing.T, open Opener) {
	f := newGrantFixture(t, open)
	org := f.org.OrganizationID
	ctx := operatorCtx("req-renew")
	in1h, in5h := f.clock.Now().Add(time.Hour), f.clock.Now().Add(5*time.Hour)
	old, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)},
		{RoleID: "project.reader", Scope: f.projectScope(), Subject: f.user(1), ExpiresAt: &in5h},
		{RoleID: "s3e.admin", Scope: f.bucket("logs"), Subject: f.user(1), ExpiresAt: &in1h},
		{RoleID: "project.member", Scope: f.projectScope(), Subject: f.user(2), ExpiresAt: &in5h},
		{RoleID: "organization.reader", Scope: f.orgScope(), Subject: f.groupSubject()},
	}))(t)
	f.clock.Advance(2 * time.Hour) // the s3e.admin grant expires
	in8h := f.clock.Now().Add(6 * time.Hour)
	items := []castellan.GrantCreate{
		{RoleID: "project.admin", Scope: f.projectScope(), Subject: f.user(0)},                            // same: kept
		{RoleID: "project.reader", Scope: f.projectScope(), Subject: f.user(1)},                           // expiring → permanent
		{RoleID: "s3e.admin", Scope: f.bucket("logs"), Subject: f.user(1), ExpiresAt: &in8h},              // expired → renewed
		{RoleID: "project.member", Scope: f.projectScope(), Subject: f.user(2), ExpiresAt: &in5h},         // same: kept
		{RoleID: "organization.reader", Scope: f.orgScope(), Subject: f.groupSubject(), ExpiresAt: &in8h}, // permanent → expiring
	}
	before := takeSnapshot(t, f.s, org)
	got, rev := must2(f.s.Grants.CreateGrants(ctx, org, items))(t)
	if rev != before.revision+1 {
		t.Fatalf("got revision %d, want %d", rev, before.revision+1)
	}
	for _, i := range []int{0, 3} {
		if g := got[i]; g.ID != old[i].ID || g.Revision != old[i].Revision || !sameExpiry(g.ExpiresAt, old[i].ExpiresAt) {
			t.Fatalf("item %d: got %+v, want the existing grant %+v", i, got[i], old[i])
		}
	}
	replaced := []int{1, 2, 4}
	for _, i := range replaced {
		g := got[i]
		if g.ID == old[i].ID || g.RoleID != items[i].RoleID || g.Scope != items[i].Scope || g.Subject != items[i].Subject ||
			!sameExpiry(g.ExpiresAt, items[i].ExpiresAt) || g.Revision != rev || !g.CreatedAt.Equal(f.clock.Now()) {
			t.Fatalf("item %d: got %+v, want a new grant replacing %+v", i, g, old[i])
		}
		if _, err := f.s.Grants.FindGrantsByID(ctx, org, []string{old[i].ID}); castellan.ErrorCode(err) != castellan.CodeGrantNotFound {
			t.Fatalf("item %d: the replaced grant %s remains (%v)", i, old[i].ID, err)
		}
	}
	stored := must(f.s.Grants.FindGrantsByID(ctx, org, []string{got[1].ID, got[2].ID, got[4].ID}))(t)
	for j, i := range replaced {
		if !sameExpiry(stored[j].ExpiresAt, items[i].ExpiresAt) {
			t.Fatalf("item %d: stored expiry %v, want %v", i, stored[j].ExpiresAt, items[i].ExpiresAt)
		}
	}
	var deletes, creates []string
	for _, i := range replaced {
		deletes = append(deletes, "grant delete "+old[i].ID)
		creates = append(creates, "grant create "+got[i].ID)
	}
	wantChanges(t, f.s, rev, append(deletes, creates...))
	events := listed(f.s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:SetGrants")}))(t)
	wantSummaryIDs(t, events[0], rev, "deleted", old[1].ID, old[2].ID, old[4].ID)
	wantSummaryIDs(t, events[0], rev, "created", got[1].ID, got[2].ID, got[4].ID)

	// The same batch again changes nothing.
	before = takeSnapshot(t, f.s, org)
	again, againRev := must2(f.s.Grants.CreateGrants(ctx, org, items))(t)
	if againRev != before.revision {
		t.Fatalf("no-op re-grant returned revision %d, want %d", againRev, before.revision)
	}
	for i := range again {
		if again[i].ID != got[i].ID {
			t.Fatalf("item %d: got grant %s, want %s", i, again[i].ID, got[i].ID)
		}
	}
	unchanged(t, f.s, org, before)
}

// testSetRolesRenewal: SetRoles wants permanent grants, so an expired or
// expiring grant of a wanted role is replaced by a permanent one.
func testSetRolesRenewal(t *testing.T, f *grantFixture) {
	ctx := operatorCtx("r-roles")
	org, scope, subject := f.org.OrganizationID, f.projectScope(), f.user(1)
	in1h, in3h := f.clock.Now().Add(time.Hour), f.clock.Now().Add(3*time.Hour)
	old, _ := must2(f.s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "project.reader", Scope: scope, Subject: subject, ExpiresAt: &in1h},
		{RoleID: "project.member", Scope: scope, Subject: subject, ExpiresAt: &in3h},
	}))(t)
	f.clock.Advance(2 * time.Hour) // the reader grant expires
	before := takeSnapshot(t, f.s, org)
	got, rev := must2(f.s.Grants.SetRoles(ctx, org, subject, scope, []string{"project.reader", "project.member", "project.admin"}))(t)
	if rev != before.revision+1 || len(got) != 3 {
		t.Fatalf("got %d grants at revision %d, want 3 at %d", len(got), rev, before.revision+1)
	}
	for i, g := range got {
		if g.ExpiresAt != nil || g.Revision != rev || (i < 2 && g.ID == old[i].ID) {
			t.Fatalf("grant %d: got %+v, want a new permanent grant", i, g)
		}
	}
	wantRoles(t, f.rolesOf(t, subject, scope), "project.reader", "project.member", "project.admin")
	wantChanges(t, f.s, rev, []string{
		"grant delete " + old[0].ID, "grant delete " + old[1].ID,
		"grant create " + got[0].ID, "grant create " + got[1].ID, "grant create " + got[2].ID,
	})
	events := listed(f.s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:SetGrants")}))(t)
	wantSummaryIDs(t, events[0], rev, "deleted", old[0].ID, old[1].ID)
	wantSummaryIDs(t, events[0], rev, "created", got[0].ID, got[1].ID, got[2].ID)

	before = takeSnapshot(t, f.s, org)
	again, againRev := must2(f.s.Grants.SetRoles(ctx, org, subject, scope, []string{"project.admin", "project.member", "project.reader"}))(t)
	if againRev != before.revision || again[0].ID != got[2].ID || again[2].ID != got[0].ID {
		t.Fatalf("no-op edit: got %+v at %d, want the same grants at %d", again, againRev, before.revision)
	}
	unchanged(t, f.s, org, before)
}

func sameExpiry(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// wantChanges fails tb unless the change log of revision rev is want
// ("<entity type> <operation> <entity ID>"), in any order.
func wantChanges(tb testing.TB, s castellan.Services, rev int64, want []string) {
	tb.Helper()
	var got []string
	for _, c := range must(s.ChangeLog.Changes(operatorCtx("r"), rev-1, 1))(tb) {
		if c.Revision != rev {
			tb.Fatalf("got change %+v, want revision %d", c, rev)
		}
		got = append(got, c.EntityType+" "+c.Operation+" "+c.EntityID)
	}
	sort.Strings(got)
	want = append([]string(nil), want...)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Fatalf("revision %d: got changes %v, want %v", rev, got, want)
	}
}

// wantSummaryIDs fails tb unless ev is of revision rev and its summary
// lists exactly the grants with ids under key (created or deleted).
func wantSummaryIDs(tb testing.TB, ev *castellan.AuditEvent, rev int64, key string, ids ...string) {
	tb.Helper()
	var grants []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(ev.Summary[key], &grants); err != nil {
		tb.Fatalf("summary %s of %+v: %v", key, ev, err)
	}
	var got []string
	for _, g := range grants {
		got = append(got, g.ID)
	}
	sort.Strings(got)
	ids = append([]string(nil), ids...)
	sort.Strings(ids)
	if ev.Revision != rev || fmt.Sprint(got) != fmt.Sprint(ids) {
		tb.Fatalf("event at revision %d: got %s %v, want %v at revision %d", ev.Revision, key, got, ids, rev)
	}
}
