package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testAudit(t *testing.T, open Opener) {
	t.Run("EveryMutation", func(t *testing.T) { testAuditEveryMutation(t, open) })
	t.Run("Filters", func(t *testing.T) { testAuditFilters(t, open) })
}

func testAuditEveryMutation(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := must(s.Organizations.CreateOrganization(operatorCtx("req-org"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	ctx := userCtx("u-1", org.ID, "req-create")
	p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web", Description: "d"}))(t)
	clock.Advance(time.Second)
	name := "www"
	upd := must(s.Projects.UpdateProject(userCtx("u-1", org.ID, "req-update"), org.ID, p.ID, castellan.ProjectUpdate{Name: &name}))(t)
	clock.Advance(time.Second)
	del := must(s.Projects.DeleteProject(userCtx("u-2", org.ID, "req-delete"), org.ID, p.ID))(t)

	events := listed(s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{}))(t)
	if len(events) != 4 {
		t.Fatalf("got %d events, want 4", len(events))
	}
	for i, want := range []struct {
		action, actor, request string
		revision               int64
	}{
		{"organizations:DeleteProject", "u-2", "req-delete", del},
		{"organizations:UpdateProject", "u-1", "req-update", upd.Revision},
		{"organizations:CreateProject", "u-1", "req-create", p.Revision},
		{"organizations:CreateOrganization", "op-1", "req-org", org.Revision},
	} {
		e := events[i]
		if e.Action != want.action || e.Actor.ID != want.actor || e.RequestID != want.request || e.Revision != want.revision || e.OrganizationID != org.ID {
			t.Fatalf("event %d: got %+v, want %+v", i, e, want)
		}
	}
	created := events[2]
	if created.Target != (castellan.AuditTarget{Type: "project", ID: p.ID, Name: "web"}) || created.SourceIP != "198.51.100.1" ||
		created.Actor.Type != castellan.PrincipalUser || created.Actor.OrganizationID != org.ID || !created.OccurredAt.Equal(p.CreatedAt) {
		t.Fatalf("creation event: got %+v", created)
	}
	var change struct{ Old, New string }
	if err := json.Unmarshal(events[1].Summary["name"], &change); err != nil || change.Old != "web" || change.New != "www" {
		t.Fatalf("update summary: got %s (%v)", events[1].Summary["name"], err)
	}
}

func testAuditFilters(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := operatorCtx("r0")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	other := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Globex"}))(t)
	var projects []*castellan.Project
	for i, name := range []string{"a", "b", "c", "d"} {
		clock.Advance(time.Minute)
		actor := []string{"u-1", "u-2"}[i%2]
		projects = append(projects, must(s.Projects.CreateProject(userCtx(actor, org.ID, "r"), org.ID, castellan.ProjectCreate{Name: name}))(t))
	}
	must(s.Projects.CreateProject(ctx, other.ID, castellan.ProjectCreate{Name: "x"}))(t)
	count := func(f castellan.AuditFilter) int {
		t.Helper()
		return len(listed(s.Audit.FindAuditEvents(ctx, org.ID, f))(t))
	}
	str := func(s string) *string { return &s }
	at := func(tm time.Time) *time.Time { return &tm }
	for _, tc := range []struct {
		name string
		f    castellan.AuditFilter
		want int
	}{
		{"all", castellan.AuditFilter{}, 5},
		{"actor", castellan.AuditFilter{ActorID: str("u-2")}, 2},
		{"action", castellan.AuditFilter{Action: str("organizations:CreateProject")}, 4},
		{"target", castellan.AuditFilter{TargetID: str(projects[2].ID)}, 1},
		{"targetType", castellan.AuditFilter{TargetType: str("organization")}, 1},
		{"since", castellan.AuditFilter{Since: at(projects[1].CreatedAt)}, 3},
		{"until", castellan.AuditFilter{Until: at(projects[1].CreatedAt)}, 2},
		{"range", castellan.AuditFilter{Since: at(projects[1].CreatedAt), Until: at(projects[3].CreatedAt)}, 2},
		{"combined", castellan.AuditFilter{ActorID: str("u-1"), Since: at(projects[1].CreatedAt)}, 1},
	} {
		if got := count(tc.f); got != tc.want {
			t.Errorf("%s: got %d events, want %d", tc.name, got, tc.want)
		}
	}
	// Pages cover everything once, newest first.
	var revs []int64
	token := ""
	for {
		events, next, err := s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{PageSize: 2, PageToken: token})
		for _, e := range listed(events, next, err)(t) {
			revs = append(revs, e.Revision)
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(revs) != 5 {
		t.Fatalf("got %d events over pages, want 5", len(revs))
	}
	for i := 1; i < len(revs); i++ {
		if revs[i] >= revs[i-1] {
			t.Fatalf("got revisions %v, want newest first", revs)
		}
	}
	_, _, err := s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{PageToken: "bm90IGEgdG9rZW4"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}
