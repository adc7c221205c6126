package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func testUsersList(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	// Login IDs, emails and names that sort differently from each other
	// and mix cases.
	people := []struct{ login, email, name string }{
		{"zoe", "zoe@corp.example", "Zoe Adams"},
		{"Adam", "adam@corp.example", "adam West"},
		{"bea.k", "beatrice@home.example", "Bea King"},
		{"ann.l", "ann.lee@corp.example", "Ann Lee"},
		{"Anna", "x@corp.example", "Yan Anna"},
		{"carl", "carl@corp.example", "Carl"},
		{"dora", "dora@corp.example", "Dora"},
		{"emil", "emil@corp.example", "Émile"},
	}
	byLogin := map[string]*castellan.User{}
	for _, p := range people {
		clock.Advance(time.Second)
		reg := invitee(p.login)
		reg.LoginID, reg.Email, reg.Name = p.login, p.email, p.name
		byLogin[p.login] = register(t, s, org, reg)
	}
	g := must(s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: "devs"}))(t)
	must(s.Groups.AddGroupMembers(ctx, org, g.ID, []string{byLogin["carl"].ID, byLogin["zoe"].ID}))(t)
	must2(s.Grants.CreateGrants(ctx, org, []castellan.GrantCreate{{RoleID: "organization.reader",
		Scope: castellan.OrganizationScope(org).String(), Subject: castellan.Subject{Type: castellan.SubjectUser, ID: byLogin["carl"].ID}}}))(t)
	must(s.Users.UpdateUser(ctx, org, res.OwnerUserID, castellan.UserUpdate{Name: ptr("Owner")}))(t)
	must(s.Users.DeleteUser(ctx, org, byLogin["dora"].ID, "dora"))(t)

	logins := func(users []*castellan.User) []string {
		out := make([]string, len(users))
		for i, u := range users {
			out[i] = u.LoginID
		}
		return out
	}
	all := func(f castellan.UserFilter) []string {
		t.Helper()
		var out []string
		seen := map[string]bool{}
		for {
			users, next, err := s.Users.FindUsers(ctx, org, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				if seen[u.ID] {
					t.Fatalf("user %s listed twice", u.LoginID)
				}
				seen[u.ID] = true
			}
			out = append(out, logins(users)...)
			if next == "" {
				return out
			}
			f.PageToken = next
		}
	}
	owner := "owner@acme.example"
	for _, c := range []struct {
		name   string
		filter castellan.UserFilter
		want   []string
	}{
		{"newest first", castellan.UserFilter{}, []string{"emil", "carl", "Anna", "ann.l", "bea.k", "Adam", "zoe", owner}},
		{"oldest first", castellan.UserFilter{Order: "asc"}, []string{owner, "zoe", "Adam", "bea.k", "ann.l", "Anna", "carl", "emil"}},
		{"by login ID", castellan.UserFilter{Sort: "loginId"}, []string{"Adam", "ann.l", "Anna", "bea.k", "carl", "emil", owner, "zoe"}},
		{"by login ID, descending", castellan.UserFilter{Sort: "loginId", Order: "desc"}, []string{"zoe", owner, "emil", "carl", "bea.k", "Anna", "ann.l", "Adam"}},
		{"by name", castellan.UserFilter{Sort: "name"}, []string{"Adam", "ann.l", "bea.k", "carl", owner, "Anna", "zoe", "emil"}},
		{"search, any case", castellan.UserFilter{Query: ptr("AN"), Sort: "loginId"}, []string{"ann.l", "Anna"}},
		{"search in emails", castellan.UserFilter{Query: ptr("beatrice@"), Sort: "loginId"}, []string{"bea.k"}},
		{"search in names", castellan.UserFilter{Query: ptr("yan a"), Sort: "loginId"}, []string{"Anna"}},
		{"search beyond ASCII", castellan.UserFilter{Query: ptr("émi"), Sort: "loginId"}, []string{"emil"}},
		{"search, nothing", castellan.UserFilter{Query: ptr("q")}, nil},
		{"active only", castellan.UserFilter{Status: ptr(castellan.UserActive)}, []string{owner}},
		{"deleted only", castellan.UserFilter{Status: ptr(castellan.UserDeleted)}, []string{"dora"}},
		{"group members", castellan.UserFilter{GroupID: &g.ID, Sort: "loginId"}, []string{"carl", "zoe"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, size := range []int{0, 3} {
				f := c.filter
				f.PageSize = size
				if got := all(f); !slices.Equal(got, c.want) {
					t.Fatalf("page size %d: got %v, want %v", size, got, c.want)
				}
			}
		})
	}

	users := listed(s.Users.FindUsers(ctx, org, castellan.UserFilter{Query: ptr("carl")}))(t)
	if len(users) != 1 || users[0].OrganizationRoleCount != 1 || users[0].GroupCount != 1 || users[0].Name != "Carl" {
		t.Fatalf("got %+v", users)
	}

	_, next, err := s.Users.FindUsers(ctx, org, castellan.UserFilter{PageSize: 2})
	if err != nil || next == "" {
		t.Fatalf("got next %q, %v", next, err)
	}
	for _, c := range []struct {
		filter      castellan.UserFilter
		code, field string
	}{
		{castellan.UserFilter{Sort: "email"}, castellan.CodeInvalidField, "sort"},
		{castellan.UserFilter{Order: "up"}, castellan.CodeInvalidField, "order"},
		{castellan.UserFilter{Status: ptr("gone")}, castellan.CodeInvalidField, "status"},
		{castellan.UserFilter{GroupID: ptr("devs")}, castellan.CodeInvalidField, "groupId"},
		{castellan.UserFilter{Query: ptr(strings.Repeat("a", 101))}, castellan.CodeInvalidField, "q"},
		{castellan.UserFilter{PageToken: "junk"}, castellan.CodeInvalidPageToken, "pageToken"},
		// A token of one order is no token of another.
		{castellan.UserFilter{PageToken: next, Sort: "loginId"}, castellan.CodeInvalidPageToken, "pageToken"},
	} {
		_, _, err := s.Users.FindUsers(ctx, org, c.filter)
		wantCode(t, err, castellan.EINVALID, c.code)
		wantField(t, err, c.field, "")
	}
	_, _, err = s.Users.FindUsers(ctx, org, castellan.UserFilter{GroupID: ptr(unknownID)})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeGroupNotFound)
}
