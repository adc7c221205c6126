package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// MailWriter is what the outbox tests need beyond castellan.Services: a way
// to write mails as the store's own writes do. The Outbox of the store
// under test implements it (sqlstore does in a test file): it enqueues a
// mail inside a write that records a change, which commits when fail is
// nil and otherwise returns fail and rolls back.
type MailWriter interface {
	EnqueueMailInWrite(ctx context.Context, orgID, to string, template castellan.MailTemplate, data map[string]string, fail error) (string, error)
}

func testOutbox(t *testing.T, open Opener) {
	t.Run("EnqueueCommitsWithTheWrite", func(t *testing.T) { testOutboxEnqueue(t, open) })
	t.Run("ClaimIsExclusive", func(t *testing.T) { testOutboxClaimExclusive(t, open) })
	t.Run("LeaseExpiry", func(t *testing.T) { testOutboxLeaseExpiry(t, open) })
	t.Run("Sent", func(t *testing.T) { testOutboxSent(t, open) })
	t.Run("RetryAndDead", func(t *testing.T) { testOutboxRetryAndDead(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testOutboxErrNotFound(t, open) })
	t.Run("List", func(t *testing.T) { testOutboxList(t, open) })
}

// mailWriter returns the store's MailWriter, failing tb when it has none.
func mailWriter(tb testing.TB, s castellan.Services) MailWriter {
	tb.Helper()
	w, ok := s.Outbox.(MailWriter)
	if !ok {
		tb.Fatalf("the store's Outbox (%T) does not implement storetest.MailWriter", s.Outbox)
	}
	return w
}

// enqueue writes a committed invitation mail to `to` and returns its ID.
func enqueue(tb testing.TB, s castellan.Services, orgID, to string) string {
	tb.Helper()
	data := map[string]string{"name": to, "invitationToken": "csti_" + to}
	return must(mailWriter(tb, s).EnqueueMailInWrite(operatorCtx("r-mail"), orgID, to, castellan.MailInvitation, data, nil))(tb)
}

// findMail returns the mail id as FindMail lists it, nil when it does not.
func findMail(tb testing.TB, s castellan.Services, id string) *castellan.Mail {
	tb.Helper()
	token := ""
	for {
		mails, next := listedPage(s.Outbox.FindMail(context.Background(), castellan.MailFilter{PageSize: castellan.MaxPageSize, PageToken: token}))(tb)
		for _, m := range mails {
			if m.ID == id {
				return m
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// listedPage is must for list results that keeps the next page token.
func listedPage[T any](items []T, next string, err error) func(tb testing.TB) ([]T, string) {
	return func(tb testing.TB) ([]T, string) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return items, next
	}
}

func mailIDs(mails []*castellan.Mail) []string {
	out := make([]string, len(mails))
	for i, m := range mails {
		out[i] = m.ID
	}
	return out
}

func testOutboxEnqueue(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r-mail")
	w := mailWriter(t, s)
	data := map[string]string{"name": "Alice", "invitationToken": "csti_x"}
	id := must(w.EnqueueMailInWrite(ctx, org, "alice@acme.example", castellan.MailInvitation, data, nil))(t)
	m := findMail(t, s, id)
	if m == nil || m.OrganizationID != org || m.To != "alice@acme.example" || m.Template != castellan.MailInvitation ||
		m.Status != castellan.MailPending || m.Attempts != 0 || m.LastError != "" || m.SentAt != nil ||
		!m.CreatedAt.Equal(clock.Now()) || !m.NextAttemptAt.Equal(clock.Now()) || fmt.Sprint(m.Data) != fmt.Sprint(data) {
		t.Fatalf("got %+v", m)
	}

	// A write that fails takes its mail with it.
	before := takeSnapshot(t, s, org)
	boom := errors.New("boom")
	lost, err := w.EnqueueMailInWrite(ctx, org, "bob@acme.example", castellan.MailInvitation, data, boom)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the write's error", err)
	}
	unchanged(t, s, org, before)
	if findMail(t, s, lost) != nil {
		t.Fatalf("mail %s of a rolled-back write is listed", lost)
	}
	claimed := must(s.Outbox.ClaimDueMail(ctx, 10, time.Minute))(t)
	if got := mailIDs(claimed); !slices.Equal(got, []string{id}) {
		t.Fatalf("claimed %v, want only the committed %s", got, id)
	}

	// Claiming and marking are bookkeeping: no revision, no audit event.
	must(0, s.Outbox.MarkMailFailed(ctx, id, "451 try later", ptr(clock.Now())))(t)
	must(s.Outbox.ClaimDueMail(ctx, 10, time.Minute))(t)
	must(0, s.Outbox.MarkMailSent(ctx, id))(t)
	unchanged(t, s, org, before)
}

func testOutboxClaimExclusive(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	const mails, claimers = 40, 8
	want := make([]string, mails)
	for i := range want {
		want[i] = enqueue(t, s, org, fmt.Sprintf("u%d@acme.example", i))
	}
	var (
		mu    sync.Mutex
		got   []string
		wg    sync.WaitGroup
		errs  = make(chan error, claimers)
		start = make(chan struct{})
	)
	for range claimers {
		wg.Go(func() {
			<-start
			for {
				batch, err := s.Outbox.ClaimDueMail(context.Background(), 3, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(batch) == 0 {
					return
				}
				mu.Lock()
				got = append(got, mailIDs(batch)...)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("claim: %v", err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %d mails %v, want each of the %d exactly once", len(got), got, mails)
	}
	if rest := must(s.Outbox.ClaimDueMail(context.Background(), mails, time.Minute))(t); len(rest) != 0 {
		t.Fatalf("claimed %d leased mails again", len(rest))
	}
}

func testOutboxLeaseExpiry(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := context.Background()
	first := enqueue(t, s, org, "a@acme.example")
	clock.Advance(time.Second)
	second := enqueue(t, s, org, "b@acme.example")

	claimed := must(s.Outbox.ClaimDueMail(ctx, 1, 2*time.Minute))(t)
	if len(claimed) != 1 || claimed[0].ID != first || claimed[0].Attempts != 1 {
		t.Fatalf("got %+v, want the oldest due mail with one attempt", claimed)
	}
	clock.Advance(2*time.Minute - time.Second)
	claimed = must(s.Outbox.ClaimDueMail(ctx, 10, 2*time.Minute))(t)
	if got := mailIDs(claimed); !slices.Equal(got, []string{second}) {
		t.Fatalf("claimed %v before the lease of %s ran out, want only %s", got, first, second)
	}
	clock.Advance(time.Second) // the first lease ends now
	claimed = must(s.Outbox.ClaimDueMail(ctx, 10, 2*time.Minute))(t)
	if len(claimed) != 1 || claimed[0].ID != first || claimed[0].Attempts != 2 || claimed[0].Status != castellan.MailPending {
		t.Fatalf("got %+v, want %s again with two attempts", claimed, first)
	}
}

func testOutboxSent(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := context.Background()
	id := enqueue(t, s, org, "a@acme.example")
	must(s.Outbox.ClaimDueMail(ctx, 1, time.Minute))(t)
	clock.Advance(time.Second)
	sentAt := clock.Now()
	must(0, s.Outbox.MarkMailSent(ctx, id))(t)
	m := findMail(t, s, id)
	if m.Status != castellan.MailSent || m.SentAt == nil || !m.SentAt.Equal(sentAt) || m.Attempts != 1 {
		t.Fatalf("got %+v", m)
	}
	// Once sent, the outbox keeps no usable token.
	if m.Data["invitationToken"] != "[redacted]" || m.Data["name"] != "a@acme.example" {
		t.Fatalf("got data %v after sending, want the token redacted and the rest kept", m.Data)
	}
	clock.Advance(time.Hour)
	if claimed := must(s.Outbox.ClaimDueMail(ctx, 10, time.Minute))(t); len(claimed) != 0 {
		t.Fatalf("claimed a sent mail: %+v", claimed[0])
	}
	// Late reports change nothing: sent again, or failed by a sender
	// whose lease had run out.
	must(0, s.Outbox.MarkMailSent(ctx, id))(t)
	must(0, s.Outbox.MarkMailFailed(ctx, id, "timeout", nil))(t)
	if again := findMail(t, s, id); again.Status != castellan.MailSent || !again.SentAt.Equal(sentAt) || again.LastError != "" {
		t.Fatalf("got %+v after late reports, want it sent at %v", again, sentAt)
	}
}

func testOutboxRetryAndDead(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := context.Background()
	id := enqueue(t, s, org, "a@acme.example")
	must(s.Outbox.ClaimDueMail(ctx, 1, time.Hour))(t)
	retryAt := clock.Now().Add(30 * time.Second)
	must(0, s.Outbox.MarkMailFailed(ctx, id, "451 4.3.0 try later", &retryAt))(t)
	m := findMail(t, s, id)
	if m.Status != castellan.MailPending || !m.NextAttemptAt.Equal(retryAt) || m.LastError != "451 4.3.0 try later" || m.Attempts != 1 {
		t.Fatalf("got %+v", m)
	}
	if m.Data["invitationToken"] != "csti_a@acme.example" {
		t.Fatalf("got data %v, want the token kept for the retry", m.Data)
	}
	clock.Advance(29 * time.Second)
	if claimed := must(s.Outbox.ClaimDueMail(ctx, 10, time.Hour))(t); len(claimed) != 0 {
		t.Fatalf("claimed before its retry time: %+v", claimed[0])
	}
	clock.Advance(time.Second) // the failed attempt's lease is gone: due at retryAt
	claimed := must(s.Outbox.ClaimDueMail(ctx, 10, time.Hour))(t)
	if len(claimed) != 1 || claimed[0].ID != id || claimed[0].Attempts != 2 {
		t.Fatalf("got %+v, want the mail again at its retry time", claimed)
	}
	must(0, s.Outbox.MarkMailFailed(ctx, id, "550 5.1.1 no such user", nil))(t)
	clock.Advance(24 * time.Hour)
	if claimed := must(s.Outbox.ClaimDueMail(ctx, 10, time.Hour))(t); len(claimed) != 0 {
		t.Fatalf("claimed a dead mail: %+v", claimed[0])
	}
	dead := listed(s.Outbox.FindMail(ctx, castellan.MailFilter{Status: ptr(castellan.MailDead)}))(t)
	if len(dead) != 1 || dead[0].ID != id || dead[0].LastError != "550 5.1.1 no such user" || dead[0].Attempts != 2 || dead[0].SentAt != nil ||
		dead[0].Data["invitationToken"] != "[redacted]" {
		t.Fatalf("got dead letters %+v", dead)
	}
	// A delivery reported after the sender gave up is still a delivery.
	must(0, s.Outbox.MarkMailSent(ctx, id))(t)
	if m := findMail(t, s, id); m.Status != castellan.MailSent {
		t.Fatalf("got %+v, want it sent", m)
	}
}

func testOutboxErrNotFound(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := context.Background()
	wantCode(t, s.Outbox.MarkMailSent(ctx, unknownID), castellan.ENOTFOUND, castellan.CodeMailNotFound)
	wantCode(t, s.Outbox.MarkMailFailed(ctx, unknownID, "x", nil), castellan.ENOTFOUND, castellan.CodeMailNotFound)
	_, err := s.Outbox.ClaimDueMail(ctx, 0, time.Minute)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
}

func testOutboxList(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	acme, globex := bootstrap(t, s, "Acme").OrganizationID, bootstrap(t, s, "Globex").OrganizationID
	ctx := context.Background()
	type sent struct{ id, org, to string }
	var all []sent // oldest first
	for i := range 7 {
		org := acme
		if i%3 == 2 {
			org = globex
		}
		to := fmt.Sprintf("u%d@example.com", i%2)
		all = append(all, sent{enqueue(t, s, org, to), org, to})
		if i != 3 { // mails 3 and 4 share a creation time: the ID breaks the tie
			clock.Advance(time.Second)
		}
	}
	newestFirst := func(keep func(sent) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].id)
			}
		}
		return ids
	}
	// Mails 3 and 4 have one creation time; of the two, the greater ID
	// comes first.
	if all[3].id > all[4].id {
		t.Fatalf("IDs %s, %s are not time-ordered", all[3].id, all[4].id)
	}

	pages := func(f castellan.MailFilter) []string {
		var ids []string
		for {
			mails, next := listedPage(s.Outbox.FindMail(ctx, f))(t)
			if len(mails) > f.PageSize {
				t.Fatalf("got a page of %d, want at most %d", len(mails), f.PageSize)
			}
			ids = append(ids, mailIDs(mails)...)
			if next == "" {
				return ids
			}
			f.PageToken = next
		}
	}
	for _, tc := range []struct {
		name   string
		filter castellan.MailFilter
		keep   func(sent) bool
	}{
		{"All", castellan.MailFilter{}, func(sent) bool { return true }},
		{"Organization", castellan.MailFilter{OrganizationID: &acme}, func(m sent) bool { return m.org == acme }},
		{"To", castellan.MailFilter{To: ptr("u1@example.com")}, func(m sent) bool { return m.to == "u1@example.com" }},
		{"OrganizationAndTo", castellan.MailFilter{OrganizationID: &globex, To: ptr("u0@example.com")}, func(m sent) bool {
			return m.org == globex && m.to == "u0@example.com"
		}},
		{"Status", castellan.MailFilter{Status: ptr(castellan.MailPending)}, func(sent) bool { return true }},
		{"NoneSent", castellan.MailFilter{Status: ptr(castellan.MailSent)}, func(sent) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.filter.PageSize = 2
			if got, want := pages(tc.filter), newestFirst(tc.keep); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}

	t.Run("StableWhileWritten", func(t *testing.T) {
		first, next := listedPage(s.Outbox.FindMail(ctx, castellan.MailFilter{PageSize: 3}))(t)
		enqueue(t, s, acme, "late@example.com")
		rest := pages(castellan.MailFilter{PageSize: 3, PageToken: next})
		if got, want := append(mailIDs(first), rest...), newestFirst(func(sent) bool { return true }); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("ErrBadPageToken", func(t *testing.T) {
		_, next := listedPage(s.Audit.FindAuditEvents(ctx, acme, castellan.AuditFilter{PageSize: 1}))(t)
		for _, token := range []string{"nope", next} {
			_, _, err := s.Outbox.FindMail(ctx, castellan.MailFilter{PageToken: token})
			wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
		}
	})
}
