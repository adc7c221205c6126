package guard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func userOf(id string) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectUser, ID: id}
}

// newKey creates a key of owner in the fixture's project.
func (f *fixture) newKey(owner castellan.Subject) *castellan.NewAccessKey {
	k, err := f.raw.AccessKeys.CreateAccessKey(system, f.org, castellan.AccessKeyCreate{Owner: owner, ProjectID: f.project, Name: f.unique("k")})
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

// newServiceAccount creates a service account in the fixture's project.
func (f *fixture) newServiceAccount() castellan.Subject {
	a, err := f.raw.ServiceAccounts.CreateServiceAccount(system, f.org, f.project, castellan.ServiceAccountCreate{Name: f.unique("sa")})
	if err != nil {
		f.t.Fatal(err)
	}
	return castellan.Subject{Type: castellan.SubjectServiceAccount, ID: a.ID}
}

// createKey creates a key through s and deletes it again through the
// store, so that rows creating the keys of one owner stay under the
// limit of keys per project.
func (f *fixture) createKey(ctx context.Context, s castellan.Services, owner castellan.Subject) error {
	k, err := s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: owner, ProjectID: f.project, Name: "ci"})
	if err != nil {
		return err
	}
	if _, err := f.raw.AccessKeys.DeleteAccessKey(system, f.org, k.ID); err != nil {
		f.t.Fatal(err)
	}
	return nil
}

func init() {
	keyManagers := []string{owner, admin, projectAdmin, operator}
	keyReaders := []string{owner, admin, reader, projectAdmin, projectReader, operator}
	// A user creates its own keys where it holds some grant: the
	// Project Member holds one on the project.
	ownKeyCreators := []string{owner, admin, projectAdmin, projectMember, operator}
	rows := []row{
		{op: "AccessKeys.CreateAccessKey", allowed: keyManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			u := f.newUser()
			f.grant("project.reader", "project/"+f.project, userOf(u))
			return f.createKey(ctx, s, userOf(u))
		}},
		{op: "AccessKeys.CreateAccessKey", variant: "own", allowed: ownKeyCreators, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			return f.createKey(ctx, s, userOf(f.ids[projectMember]))
		}},
		{op: "AccessKeys.CreateAccessKey", variant: "service account", allowed: keyManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			return f.createKey(ctx, s, f.newServiceAccount())
		}},
		{op: "AccessKeys.FindAccessKeys", allowed: []string{owner, admin, reader, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			expired := false
			_, _, err := s.AccessKeys.FindAccessKeys(ctx, f.org, castellan.AccessKeyFilter{Expired: &expired})
			return err
		}},
		{op: "AccessKeys.FindAccessKeys", variant: "a user's", allowed: []string{owner, admin, reader, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			owner := userOf(f.newUser())
			_, _, err := s.AccessKeys.FindAccessKeys(ctx, f.org, castellan.AccessKeyFilter{Owner: &owner})
			return err
		}},
		{op: "AccessKeys.FindAccessKeys", variant: "own", allowed: []string{owner, admin, reader, noRole, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			owner := userOf(f.ids[noRole])
			_, _, err := s.AccessKeys.FindAccessKeys(ctx, f.org, castellan.AccessKeyFilter{Owner: &owner})
			return err
		}},
		{op: "AccessKeys.FindAccessKeys", variant: "a service account's", allowed: keyReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			owner := f.newServiceAccount()
			_, _, err := s.AccessKeys.FindAccessKeys(ctx, f.org, castellan.AccessKeyFilter{Owner: &owner, ProjectID: &f.project})
			return err
		}},
		{op: "AccessKeys.ExchangeAccessKey", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			k := f.newKey(f.newServiceAccount())
			_, err := s.AccessKeys.ExchangeAccessKey(ctx, k.ID, k.Secret)
			return err
		}},
		// Without a sealer in this store no key can sign: the row shows
		// only that the guard lets the signature decide, for anyone.
		{op: "AccessKeys.VerifyAccessKeySignature", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			k := f.newKey(f.newServiceAccount())
			_, err := s.AccessKeys.VerifyAccessKeySignature(ctx, k.ID, []byte("GET /\n0\n"+k.ID), "c2lnbmF0dXJl")
			if castellan.ErrorKind(err) != castellan.EUNAUTHENTICATED {
				return fmt.Errorf("got %v, want the signature refused", err)
			}
			return nil
		}},
		{op: "AccessKeys.NoteKeysUsed", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			k := f.newKey(f.newServiceAccount())
			return s.AccessKeys.NoteKeysUsed(ctx, map[string]time.Time{k.ID: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		}},
		// Introspection is for those who decide for other services, on
		// their own organization: the owner of another one introspects
		// too, and sees Acme's tokens as inactive (TestIntrospectOtherOrganization).
		{op: "AccessKeys.IntrospectToken", allowed: []string{owner, admin, authorizer, otherOwner, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			k := f.newKey(f.newServiceAccount())
			token, err := f.raw.AccessKeys.ExchangeAccessKey(system, k.ID, k.Secret)
			if err != nil {
				f.t.Fatal(err)
			}
			_, err = s.AccessKeys.IntrospectToken(ctx, token.Token)
			return err
		}},
	}
	status := castellan.AccessKeyDisabled
	for _, target := range []struct {
		variant           string
		owner             func(f *fixture) castellan.Subject
		readers, changers []string
	}{
		{"a user's key", func(f *fixture) castellan.Subject { return userOf(f.newUser()) }, keyReaders, keyManagers},
		{"own key", func(f *fixture) castellan.Subject { return userOf(f.ids[noRole]) },
			append([]string{noRole}, keyReaders...), append([]string{noRole}, keyManagers...)},
		{"a service account's key", (*fixture).newServiceAccount, keyReaders, keyManagers},
		// Changing the key of a user holding roles needs every one of them.
		{"the key of an organization.admin", func(f *fixture) castellan.Subject { return userOf(f.holding("organization.admin")) },
			keyReaders, []string{owner, admin, operator}},
		{"the key of an organization.owner", func(f *fixture) castellan.Subject {
			return userOf(f.holding(castellan.OrganizationOwnerRoleID))
		}, keyReaders, []string{owner, operator}},
	} {
		rows = append(rows,
			row{op: "AccessKeys.FindAccessKeyByID", variant: target.variant, allowed: target.readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				k := f.newKey(target.owner(f))
				_, err := s.AccessKeys.FindAccessKeyByID(ctx, f.org, k.ID)
				f.dropKey(k.ID)
				return err
			}},
			row{op: "AccessKeys.UpdateAccessKey", variant: target.variant, allowed: target.changers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				k := f.newKey(target.owner(f))
				_, err := s.AccessKeys.UpdateAccessKey(ctx, f.org, k.ID, castellan.AccessKeyUpdate{Status: &status})
				f.dropKey(k.ID)
				return err
			}},
			row{op: "AccessKeys.DeleteAccessKey", variant: target.variant, allowed: target.changers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				k := f.newKey(target.owner(f))
				_, err := s.AccessKeys.DeleteAccessKey(ctx, f.org, k.ID)
				if err != nil {
					f.dropKey(k.ID)
				}
				return err
			}},
		)
	}
	rowSets = append(rowSets, rows)
}

// dropKey deletes a key the row made, so that the keys of one owner stay
// under the limit.
func (f *fixture) dropKey(id string) {
	if _, err := f.raw.AccessKeys.DeleteAccessKey(system, f.org, id); err != nil {
		f.t.Fatal(err)
	}
}

// TestAccessKeyHierarchy: an Organization Admin or a Project Admin may
// not create, change or delete the keys of a user holding roles it lacks
// (grant.escalation naming path.user), and the key stays as it was.
func TestAccessKeyHierarchy(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			for _, c := range []struct{ caller, targetRole string }{
				{admin, castellan.OrganizationOwnerRoleID},
				{projectAdmin, castellan.OrganizationOwnerRoleID},
				{projectAdmin, "organization.admin"},
			} {
				ctx := castellan.WithPrincipal(system, principals[c.caller])
				target := f.holding(c.targetRole)
				k := f.newKey(userOf(target))
				name, disabled := "renamed", castellan.AccessKeyDisabled
				_, err := s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: userOf(target), ProjectID: f.project, Name: "planted"})
				wantHierarchyRefusal(t, c.caller+" creates", err, "userId")
				_, err = s.AccessKeys.UpdateAccessKey(ctx, f.org, k.ID, castellan.AccessKeyUpdate{Name: &name, Status: &disabled})
				wantHierarchyRefusal(t, c.caller+" updates", err, "userId")
				_, err = s.AccessKeys.DeleteAccessKey(ctx, f.org, k.ID)
				wantHierarchyRefusal(t, c.caller+" deletes", err, "userId")
				keys, _, err := f.raw.AccessKeys.FindAccessKeys(system, f.org, castellan.AccessKeyFilter{Owner: &castellan.Subject{Type: castellan.SubjectUser, ID: target}})
				if err != nil || len(keys) != 1 || keys[0].Status != castellan.AccessKeyEnabled || keys[0].Name != k.Name {
					t.Fatalf("got %+v, %v; want the one key unchanged", keys, err)
				}
			}
		})
	}
}

// TestOwnKeysInTheKeysProject: a user's token from an access key manages
// the user's keys of that key's project only.
func TestOwnKeysInTheKeysProject(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			user := principals[projectMember]
			other := f.newProject()
			f.grant("project.member", "project/"+other, userOf(user.ID))
			otherKey, err := f.raw.AccessKeys.CreateAccessKey(system, f.org, castellan.AccessKeyCreate{Owner: userOf(user.ID), ProjectID: other, Name: "other"})
			if err != nil {
				t.Fatal(err)
			}
			user.ProjectID = f.project
			ctx := castellan.WithPrincipal(system, user)
			if _, err := s.AccessKeys.FindAccessKeyByID(ctx, f.org, otherKey.ID); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("read: got %v, want forbidden", err)
			}
			if _, err := s.AccessKeys.DeleteAccessKey(ctx, f.org, otherKey.ID); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("delete: got %v, want forbidden", err)
			}
			_, err = s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{Owner: userOf(user.ID), ProjectID: other, Name: "minted"})
			if castellan.ErrorKind(err) != castellan.EFORBIDDEN {
				t.Errorf("create: got %v, want forbidden", err)
			}
			if err := f.createKey(ctx, s, userOf(user.ID)); err != nil {
				t.Errorf("create in the key's project: %v", err)
			}
		})
	}
}
