package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/changefeed"
	"github.com/prometheus/client_golang/prometheus"
)

// keyUseFlushInterval is how often the lastUsedAt of access keys is
// written: a key's lastUsedAt is therefore up to this much behind.
const keyUseFlushInterval = 30 * time.Second

// authnFlags are the flags of API authentication.
type authnFlags struct {
	trustedProxies, pollInterval *string
}

func (f *flags) authn() authnFlags {
	return authnFlags{
		trustedProxies: f.str("trusted-proxies", "CASTELLAN_TRUSTED_PROXIES", "",
			"comma-separated CIDRs or addresses of proxies whose X-Forwarded-For and gateway headers are believed"),
		pollInterval: f.str("token-poll-interval", "CASTELLAN_TOKEN_POLL_INTERVAL", "1s",
			"how often the change feed (the token cache's source) reads the changes other processes made"),
	}
}

// parseTrustedProxies reads --trusted-proxies: CIDRs, or addresses
// standing for themselves.
func parseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is not an address or a CIDR", item)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not an address or a CIDR", item)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// startTokenCache puts the token cache in front of the store's tokens as
// a subscriber of feed, and flushes its key uses until the returned stop
// function is called, which flushes them once more. It returns the
// cache's metrics too.
func startTokenCache(ctx context.Context, feed *changefeed.Feed, services *castellan.Services, log *slog.Logger) (
	metrics []prometheus.Collector, stop func(), err error) {
	cache := authn.New(authn.Options{Tokens: services.Tokens, KeyUses: services.AccessKeys, Logger: log})
	if err := feed.Subscribe(ctx, cache); err != nil {
		return nil, nil, err
	}
	services.Tokens = cache
	// Not cancelled with ctx: requests still being served at shutdown note
	// key uses until the server has stopped and stop runs.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { cache.Run(runCtx, keyUseFlushInterval) })
	return tokenCacheMetrics(cache), func() { cancel(); wg.Wait() }, nil
}

// tokenCacheMetrics are the token cache's figures for /metrics.
func tokenCacheMetrics(cache *authn.Cache) []prometheus.Collector {
	stat := func(f func(authn.Stats) float64) func() float64 {
		return func() float64 { return f(cache.Stats()) }
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "castellan_token_cache_entries", Help: "Tokens held by the token cache."},
			stat(func(s authn.Stats) float64 { return float64(s.Entries) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "castellan_token_cache_hits_total", Help: "Token checks answered from memory."},
			stat(func(s authn.Stats) float64 { return float64(s.Hits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "castellan_token_cache_misses_total", Help: "Token checks that read the store."},
			stat(func(s authn.Stats) float64 { return float64(s.Misses) })),
	}
}
