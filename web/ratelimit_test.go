package web

import (
	"testing"
	"time"
)

// TestBlocked: Blocked looks at a bucket without taking from it; only
// Allow empties it, and it refills with time.
func TestBlocked(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := NewLimiter(RateLimit{PerSecond: 1, Burst: 2}, func() time.Time { return now })
	for range 5 {
		if blocked, _ := l.Blocked("k"); blocked {
			t.Fatal("an unused key is blocked")
		}
	}
	l.Allow("k")
	l.Allow("k")
	blocked, wait := l.Blocked("k")
	if !blocked || wait != time.Second {
		t.Fatalf("after the burst: blocked %v, wait %v; want true, 1s", blocked, wait)
	}
	if blocked, _ := l.Blocked("other"); blocked {
		t.Fatal("another key is blocked")
	}
	now = now.Add(time.Second)
	if blocked, _ := l.Blocked("k"); blocked {
		t.Fatal("still blocked after the refill")
	}
}
