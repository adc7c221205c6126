// Package storetest is the conformance suite every Castellan store passes.
// A backend's test calls RunAllTests with a function that opens a new,
// empty store; the suite asserts on error codes, never on messages.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// Opener returns the services of a new, empty store whose rows are stamped
// by clock. The store is closed when tb ends.
type Opener func(tb testing.TB, clock castellan.Clock) castellan.Services

// RunAllTests runs the whole suite against the stores open returns.
func RunAllTests(t *testing.T, open Opener) {
	t.Run("Organizations", func(t *testing.T) { testOrganizations(t, open) })
	t.Run("Projects", func(t *testing.T) { testProjects(t, open) })
	t.Run("OrgUnits", func(t *testing.T) { testOrgUnits(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, open) })
	t.Run("Revisions", func(t *testing.T) { testRevisions(t, open) })
	t.Run("ConcurrentMutations", func(t *testing.T) { testConcurrentMutations(t, open) })
	t.Run("ChangeLog", func(t *testing.T) { testChangeLog(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, open) })
	t.Run("Import", func(t *testing.T) { testImport(t, open) })
	t.Run("Roles", func(t *testing.T) { testRoles(t, open) })
	t.Run("Grants", func(t *testing.T) { testGrants(t, open) })
	t.Run("OwnerRule", func(t *testing.T) { testOwnerRule(t, open) })
	t.Run("ServiceAccounts", func(t *testing.T) { testServiceAccounts(t, open) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("MFA", func(t *testing.T) { testMFA(t, open) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, open) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("AccountMemberships", func(t *testing.T) { testAccountMemberships(t, open) })
	t.Run("ControlPolicies", func(t *testing.T) { testControlPolicies(t, open) })
	t.Run("RoleIdentities", func(t *testing.T) { testRoleIdentities(t, open) })
	t.Run("Federations", func(t *testing.T) { testFederations(t, open) })
	t.Run("SCIMTokens", func(t *testing.T) { testSCIMTokens(t, open) })
	t.Run("DecisionLog", func(t *testing.T) { testDecisionLog(t, open) })
}

// Clock is a manual clock for tests; it starts at a fixed instant.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at 2026-01-02T03:04:05Z.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// operatorCtx is a request of the operator with a known request ID and
// source, so that audit events can be checked.
func operatorCtx(requestID string) context.Context {
	ctx := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op-1"})
	return castellan.WithRequestInfo(ctx, castellan.RequestInfo{RequestID: requestID, SourceIP: "192.0.2.7"})
}

// userCtx is a request of a user of org.
func userCtx(userID, orgID, requestID string) context.Context {
	ctx := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID})
	return castellan.WithRequestInfo(ctx, castellan.RequestInfo{RequestID: requestID, SourceIP: "198.51.100.1"})
}

// wantCode fails tb unless err has the given kind and code.
func wantCode(tb testing.TB, err error, kind castellan.Kind, code string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s (%s)", code, kind)
	}
	if got := castellan.ErrorCode(err); got != code {
		tb.Fatalf("got code %q (%v), want %q", got, err, code)
	}
	if got := castellan.ErrorKind(err); got != kind {
		tb.Fatalf("got kind %q, want %q", got, kind)
	}
}

// Must is must for the tests of other packages that build fixtures on a
// store: storetest.Must(s.CreateX(ctx, input))(t).
func Must[T any](v T, err error) func(tb testing.TB) T { return must(v, err) }

// must returns a function that yields v, failing tb if err is not nil; call
// it as must(s.CreateX(ctx, input))(t).
func must[T any](v T, err error) func(tb testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// snapshot is what a rejected write must leave unchanged.
type snapshot struct {
	revision int64
	events   int
}

func takeSnapshot(tb testing.TB, s castellan.Services, orgID string) snapshot {
	tb.Helper()
	ctx := context.Background()
	rev := must(s.ChangeLog.Revision(ctx))(tb)
	n := 0
	token := ""
	for {
		events, next, err := s.Audit.FindAuditEvents(ctx, orgID, castellan.AuditFilter{PageSize: castellan.MaxPageSize, PageToken: token})
		n += len(must(events, err)(tb))
		if next == "" {
			break
		}
		token = next
	}
	return snapshot{revision: rev, events: n}
}

// unchanged fails tb if a write happened since before.
func unchanged(tb testing.TB, s castellan.Services, orgID string, before snapshot) {
	tb.Helper()
	if after := takeSnapshot(tb, s, orgID); after != before {
		tb.Fatalf("rejected write changed the store: before %+v, after %+v", before, after)
	}
}

// listed is must for list results: listed(s.FindX(ctx, filter))(t).
func listed[T any](items []T, _ string, err error) func(tb testing.TB) []T {
	return must(items, err)
}

// wantField fails tb unless err names field, with rule when rule is not "".
func wantField(tb testing.TB, err error, field, rule string) {
	tb.Helper()
	var e *castellan.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got %v, want a castellan error naming %s", err, field)
	}
	for _, f := range e.Fields {
		if f.Field == field && (rule == "" || f.Rule == rule) {
			return
		}
	}
	tb.Fatalf("got fields %+v, want %s (rule %q)", e.Fields, field, rule)
}

// bootstrap creates an organization with its owner, who holds
// organization.owner on it.
func bootstrap(tb testing.TB, s castellan.Services, name string) *castellan.BootstrapResult {
	tb.Helper()
	email := "owner@" + strings.ToLower(strings.ReplaceAll(name, " ", "-")) + ".example"
	return must(s.Tokens.BootstrapOrganization(operatorCtx("r-boot"), castellan.Bootstrap{OrganizationName: name, OwnerEmail: email}))(tb)
}

// newUsers creates n active users of org, named <prefix>-<i>@example.com.
func newUsers(tb testing.TB, s castellan.Services, orgID, prefix string, n int) []*castellan.User {
	tb.Helper()
	users := make([]*castellan.User, n)
	for i := range users {
		email := fmt.Sprintf("%s-%d@example.com", prefix, i)
		users[i] = must(s.Users.CreateUser(operatorCtx("r-user"), orgID, castellan.UserCreate{Email: email}))(tb)
	}
	return users
}

// ids returns the IDs of users.
func ids(users []*castellan.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// unknownID is a well-formed ID that no row has.
const unknownID = "0190d3a8-0000-7000-8000-000000000000"
