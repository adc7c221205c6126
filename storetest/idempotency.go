package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testIdempotency(t *testing.T, open Opener) {
	t.Run("RecordedWithTheWrite", func(t *testing.T) { testIdempotencyRecordedWithTheWrite(t, open) })
	t.Run("WriteRunsOnce", func(t *testing.T) { testIdempotencyWriteRunsOnce(t, open) })
	t.Run("FailedWriteTakesNoKey", func(t *testing.T) { testIdempotencyFailedWriteTakesNoKey(t, open) })
	t.Run("PerCaller", func(t *testing.T) { testIdempotencyPerCaller(t, open) })
	t.Run("Expiry", func(t *testing.T) { testIdempotencyExpiry(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testIdempotencyConcurrent(t, open) })
}

// idempotencyMarker is a request of the user u-1 of org with key.
func idempotencyMarker(orgID, key string) castellan.IdempotencyMarker {
	return castellan.IdempotencyMarker{
		ID:          newMarkerID(),
		Key:         castellan.IdempotencyKey{OrganizationID: orgID, CallerType: castellan.PrincipalUser, CallerID: "u-1", KeyHash: "hash-of-" + key},
		RequestHash: "request-1",
	}
}

// newMarkerID returns a new request's ID.
func newMarkerID() string { return "request-" + rand.Text() }

func createProjectWith(s castellan.Services, m castellan.IdempotencyMarker, name string) (*castellan.Project, error) {
	ctx := castellan.WithIdempotency(userCtx("u-1", m.Key.OrganizationID, "req-"+name), m)
	return s.Projects.CreateProject(ctx, m.Key.OrganizationID, castellan.ProjectCreate{Name: name})
}

func testIdempotencyRecordedWithTheWrite(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := context.Background()
	org := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	m := idempotencyMarker(org.ID, "k1")
	p := must(createProjectWith(s, m, "web"))(t)
	rec := must(s.Idempotency.FindIdempotencyRecord(ctx, m.Key))(t)
	want := castellan.IdempotencyRecord{ID: m.ID, RequestHash: m.RequestHash, Revision: p.Revision, CreatedAt: clock.Now()}
	if rec.ID != want.ID || rec.RequestHash != want.RequestHash || rec.Revision != want.Revision || !rec.CreatedAt.Equal(want.CreatedAt) || rec.Answer != "" {
		t.Fatalf("got %+v, want %+v", rec, want)
	}
	// Only the request that wrote the record stores its answer, once.
	other := m
	other.ID = newMarkerID()
	if saved := must(s.Idempotency.SaveIdempotentAnswer(ctx, other, "forged"))(t); saved {
		t.Fatal("another request stored the answer")
	}
	if saved := must(s.Idempotency.SaveIdempotentAnswer(ctx, m, "sealed answer"))(t); !saved {
		t.Fatal("the answer was not stored")
	}
	if saved := must(s.Idempotency.SaveIdempotentAnswer(ctx, m, "second"))(t); saved {
		t.Fatal("the answer was stored twice")
	}
	if rec := must(s.Idempotency.FindIdempotencyRecord(ctx, m.Key))(t); rec.Answer != "sealed answer" {
		t.Fatalf("got answer %q, want %q", rec.Answer, "sealed answer")
	}
	// The answer is no change of the organization.
	if rev := must(s.ChangeLog.Revision(ctx))(t); rev != p.Revision {
		t.Fatalf("got revision %d after storing the answer, want %d", rev, p.Revision)
	}
}

func testIdempotencyWriteRunsOnce(t *testing.T, open Opener) {
	s := open(t, nil)
	org := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	m := idempotencyMarker(org.ID, "k1")
	must(createProjectWith(s, m, "web"))(t)
	before := takeSnapshot(t, s, org.ID)
	// A second request with the key (another ID) does not write, whatever
	// its body.
	retry := m
	retry.ID = newMarkerID()
	_, err := createProjectWith(s, retry, "api")
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeIdempotencyInProgress)
	unchanged(t, s, org.ID, before)
	// A later transaction of the request that wrote the record may write.
	must(createProjectWith(s, m, "db"))(t)
	if n := len(listed(s.Projects.FindProjects(operatorCtx("r1"), org.ID, castellan.ProjectFilter{}))(t)); n != 2 {
		t.Fatalf("got %d projects, want 2 (web, db)", n)
	}
}

func testIdempotencyFailedWriteTakesNoKey(t *testing.T, open Opener) {
	s := open(t, nil)
	org := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	m := idempotencyMarker(org.ID, "k1")
	must(createProjectWith(s, idempotencyMarker(org.ID, "k0"), "web"))(t)
	_, err := createProjectWith(s, m, "web")
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeProjectNameTaken)
	_, err = s.Idempotency.FindIdempotencyRecord(context.Background(), m.Key)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNotFound)
	// The key is still free for the corrected request.
	retry := m
	retry.ID = newMarkerID()
	must(createProjectWith(s, retry, "api"))(t)
}

func testIdempotencyPerCaller(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := context.Background()
	acme := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	globex := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Globex"}))(t)
	m := idempotencyMarker(acme.ID, "k1")
	must(createProjectWith(s, m, "web"))(t)
	otherUser := idempotencyMarker(acme.ID, "k1")
	otherUser.Key.CallerID = "u-2"
	otherOrg := idempotencyMarker(globex.ID, "k1")
	for _, other := range []castellan.IdempotencyMarker{otherUser, otherOrg} {
		_, err := s.Idempotency.FindIdempotencyRecord(ctx, other.Key)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNotFound)
		must(createProjectWith(s, other, "api-"+other.Key.CallerID))(t)
		if rec := must(s.Idempotency.FindIdempotencyRecord(ctx, other.Key))(t); rec.ID != other.ID {
			t.Fatalf("got record of %s, want %s", rec.ID, other.ID)
		}
		if saved := must(s.Idempotency.SaveIdempotentAnswer(ctx, castellan.IdempotencyMarker{ID: m.ID, Key: other.Key}, "x"))(t); saved {
			t.Fatal("an answer was stored under another caller's key")
		}
	}
	if rec := must(s.Idempotency.FindIdempotencyRecord(ctx, m.Key))(t); rec.ID != m.ID {
		t.Fatalf("got record of %s, want %s", rec.ID, m.ID)
	}
}

func testIdempotencyExpiry(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	ctx := context.Background()
	org := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	m := idempotencyMarker(org.ID, "k1")
	must(createProjectWith(s, m, "web"))(t)
	clock.Advance(castellan.IdempotencyWindow - time.Second)
	if n := must(s.Idempotency.DeleteExpiredIdempotencyRecords(ctx))(t); n != 0 {
		t.Fatalf("swept %d records before their time, want 0", n)
	}
	must(s.Idempotency.FindIdempotencyRecord(ctx, m.Key))(t)
	clock.Advance(time.Second)
	_, err := s.Idempotency.FindIdempotencyRecord(ctx, m.Key)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNotFound)
	// The key may be used again, unswept: the old record makes way.
	again := m
	again.ID = newMarkerID()
	must(createProjectWith(s, again, "api"))(t)
	if rec := must(s.Idempotency.FindIdempotencyRecord(ctx, m.Key))(t); rec.ID != again.ID {
		t.Fatalf("got record of %s, want %s", rec.ID, again.ID)
	}
	clock.Advance(castellan.IdempotencyWindow)
	if n := must(s.Idempotency.DeleteExpiredIdempotencyRecords(ctx))(t); n != 1 {
		t.Fatalf("swept %d records, want 1", n)
	}
}

func testIdempotencyConcurrent(t *testing.T, open Opener) {
	s := open(t, nil)
	org := must(s.Organizations.CreateOrganization(operatorCtx("r0"), castellan.OrganizationCreate{Name: "Acme"}))(t)
	const requests = 25
	errs := make([]error, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			// Each a different body: only the key is shared.
			_, errs[i] = createProjectWith(s, idempotencyMarker(org.ID, "k1"), fmt.Sprintf("web-%d", i))
		})
	}
	wg.Wait()
	wrote := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wrote++
		case castellan.ErrorCode(err) != castellan.CodeIdempotencyInProgress:
			t.Fatalf("got %v, want success or %s", err, castellan.CodeIdempotencyInProgress)
		}
	}
	projects := listed(s.Projects.FindProjects(operatorCtx("r1"), org.ID, castellan.ProjectFilter{}))(t)
	events := listed(s.Audit.FindAuditEvents(operatorCtx("r1"), org.ID, castellan.AuditFilter{Action: ptr("organizations:CreateProject")}))(t)
	if wrote != 1 || len(projects) != 1 || len(events) != 1 {
		t.Fatalf("got %d successes, %d projects, %d events; want 1 each", wrote, len(projects), len(events))
	}
}
