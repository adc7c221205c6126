package main

import (
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics are the store's figures for /metrics.
func storeMetrics(db *sqlstore.DB) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "castellan_store_unavailable_total",
			Help: "Store operations that failed because the store was unavailable (answered 503 store.unavailable): connection refused or lost, timeouts, a read-only or locked database.",
		}, func() float64 { return float64(db.UnavailableErrors()) }),
	}
}
