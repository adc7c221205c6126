package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// ownerFixture is an organization whose bootstrap owner (a) holds
// organization.owner directly on it (aGrant), two more active users (b,
// c), an invited one (pending) and a group without members or grants.
type ownerFixture struct {
	s          castellan.Services
	clock      *Clock
	org        string
	a, b, c    *castellan.User
	pending    *castellan.User
	group      *castellan.Group
	aGrant     *castellan.Grant
	ownerScope string
}

func newOwnerFixture(t *testing.T, open Opener) *ownerFixture {
	t.Helper()
	f := &ownerFixture{clock: NewClock()}
	f.s = open(t, f.clock.Now)
	res := bootstrap(t, f.s, "Acme")
	f.org, f.ownerScope = res.OrganizationID, castellan.OrganizationScope(res.OrganizationID).String()
	ctx := operatorCtx("r-fixture")
	f.a = must(f.s.Users.FindUserByID(ctx, f.org, res.OwnerUserID, false))(t)
	users := newUsers(t, f.s, f.org, "dev", 2)
	f.b, f.c = users[0], users[1]
	f.pending = register(t, f.s, f.org, invitee("pat"))
	f.group = must(f.s.Groups.CreateGroup(ctx, f.org, castellan.GroupCreate{Name: "owners"}))(t)
	a := subjectOf(f.a)
	f.aGrant = listed(f.s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Subject: &a}))(t)[0]
	f.wantOwners(t, f.a)
	return f
}

func subjectOf(u *castellan.User) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}
}

func (f *ownerFixture) groupSubject() castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectGroup, ID: f.group.ID}
}

// grantOwner grants organization.owner on the organization to subject,
// until expiresAt when it is not nil.
func (f *ownerFixture) grantOwner(t *testing.T, subject castellan.Subject, expiresAt *time.Time) *castellan.Grant {
	t.Helper()
	grants, _ := must2(f.s.Grants.CreateGrants(operatorCtx("r-grant"), f.org, []castellan.GrantCreate{
		{RoleID: castellan.OrganizationOwnerRoleID, Scope: f.ownerScope, Subject: subject, ExpiresAt: expiresAt},
	}))(t)
	return grants[0]
}

// ownThroughGroup makes b the only owner, through the group: the group
// gets a permanent owner grant, which it returns, and b as its member,
// and a's grant is revoked.
func (f *ownerFixture) ownThroughGroup(t *testing.T) *castellan.Grant {
	t.Helper()
	ctx := operatorCtx("r-group")
	g := f.grantOwner(t, f.groupSubject(), nil)
	must(f.s.Groups.AddGroupMembers(ctx, f.org, f.group.ID, []string{f.b.ID}))(t)
	must(f.s.Grants.DeleteGrants(ctx, f.org, []string{f.aGrant.ID}))(t)
	f.wantOwners(t, f.b)
	return g
}

// owners returns the IDs of the organization's owners, sorted, read
// through the services: active users holding organization.owner on the
// organization without expiry, directly or through a group.
func (f *ownerFixture) owners(t *testing.T) []string {
	t.Helper()
	ctx := operatorCtx("r-owners")
	grants := listed(f.s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{
		RoleID: ptr(castellan.OrganizationOwnerRoleID), Scope: &f.ownerScope, PageSize: castellan.MaxPageSize,
	}))(t)
	var candidates, out []string
	for _, g := range grants {
		switch {
		case g.ExpiresAt != nil:
		case g.Subject.Type == castellan.SubjectUser:
			candidates = append(candidates, g.Subject.ID)
		case g.Subject.Type == castellan.SubjectGroup:
			members := listed(f.s.Groups.FindGroupMembers(ctx, f.org, g.Subject.ID, castellan.GroupFilter{PageSize: castellan.MaxPageSize}))(t)
			for _, m := range members {
				candidates = append(candidates, m.UserID)
			}
		}
	}
	for _, id := range candidates {
		u := must(f.s.Users.FindUserByID(ctx, f.org, id, true))(t)
		if u.Status == castellan.UserActive && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// wantOwners fails t unless the organization's owners are exactly users.
func (f *ownerFixture) wantOwners(t *testing.T, users ...*castellan.User) {
	t.Helper()
	want := ids(users)
	slices.Sort(want)
	if got := f.owners(t); !slices.Equal(got, want) {
		t.Fatalf("got owners %v, want %v", got, want)
	}
}

// wantKept fails t unless err is the Owner rule's refusal and the store is
// as it was at before, with the same owners.
func (f *ownerFixture) wantKept(t *testing.T, before snapshot, err error, owners ...*castellan.User) {
	t.Helper()
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
	unchanged(t, f.s, f.org, before)
	f.wantOwners(t, owners...)
}

func testOwnerRule(t *testing.T, open Opener) {
	t.Run("RevokeGrant", func(t *testing.T) { testOwnerRevokeGrant(t, open) })
	t.Run("DisableThenRevoke", func(t *testing.T) { testOwnerDisableThenRevoke(t, open) })
	t.Run("RoleChanges", func(t *testing.T) { testOwnerRoleChanges(t, open) })
	t.Run("GrantBecomesTimeLimited", func(t *testing.T) { testOwnerGrantExpiry(t, open) })
	t.Run("DisableUser", func(t *testing.T) { testOwnerDisableUser(t, open) })
	t.Run("DeleteUser", func(t *testing.T) { testOwnerDeleteUser(t, open) })
	t.Run("RemoveGroupMember", func(t *testing.T) { testOwnerRemoveGroupMember(t, open) })
	t.Run("DeleteGroup", func(t *testing.T) { testOwnerDeleteGroup(t, open) })
	t.Run("RevokeGroupGrant", func(t *testing.T) { testOwnerRevokeGroupGrant(t, open) })
	t.Run("GroupMemberLeaves", func(t *testing.T) { testOwnerGroupMemberLeaves(t, open) })
	t.Run("NoOwnerYet", func(t *testing.T) { testOwnerNoOwnerYet(t, open) })
	t.Run("ConcurrentPair", func(t *testing.T) { testOwnerConcurrentPair(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testOwnerConcurrent(t, open) })
}

// testOwnerRevokeGrant: the last owner's grant stays, whatever else holds
// the role without making an owner (an invited user, an expiring grant, a
// group without members).
func testOwnerRevokeGrant(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.grantOwner(t, subjectOf(f.pending), nil)
	f.grantOwner(t, subjectOf(f.b), ptr(f.clock.Now().Add(time.Hour)))
	f.grantOwner(t, f.groupSubject(), nil)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Grants.DeleteGrants(ctx, f.org, []string{f.aGrant.ID})
	f.wantKept(t, before, err, f.a)

	// With a second owner, a's grant may go.
	f.grantOwner(t, subjectOf(f.c), nil)
	must(f.s.Grants.DeleteGrants(ctx, f.org, []string{f.aGrant.ID}))(t)
	f.wantOwners(t, f.c)
}

// testOwnerDisableThenRevoke is the sequence the rule once let through:
// disable owner b, then revoke owner a's grant, which would leave one
// disabled owner and nobody who can manage the organization.
func testOwnerDisableThenRevoke(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.grantOwner(t, subjectOf(f.b), nil)
	must(f.s.Users.UpdateUser(ctx, f.org, f.b.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	f.wantOwners(t, f.a)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Grants.DeleteGrants(ctx, f.org, []string{f.aGrant.ID})
	f.wantKept(t, before, err, f.a)

	// Enabled again, b is an owner, and a's grant may go.
	must(f.s.Users.UpdateUser(ctx, f.org, f.b.ID, castellan.UserUpdate{Status: ptr(castellan.UserActive)}))(t)
	must(f.s.Grants.DeleteGrants(ctx, f.org, []string{f.aGrant.ID}))(t)
	f.wantOwners(t, f.b)
}

// testOwnerRoleChanges: RemoveRoles and SetRoles on the last owner.
func testOwnerRoleChanges(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.grantOwner(t, subjectOf(f.pending), nil)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Grants.RemoveRoles(ctx, f.org, subjectOf(f.a), f.ownerScope, nil, true)
	f.wantKept(t, before, err, f.a)
	_, _, err = f.s.Grants.SetRoles(ctx, f.org, subjectOf(f.a), f.ownerScope, []string{"organization.admin"})
	f.wantKept(t, before, err, f.a)

	f.grantOwner(t, subjectOf(f.b), nil)
	must2(f.s.Grants.SetRoles(ctx, f.org, subjectOf(f.a), f.ownerScope, []string{"organization.admin"}))(t)
	before = takeSnapshot(t, f.s, f.org)
	_, err = f.s.Grants.RemoveRoles(ctx, f.org, subjectOf(f.b), f.ownerScope, []string{castellan.OrganizationOwnerRoleID}, true)
	f.wantKept(t, before, err, f.b)
}

// testOwnerGrantExpiry: granting the last owner's role again with an
// expiry replaces the permanent grant, so it is refused.
func testOwnerGrantExpiry(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	before := takeSnapshot(t, f.s, f.org)
	_, _, err := f.s.Grants.CreateGrants(operatorCtx("r"), f.org, []castellan.GrantCreate{{RoleID: castellan.OrganizationOwnerRoleID,
		Scope: f.ownerScope, Subject: subjectOf(f.a), ExpiresAt: ptr(f.clock.Now().Add(time.Hour))}})
	f.wantKept(t, before, err, f.a)
}

// testOwnerDisableUser: the last owner stays active, and an owner who
// has not accepted its invitation does not count.
func testOwnerDisableUser(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.grantOwner(t, subjectOf(f.pending), nil)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Users.UpdateUser(ctx, f.org, f.a.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
	f.wantKept(t, before, err, f.a)

	// An owner through a group counts.
	f.grantOwner(t, f.groupSubject(), nil)
	must(f.s.Groups.AddGroupMembers(ctx, f.org, f.group.ID, []string{f.c.ID}))(t)
	must(f.s.Users.UpdateUser(ctx, f.org, f.a.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	f.wantOwners(t, f.c)
}

// testOwnerDeleteUser: the last owner cannot be deleted, even beside a
// disabled owner.
func testOwnerDeleteUser(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.grantOwner(t, subjectOf(f.b), nil)
	must(f.s.Users.UpdateUser(ctx, f.org, f.b.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Users.DeleteUser(ctx, f.org, f.a.ID, f.a.LoginID)
	f.wantKept(t, before, err, f.a)

	// A disabled owner may be deleted: it was no owner.
	must(f.s.Users.DeleteUser(ctx, f.org, f.b.ID, f.b.LoginID))(t)
	f.wantOwners(t, f.a)
}

// testOwnerRemoveGroupMember: the member through whom the organization
// has its only owner stays in the group.
func testOwnerRemoveGroupMember(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.ownThroughGroup(t)
	must(f.s.Groups.AddGroupMembers(ctx, f.org, f.group.ID, []string{f.pending.ID}))(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Groups.RemoveGroupMembers(ctx, f.org, f.group.ID, []string{f.b.ID})
	f.wantKept(t, before, err, f.b)

	// The invited member may go: it was no owner.
	must(f.s.Groups.RemoveGroupMembers(ctx, f.org, f.group.ID, []string{f.pending.ID}))(t)
	f.wantOwners(t, f.b)
}

// testOwnerDeleteGroup: the group through which the organization has its
// only owner stays.
func testOwnerDeleteGroup(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	f.ownThroughGroup(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Groups.DeleteGroup(operatorCtx("r"), f.org, f.group.ID)
	f.wantKept(t, before, err, f.b)
	must(f.s.Groups.FindGroupByID(operatorCtx("r"), f.org, f.group.ID))(t)
}

// testOwnerRevokeGroupGrant: the group's owner grant stays while it makes
// the only owner, whichever way it would go.
func testOwnerRevokeGroupGrant(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	g := f.ownThroughGroup(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Grants.DeleteGrants(ctx, f.org, []string{g.ID})
	f.wantKept(t, before, err, f.b)
	_, err = f.s.Grants.RemoveRoles(ctx, f.org, f.groupSubject(), f.ownerScope, nil, true)
	f.wantKept(t, before, err, f.b)
	_, _, err = f.s.Grants.SetRoles(ctx, f.org, f.groupSubject(), f.ownerScope, []string{"organization.reader"})
	f.wantKept(t, before, err, f.b)
	_, _, err = f.s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{{RoleID: castellan.OrganizationOwnerRoleID,
		Scope: f.ownerScope, Subject: f.groupSubject(), ExpiresAt: ptr(f.clock.Now().Add(time.Hour))}})
	f.wantKept(t, before, err, f.b)
}

// testOwnerGroupMemberLeaves: the only owner, through a group, can be
// neither disabled nor deleted until another member makes an owner.
func testOwnerGroupMemberLeaves(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.ownThroughGroup(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Users.UpdateUser(ctx, f.org, f.b.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
	f.wantKept(t, before, err, f.b)
	_, err = f.s.Users.DeleteUser(ctx, f.org, f.b.ID, f.b.LoginID)
	f.wantKept(t, before, err, f.b)

	must(f.s.Groups.AddGroupMembers(ctx, f.org, f.group.ID, []string{f.c.ID}))(t)
	must(f.s.Users.DeleteUser(ctx, f.org, f.b.ID, f.b.LoginID))(t)
	f.wantOwners(t, f.c)
}

// testOwnerNoOwnerYet: an organization made without an owner is not held
// to the rule until it has one: its users may be disabled, and an owner
// grant that makes no owner may be revoked.
func testOwnerNoOwnerYet(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r")
	org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Initech"}))(t)
	users := newUsers(t, s, org.ID, "dev", 1)
	pending := register(t, s, org.ID, invitee("pat"))
	grants, _ := must2(s.Grants.CreateGrants(ctx, org.ID, []castellan.GrantCreate{{RoleID: castellan.OrganizationOwnerRoleID,
		Scope: castellan.OrganizationScope(org.ID).String(), Subject: subjectOf(pending)}}))(t)
	must(s.Users.UpdateUser(ctx, org.ID, users[0].ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	must(s.Grants.DeleteGrants(ctx, org.ID, []string{grants[0].ID}))(t)
}

// testOwnerConcurrentPair races, in one organization after another, the
// two writes of testOwnerDisableThenRevoke on the organization's two
// owners: revoke a's grant, disable b. Exactly one wins, and the loser
// changes nothing.
func testOwnerConcurrentPair(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := operatorCtx("r")
	for round := range 10 {
		res := bootstrap(t, s, fmt.Sprintf("Pair %d", round))
		f := &ownerFixture{s: s, org: res.OrganizationID, ownerScope: castellan.OrganizationScope(res.OrganizationID).String()}
		f.a = must(s.Users.FindUserByID(ctx, f.org, res.OwnerUserID, false))(t)
		f.b = newUsers(t, s, f.org, "dev", 1)[0]
		a := subjectOf(f.a)
		aGrant := listed(s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Subject: &a}))(t)[0]
		f.grantOwner(t, subjectOf(f.b), nil)
		before := takeSnapshot(t, s, f.org)
		errs := race(
			func() error { _, err := s.Grants.DeleteGrants(ctx, f.org, []string{aGrant.ID}); return err },
			func() error {
				_, err := s.Users.UpdateUser(ctx, f.org, f.b.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
				return err
			},
		)
		switch {
		case errs[0] == nil && errs[1] != nil:
			wantCode(t, errs[1], castellan.EPRECONDITION, castellan.CodeLastOwner)
			f.wantOwners(t, f.b)
		case errs[1] == nil && errs[0] != nil:
			wantCode(t, errs[0], castellan.EPRECONDITION, castellan.CodeLastOwner)
			f.wantOwners(t, f.a)
		default:
			t.Fatalf("round %d: got %v, want exactly one refusal", round, errs)
		}
		wantWrites(t, s, f.org, before, 1)
	}
}

// race runs the writes at once and returns their errors in order.
func race(writes ...func() error) []error {
	// concurrently runs one call per write; each call takes the next index.
	order := make(chan int, len(writes))
	for i := range writes {
		order <- i
	}
	errs := make([]error, len(writes))
	concurrently(len(writes), func() error {
		i := <-order
		errs[i] = writes[i]()
		return nil
	})
	return errs
}

// wantWrites fails tb unless exactly n writes, each one revision and one
// audit event of org, happened since before.
func wantWrites(tb testing.TB, s castellan.Services, orgID string, before snapshot, n int) {
	tb.Helper()
	want := snapshot{revision: before.revision + int64(n), events: before.events + n}
	if got := takeSnapshot(tb, s, orgID); got != want {
		tb.Fatalf("got %+v after %d writes, want %+v", got, n, want)
	}
}

// testOwnerConcurrent gives the organization 25 owners, each by a path of
// its own (a direct grant or a group's), and takes each away at once in a
// request of its own, along every path the rule guards: exactly one
// request is refused, its owner is the one left, and the other 24 writes
// happened.
func testOwnerConcurrent(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	users := newUsers(t, f.s, f.org, "owner", 24)
	type removal struct {
		owner  *castellan.User
		remove func() error
	}
	removals := []removal{{f.a, func() error { _, err := f.s.Grants.DeleteGrants(ctx, f.org, []string{f.aGrant.ID}); return err }}}
	for i, u := range users {
		throughGroup := i%8 >= 5
		subject := subjectOf(u)
		if throughGroup {
			g := must(f.s.Groups.CreateGroup(ctx, f.org, castellan.GroupCreate{Name: fmt.Sprintf("owners-%d", i)}))(t)
			must(f.s.Groups.AddGroupMembers(ctx, f.org, g.ID, []string{u.ID}))(t)
			subject = castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID}
		}
		grant := f.grantOwner(t, subject, nil)
		var remove func() error
		switch i % 8 {
		case 0, 7:
			remove = func() error { _, err := f.s.Grants.DeleteGrants(ctx, f.org, []string{grant.ID}); return err }
		case 1:
			remove = func() error {
				_, err := f.s.Users.UpdateUser(ctx, f.org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)})
				return err
			}
		case 2:
			remove = func() error { _, err := f.s.Users.DeleteUser(ctx, f.org, u.ID, u.LoginID); return err }
		case 3:
			remove = func() error {
				_, err := f.s.Grants.RemoveRoles(ctx, f.org, subject, f.ownerScope, nil, true)
				return err
			}
		case 4:
			remove = func() error {
				_, _, err := f.s.Grants.SetRoles(ctx, f.org, subject, f.ownerScope, []string{"organization.admin"})
				return err
			}
		case 5:
			remove = func() error {
				_, err := f.s.Groups.RemoveGroupMembers(ctx, f.org, subject.ID, []string{u.ID})
				return err
			}
		case 6:
			remove = func() error { _, err := f.s.Groups.DeleteGroup(ctx, f.org, subject.ID); return err }
		}
		removals = append(removals, removal{u, remove})
	}
	f.wantOwners(t, append(users, f.a)...)
	writes := make([]func() error, len(removals))
	for i, r := range removals {
		writes[i] = r.remove
	}
	before := takeSnapshot(t, f.s, f.org)
	errs := race(writes...)
	var left []*castellan.User
	for i, err := range errs {
		if err != nil {
			wantCode(t, err, castellan.EPRECONDITION, castellan.CodeLastOwner)
			left = append(left, removals[i].owner)
		}
	}
	if len(left) != 1 {
		t.Fatalf("got %d refusals of %d writes, want 1", len(left), len(errs))
	}
	f.wantOwners(t, left...)
	wantWrites(t, f.s, f.org, before, len(errs)-1)
}
