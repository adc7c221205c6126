package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// millionUsers is the size of the organization BenchmarkFindUsersPage
// lists from.
const millionUsers = 1_000_000

// BenchmarkFindUsersPage lists a page of 100 users of an organization of
// a million: the first page, a page deep in the list by page token (in
// each sort), and a text search (the 100 users whose login ID starts with
// user-00042), also with a page token.
func BenchmarkFindUsersPage(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := sqltest.MustOpen(b, backend.URL(b), nil)
			ctx := context.Background()
			res, err := db.Tokens().BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Bench", OwnerEmail: "owner@bench.example"})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := db.BulkInsertUsers(ctx, res.OrganizationID, millionUsers); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d users loaded in %v", backend.Name, millionUsers, time.Since(start).Round(time.Millisecond))
			users := db.Users()
			// A row half way down each list, to start pages from.
			middle, _, err := users.FindUsers(ctx, res.OrganizationID, castellan.UserFilter{Query: ptr("user-0500000"), PageSize: 1})
			if err != nil || len(middle) != 1 {
				b.Fatalf("got %v, %v", middle, err)
			}
			m := middle[0]
			// A group of 100 users spread over the list.
			group, err := db.Groups().CreateGroup(ctx, res.OrganizationID, castellan.GroupCreate{Name: "sampled"})
			if err != nil {
				b.Fatal(err)
			}
			var members []string
			for i := 1; i <= 100; i++ {
				page, _, err := users.FindUsers(ctx, res.OrganizationID, castellan.UserFilter{Query: ptr(fmt.Sprintf("user-%07d", i*9973)), PageSize: 1})
				if err != nil || len(page) != 1 {
					b.Fatalf("got %v, %v", page, err)
				}
				members = append(members, page[0].ID)
			}
			if _, err := db.Groups().AddGroupMembers(ctx, res.OrganizationID, group.ID, members); err != nil {
				b.Fatal(err)
			}
			for _, c := range []struct {
				name   string
				filter castellan.UserFilter
			}{
				{"first", castellan.UserFilter{}},
				{"token/registeredAt", castellan.UserFilter{PageToken: sqlstore.UserPageToken("registeredAt", "desc", m.CreatedAt.Format(time.RFC3339Nano), m.ID)}},
				{"token/loginId", castellan.UserFilter{Sort: "loginId", PageToken: sqlstore.UserPageToken("loginId", "asc", "user-0500000", m.ID)}},
				{"token/name-desc", castellan.UserFilter{Sort: "name", Order: "desc", PageToken: sqlstore.UserPageToken("name", "desc", "kim 0500000", m.ID)}},
				{"q", castellan.UserFilter{Query: ptr("USER-00042")}},
				{"q+token", castellan.UserFilter{Query: ptr("user-00042"), Sort: "loginId", PageToken: sqlstore.UserPageToken("loginId", "asc", "user-0004210", m.ID)}},
				{"status", castellan.UserFilter{Status: ptr(castellan.UserPendingInvitation), Sort: "loginId"}},
				// A prefix every login ID has: the worst case of search.
				{"q-all", castellan.UserFilter{Query: ptr("user-")}},
				{"q-all+token", castellan.UserFilter{Query: ptr("user-"), Sort: "name", PageToken: sqlstore.UserPageToken("name", "asc", "kim 0500000", m.ID)}},
				{"status-none", castellan.UserFilter{Status: ptr(castellan.UserDisabled)}},
				{"group", castellan.UserFilter{GroupID: &group.ID, Sort: "name"}},
			} {
				b.Run(c.name, func(b *testing.B) {
					c.filter.PageSize = 100
					for b.Loop() {
						page, _, err := users.FindUsers(ctx, res.OrganizationID, c.filter)
						if err != nil || len(page) == 0 && c.filter.Status == nil {
							b.Fatalf("got %d users, %v", len(page), err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkRegister100 measures a quick register of 100 users, one
// transaction each time: with passwords (argon2id hashing included, in
// parallel before the transaction) and with invitations (100 invitation
// rows and 100 mails in the outbox).
func BenchmarkRegister100(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		for _, mode := range []castellan.RegistrationMode{castellan.ModePassword, castellan.ModeInvitation} {
			b.Run(backend.Name+"/"+string(mode), func(b *testing.B) {
				s, res := benchOrg(b, backend.URL(b))
				ctx := context.Background()
				batch := 0
				for b.Loop() {
					regs := make([]castellan.UserRegistration, 100)
					for i := range regs {
						id := fmt.Sprintf("b%d-u%03d", batch, i)
						regs[i] = castellan.UserRegistration{LoginID: id, Email: id + "@bench.example", Name: "User " + id,
							Mode: mode, ConsoleAccess: true, APIAccess: true}
						if mode == castellan.ModePassword {
							regs[i].Password = fmt.Sprintf("Correct-Horse-%d-%03d", batch, i)
						}
					}
					if _, err := s.Users.RegisterUsers(ctx, res.OrganizationID, regs); err != nil {
						b.Fatal(err)
					}
					batch++
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }
