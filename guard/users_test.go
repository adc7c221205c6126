package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// testPassword is the password of the users newSignInUser registers.
const testPassword = "Correct-Horse-7-battery"

// newSignInUser registers an active local user with testPassword and
// console access, returning it.
func (f *fixture) newSignInUser() *castellan.User {
	login := f.unique("login")
	r, err := f.raw.Users.RegisterUser(system, f.org, castellan.UserRegistration{
		LoginID: login, Email: login + "@acme.example", Name: "User " + login, Mode: castellan.ModePassword,
		Password: testPassword, ConsoleAccess: true, APIAccess: true,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.User
}

// newInvitee registers a user in invitation mode.
func (f *fixture) newInvitee() *castellan.User {
	login := f.unique("inv")
	r, err := f.raw.Users.RegisterUser(system, f.org, castellan.UserRegistration{
		LoginID: login, Email: login + "@acme.example", Name: "Invited " + login, Mode: castellan.ModeInvitation,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.User
}

// selfTarget is the user a self-service row acts on: the no-role user,
// whose own account it is, or for the operator (who may act on anyone) a
// fresh user, so that the two never share state.
func (f *fixture) selfTarget(ctx context.Context) string {
	if p, _ := castellan.PrincipalFrom(ctx); p.Type == castellan.PrincipalOperator {
		return f.newUser()
	}
	return f.ids[noRole]
}

// holding returns a new user holding role on the organization.
func (f *fixture) holding(role string) string {
	u := f.newUser()
	f.grant(role, "organization/"+f.org, castellan.Subject{Type: castellan.SubjectUser, ID: u})
	return u
}

func init() {
	managers := []string{owner, admin, userAdmin, operator}
	readers := []string{owner, admin, reader, userAdmin, operator}
	registration := func(f *fixture) castellan.UserRegistration {
		login := f.unique("new")
		return castellan.UserRegistration{LoginID: login, Email: login + "@acme.example", Name: "User " + login, Mode: castellan.ModeInvitation}
	}
	rows := []row{
		{op: "Users.FindUserByID", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Users.FindUserByID(ctx, f.org, f.newUser(), false)
			return err
		}},
		{op: "Users.FindUsers", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Users.FindUsers(ctx, f.org, castellan.UserFilter{PageSize: 5})
			return err
		}},
		{op: "Users.CreateUser", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Users.CreateUser(ctx, f.org, castellan.UserCreate{Email: f.unique("c") + "@acme.example"})
			return err
		}},
		{op: "Users.RegisterUser", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Users.RegisterUser(ctx, f.org, registration(f))
			return err
		}},
		{op: "Users.RegisterUsers", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Users.RegisterUsers(ctx, f.org, []castellan.UserRegistration{registration(f), registration(f)})
			return err
		}},
		{op: "Users.DeleteUser", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			u := f.newInvitee()
			_, err := s.Users.DeleteUser(ctx, f.org, u.ID, u.LoginID)
			return err
		}},
		{op: "Users.ResendInvitation", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Users.ResendInvitation(ctx, f.org, f.newInvitee().ID)
			return err
		}},
		{op: "Users.Reinvite", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Users.Reinvite(ctx, f.org, f.newInvitee().ID)
			return err
		}},
		// The invitation's token is the credential: an unknown one is
		// invitation.invalid, whoever sends it.
		{op: "Users.AcceptInvitation", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Users.AcceptInvitation(ctx, castellan.InvitationTokenPrefix+"unknown", testPassword)
			return err
		}},
	}
	// Updating a user, as any change that takes away its roles, needs
	// every role it holds.
	nick := "nick"
	for _, target := range []struct {
		variant, role string
		allowed       []string
	}{
		{"user without roles", "", managers},
		{"user holding organization.admin", "organization.admin", []string{owner, admin, operator}},
		{"user holding organization.owner", castellan.OrganizationOwnerRoleID, []string{owner, operator}},
	} {
		rows = append(rows, row{op: "Users.UpdateUser", variant: target.variant, allowed: target.allowed,
			call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				u := f.newUser()
				if target.role != "" {
					u = f.holding(target.role)
				}
				_, err := s.Users.UpdateUser(ctx, f.org, u, castellan.UserUpdate{Nickname: &nick})
				return err
			}})
	}
	rowSets = append(rowSets, rows)
}

// TestUserHierarchy: a User Administrator may not update, disable,
// delete, re-invite or reset the second factor of a user holding roles
// it lacks (grant.escalation naming path.user), and nothing changes.
func TestUserHierarchy(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			ctx := castellan.WithPrincipal(system, principals[userAdmin])
			target := f.holding("organization.admin")
			disabled := castellan.UserDisabled
			before, err := f.raw.Users.FindUserByID(system, f.org, target, false)
			if err != nil {
				t.Fatal(err)
			}
			for name, call := range map[string]func() error{
				"disable": func() error {
					_, err := s.Users.UpdateUser(ctx, f.org, target, castellan.UserUpdate{Status: &disabled})
					return err
				},
				"delete": func() error {
					_, err := s.Users.DeleteUser(ctx, f.org, target, before.LoginID)
					return err
				},
				"reset MFA": func() error {
					_, err := s.MFA.ResetMFA(ctx, f.org, target)
					return err
				},
			} {
				wantHierarchyRefusal(t, name, call(), "userId")
			}
			after, err := f.raw.Users.FindUserByID(system, f.org, target, false)
			if err != nil || after.Status != before.Status || after.Revision != before.Revision {
				t.Fatalf("got %+v, %v; want the user unchanged", after, err)
			}
		})
	}
}

// wantHierarchyRefusal checks that err is grant.escalation naming field.
func wantHierarchyRefusal(t *testing.T, name string, err error, field string) {
	t.Helper()
	e, ok := err.(*castellan.Error)
	if !ok || e.Code != castellan.CodeEscalation || len(e.Fields) != 1 || e.Fields[0].Field != field {
		t.Errorf("%s: got %v, want %s naming %s", name, err, castellan.CodeEscalation, field)
	}
}
