package index_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/index"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// TestExpiryAtTheSecond: a grant counts until its expiry and not at it,
// in the index itself, with nothing applied or swept in between.
func TestExpiryAtTheSecond(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			clock := storetest.NewClock()
			db := sqltest.MustOpen(t, b.URL(t), clock.Now)
			s := db.Services()
			ctx := context.Background()
			res := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
			u := storetest.Must(s.Users.CreateUser(asOperator, res.OrganizationID, castellan.UserCreate{Email: "temp@acme.example"}))(t)
			expires := clock.Now().Truncate(time.Second).Add(10 * time.Second)
			if _, _, err := s.Grants.CreateGrants(asOperator, res.OrganizationID, []castellan.GrantCreate{{RoleID: "organization.reader",
				Scope: castellan.OrganizationScope(res.OrganizationID).String(), Subject: castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}, ExpiresAt: &expires}}); err != nil {
				t.Fatal(err)
			}
			idx := index.New(db, s, clock.Now)
			if err := idx.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			req := castellan.AuthzRequest{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: res.OrganizationID},
				Action: "organizations:GetOrganization", Resource: castellan.OrganizationScope(res.OrganizationID).String()}
			clock.Advance(expires.Sub(clock.Now()) - time.Nanosecond)
			if d, err := idx.Authorize(ctx, req); err != nil || d.Reason != castellan.ReasonAllowed {
				t.Fatalf("a nanosecond before the expiry: got %+v, %v; want allowed", d, err)
			}
			clock.Advance(time.Nanosecond)
			if d, err := idx.Authorize(ctx, req); err != nil || d.Reason != castellan.ReasonExpired {
				t.Fatalf("at the expiry: got %+v, %v; want %s", d, err, castellan.ReasonExpired)
			}
		})
	}
}

// TestReferUnknown: with ReferUnknown, an organization the snapshot does
// not hold yet (bootstrapped after the last catch-up, by another process)
// is decided by the reference; without it, it is unknown.
func TestReferUnknown(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock()
	db := sqltest.MustOpen(t, sqltest.Backends()[0].URL(t), clock.Now)
	s := db.Services()
	ctx := context.Background()
	idx := index.New(db, s, clock.Now)
	if err := idx.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	res := storetest.Must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	req := castellan.AuthzRequest{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: res.OwnerUserID, OrganizationID: res.OrganizationID},
		Action: "organizations:GetOrganization", Resource: castellan.OrganizationScope(res.OrganizationID).String()}
	if d, err := idx.Authorize(ctx, req); err != nil || d.Reason != castellan.ReasonUnknownPrincipal {
		t.Fatalf("not referred: got %+v, %v; want %s", d, err, castellan.ReasonUnknownPrincipal)
	}
	idx.ReferUnknown = true
	if d, err := idx.Authorize(ctx, req); err != nil || !d.Allowed {
		t.Fatalf("referred: got %+v, %v; want allowed", d, err)
	}
	if missing, err := idx.Missing(ctx, req.Principal, req.Resource, []string{"organizations:GetOrganization"}); err != nil || len(missing) != 0 {
		t.Fatalf("referred Missing: got %v, %v; want none", missing, err)
	}
}

// TestApplyWhileDeciding: decisions read snapshots while changes are
// applied (run with -race); at the end the index agrees with the
// reference.
func TestApplyWhileDeciding(t *testing.T) {
	t.Parallel()
	w := newWorld(t, sqltest.Backends()[0], 7)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			req := castellan.AuthzRequest{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: w.users[1], OrganizationID: w.org},
				Action: "compute:StopInstance", Resource: "project/" + w.projects[0]}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.index.Authorize(ctx, req); err != nil {
					t.Error(err)
					return
				}
				if _, err := w.index.Missing(ctx, req.Principal, req.Resource, []string{req.Action}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 40 {
		w.mutate()
		w.follow()
	}
	close(stop)
	wg.Wait()
	w.compare("after", 500, w.index)
}
