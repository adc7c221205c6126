package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestDecisionLogFlags: off by default, on from the flag or the
// environment, and a clear refusal naming the flag of a bad value.
func TestDecisionLogFlags(t *testing.T) {
	t.Parallel()
	build := func(args []string, env map[string]string) (castellan.Authorizer, error) {
		f := newFlags("serve", io.Discard, func(k string) string { return env[k] })
		makeLog := f.decisionLog()
		if err := f.parse(args); err != nil {
			t.Fatal(err)
		}
		l, err := makeLog(nil, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, err
		}
		return l.Wrap(nil), nil
	}
	if a, err := build(nil, nil); err != nil || a != nil {
		t.Fatalf("default: got %T, %v; want the authorizer unwrapped", a, err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--decision-log", "all"}, nil},
		{[]string{"--decision-log", "sample", "--decision-log-sample-rate", "0.5"}, nil},
		{nil, map[string]string{"CASTELLAN_DECISION_LOG": "sample"}},
	} {
		if a, err := build(tc.args, tc.env); err != nil || a == nil {
			t.Errorf("%v %v: got %T, %v; want a recorder", tc.args, tc.env, a, err)
		}
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--decision-log", "some"}, "--decision-log"},
		{[]string{"--decision-log", "sample", "--decision-log-sample-rate", "0"}, "--decision-log"},
		{[]string{"--decision-log-sample-rate", "half"}, "--decision-log-sample-rate"},
		{[]string{"--decision-log-buffer", "0"}, "--decision-log-buffer"},
		{[]string{"--decision-log-flush-interval", "soon"}, "--decision-log-flush-interval"},
		{[]string{"--decision-log-retention", "-1h"}, "--decision-log-retention"},
	} {
		if _, err := build(tc.args, nil); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%v: got %v, want an error naming %s", tc.args, err, tc.flag)
		}
	}
}

// TestServeDecisionLogMetrics: with the log on, /metrics has its
// figures, and the server stops with its last flush.
func TestServeDecisionLogMetrics(t *testing.T) {
	t.Parallel()
	srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", sqltest.SQLiteURL(t), "--decision-log", "all")
	resp, body := srv.do(t, http.MethodGet, "/metrics", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: got %d", resp.StatusCode)
	}
	for _, want := range []string{"castellan_decision_log_recorded_total 0", "castellan_decision_log_dropped_total 0", "castellan_decision_log_flush_failures_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(srv.stderr.String(), "decision log") {
		t.Errorf("the decision log complained:\n%s", srv.stderr)
	}
}
