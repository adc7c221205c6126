package storetest

import (
	"fmt"
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
