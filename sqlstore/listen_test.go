package sqlstore_test

import (
	"context"
	neturl "net/url"
	"testing"
	"time"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestWatchCommitsHeartbeat: a listening connection that goes silent
// without closing (a half-open connection: the proxy in between stops
// carrying bytes) ends WatchCommits with an error within two heartbeats,
// so that the token cache polls and listens again, while a quiet but
// live connection keeps listening.
func TestWatchCommitsHeartbeat(t *testing.T) {
	url := sqltest.PostgresURL(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := sqltest.StartProxy(t, u.Host)
	u.Host = proxy.Addr()
	db := sqltest.MustOpen(t, u.String(), nil)
	db.SetListenHeartbeat(100 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- db.WatchCommits(ctx, func() {
			select {
			case listening <- struct{}{}:
			default:
			}
		})
	}()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("the watch ended before listening: %v", err)
	}

	select {
	case err := <-done:
		t.Fatalf("a live connection, quiet for five heartbeats, ended the watch: %v", err)
	case <-time.After(500 * time.Millisecond):
	}

	proxy.Freeze()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the watch of a silent connection ended without an error")
		}
		t.Logf("the watch ended: %v", err)
	case <-time.After(30 * time.Second): // a guard against hanging, not a measure
		t.Fatal("the watch did not notice its connection went silent")
	}
}
