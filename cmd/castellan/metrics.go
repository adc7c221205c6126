package main

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/castellan-iam/castellan/changefeed"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds the store queries of one /metrics scrape.
const scrapeTimeout = 2 * time.Second

// queryDuration is the latency of the store's statements, fed by
// sqlstore.Options.ObserveQuery.
func queryDuration() (*prometheus.HistogramVec, func(sqlstore.QueryKind, time.Duration)) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "castellan_store_query_duration_seconds", Help: "Latency of store statements: read (outside transactions) or write (in a write transaction).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"kind"})
	return h, func(kind sqlstore.QueryKind, d time.Duration) { h.WithLabelValues(string(kind)).Observe(d.Seconds()) }
}

// storeCollector reports, at each scrape, the store's connection pools,
// its outbox, and how far this process's change-log follower is behind
// the store.
type storeCollector struct {
	db   *sqlstore.DB
	feed *changefeed.Feed
	log  *slog.Logger

	open, inUse, idle, waitCount, waitSeconds *prometheus.Desc
	mails, revision, lag                      *prometheus.Desc
}

func newStoreCollector(db *sqlstore.DB, feed *changefeed.Feed, log *slog.Logger) *storeCollector {
	pool := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("castellan_store_"+name, help, []string{"pool"}, nil)
	}
	return &storeCollector{db: db, feed: feed, log: log,
		open:        pool("connections_open", "Open connections of the store's pool."),
		inUse:       pool("connections_in_use", "Connections of the store's pool running a statement or transaction."),
		idle:        pool("connections_idle", "Idle connections of the store's pool."),
		waitCount:   pool("connection_waits_total", "Times a statement waited for a free connection of the pool."),
		waitSeconds: pool("connection_wait_seconds_total", "Time statements spent waiting for a free connection of the pool."),
		mails: prometheus.NewDesc("castellan_outbox_mails", "Mails of the outbox by state: queued (not yet failed), retried (failed, waiting for another attempt), sent, dead (given up).",
			[]string{"state"}, nil),
		revision: prometheus.NewDesc("castellan_store_revision", "Newest revision committed to the store by any replica.", nil, nil),
		lag:      prometheus.NewDesc("castellan_changelog_lag_revisions", "Revisions committed to the store that this process's change feed (the token cache) has not applied yet.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.inUse, c.idle, c.waitCount, c.waitSeconds, c.mails, c.revision, c.lag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A store that does not answer
// leaves its figures out of the scrape (and says so in the log) rather
// than failing it: /readyz reports the outage.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.db.PoolStats() {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.OpenConnections), name)
		ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(s.InUse), name)
		ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.Idle), name)
		ch <- prometheus.MustNewConstMetric(c.waitCount, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if mails, err := c.db.Outbox().CountMail(ctx); err != nil {
		c.log.Warn("metrics: count the outbox", "err", err)
	} else {
		for state, n := range map[string]int64{"queued": mails.Queued, "retried": mails.Retried, "sent": mails.Sent, "dead": mails.Dead} {
			ch <- prometheus.MustNewConstMetric(c.mails, prometheus.GaugeValue, float64(n), state)
		}
	}
	// Applied first: read after the store's revision, a commit in between
	// could make the lag negative.
	applied := c.feed.Applied()
	rev, err := c.db.Revision(ctx)
	if err != nil {
		c.log.Warn("metrics: read the store's revision", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.revision, prometheus.GaugeValue, float64(rev))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(max(rev-applied, 0)))
}

// buildInfo is the constant castellan_build_info metric, whose labels say
// what is running.
func buildInfo() prometheus.Collector {
	revision := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "castellan_build_info", Help: "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": version(), "goversion": runtime.Version(), "revision": revision},
	})
	g.Set(1)
	return g
}
