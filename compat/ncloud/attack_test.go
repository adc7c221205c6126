package ncloud_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestParallelSameLoginID: 25 identical creations at once leave exactly
// one sub account; every other answer is the platform's duplicate ID.
func TestParallelSameLoginID(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.URL(t))
			org := e.acme.OrganizationID
			owner := e.key(t, org, e.acme.OwnerUserID, e.project)
			before := e.userCount(t, org)
			body := readFile(t, "create_sub_account_generated.json")
			answers := make([]answer, 25)
			var wg sync.WaitGroup
			for i := range answers {
				wg.Go(func() { answers[i] = e.send(t, owner, "POST", prefix+"/sub-accounts", body) })
			}
			wg.Wait()
			created := 0
			for _, a := range answers {
				switch {
				case a.status == http.StatusOK:
					created++
				case a.status != http.StatusBadRequest || a.errorCode(t) != "120":
					t.Errorf("got %d %s, want 200 or 400 with code 120", a.status, a.body)
				}
			}
			if after := e.userCount(t, org); created != 1 || after != before+1 {
				t.Fatalf("%d created, users %d → %d: want exactly one", created, before, after)
			}
		})
	}
}

// TestSignatureBindsTheRequest: a signature made for one request does
// not authenticate another: another path, another query, another
// method, the same path encoded otherwise.
func TestSignatureBindsTheRequest(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.URL(t))
			org := e.acme.OrganizationID
			owner := e.key(t, org, e.acme.OwnerUserID, e.project)
			u := e.user(t, org, "target.user")
			path := prefix + "/users/" + u.ID
			for _, c := range []struct{ signedMethod, signedURI, method, uri string }{
				{"GET", path, "GET", path + "?includeDeleted=true"},
				{"GET", path + "?includeDeleted=false", "GET", path + "?includeDeleted=true"},
				{"GET", prefix + "/users/" + e.acme.OwnerUserID, "GET", path},
				{"GET", path, "GET", prefix + "/users/%" + strings.ToUpper(hexByte(u.ID[0])) + u.ID[1:]},
				{"GET", prefix + "/sub-accounts", "POST", prefix + "/sub-accounts"},
				{"get", path, "GET", path},
			} {
				a := e.sendSignedFor(t, owner, c.signedMethod, c.signedURI, c.method, c.uri, nil)
				if a.status != http.StatusUnauthorized || a.errorCode(t) != "200" {
					t.Errorf("signed %s %s, sent %s %s: got %d %s, want 401 200", c.signedMethod, c.signedURI, c.method, c.uri, a.status, a.body)
				}
			}
		})
	}
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
