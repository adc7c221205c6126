package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// limitedUser is a registration in invitation mode, which mails an
// invitation: a refused one must leave no mail behind.
func limitedUser(name string) castellan.UserRegistration {
	return castellan.UserRegistration{LoginID: name, Email: name + "@example.com", Name: "User " + name,
		Mode: castellan.ModeInvitation, ConsoleAccess: true, APIAccess: true}
}

func wantUserLimit(t *testing.T, err error) {
	t.Helper()
	if castellan.ErrorKind(err) != castellan.EPRECONDITION || castellan.ErrorCode(err) != castellan.CodeUserLimitReached {
		t.Fatalf("got %v, want %s", err, castellan.CodeUserLimitReached)
	}
}

// usersOf counts the organization's users that are not deleted.
func usersOf(t *testing.T, db *sqlstore.DB, orgID string) int {
	t.Helper()
	return storetest.Must(db.Count(context.Background(), `SELECT COUNT(*) FROM users WHERE org_id = ? AND status <> 'deleted'`, orgID))(t)
}

// TestUserLimit configures a limit of 3 users: a batch that would cross
// it is refused whole, with nothing written; CreateUser and an account's
// new root user are held to it too; another organization has its own
// count, and a deleted user (a tombstone) makes room.
func TestUserLimit(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpenWith(t, b.URL(t), sqlstore.Options{Clock: storetest.NewClock().Now, MaxUsers: 3})
			s := db.Services()
			org := storetest.Must(s.Organizations.CreateOrganization(operatorCtx, castellan.OrganizationCreate{Name: "Acme"}))(t)
			other := storetest.Must(s.Organizations.CreateOrganization(operatorCtx, castellan.OrganizationCreate{Name: "Globex"}))(t)
			first := storetest.Must(s.Users.RegisterUser(operatorCtx, org.ID, limitedUser("ann")))(t)
			storetest.Must(s.Users.RegisterUsers(operatorCtx, org.ID, []castellan.UserRegistration{limitedUser("bob")}))(t)

			rev := storetest.Must(s.ChangeLog.Revision(context.Background()))(t)
			mails := storetest.Must(db.Count(context.Background(), `SELECT COUNT(*) FROM outbox WHERE org_id = ?`, org.ID))(t)
			_, err := s.Users.RegisterUsers(operatorCtx, org.ID, []castellan.UserRegistration{limitedUser("cid"), limitedUser("dan")})
			wantUserLimit(t, err)
			if msg := err.Error(); !strings.Contains(msg, "holds 2 users") || !strings.Contains(msg, "at most 3") {
				t.Errorf("message %q does not give the count and the limit", msg)
			}
			storetest.Must(s.Users.RegisterUser(operatorCtx, org.ID, limitedUser("cid")))(t)
			rev = storetest.Must(s.ChangeLog.Revision(context.Background()))(t)
			mails = storetest.Must(db.Count(context.Background(), `SELECT COUNT(*) FROM outbox WHERE org_id = ?`, org.ID))(t)

			// At the limit: every way in is refused and changes nothing.
			_, err = s.Users.RegisterUser(operatorCtx, org.ID, limitedUser("dan"))
			wantUserLimit(t, err)
			_, err = s.Users.RegisterUsers(operatorCtx, org.ID, []castellan.UserRegistration{limitedUser("dan")})
			wantUserLimit(t, err)
			_, err = s.Users.CreateUser(operatorCtx, org.ID, castellan.UserCreate{Email: "dan@example.com"})
			wantUserLimit(t, err)
			_, err = s.Accounts.CreateAccount(operatorCtx, org.ID, newAccountCreate(org.ID, "dan"))
			wantUserLimit(t, err)
			if after := storetest.Must(s.ChangeLog.Revision(context.Background()))(t); after != rev {
				t.Fatalf("revision %d after the refusals, want %d", after, rev)
			}
			if n := usersOf(t, db, org.ID); n != 3 {
				t.Fatalf("%d users after the refusals, want 3", n)
			}
			if n := storetest.Must(db.Count(context.Background(), `SELECT COUNT(*) FROM outbox WHERE org_id = ?`, org.ID))(t); n != mails {
				t.Fatalf("%d mails after the refusals, want %d", n, mails)
			}
			if n := storetest.Must(db.Count(context.Background(), `SELECT COUNT(*) FROM accounts WHERE org_id = ?`, org.ID))(t); n != 0 {
				t.Fatalf("refused root user left %d accounts", n)
			}

			storetest.Must(s.Users.RegisterUsers(operatorCtx, other.ID, []castellan.UserRegistration{limitedUser("dan"), limitedUser("eve"), limitedUser("fay")}))(t)
			storetest.Must(s.Users.DeleteUser(operatorCtx, org.ID, first.User.ID, first.User.LoginID))(t)
			storetest.Must(s.Users.CreateUser(operatorCtx, org.ID, castellan.UserCreate{Email: "dan@example.com"}))(t)
			if n := usersOf(t, db, org.ID); n != 3 {
				t.Fatalf("%d users, want 3 beside the tombstone", n)
			}
		})
	}
}

// TestUserLimitConcurrent registers 25 users at once, one per call,
// against a limit of 7: exactly 7 are in, and every other call is
// refused with user.limit_reached.
func TestUserLimitConcurrent(t *testing.T) {
	const limit, callers = 7, 25
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpenWith(t, b.URL(t), sqlstore.Options{Clock: storetest.NewClock().Now, MaxUsers: limit})
			s := db.Services()
			org := storetest.Must(s.Organizations.CreateOrganization(operatorCtx, castellan.OrganizationCreate{Name: "Acme"}))(t)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					_, errs[i] = s.Users.RegisterUser(operatorCtx, org.ID, limitedUser(fmt.Sprintf("user-%02d", i)))
				})
			}
			wg.Wait()
			registered := 0
			for _, err := range errs {
				switch {
				case err == nil:
					registered++
				case castellan.ErrorCode(err) != castellan.CodeUserLimitReached:
					t.Errorf("got %v, want nil or %s", err, castellan.CodeUserLimitReached)
				}
			}
			if registered != limit {
				t.Errorf("%d registrations succeeded, want %d", registered, limit)
			}
			if n := usersOf(t, db, org.ID); n != limit {
				t.Fatalf("%d users, want %d", n, limit)
			}
		})
	}
}
