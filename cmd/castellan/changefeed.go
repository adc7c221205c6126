package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/castellan-iam/castellan/authn"
	"github.com/castellan-iam/castellan/changefeed"
	"github.com/castellan-iam/castellan/index"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/web"
	"github.com/prometheus/client_golang/prometheus"
)

// The token cache and the authorization index are the change feed's
// subscribers.
var (
	_ changefeed.Subscriber = (*authn.Cache)(nil)
	_ changefeed.Subscriber = (*index.Authorizer)(nil)
)

// startChangeFeed builds the process's change feed on db: hooked to db's
// commits, following PostgreSQL's notifications, and polling every poll
// until the returned stop function is called. It returns the feed's
// metrics and the store's, whose change-log lag is the feed's.
func startChangeFeed(ctx context.Context, db *sqlstore.DB, poll string, log *slog.Logger) (
	feed *changefeed.Feed, metrics []prometheus.Collector, stop func(), err error) {
	interval, err := time.ParseDuration(poll)
	if err != nil || interval <= 0 {
		return nil, nil, nil, fmt.Errorf("--token-poll-interval %q: want a positive duration like 1s", poll)
	}
	feed, err = changefeed.New(ctx, changefeed.Options{ChangeLog: db, Watcher: db, Poll: interval, Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	db.OnCommit(feed.Committed)
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { feed.Run(runCtx) })
	return feed, append(changeFeedMetrics(feed), newStoreCollector(db, feed, log)), func() { cancel(); wg.Wait() }, nil
}

// changeFeedMetrics are the change feed's figures for /metrics. The
// applied revision, next to the store's, shows how far behind a replica
// is; the names are the token cache's, the feed's first subscriber, from
// before the feed was a package of its own.
func changeFeedMetrics(feed *changefeed.Feed) []prometheus.Collector {
	stat := func(f func(changefeed.Stats) float64) func() float64 {
		return func() float64 { return f(feed.Stats()) }
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "castellan_token_cache_applied_revision",
			Help: "Newest change-log revision this process's change feed has given its subscribers (the token cache)."},
			stat(func(s changefeed.Stats) float64 { return float64(s.Applied) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "castellan_token_cache_watch_failures_total",
			Help: "Failures of the change feed's LISTEN connection (dropped, dead on heartbeat, or not opened); the feed polls every 50 ms until it listens again."},
			stat(func(s changefeed.Stats) float64 { return float64(s.WatchFailures) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "castellan_changefeed_reloads_total",
			Help: "Reloads of the change feed's subscribers (the token cache empties): the change log could not be read, or did not match the revisions asked for."},
			stat(func(s changefeed.Stats) float64 { return float64(s.Reloads) })),
	}
}

// consistencyWait defines --consistency-wait: how long a request that
// names a revision (Consistency-Token, minRevision) waits for this
// process to apply it before it is told to retry.
func (f *flags) consistencyWait() func() (time.Duration, error) {
	wait := f.str("consistency-wait", "CASTELLAN_CONSISTENCY_WAIT", web.DefaultConsistencyWait.String(),
		"longest time a request carrying a Consistency-Token (or minRevision) waits for this server to apply that revision; then 503 revision.not_applied")
	return func() (time.Duration, error) {
		v, err := time.ParseDuration(*wait)
		if err != nil || v <= 0 || v > web.MaxConsistencyWait {
			return 0, fmt.Errorf("--consistency-wait %q: want a positive duration up to %s, like 2s", *wait, web.MaxConsistencyWait)
		}
		return v, nil
	}
}
