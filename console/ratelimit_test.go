package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan/console"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestSignInRateLimit: past its burst, an address gets 429 before any
// password is checked or failure recorded, whichever accounts it tries;
// a second later it may try again.
func TestSignInRateLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		b := apitest.NewBrowser(t, e.srv)
		for i := range console.DefaultSignInPerSource.Burst {
			if p := b.SignIn("Acme", fmt.Sprintf("user%d", i), apitest.ConsolePassword); p.Status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: got %d", i, p.Status)
			}
		}
		before := e.Snapshot(t)
		p := b.SignIn("Acme", "another", apitest.ConsolePassword)
		if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") != "1" || !strings.Contains(p.Body, "Too many sign-in attempts") {
			t.Fatalf("got %d %q:\n%s", p.Status, p.Header.Get("Retry-After"), p.Body)
		}
		if after := e.Snapshot(t); !after.Equal(before) {
			t.Fatal("a rate-limited sign-in changed the store")
		}
		e.Clock.Advance(time.Second)
		if p := b.SignIn("Acme", "another", apitest.ConsolePassword); p.Status != http.StatusUnauthorized {
			t.Fatalf("after a second: got %d", p.Status)
		}
	})
}
