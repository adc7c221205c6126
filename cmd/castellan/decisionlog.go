package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/decisionlog"
	"github.com/prometheus/client_golang/prometheus"
)

// decisionLogFlags defines the decision log's flags and returns a
// function that, after parsing, makes the log over store (off unless
// --decision-log says sample or all).
func (f *flags) decisionLog() func(store castellan.DecisionLogService, log *slog.Logger) (*decisionlog.Log, error) {
	mode := f.str("decision-log", "CASTELLAN_DECISION_LOG", "off", "which decisions to record in the decision log: off, sample or all")
	rate := f.str("decision-log-sample-rate", "CASTELLAN_DECISION_LOG_SAMPLE_RATE", "0.01", "share of decisions recorded with --decision-log sample, in (0, 1]")
	buffer := f.str("decision-log-buffer", "CASTELLAN_DECISION_LOG_BUFFER", strconv.Itoa(decisionlog.DefaultBuffer),
		"decisions waiting to be aggregated; more are dropped and counted")
	flush := f.str("decision-log-flush-interval", "CASTELLAN_DECISION_LOG_FLUSH_INTERVAL", decisionlog.DefaultFlushInterval.String(),
		"how often the aggregated decisions are written to the store")
	retention := f.str("decision-log-retention", "CASTELLAN_DECISION_LOG_RETENTION", decisionlog.DefaultRetention.String(),
		"how long a decision record is kept after it was last seen")
	return func(store castellan.DecisionLogService, log *slog.Logger) (*decisionlog.Log, error) {
		cfg := decisionlog.Config{Mode: castellan.DecisionLogMode(*mode), Store: store, Logger: log}
		var err error
		if cfg.SampleRate, err = strconv.ParseFloat(*rate, 64); err != nil {
			return nil, fmt.Errorf("--decision-log-sample-rate %q: want a number in (0, 1]", *rate)
		}
		if cfg.Buffer, err = strconv.Atoi(*buffer); err != nil || cfg.Buffer <= 0 {
			return nil, fmt.Errorf("--decision-log-buffer %q: want a positive number", *buffer)
		}
		for _, d := range []struct {
			flag  string
			value *string
			into  *time.Duration
		}{{"decision-log-flush-interval", flush, &cfg.FlushInterval}, {"decision-log-retention", retention, &cfg.Retention}} {
			if *d.into, err = time.ParseDuration(*d.value); err != nil || *d.into <= 0 {
				return nil, fmt.Errorf("--%s %q: want a positive duration like 10s", d.flag, *d.value)
			}
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("--decision-log: %w", err)
		}
		return decisionlog.New(cfg), nil
	}
}

// decisionLogMetrics are the decision log's figures for /metrics.
func decisionLogMetrics(l *decisionlog.Log) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "castellan_decision_log_recorded_total",
			Help: "Decisions taken into the decision log (with --decision-log sample, the sampled ones)."},
			func() float64 { return float64(l.Recorded()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "castellan_decision_log_dropped_total",
			Help: "Decisions the decision log lost: its buffer was full, or the store refused their flush."},
			func() float64 { return float64(l.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "castellan_decision_log_flush_failures_total",
			Help: "Flushes of the decision log the store refused."},
			func() float64 { return float64(l.FlushFailures()) }),
	}
}
