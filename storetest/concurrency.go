package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
)

// testConcurrentMutations races writes that read before they write: a
// project created while its organization is deleted, a project deleted
// twice, a project updated while deleted. Each race has one winner, the
// loser gets its documented code, and the audit log holds exactly the
// writes that committed.
func testConcurrentMutations(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r0")
	const rounds = 20

	race := func(a, b func() error) (errA, errB error) {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); errA = a() }()
		go func() { defer wg.Done(); errB = b() }()
		wg.Wait()
		return errA, errB
	}
	wantOneOf := func(err error, codes ...string) {
		t.Helper()
		if err == nil {
			return
		}
		for _, c := range codes {
			if castellan.ErrorCode(err) == c {
				return
			}
		}
		t.Fatalf("got %v, want success or one of %v", err, codes)
	}

	t.Run("CreateProjectVersusDeleteOrganization", func(t *testing.T) {
		for i := 0; i < rounds; i++ {
			org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: fmt.Sprintf("race-%d", i)}))(t)
			errCreate, _ := race(
				func() error {
					_, err := s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: "web"})
					return err
				},
				func() error { _, err := s.Organizations.DeleteOrganization(ctx, org.ID); return err },
			)
			created := errCreate == nil
			_, errFind := s.Organizations.FindOrganizationByID(ctx, org.ID)
			deleted := castellan.ErrorCode(errFind) == castellan.CodeOrgNotFound
			if created && deleted {
				t.Fatalf("round %d: the project was created and its organization deleted", i)
			}
			if !created && !deleted {
				t.Fatalf("round %d: neither write happened: %v", i, errCreate)
			}
			wantOneOf(errCreate, castellan.CodeOrgNotFound)
			events := listed(s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{Action: ptr("organizations:CreateProject")}))(t)
			if len(events) != map[bool]int{true: 1, false: 0}[created] {
				t.Fatalf("round %d: %d creation events, created=%v", i, len(events), created)
			}
		}
	})

	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
	t.Run("DeleteTwice", func(t *testing.T) {
		for i := 0; i < rounds; i++ {
			p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: fmt.Sprintf("twice-%d", i)}))(t)
			delete := func() error { _, err := s.Projects.DeleteProject(ctx, org.ID, p.ID); return err }
			errA, errB := race(delete, delete)
			if (errA == nil) == (errB == nil) {
				t.Fatalf("round %d: got %v and %v, want exactly one deletion", i, errA, errB)
			}
			wantOneOf(errA, castellan.CodeProjectNotFound)
			wantOneOf(errB, castellan.CodeProjectNotFound)
			events := listed(s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{TargetID: &p.ID, Action: ptr("organizations:DeleteProject")}))(t)
			if len(events) != 1 {
				t.Fatalf("round %d: %d deletion events, want 1", i, len(events))
			}
		}
	})
	t.Run("UpdateVersusDelete", func(t *testing.T) {
		for i := 0; i < rounds; i++ {
			p := must(s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: fmt.Sprintf("upd-%d", i)}))(t)
			desc := "changed"
			errUpdate, errDelete := race(
				func() error {
					_, err := s.Projects.UpdateProject(ctx, org.ID, p.ID, castellan.ProjectUpdate{Description: &desc})
					return err
				},
				func() error { _, err := s.Projects.DeleteProject(ctx, org.ID, p.ID); return err },
			)
			if errDelete != nil {
				t.Fatalf("round %d: delete failed: %v", i, errDelete)
			}
			wantOneOf(errUpdate, castellan.CodeProjectNotFound)
			events := listed(s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{TargetID: &p.ID}))(t)
			if want := map[bool]int{true: 3, false: 2}[errUpdate == nil]; len(events) != want {
				t.Fatalf("round %d: %d events, want %d (update ok: %v)", i, len(events), want, errUpdate == nil)
			}
			if errUpdate == nil && events[0].Action != "organizations:DeleteProject" {
				t.Fatalf("round %d: the update committed after the deletion", i)
			}
		}
	})
}
