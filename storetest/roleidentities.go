package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testRoleIdentities(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testRoleIdentitiesOK(t, open) })
	t.Run("ErrNameTaken", func(t *testing.T) { testRoleIdentitiesErrNameTaken(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testRoleIdentitiesErrInvalid(t, open) })
	t.Run("List", func(t *testing.T) { testRoleIdentitiesList(t, open) })
	t.Run("Sessions", func(t *testing.T) { testRoleSessions(t, open) })
	t.Run("SessionErrSource", func(t *testing.T) { testRoleSessionsErrSource(t, open) })
	t.Run("Delete", func(t *testing.T) { testRoleIdentitiesDelete(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testRoleIdentitiesCrossOrganization(t, open) })
	t.Run("ConcurrentCreate", func(t *testing.T) { testRoleIdentitiesConcurrentCreate(t, open) })
	t.Run("UserDeleted", func(t *testing.T) { testRoleSessionsUserDeleted(t, open) })
}

// testRoleSessionsUserDeleted: deleting a user ends the sessions of the
// account roles it assumed, as it ends its console sessions and tokens,
// with a change-log row each; the sessions of other sources stay.
func testRoleSessionsUserDeleted(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-rd")
	roles := roleOfEachKind(t, s, org)
	leaver := must(s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: "leaver@acme.example"}))(t)
	stayer := must(s.Users.CreateUser(ctx, org, castellan.UserCreate{Email: "stayer@acme.example"}))(t)
	account := roles[castellan.RoleKindAccount].ID
	var ended []*castellan.RoleSession
	for range 2 {
		ended = append(ended, must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, account,
			castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: leaver.ID, Provider: org}))(t))
	}
	kept := []*castellan.RoleSession{
		must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, account, castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: stayer.ID, Provider: org}))(t),
		// Another kind's source that happens to carry the same ID.
		must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, roles[castellan.RoleKindSSO].ID,
			castellan.SourceIdentity{Type: castellan.SourceFederatedUser, ID: leaver.ID, Provider: "idp"}))(t),
	}
	clock.Advance(time.Minute)
	rev := must(s.Users.DeleteUser(ctx, org, leaver.ID, leaver.LoginID))(t)
	for _, rs := range ended {
		_, err := s.RoleIdentities.FindRoleSessionByID(ctx, org, rs.ID, false)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound)
		got := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, rs.ID, true))(t)
		if !got.Deleted || got.DeletedAt == nil || !got.DeletedAt.Equal(clock.Now()) || got.Revision != rev {
			t.Fatalf("session of the deleted user: got %+v, want ended at revision %d", got, rev)
		}
	}
	for _, rs := range kept {
		if got := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, rs.ID, false))(t); !got.Active(clock.Now()) {
			t.Fatalf("another source's session: got %+v, want active", got)
		}
	}
	// A deleted or disabled user assumes no account role: checked, with the
	// user's row held, in the transaction that starts the session, so
	// that none starts beside a deletion.
	disabled := castellan.UserDisabled
	must(s.Users.UpdateUser(ctx, org, stayer.ID, castellan.UserUpdate{Status: &disabled}))(t)
	for _, id := range []string{leaver.ID, stayer.ID, unknownID} {
		_, err := s.RoleIdentities.AssumeRoleIdentity(ctx, org, account, castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: id, Provider: org})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	}
}

func testRoleIdentitiesOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-ri")
	r := must(s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: "deployer", Kind: castellan.RoleKindServer, Description: "CI servers"}))(t)
	if !castellan.ValidID(r.ID) || r.OrganizationID != org || r.Name != "deployer" || r.Kind != "server" || r.Description != "CI servers" ||
		r.RN != "rn:iam:"+org+":role/"+r.ID || r.Revision <= res.Revision || !r.CreatedAt.Equal(clock.Now()) || r.CreatedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", r)
	}
	if got := must(s.RoleIdentities.FindRoleIdentityByID(ctx, org, r.ID))(t); *got != *r {
		t.Fatalf("got %+v, want %+v", got, r)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &r.ID}))(t)
	if len(events) != 1 || events[0].Action != string(castellan.ActionCreateRoleIdentity) || events[0].RequestID != "req-ri" ||
		events[0].Revision != r.Revision || events[0].Target.Type != "role_identity" {
		t.Fatalf("got events %+v", events)
	}
	wantChanges(t, s, r.Revision, []string{"role_identity create " + r.ID})
}

func testRoleIdentitiesErrNameTaken(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	must(s.RoleIdentities.CreateRoleIdentity(ctx, acme.OrganizationID, castellan.RoleIdentityCreate{Name: "Ops", Kind: castellan.RoleKindAccount}))(t)
	before := takeSnapshot(t, s, acme.OrganizationID)
	for _, name := range []string{"Ops", "ops", "OPS"} {
		_, err := s.RoleIdentities.CreateRoleIdentity(ctx, acme.OrganizationID, castellan.RoleIdentityCreate{Name: name, Kind: castellan.RoleKindSSO})
		wantCode(t, err, castellan.ECONFLICT, castellan.CodeRoleIdentityNameTaken)
	}
	unchanged(t, s, acme.OrganizationID, before)
	// Unique per organization.
	must(s.RoleIdentities.CreateRoleIdentity(ctx, globex.OrganizationID, castellan.RoleIdentityCreate{Name: "ops", Kind: castellan.RoleKindAccount}))(t)
}

func testRoleIdentitiesErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	before := takeSnapshot(t, s, org)
	for _, c := range []struct {
		create castellan.RoleIdentityCreate
		field  string
	}{
		{castellan.RoleIdentityCreate{Name: "", Kind: castellan.RoleKindServer}, "name"},
		{castellan.RoleIdentityCreate{Name: "with space", Kind: castellan.RoleKindServer}, "name"},
		{castellan.RoleIdentityCreate{Name: strings.Repeat("r", 65), Kind: castellan.RoleKindServer}, "name"},
		{castellan.RoleIdentityCreate{Name: "r", Kind: "robot"}, "kind"},
		{castellan.RoleIdentityCreate{Name: "r", Kind: castellan.RoleKindServer, Description: strings.Repeat("d", 301)}, "description"},
	} {
		_, err := s.RoleIdentities.CreateRoleIdentity(ctx, org, c.create)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, c.field, "")
	}
	unchanged(t, s, org, before)
	if roles := listed(s.RoleIdentities.FindRoleIdentities(ctx, org, castellan.RoleIdentityFilter{}))(t); len(roles) != 0 {
		t.Fatalf("got %d roles, want none", len(roles))
	}
}

func testRoleIdentitiesList(t *testing.T, open Opener) {
	s := open(t, nil)
	org, other := bootstrap(t, s, "Acme").OrganizationID, bootstrap(t, s, "Globex").OrganizationID
	ctx := operatorCtx("r")
	for _, name := range []string{"charlie", "Alpha", "bravo", "Delta", "echo"} {
		must(s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: name, Kind: castellan.RoleKindService}))(t)
	}
	must(s.RoleIdentities.CreateRoleIdentity(ctx, other, castellan.RoleIdentityCreate{Name: "beta", Kind: castellan.RoleKindService}))(t)
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		roles, next := listedPage(s.RoleIdentities.FindRoleIdentities(ctx, org, castellan.RoleIdentityFilter{PageSize: 2, PageToken: token}))(t)
		for _, r := range roles {
			names = append(names, r.Name)
		}
		if next == "" {
			break
		}
		if pages > 3 {
			t.Fatalf("too many pages: %v", names)
		}
		token = next
	}
	if got, want := strings.Join(names, ","), "Alpha,bravo,charlie,Delta,echo"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	_, _, err := s.RoleIdentities.FindRoleIdentities(ctx, org, castellan.RoleIdentityFilter{PageToken: "bogus"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}

// roleOfEachKind creates one role identity of each kind in org.
func roleOfEachKind(tb testing.TB, s castellan.Services, org string) map[string]*castellan.RoleIdentity {
	tb.Helper()
	roles := map[string]*castellan.RoleIdentity{}
	for kind := range castellan.SourceTypeOf {
		roles[kind] = must(s.RoleIdentities.CreateRoleIdentity(operatorCtx("r"), org, castellan.RoleIdentityCreate{Name: kind + "-role", Kind: kind}))(tb)
	}
	return roles
}

// sourceOf is a valid source identity for a role of kind.
func sourceOf(kind string) castellan.SourceIdentity {
	src := castellan.SourceIdentity{Type: castellan.SourceTypeOf[kind]}
	if kind != castellan.RoleKindServer {
		src.ID, src.Provider = kind+"-id", kind+"-provider"
	}
	return src
}

func testRoleSessions(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-rs")
	for kind, r := range roleOfEachKind(t, s, org) {
		src := sourceOf(kind)
		if kind == castellan.RoleKindAccount {
			// An account role's source is an active user of the organization.
			src = castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: res.OwnerUserID, Provider: org}
		}
		rs := must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, src))(t)
		if !castellan.ValidID(rs.ID) || rs.OrganizationID != org || rs.RoleIdentityID != r.ID || rs.RoleName != r.Name || rs.RoleRN != r.RN ||
			rs.SourceIdentity != src || !rs.CreatedAt.Equal(clock.Now()) || rs.CreatedBy != "user:"+res.OwnerUserID ||
			!rs.ExpiresAt.Equal(clock.Now().Add(castellan.RoleSessionLifetime)) || rs.Deleted || rs.DeletedAt != nil || !rs.Active(clock.Now()) {
			t.Fatalf("%s: got %+v", kind, rs)
		}
		for _, includeDeleted := range []bool{false, true} {
			if got := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, rs.ID, includeDeleted))(t); fmt.Sprint(*got) != fmt.Sprint(*rs) {
				t.Fatalf("%s: got %+v, want %+v", kind, got, rs)
			}
		}
		wantChanges(t, s, rs.Revision, []string{"role_session create " + rs.ID})
		events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &rs.ID}))(t)
		if len(events) != 1 || events[0].Action != string(castellan.ActionAssumeRoleIdentity) || events[0].Target.Name != r.Name {
			t.Fatalf("%s: got events %+v", kind, events)
		}
	}

	// An expired session is still found, as not active.
	r := must(s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: "short", Kind: castellan.RoleKindServer}))(t)
	rs := must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, sourceOf(castellan.RoleKindServer)))(t)
	clock.Advance(castellan.RoleSessionLifetime)
	expired := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, rs.ID, false))(t)
	if expired.Deleted || expired.Active(clock.Now()) || !expired.Active(clock.Now().Add(-time.Second)) {
		t.Fatalf("got %+v, want expired and not ended", expired)
	}

	// Ending it leaves a tombstone read only with includeDeleted.
	clock.Advance(time.Minute)
	rev := must(s.RoleIdentities.EndRoleSession(ctx, org, rs.ID))(t)
	wantChanges(t, s, rev, []string{"role_session delete " + rs.ID})
	_, err := s.RoleIdentities.FindRoleSessionByID(ctx, org, rs.ID, false)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound)
	ended := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, rs.ID, true))(t)
	if !ended.Deleted || ended.DeletedAt == nil || !ended.DeletedAt.Equal(clock.Now()) || ended.Revision != rev || ended.SourceIdentity != rs.SourceIdentity {
		t.Fatalf("got %+v, want a tombstone at revision %d", ended, rev)
	}
	before := takeSnapshot(t, s, org)
	_, err = s.RoleIdentities.EndRoleSession(ctx, org, rs.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound)
	_, err = s.RoleIdentities.EndRoleSession(ctx, org, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound)
	unchanged(t, s, org, before)
}

func testRoleSessionsErrSource(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	roles := roleOfEachKind(t, s, org)
	before := takeSnapshot(t, s, org)
	for kind, r := range roles {
		for other := range castellan.SourceTypeOf {
			if other == kind {
				continue
			}
			_, err := s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, sourceOf(other))
			wantCode(t, err, castellan.EINVALID, castellan.CodeRoleSessionSourceMismatch)
		}
	}
	_, err := s.RoleIdentities.AssumeRoleIdentity(ctx, org, roles[castellan.RoleKindSSO].ID, castellan.SourceIdentity{Type: castellan.SourceFederatedUser, ID: "alice"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "sourceIdentity.provider", "required")
	_, err = s.RoleIdentities.AssumeRoleIdentity(ctx, org, roles[castellan.RoleKindServer].ID, castellan.SourceIdentity{Type: castellan.SourceServer, ID: "i-1"})
	wantField(t, err, "sourceIdentity.id", "")
	_, err = s.RoleIdentities.AssumeRoleIdentity(ctx, org, unknownID, sourceOf(castellan.RoleKindServer))
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleIdentityNotFound)
	unchanged(t, s, org, before)
}

func testRoleIdentitiesDelete(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	r := must(s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: "sso", Kind: castellan.RoleKindSSO}))(t)
	kept := must(s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: "other", Kind: castellan.RoleKindSSO}))(t)
	a := must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, sourceOf(castellan.RoleKindSSO)))(t)
	b := must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, sourceOf(castellan.RoleKindSSO)))(t)
	must(s.RoleIdentities.EndRoleSession(ctx, org, b.ID))(t)
	c := must(s.RoleIdentities.AssumeRoleIdentity(ctx, org, kept.ID, sourceOf(castellan.RoleKindSSO)))(t)

	rev := must(s.RoleIdentities.DeleteRoleIdentity(ctx, org, r.ID))(t)
	// b had ended already; a ends with the role.
	wantChanges(t, s, rev, []string{"role_identity delete " + r.ID, "role_session delete " + a.ID})
	_, err := s.RoleIdentities.FindRoleIdentityByID(ctx, org, r.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleIdentityNotFound)
	_, err = s.RoleIdentities.FindRoleSessionByID(ctx, org, a.ID, false)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound)
	tomb := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, a.ID, true))(t)
	if !tomb.Deleted || tomb.Revision != rev || tomb.RoleName != r.Name || tomb.RoleRN != r.RN {
		t.Fatalf("got %+v, want a tombstone naming the role at revision %d", tomb, rev)
	}
	if got := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, b.ID, true))(t); got.Revision == rev {
		t.Fatalf("an ended session was ended again: %+v", got)
	}
	if got := must(s.RoleIdentities.FindRoleSessionByID(ctx, org, c.ID, false))(t); got.Deleted {
		t.Fatalf("another role's session ended: %+v", got)
	}
	before := takeSnapshot(t, s, org)
	_, err = s.RoleIdentities.DeleteRoleIdentity(ctx, org, r.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleIdentityNotFound)
	_, err = s.RoleIdentities.AssumeRoleIdentity(ctx, org, r.ID, sourceOf(castellan.RoleKindSSO))
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleIdentityNotFound)
	unchanged(t, s, org, before)
	// The name is free again.
	must(s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: "SSO", Kind: castellan.RoleKindServer}))(t)
}

func testRoleIdentitiesCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme").OrganizationID, bootstrap(t, s, "Globex").OrganizationID
	ctx := operatorCtx("r")
	r := must(s.RoleIdentities.CreateRoleIdentity(ctx, acme, castellan.RoleIdentityCreate{Name: "ops", Kind: castellan.RoleKindService}))(t)
	rs := must(s.RoleIdentities.AssumeRoleIdentity(ctx, acme, r.ID, sourceOf(castellan.RoleKindService)))(t)
	before := takeSnapshot(t, s, acme)
	_, err := s.RoleIdentities.FindRoleIdentityByID(ctx, globex, r.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleIdentityNotFound)
	_, err = s.RoleIdentities.AssumeRoleIdentity(ctx, globex, r.ID, sourceOf(castellan.RoleKindService))
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleIdentityNotFound)
	_, err = s.RoleIdentities.DeleteRoleIdentity(ctx, globex, r.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleIdentityNotFound)
	for _, includeDeleted := range []bool{false, true} {
		_, err = s.RoleIdentities.FindRoleSessionByID(ctx, globex, rs.ID, includeDeleted)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound)
	}
	_, err = s.RoleIdentities.EndRoleSession(ctx, globex, rs.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound)
	if roles := listed(s.RoleIdentities.FindRoleIdentities(ctx, globex, castellan.RoleIdentityFilter{}))(t); len(roles) != 0 {
		t.Fatalf("got %d roles of another organization", len(roles))
	}
	unchanged(t, s, acme, before)
	if got := must(s.RoleIdentities.FindRoleSessionByID(ctx, acme, rs.ID, false))(t); got.Deleted {
		t.Fatalf("got %+v, want it untouched", got)
	}
}

// testRoleIdentitiesConcurrentCreate creates the same name, in different
// cases, 25 times at once: exactly one succeeds, the others are
// role_identity.name_taken.
func testRoleIdentitiesConcurrentCreate(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	const n = 25
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "Racer"
			if i%2 == 1 {
				name = "racer"
			}
			_, errs[i] = s.RoleIdentities.CreateRoleIdentity(ctx, org, castellan.RoleIdentityCreate{Name: name, Kind: castellan.RoleKindAccount})
		}()
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		if err == nil {
			created++
			continue
		}
		wantCode(t, err, castellan.ECONFLICT, castellan.CodeRoleIdentityNameTaken)
	}
	if created != 1 {
		t.Fatalf("got %d creates, want 1", created)
	}
	if roles := listed(s.RoleIdentities.FindRoleIdentities(ctx, org, castellan.RoleIdentityFilter{}))(t); len(roles) != 1 {
		t.Fatalf("got %d roles, want 1", len(roles))
	}
}
