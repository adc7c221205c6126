package web

import (
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/castellan-iam/castellan"
	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: Burst requests at once, refilled at
// PerSecond.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Limiter keeps one token bucket per key (a client address, an access
// key ID). Buckets that have been full for a while are dropped, so memory
// stays bounded by the keys active in the last minutes.
type Limiter struct {
	limit rate.Limit
	burst int
	now   castellan.Clock

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	calls   int
}

// NewLimiter returns a limiter giving each key a bucket of l; nil now
// means castellan.SystemClock.
func NewLimiter(l RateLimit, now castellan.Clock) *Limiter {
	if now == nil {
		now = castellan.SystemClock
	}
	return &Limiter{limit: rate.Limit(l.PerSecond), burst: l.Burst, now: now, buckets: map[string]*rate.Limiter{}}
}

// sweepEvery is how many calls pass between sweeps of full buckets.
const sweepEvery = 4096

// Allow takes a token from key's bucket; when there is none it returns how
// long until there will be.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls++; l.calls%sweepEvery == 0 {
		for k, b := range l.buckets {
			// A full bucket is the state a new one starts in: dropping it
			// forgets nothing.
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// Blocked reports whether key's bucket is empty, and how long until it
// will not be, without taking a token: for limits that count only some
// outcomes (failed attempts), taken with Allow once the outcome is known.
// Callers that run at once may all pass it; the overshoot is bounded by
// their number.
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	if tokens := b.TokensAt(now); tokens < 1 {
		return true, time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
	}
	return false, 0
}

// RetryAfter is the Retry-After value of a wait: whole seconds, rounded
// up, at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// SourceBucket is the bucket key of a client address: the address itself
// for IPv4, its /64 for IPv6, since one client commonly holds a whole /64
// and could otherwise take a fresh bucket per address.
func SourceBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Unmap().Is4() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
