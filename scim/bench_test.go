package scim_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// BenchmarkSCIM times the requests a provider makes most, over HTTP on
// loopback against an organization of 1,000 users: read a user, look
// one up by userName, and a PATCH of its display name.
func BenchmarkSCIM(b *testing.B) {
	for _, be := range sqltest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be.URL(b))
			regs := make([]castellan.UserRegistration, 0, 100)
			for i := range 1000 {
				email := fmt.Sprintf("user-%d@acme.example", i)
				regs = append(regs, castellan.UserRegistration{LoginID: email, Email: email, AccountType: castellan.AccountFederated,
					FederationID: e.fed.ID, ConsoleAccess: true})
				if len(regs) == 100 {
					if _, err := e.DB.Services().Users.RegisterUsers(system, e.org, regs); err != nil {
						b.Fatal(err)
					}
					regs = regs[:0]
				}
			}
			id := e.do(b, e.token, "POST", "Users", map[string]any{"userName": "ann@acme.example"}).id(b)
			names := []string{"Ann Lee", "Ann Smith"}
			for _, c := range []struct {
				name, method, path string
				body               func(i int) any
				status             int
			}{
				{"GetUser", "GET", "Users/" + id, nil, http.StatusOK},
				{"FilterByUserName", "GET", `Users?filter=userName+eq+%22user-500%40acme.example%22`, nil, http.StatusOK},
				{"PatchDisplayName", "PATCH", "Users/" + id, func(i int) any {
					return map[string]any{"schemas": []string{patchOp}, "Operations": []map[string]any{{"op": "replace", "path": "displayName", "value": names[i%2]}}}
				}, http.StatusOK},
			} {
				b.Run(c.name, func(b *testing.B) {
					i := 0
					for b.Loop() {
						var body any
						if c.body != nil {
							body = c.body(i)
						}
						i++
						if x := e.do(b, e.token, c.method, c.path, body); x.status != c.status {
							b.Fatalf("got %d %s", x.status, x.body)
						}
					}
				})
			}
		})
	}
}
