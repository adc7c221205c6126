package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testGroups(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) { testGroupsOK(t, open) })
	t.Run("ErrNameTaken", func(t *testing.T) { testGroupsErrNameTaken(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testGroupsErrInvalid(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testGroupsErrNotFound(t, open) })
	t.Run("Members", func(t *testing.T) { testGroupsMembers(t, open) })
	t.Run("MembersAllOrNothing", func(t *testing.T) { testGroupsMembersAllOrNothing(t, open) })
	t.Run("Delete", func(t *testing.T) { testGroupsDelete(t, open) })
	t.Run("SignOut", func(t *testing.T) { testGroupsSignOut(t, open) })
	t.Run("List", func(t *testing.T) { testGroupsList(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testGroupsCrossOrganization(t, open) })
	t.Run("CreateWithMembers", func(t *testing.T) { testGroupsCreateWithMembers(t, open) })
	t.Run("CreateWithMembersRefused", func(t *testing.T) { testGroupsCreateWithMembersRefused(t, open) })
	t.Run("UpdateMembers", func(t *testing.T) { testGroupsUpdateMembers(t, open) })
	t.Run("SetMembers", func(t *testing.T) { testGroupsSetMembers(t, open) })
	t.Run("UpdateMembersRefused", func(t *testing.T) { testGroupsUpdateMembersRefused(t, open) })
	t.Run("UpdateLastOwner", func(t *testing.T) { testGroupsUpdateLastOwner(t, open) })
	t.Run("UpdateSignOut", func(t *testing.T) { testGroupsUpdateSignOut(t, open) })
}

func testGroupsOK(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-g")
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "Developers", Description: "all of them"}))(t)
	if !castellan.ValidID(g.ID) || g.OrganizationID != org || g.Name != "Developers" || g.Description != "all of them" ||
		g.MemberCount != 0 || g.GrantCount != 0 || g.Revision <= res.Revision || !g.CreatedAt.Equal(clock.Now()) ||
		g.CreatedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", g)
	}
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); *got != *g {
		t.Fatalf("got %+v, want %+v", got, g)
	}
	clock.Advance(time.Second)
	name := "Devs"
	upd := must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{Name: &name}))(t)
	if upd.Name != name || upd.Description != g.Description || upd.Revision <= g.Revision || !upd.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("got %+v", upd)
	}
	before := takeSnapshot(t, s, org)
	same := must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{Name: &name}))(t)
	if same.Revision != upd.Revision {
		t.Fatalf("no-op update moved revision from %d to %d", upd.Revision, same.Revision)
	}
	unchanged(t, s, org, before)
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &g.ID}))(t)
	if len(events) != 2 || events[0].Action != "iam:UpdateGroup" || events[1].Action != "iam:CreateGroup" || events[1].RequestID != "req-g" {
		t.Fatalf("got events %+v", events)
	}
}

func testGroupsErrNameTaken(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	must(s.Groups.CreateGroup(ctx, acme.OrganizationID, castellan.GroupCreate{Name: "ops"}))(t)
	other := must(s.Groups.CreateGroup(ctx, acme.OrganizationID, castellan.GroupCreate{Name: "dev"}))(t)
	before := takeSnapshot(t, s, acme.OrganizationID)
	_, err := s.Groups.CreateGroup(ctx, acme.OrganizationID, castellan.GroupCreate{Name: "ops"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeGroupNameTaken)
	_, err = s.Groups.UpdateGroup(ctx, acme.OrganizationID, other.ID, castellan.GroupUpdate{Name: ptr("ops")})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeGroupNameTaken)
	unchanged(t, s, acme.OrganizationID, before)
	// Unique per organization, case-sensitively.
	must(s.Groups.CreateGroup(ctx, acme.OrganizationID, castellan.GroupCreate{Name: "Ops"}))(t)
	must(s.Groups.CreateGroup(ctx, globex.OrganizationID, castellan.GroupCreate{Name: "ops"}))(t)
}

func testGroupsErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	org := bootstrap(t, s, "Acme").OrganizationID
	ctx := operatorCtx("r")
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "ops"}))(t)
	before := takeSnapshot(t, s, org)
	for _, tc := range []struct {
		gc    castellan.GroupCreate
		field string
	}{
		{castellan.GroupCreate{Name: ""}, "name"},
		{castellan.GroupCreate{Name: strings.Repeat("g", 101)}, "name"},
		{castellan.GroupCreate{Name: " ops"}, "name"},
		{castellan.GroupCreate{Name: "ok", Description: strings.Repeat("d", 101)}, "description"},
	} {
		_, err := s.Groups.CreateGroup(ctx, org, tc.gc)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, tc.field, "")
	}
	_, err := s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{Name: ptr("")})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	unchanged(t, s, org, before)
	_, err = s.Groups.CreateGroup(ctx, unknownID, castellan.GroupCreate{Name: "ops"})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
}

func testGroupsErrNotFound(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	before := takeSnapshot(t, s, org)
	for _, id := range []string{unknownID, "not-an-id"} {
		_, err := s.Groups.FindGroupByID(ctx, org, id)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
		_, err = s.Groups.UpdateGroup(ctx, org, id, castellan.GroupUpdate{Name: ptr("x")})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
		_, err = s.Groups.DeleteGroup(ctx, org, id)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
		_, err = s.Groups.AddGroupMembers(ctx, org, id, []string{res.OwnerUserID})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
		_, err = s.Groups.RemoveGroupMembers(ctx, org, id, []string{res.OwnerUserID})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
		_, _, err = s.Groups.FindGroupMembers(ctx, org, id, castellan.GroupFilter{})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	}
	_, err := s.Groups.FindUserGroups(ctx, org, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	unchanged(t, s, org, before)
}

func testGroupsMembers(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-m")
	users := newUsers(t, s, org, "dev", 5)
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs"}))(t)
	ops := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "ops"}))(t)
	rev := must(s.Groups.AddGroupMembers(ctx, org, g.ID, ids(users[:3])))(t)
	if rev <= ops.Revision {
		t.Fatalf("got revision %d, want > %d", rev, ops.Revision)
	}
	must(s.Groups.AddGroupMembers(ctx, org, ops.ID, []string{users[0].ID}))(t)
	// Adding members again, with repeats, changes nothing.
	before := takeSnapshot(t, s, org)
	again := must(s.Groups.AddGroupMembers(ctx, org, g.ID, []string{users[1].ID, users[0].ID, users[1].ID}))(t)
	if again != before.revision {
		t.Fatalf("no-op add returned revision %d, want %d", again, before.revision)
	}
	unchanged(t, s, org, before)
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); got.MemberCount != 3 {
		t.Fatalf("got %d members, want 3", got.MemberCount)
	}
	// Some new, some old: only the new ones are added.
	must(s.Groups.AddGroupMembers(ctx, org, g.ID, []string{users[2].ID, users[3].ID}))(t)
	var got []string
	token := ""
	for {
		members, next, err := s.Groups.FindGroupMembers(ctx, org, g.ID, castellan.GroupFilter{PageSize: 3, PageToken: token})
		for _, m := range listed(members, next, err)(t) {
			if m.Email == "" || !m.AddedAt.Equal(clock.Now()) || m.AddedBy != "user:"+res.OwnerUserID {
				t.Fatalf("got member %+v", m)
			}
			got = append(got, m.UserID)
		}
		if next == "" {
			break
		}
		token = next
	}
	want := ids(users[:4])
	if fmt.Sprint(got) != fmt.Sprint(want) { // user IDs are time-ordered: creation order
		t.Fatalf("got members %v, want %v", got, want)
	}
	groups := must(s.Groups.FindUserGroups(ctx, org, users[0].ID))(t)
	if len(groups) != 2 || groups[0].Name != "devs" || groups[1].Name != "ops" || groups[0].MemberCount != 4 {
		t.Fatalf("got groups %+v", groups)
	}
	if n := len(must(s.Groups.FindUserGroups(ctx, org, users[4].ID))(t)); n != 0 {
		t.Fatalf("got %d groups of a user in none, want 0", n)
	}
	rev = must(s.Groups.RemoveGroupMembers(ctx, org, g.ID, []string{users[0].ID, users[1].ID}))(t)
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); got.MemberCount != 2 {
		t.Fatalf("got %d members after removal, want 2", got.MemberCount)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &g.ID}))(t)
	if events[0].Action != "iam:RemoveGroupMembers" || events[0].Revision != rev || events[1].Action != "iam:AddGroupMembers" {
		t.Fatalf("got events %+v", events)
	}
}

func testGroupsMembersAllOrNothing(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	org := acme.OrganizationID
	ctx := operatorCtx("r")
	users := newUsers(t, s, org, "dev", 3)
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs"}))(t)
	must(s.Groups.AddGroupMembers(ctx, org, g.ID, []string{users[0].ID}))(t)
	before := takeSnapshot(t, s, org)
	for _, tc := range []struct {
		ids   []string
		field string
	}{
		{[]string{users[1].ID, users[2].ID, unknownID}, "userIds[2]"},
		{[]string{users[1].ID, globex.OwnerUserID}, "userIds[1]"},
		{[]string{"not-an-id", users[1].ID}, "userIds[0]"},
	} {
		_, err := s.Groups.AddGroupMembers(ctx, org, g.ID, tc.ids)
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
		wantField(t, err, tc.field, "")
	}
	// Removing a user who is not a member fails the whole batch.
	_, err := s.Groups.RemoveGroupMembers(ctx, org, g.ID, []string{users[0].ID, users[1].ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	wantField(t, err, "userIds[1]", "")
	tooMany := make([]string, castellan.MaxBatchItems+1)
	for i := range tooMany {
		tooMany[i] = users[0].ID
	}
	_, err = s.Groups.AddGroupMembers(ctx, org, g.ID, tooMany)
	wantCode(t, err, castellan.EINVALID, castellan.CodeTooManyItems)
	_, err = s.Groups.RemoveGroupMembers(ctx, org, g.ID, tooMany)
	wantCode(t, err, castellan.EINVALID, castellan.CodeTooManyItems)
	_, err = s.Groups.AddGroupMembers(ctx, org, g.ID, nil)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	_, err = s.Groups.RemoveGroupMembers(ctx, org, g.ID, []string{})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	unchanged(t, s, org, before)
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); got.MemberCount != 1 {
		t.Fatalf("got %d members, want 1", got.MemberCount)
	}
}

func testGroupsDelete(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("req-del")
	users := newUsers(t, s, org, "dev", 2)
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs"}))(t)
	keep := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "ops"}))(t)
	must(s.Groups.AddGroupMembers(ctx, org, g.ID, ids(users)))(t)
	must(s.Groups.AddGroupMembers(ctx, org, keep.ID, ids(users)))(t)
	p := must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
	grants, _ := must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{
		{RoleID: "organization.reader", Scope: "organization/" + org, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID}},
		{RoleID: "project.member", Scope: "project/" + p.ID, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID}},
		{RoleID: "project.member", Scope: "project/" + p.ID, Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: keep.ID}},
	}))(t)
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); got.MemberCount != 2 || got.GrantCount != 2 {
		t.Fatalf("got %d members and %d grants, want 2 and 2", got.MemberCount, got.GrantCount)
	}
	rev := must(s.Groups.DeleteGroup(ctx, org, g.ID))(t)
	_, err := s.Groups.FindGroupByID(ctx, org, g.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	left := listed(s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID}}))(t)
	if len(left) != 0 {
		t.Fatalf("got %d grants of the deleted group, want 0", len(left))
	}
	_, err = s.Grants.FindGrantsByID(ctx, org, []string{grants[0].ID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGrantNotFound)
	byUser := listed(s.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: users[0].ID}}))(t)
	if len(byUser) != 1 || byUser[0].ID != grants[2].ID {
		t.Fatalf("got grants of a former member %+v, want only the other group's", byUser)
	}
	groups := must(s.Groups.FindUserGroups(ctx, org, users[0].ID))(t)
	if len(groups) != 1 || groups[0].ID != keep.ID {
		t.Fatalf("got groups %+v, want only ops", groups)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &g.ID}))(t)
	if events[0].Action != "iam:DeleteGroup" || events[0].Revision != rev || events[0].RequestID != "req-del" {
		t.Fatalf("got event %+v", events[0])
	}
	_, err = s.Groups.DeleteGroup(ctx, org, g.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
}

// testGroupsSignOut: removing members signs them out; deleting a group
// signs out its members but those in another group that holds an
// unexpired grant (a grant to the user alone does not keep them), all in
// the write's transaction with a change-log row for each ended token, key
// and session.
func testGroupsSignOut(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r-out")
	p := must(s.Projects.CreateProject(ctx, org, castellan.ProjectCreate{Name: "web"}))(t)
	group := func(name string) string {
		return must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: name}))(t).ID
	}
	grant := func(expiresAt *time.Time, subject castellan.Subject) {
		must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: "project.reader", Scope: "project/" + p.ID, Subject: subject, ExpiresAt: expiresAt}}))(t)
	}
	devs, ops, lapsing, bare := group("devs"), group("ops"), group("lapsing"), group("bare")
	grant(nil, castellan.Subject{Type: castellan.SubjectGroup, ID: ops})
	soon := clock.Now().Add(10 * time.Minute) // sooner than the sessions and tokens lapse
	grant(&soon, castellan.Subject{Type: castellan.SubjectGroup, ID: lapsing})

	// signedIn is a user with a console session, a user token and an
	// access key's token.
	type signedIn struct {
		user    *castellan.User
		session *castellan.NewSession
		token   string
		key     *castellan.NewAccessKey
		keyTok  string
	}
	newSignedIn := func(name string) signedIn {
		u := signInUser(t, s, org, name, nil)
		k := must(s.AccessKeys.CreateAccessKey(ctx, org, castellan.AccessKeyCreate{Owner: castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}, ProjectID: p.ID, Name: "k"}))(t)
		return signedIn{user: u, session: newSession(t, s, u), token: must(s.Tokens.CreateUserToken(ctx, org, u.ID))(t),
			key: k, keyTok: must(s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret))(t).Token}
	}
	// live reports whether each of the user's credentials still works.
	live := func(u signedIn) [3]bool {
		_, _, sessErr := s.Sessions.AuthenticateSession(ctx, u.session.Token)
		_, tokErr := s.Tokens.FindCredential(ctx, u.token)
		_, keyErr := s.Tokens.FindCredential(ctx, u.keyTok)
		return [3]bool{sessErr == nil, tokErr == nil, keyErr == nil}
	}
	wantLive := func(step string, u signedIn, want bool) {
		t.Helper()
		if got := live(u); got != [3]bool{want, want, want} {
			t.Fatalf("%s: %s's session, token and key token work: %v, want all %v", step, u.user.LoginID, got, want)
		}
	}
	// wantEnded checks the change-log rows of the write at rev.
	wantEnded := func(step string, rev int64, ended ...signedIn) {
		t.Helper()
		got := map[string]bool{}
		for _, c := range must(s.ChangeLog.Changes(ctx, rev-1, 1))(t) {
			got[c.EntityType+" "+c.EntityID+" "+c.Operation] = true
		}
		for _, u := range ended {
			for _, want := range []string{"console_session " + u.session.Session.ID + " delete", "access_key " + u.key.ID + " update"} {
				if !got[want] {
					t.Fatalf("%s: change log of revision %d lacks %q: %v", step, rev, want, got)
				}
			}
		}
		var tokens int
		for k := range got {
			if strings.HasPrefix(k, "api_token ") {
				tokens++
			}
		}
		if tokens != len(ended) {
			t.Fatalf("%s: got %d api_token rows, want %d: %v", step, tokens, len(ended), got)
		}
	}

	// Removing members signs them out, though one still belongs to a
	// group with a grant; a member left in the group stays signed in.
	ann, bob, cid := newSignedIn("ann"), newSignedIn("bob"), newSignedIn("cid")
	must(s.Groups.AddGroupMembers(ctx, org, devs, ids([]*castellan.User{ann.user, bob.user, cid.user})))(t)
	must(s.Groups.AddGroupMembers(ctx, org, ops, []string{ann.user.ID}))(t)
	rev := must(s.Groups.RemoveGroupMembers(ctx, org, devs, []string{ann.user.ID, bob.user.ID}))(t)
	wantLive("remove", ann, false)
	wantLive("remove", bob, false)
	wantLive("remove", cid, true)
	wantEnded("remove", rev, ann, bob)

	// Deleting a group: kept through ops (a grant), signed out though in
	// bare (no grant), in lapsing (its grant has expired) or holding a
	// grant of its own.
	kept, noGrant, lapsed, direct := newSignedIn("dan"), newSignedIn("eve"), newSignedIn("fay"), newSignedIn("gus")
	gone := group("gone")
	must(s.Groups.AddGroupMembers(ctx, org, gone, ids([]*castellan.User{kept.user, noGrant.user, lapsed.user, direct.user})))(t)
	must(s.Groups.AddGroupMembers(ctx, org, ops, []string{kept.user.ID}))(t)
	must(s.Groups.AddGroupMembers(ctx, org, bare, []string{noGrant.user.ID}))(t)
	must(s.Groups.AddGroupMembers(ctx, org, lapsing, []string{lapsed.user.ID}))(t)
	grant(nil, castellan.Subject{Type: castellan.SubjectUser, ID: direct.user.ID})
	clock.Advance(10 * time.Minute)
	rev = must(s.Groups.DeleteGroup(ctx, org, gone))(t)
	wantLive("delete", kept, true)
	wantLive("delete", noGrant, false)
	wantLive("delete", lapsed, false)
	wantLive("delete", direct, false)
	wantLive("delete", cid, true)
	wantEnded("delete", rev, noGrant, lapsed, direct)
	// Signed out, not only refused: the user signs in again and its keys
	// still exchange.
	must(s.AccessKeys.ExchangeAccessKey(ctx, direct.key.ID, direct.key.Secret))(t)
	newSession(t, s, direct.user)

	// The audit event names whom the write signed out.
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &gone}))(t)
	if out := string(events[0].Summary["signedOutUserIds"]); events[0].Action != "iam:DeleteGroup" ||
		strings.Contains(out, kept.user.ID) || !strings.Contains(out, direct.user.ID) {
		t.Fatalf("got event %+v", events[0])
	}
}

func testGroupsList(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	var want []string
	for i := 6; i >= 0; i-- {
		name := fmt.Sprintf("group-%02d", i)
		must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: name}))(t)
		want = append([]string{name}, want...)
	}
	first := listed(s.Groups.FindGroups(ctx, org, castellan.GroupFilter{PageSize: 1}))(t)[0]
	must(s.Groups.AddGroupMembers(ctx, org, first.ID, []string{res.OwnerUserID}))(t)
	must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: "organization.reader", Scope: "organization/" + org,
		Subject: castellan.Subject{Type: castellan.SubjectGroup, ID: first.ID}}}))(t)
	var got []string
	token := ""
	for {
		groups, next, err := s.Groups.FindGroups(ctx, org, castellan.GroupFilter{PageSize: 3, PageToken: token})
		for _, g := range listed(groups, next, err)(t) {
			if (g.ID == first.ID) != (g.MemberCount == 1 && g.GrantCount == 1) {
				t.Fatalf("group %s: got %d members and %d grants", g.Name, g.MemberCount, g.GrantCount)
			}
			got = append(got, g.Name)
		}
		if next == "" {
			break
		}
		token = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	_, _, err := s.Groups.FindGroups(ctx, org, castellan.GroupFilter{PageToken: "nope"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
}

func testGroupsCrossOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	g := must(s.Groups.CreateGroup(ctx, acme.OrganizationID, castellan.GroupCreate{Name: "devs"}))(t)
	must(s.Groups.AddGroupMembers(ctx, acme.OrganizationID, g.ID, []string{acme.OwnerUserID}))(t)
	gx := must(s.Groups.CreateGroup(ctx, globex.OrganizationID, castellan.GroupCreate{Name: "ops"}))(t)
	beforeAcme, beforeGlobex := takeSnapshot(t, s, acme.OrganizationID), takeSnapshot(t, s, globex.OrganizationID)
	_, err := s.Groups.FindGroupByID(ctx, globex.OrganizationID, g.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	_, err = s.Groups.UpdateGroup(ctx, globex.OrganizationID, g.ID, castellan.GroupUpdate{Name: ptr("stolen")})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	_, err = s.Groups.DeleteGroup(ctx, globex.OrganizationID, g.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	_, err = s.Groups.AddGroupMembers(ctx, globex.OrganizationID, g.ID, []string{globex.OwnerUserID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	_, err = s.Groups.RemoveGroupMembers(ctx, globex.OrganizationID, g.ID, []string{acme.OwnerUserID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	_, _, err = s.Groups.FindGroupMembers(ctx, globex.OrganizationID, g.ID, castellan.GroupFilter{})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	_, err = s.Groups.FindUserGroups(ctx, globex.OrganizationID, acme.OwnerUserID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	// A user of one organization cannot join a group of another.
	_, err = s.Groups.AddGroupMembers(ctx, globex.OrganizationID, gx.ID, []string{acme.OwnerUserID})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	groups := listed(s.Groups.FindGroups(ctx, globex.OrganizationID, castellan.GroupFilter{}))(t)
	if len(groups) != 1 || groups[0].ID != gx.ID {
		t.Fatalf("got groups %+v, want only Globex's", groups)
	}
	unchanged(t, s, acme.OrganizationID, beforeAcme)
	unchanged(t, s, globex.OrganizationID, beforeGlobex)
	if got := must(s.Groups.FindGroupByID(ctx, acme.OrganizationID, g.ID))(t); got.Name != "devs" || got.MemberCount != 1 {
		t.Fatalf("group changed: %+v", got)
	}
}

// must2 is must for results with a revision: must2(s.CreateGrants(…))(t).
func must2[T any](v T, rev int64, err error) func(tb testing.TB) (T, int64) {
	return func(tb testing.TB) (T, int64) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return v, rev
	}
}

// memberIDsOf returns the user IDs of a group's members, sorted.
func memberIDsOf(tb testing.TB, s castellan.Services, orgID, groupID string) []string {
	tb.Helper()
	members := listed(s.Groups.FindGroupMembers(operatorCtx("r-members"), orgID, groupID, castellan.GroupFilter{PageSize: castellan.MaxPageSize}))(tb)
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.UserID
	}
	slices.Sort(out)
	return out
}

// wantMembers fails tb unless the group's members are exactly userIDs.
func wantMembers(tb testing.TB, s castellan.Services, orgID, groupID string, userIDs ...string) {
	tb.Helper()
	want := slices.Sorted(slices.Values(userIDs))
	if got := memberIDsOf(tb, s, orgID, groupID); !slices.Equal(got, want) {
		tb.Fatalf("got members %v, want %v", got, want)
	}
}

// summaryIDs returns the list of IDs under key in an audit event's
// summary, sorted.
func summaryIDs(tb testing.TB, ev *castellan.AuditEvent, key string) []string {
	tb.Helper()
	var out []string
	if err := json.Unmarshal(ev.Summary[key], &out); err != nil {
		tb.Fatalf("summary %s of %+v: %v", key, ev, err)
	}
	slices.Sort(out)
	return out
}

// testGroupsCreateWithMembers: CreateGroup adds its MemberIDs in the same
// transaction: one revision, an event for the group and one for its
// members, the member count set.
func testGroupsCreateWithMembers(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-cm")
	users := newUsers(t, s, org, "dev", 3)
	pending := register(t, s, org, invitee("pat")) // invited users may be members
	before := takeSnapshot(t, s, org)
	// A repeated ID counts once.
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs",
		MemberIDs: []string{users[2].ID, users[0].ID, users[2].ID, pending.ID}}))(t)
	rev := before.revision + 1
	if g.Name != "devs" || g.MemberCount != 3 || g.GrantCount != 0 || g.Revision != rev || !g.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("got %+v, want 3 members at revision %d", g, rev)
	}
	if now := must(s.ChangeLog.Revision(ctx))(t); now != rev {
		t.Fatalf("store at revision %d after the create, want %d: one revision", now, rev)
	}
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); *got != *g {
		t.Fatalf("got %+v, want %+v", got, g)
	}
	wantMembers(t, s, org, g.ID, users[0].ID, users[2].ID, pending.ID)
	for _, m := range listed(s.Groups.FindGroupMembers(ctx, org, g.ID, castellan.GroupFilter{}))(t) {
		if m.Email == "" || !m.AddedAt.Equal(clock.Now()) || m.AddedBy != "user:"+res.OwnerUserID {
			t.Fatalf("got member %+v", m)
		}
	}
	wantChanges(t, s, rev, []string{
		"group create " + g.ID,
		"group_member create " + g.ID + "/" + users[0].ID,
		"group_member create " + g.ID + "/" + users[2].ID,
		"group_member create " + g.ID + "/" + pending.ID,
	})
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &g.ID}))(t)
	if len(events) != 2 || events[0].Action != string(castellan.ActionAddGroupMembers) || events[1].Action != string(castellan.ActionCreateGroup) {
		t.Fatalf("got events %+v, want the create and the add", events)
	}
	for _, e := range events {
		if e.Revision != rev || e.RequestID != "req-cm" || e.Actor.ID != res.OwnerUserID {
			t.Fatalf("got event %+v, want revision %d of req-cm", e, rev)
		}
	}
	want := slices.Sorted(slices.Values([]string{users[0].ID, users[2].ID, pending.ID}))
	if got := summaryIDs(t, events[0], "addedUserIds"); !slices.Equal(got, want) {
		t.Fatalf("got addedUserIds %v, want %v", got, want)
	}
	if groups := must(s.Groups.FindUserGroups(ctx, org, users[0].ID))(t); len(groups) != 1 || groups[0].ID != g.ID || groups[0].MemberCount != 3 {
		t.Fatalf("got groups %+v", groups)
	}
	if groups := must(s.Groups.FindUserGroups(ctx, org, users[1].ID))(t); len(groups) != 0 {
		t.Fatalf("got groups %+v of a user not named, want none", groups)
	}
}

// testGroupsCreateWithMembersRefused: a member that is not a user of the
// organization refuses the whole create; no group is left behind.
func testGroupsCreateWithMembersRefused(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	org := acme.OrganizationID
	ctx := operatorCtx("r")
	users := newUsers(t, s, org, "dev", 2)
	gone := newUsers(t, s, org, "gone", 1)[0]
	must(s.Users.DeleteUser(ctx, org, gone.ID, castellan.DeleteUserPhrase))(t)
	before, beforeGlobex := takeSnapshot(t, s, org), takeSnapshot(t, s, globex.OrganizationID)
	for _, tc := range []struct {
		ids   []string
		field string
	}{
		{[]string{users[0].ID, unknownID}, "memberIds[1]"},
		{[]string{globex.OwnerUserID, users[0].ID}, "memberIds[0]"},
		{[]string{users[0].ID, users[1].ID, gone.ID}, "memberIds[2]"},
	} {
		_, err := s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: tc.ids})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
		wantField(t, err, tc.field, "")
	}
	_, err := s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: []string{users[0].ID, "not-an-id"}})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "memberIds[1]", "format")
	tooMany := make([]string, castellan.MaxGroupMembersAtOnce+1)
	for i := range tooMany {
		tooMany[i] = users[0].ID
	}
	_, err = s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: tooMany})
	wantCode(t, err, castellan.EINVALID, castellan.CodeTooManyItems)
	wantField(t, err, "memberIds", "maxItems")
	// At the limit the list is read: its last user is unknown.
	atLimit := tooMany[1:]
	atLimit[len(atLimit)-1] = unknownID
	_, err = s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: atLimit})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
	unchanged(t, s, org, before)
	unchanged(t, s, globex.OrganizationID, beforeGlobex)
	if groups := listed(s.Groups.FindGroups(ctx, org, castellan.GroupFilter{}))(t); len(groups) != 0 {
		t.Fatalf("refused creates left groups %+v", groups)
	}
	if groups := must(s.Groups.FindUserGroups(ctx, org, users[0].ID))(t); len(groups) != 0 {
		t.Fatalf("refused creates left memberships %+v", groups)
	}
	// The name is still free.
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: ids(users)}))(t)
	if g.MemberCount != 2 {
		t.Fatalf("got %+v, want 2 members", g)
	}
}

// testGroupsUpdateMembers: one UpdateGroup renames a group and adds and
// removes members in one revision; removing a non-member and adding a
// member changes nothing; an update changing nothing writes nothing.
func testGroupsUpdateMembers(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := userCtx(res.OwnerUserID, org, "req-um")
	users := newUsers(t, s, org, "dev", 4)
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: ids(users[:2])}))(t)
	clock.Advance(time.Second)

	before := takeSnapshot(t, s, org)
	upd := must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{
		Name:            ptr("developers"),
		AddMemberIDs:    []string{users[2].ID, users[3].ID, users[0].ID}, // users[0] is a member already
		RemoveMemberIDs: []string{users[1].ID, res.OwnerUserID},          // the owner is no member
	}))(t)
	rev := before.revision + 1
	if upd.Name != "developers" || upd.MemberCount != 3 || upd.Revision != rev || !upd.UpdatedAt.Equal(clock.Now()) ||
		upd.UpdatedBy != "user:"+res.OwnerUserID || !upd.CreatedAt.Equal(g.CreatedAt) {
		t.Fatalf("got %+v, want developers with 3 members at revision %d", upd, rev)
	}
	if now := must(s.ChangeLog.Revision(ctx))(t); now != rev {
		t.Fatalf("store at revision %d after the update, want %d: one revision", now, rev)
	}
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); *got != *upd {
		t.Fatalf("got %+v, want %+v", got, upd)
	}
	wantMembers(t, s, org, g.ID, users[0].ID, users[2].ID, users[3].ID)
	wantChanges(t, s, rev, []string{
		"group update " + g.ID,
		"group_member create " + g.ID + "/" + users[2].ID,
		"group_member create " + g.ID + "/" + users[3].ID,
		"group_member delete " + g.ID + "/" + users[1].ID,
	})
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetID: &g.ID}))(t)
	if len(events) != 5 {
		t.Fatalf("got %d events, want 5: %+v", len(events), events)
	}
	var actions []string
	for _, e := range events[:3] {
		if e.Revision != rev || e.RequestID != "req-um" {
			t.Fatalf("got event %+v, want one of revision %d", e, rev)
		}
		actions = append(actions, e.Action)
	}
	slices.Sort(actions)
	wantActions := []string{string(castellan.ActionAddGroupMembers), string(castellan.ActionRemoveGroupMembers), string(castellan.ActionUpdateGroup)}
	if !slices.Equal(actions, wantActions) {
		t.Fatalf("got actions %v at revision %d, want %v", actions, rev, wantActions)
	}
	for _, e := range events[:3] {
		switch e.Action {
		case string(castellan.ActionAddGroupMembers):
			if got, want := summaryIDs(t, e, "addedUserIds"), slices.Sorted(slices.Values([]string{users[2].ID, users[3].ID})); !slices.Equal(got, want) {
				t.Fatalf("got addedUserIds %v, want %v", got, want)
			}
		case string(castellan.ActionRemoveGroupMembers):
			if got := summaryIDs(t, e, "removedUserIds"); !slices.Equal(got, []string{users[1].ID}) {
				t.Fatalf("got removedUserIds %v, want %v", got, users[1].ID)
			}
		}
	}

	// Members only: one revision, the name stays.
	before = takeSnapshot(t, s, org)
	got := must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{RemoveMemberIDs: []string{users[2].ID}}))(t)
	if got.Name != "developers" || got.MemberCount != 2 {
		t.Fatalf("got %+v, want developers with 2 members", got)
	}
	if now := must(s.ChangeLog.Revision(ctx))(t); now != before.revision+1 {
		t.Fatalf("store at revision %d, want %d", now, before.revision+1)
	}
	wantChanges(t, s, before.revision+1, []string{"group_member delete " + g.ID + "/" + users[2].ID})
	wantMembers(t, s, org, g.ID, users[0].ID, users[3].ID)

	// Nothing to change: the same name, a member added again, non-members
	// removed.
	before = takeSnapshot(t, s, org)
	same := must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{
		Name: ptr("developers"), AddMemberIDs: []string{users[0].ID}, RemoveMemberIDs: []string{users[1].ID, users[2].ID, unknownID},
	}))(t)
	if same.Name != "developers" || same.MemberCount != 2 || same.Revision != upd.Revision {
		t.Fatalf("no-op update: got %+v, want revision %d", same, upd.Revision)
	}
	unchanged(t, s, org, before)
	wantMembers(t, s, org, g.ID, users[0].ID, users[3].ID)
}

// testGroupsUpdateMembersRefused: an update that cannot add a member
// changes nothing, the name included.
func testGroupsUpdateMembersRefused(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	org := acme.OrganizationID
	ctx := operatorCtx("r")
	users := newUsers(t, s, org, "dev", 3)
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: []string{users[0].ID}}))(t)
	must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "ops"}))(t)
	gx := must(s.Groups.CreateGroup(ctx, globex.OrganizationID, castellan.GroupCreate{Name: "devs"}))(t)
	before, beforeGlobex := takeSnapshot(t, s, org), takeSnapshot(t, s, globex.OrganizationID)
	for _, tc := range []struct {
		ids   []string
		field string
	}{
		{[]string{users[1].ID, unknownID}, "addMemberIds[1]"},
		{[]string{globex.OwnerUserID, users[2].ID}, "addMemberIds[0]"},
	} {
		_, err := s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{
			Name: ptr("renamed"), Description: ptr("new"), AddMemberIDs: tc.ids, RemoveMemberIDs: []string{users[0].ID},
		})
		wantCode(t, err, castellan.ENOTFOUND, castellan.CodeUserNotFound)
		wantField(t, err, tc.field, "")
	}
	for _, tc := range []struct {
		upd   castellan.GroupUpdate
		field string
	}{
		{castellan.GroupUpdate{Name: ptr("renamed"), AddMemberIDs: []string{"nope"}}, "addMemberIds[0]"},
		{castellan.GroupUpdate{Name: ptr("renamed"), RemoveMemberIDs: []string{users[0].ID, "nope"}}, "removeMemberIds[1]"},
	} {
		_, err := s.Groups.UpdateGroup(ctx, org, g.ID, tc.upd)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, tc.field, "format")
	}
	// A taken name refuses the members too.
	_, err := s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{Name: ptr("ops"), AddMemberIDs: []string{users[1].ID}})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeGroupNameTaken)
	// Another organization's group is not found, even with its own users.
	_, err = s.Groups.UpdateGroup(ctx, globex.OrganizationID, g.ID, castellan.GroupUpdate{AddMemberIDs: []string{globex.OwnerUserID}})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	_, err = s.Groups.UpdateGroup(ctx, org, gx.ID, castellan.GroupUpdate{AddMemberIDs: []string{users[1].ID}})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
	unchanged(t, s, org, before)
	unchanged(t, s, globex.OrganizationID, beforeGlobex)
	if got := must(s.Groups.FindGroupByID(ctx, org, g.ID))(t); got.Name != "devs" || got.Description != "" || got.MemberCount != 1 {
		t.Fatalf("refused updates changed the group: %+v", got)
	}
	wantMembers(t, s, org, g.ID, users[0].ID)
	wantMembers(t, s, globex.OrganizationID, gx.ID)
}

// testGroupsUpdateLastOwner: an update may not take the organization's
// last owner out of the group that makes them one, though it would add an
// invited user; it may hand the group over to another active user.
func testGroupsUpdateLastOwner(t *testing.T, open Opener) {
	f := newOwnerFixture(t, open)
	ctx := operatorCtx("r")
	f.ownThroughGroup(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.Groups.UpdateGroup(ctx, f.org, f.group.ID, castellan.GroupUpdate{
		Name: ptr("former owners"), AddMemberIDs: []string{f.pending.ID}, RemoveMemberIDs: []string{f.b.ID},
	})
	f.wantKept(t, before, err, f.b)
	if got := must(f.s.Groups.FindGroupByID(ctx, f.org, f.group.ID))(t); got.Name != "owners" || got.MemberCount != 1 {
		t.Fatalf("refused update changed the group: %+v", got)
	}
	wantMembers(t, f.s, f.org, f.group.ID, f.b.ID)

	// c joins as b leaves: the organization keeps an owner throughout.
	must(f.s.Groups.UpdateGroup(ctx, f.org, f.group.ID, castellan.GroupUpdate{
		AddMemberIDs: []string{f.c.ID}, RemoveMemberIDs: []string{f.b.ID},
	}))(t)
	f.wantOwners(t, f.c)
	wantMembers(t, f.s, f.org, f.group.ID, f.c.ID)
}

// testGroupsUpdateSignOut: members an update removes are signed out in
// its transaction, with the change-log rows of what ended; members who
// stay, and non-members it names, are not.
func testGroupsUpdateSignOut(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r-out")
	type signedIn struct {
		user    *castellan.User
		session *castellan.NewSession
		token   string
	}
	newSignedIn := func(name string) signedIn {
		u := signInUser(t, s, org, name, nil)
		return signedIn{user: u, session: newSession(t, s, u), token: must(s.Tokens.CreateUserToken(ctx, org, u.ID))(t)}
	}
	wantLive := func(u signedIn, want bool) {
		t.Helper()
		_, _, sessErr := s.Sessions.AuthenticateSession(ctx, u.session.Token)
		_, tokErr := s.Tokens.FindCredential(ctx, u.token)
		if got := [2]bool{sessErr == nil, tokErr == nil}; got != [2]bool{want, want} {
			t.Fatalf("%s's session and token work: %v, want both %v", u.user.LoginID, got, want)
		}
	}
	ann, bob, cid := newSignedIn("ann"), newSignedIn("bob"), newSignedIn("cid")
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs", MemberIDs: []string{ann.user.ID, bob.user.ID}}))(t)
	before := takeSnapshot(t, s, org)
	must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{
		Description: ptr("fewer"), RemoveMemberIDs: []string{ann.user.ID, cid.user.ID}, // cid is no member
	}))(t)
	rev := before.revision + 1
	wantLive(ann, false)
	wantLive(bob, true)
	wantLive(cid, true)
	got := map[string]bool{}
	var tokens int
	for _, c := range must(s.ChangeLog.Changes(ctx, rev-1, 1))(t) {
		got[c.EntityType+" "+c.Operation+" "+c.EntityID] = true
		if c.EntityType == "api_token" {
			tokens++
		}
	}
	for _, want := range []string{
		"group update " + g.ID, "group_member delete " + g.ID + "/" + ann.user.ID, "console_session delete " + ann.session.Session.ID,
	} {
		if !got[want] {
			t.Fatalf("change log of revision %d lacks %q: %v", rev, want, got)
		}
	}
	if tokens != 1 {
		t.Fatalf("got %d api_token rows, want ann's only: %v", tokens, got)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr(string(castellan.ActionRemoveGroupMembers))}))(t)
	if len(events) != 1 || events[0].Revision != rev || !strings.Contains(string(events[0].Summary["revokedSessionIds"]), ann.session.Session.ID) {
		t.Fatalf("got events %+v", events)
	}
}

// testGroupsSetMembers: SetMemberIDs makes the members exactly those
// users in one revision; the same set again writes nothing; it does not
// mix with added or removed members.
func testGroupsSetMembers(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("set")
	users := newUsers(t, s, org, "m", 3)
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "eng", MemberIDs: []string{users[0].ID, users[1].ID}}))(t)
	set := []string{users[1].ID, users[2].ID}
	rev := must(s.ChangeLog.Revision(context.Background()))(t)
	got := must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{SetMemberIDs: &set}))(t)
	wantMembers(t, s, org, g.ID, users[1].ID, users[2].ID)
	if after := must(s.ChangeLog.Revision(context.Background()))(t); after != rev+1 || got.MemberCount != 2 {
		t.Fatalf("revisions %d..%d, member count %d; want one revision and 2 members", rev, after, got.MemberCount)
	}
	before := takeSnapshot(t, s, org)
	must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{SetMemberIDs: &set}))(t)
	unchanged(t, s, org, before)
	_, err := s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{SetMemberIDs: &set, AddMemberIDs: []string{users[0].ID}})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "setMemberIds", "exclusive")
	none := []string{}
	must(s.Groups.UpdateGroup(ctx, org, g.ID, castellan.GroupUpdate{SetMemberIDs: &none}))(t)
	wantMembers(t, s, org, g.ID)
}
