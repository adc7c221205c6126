package api_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
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

// TestExchangeLimitPerSource: a stranger who knows a key ID and spends
// its bucket with wrong secrets does not lock its owner out, and the
// addresses of one IPv6 /64 share one bucket.
func TestExchangeLimitPerSource(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		k := f.newKey(castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()})
		proxied := e.serve(t, e.cache, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
		exchangeFrom := func(source, secret string) int {
			t.Helper()
			body := strings.NewReader(`{"keyId":"` + k.ID + `","secret":"` + secret + `"}`)
			req, err := http.NewRequest(http.MethodPost, proxied.URL+"/v1/tokens", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", source)
			resp, err := proxied.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		wrong := strings.Repeat("A", 43)
		for i := range api.DefaultExchangePerKey.Burst {
			// Every address of the stranger's /64 draws on one bucket.
			if got := exchangeFrom(fmt.Sprintf("2001:db8:1:2::%x", i+1), wrong); got != http.StatusUnauthorized {
				t.Fatalf("attempt %d: got %d", i, got)
			}
		}
		if got := exchangeFrom("2001:db8:1:2:ffff::1", wrong); got != http.StatusTooManyRequests {
			t.Fatalf("the stranger's /64 after its burst: got %d, want 429", got)
		}
		if got := exchangeFrom("203.0.113.7", k.Secret); got != http.StatusOK {
			t.Fatalf("the owner's exchange: got %d, want 200", got)
		}
	})
}
