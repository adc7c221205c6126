package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
)

// TestExchangeRateLimit drains one key's bucket with the clock stopped:
// the burst passes, the next exchange is 429 with Retry-After and issues
// no token, another key is unaffected, and a second later the key works
// again.
func TestExchangeRateLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		user := castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()}
		k, other := f.newKey(user), f.newKey(user)
		for range api.DefaultExchangePerKey.Burst {
			mustExchange(t, e, k)
		}
		before := e.state(t)
		resp := exchange(t, e, k.ID, k.Secret)
		if resp.status != http.StatusTooManyRequests || resp.problem(t).Code != "request.rate_limited" || resp.header.Get("Retry-After") != "1" {
			t.Fatalf("got %d %q: %s", resp.status, resp.header.Get("Retry-After"), resp.body)
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatal("a refused exchange changed the store")
		}
		mustExchange(t, e, other)
		e.clock.Advance(time.Second)
		mustExchange(t, e, k)
	})
}
