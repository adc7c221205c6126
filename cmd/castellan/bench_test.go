package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/bench"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestBenchSmoke runs castellan bench on the small profile end to end on
// SQLite, loaded through the bulk import and through the store's create
// calls: every decision, in process and over HTTP, must be the
// generator's expectation, and every measurement must have run. Timings
// are not asserted.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	for _, loader := range []string{"import", "direct"} {
		t.Run(loader, func(t *testing.T) {
			t.Parallel()
			benchSmoke(t, loader)
		})
	}
}

func benchSmoke(t *testing.T, loader string) {
	url := sqltest.SQLiteURL(t)
	stdout := mustCastellan(t, noEnv, "bench", "--profile", "small", "--loader", loader, "--database", url, "--json",
		"--duration", "150ms", "--concurrency", "1,4", "--checks", "500", "--list-pages", "5", "--write-samples", "3")
	var res bench.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not one result: %v\n%s", err, stdout)
	}
	small := bench.Profiles["small"]
	if c := res.Config; c.Profile != "small" || c.Users != small.Users || c.Grants != small.Grants || c.Checks != 500 {
		t.Errorf("config: got %+v, want the small profile with 500 checks", c)
	}
	if res.Mismatches != 0 || res.InProcess.Mismatches != 0 || res.InProcess.Errors != 0 {
		t.Errorf("got %d mismatches (%d in process, %d errors), want none", res.Mismatches, res.InProcess.Mismatches, res.InProcess.Errors)
	}
	total, timed := 0, 0
	for _, cat := range []string{bench.CategoryDirect, bench.CategoryGroupOU, bench.CategoryResource, bench.CategoryDenied, bench.CategoryPolicy} {
		if res.Checks[cat] == 0 {
			t.Errorf("checks: got none of %s in %v", cat, res.Checks)
		}
		total += res.Checks[cat]
		if l := res.InProcess.ByCategory[cat]; l.Count == 0 || l.P50 > l.P99 || l.P99 > l.Max {
			t.Errorf("in-process latency of %s: got %+v, want some calls, p50 ≤ p99 ≤ max", cat, l)
		}
		timed += res.InProcess.ByCategory[cat].Count
	}
	if total != 500 {
		t.Errorf("checks: got %d in all, want 500", total)
	}
	if len(res.InProcess.ByCategory) != 5 || timed != res.InProcess.Latency.Count {
		t.Errorf("in-process latency by category: got %d categories of %d calls, want the 5 of the mix, %d calls in all",
			len(res.InProcess.ByCategory), timed, res.InProcess.Latency.Count)
	}
	wantItems := small.Projects + small.Users + small.Groups*(1+small.MembersPerGroup) + small.Grants + small.ResourceGrants
	if res.Load.Items != wantItems || res.Load.Seconds <= 0 || res.Load.Loader != loader {
		t.Errorf("load: got %+v, want %d items loaded by %s", res.Load, wantItems, loader)
	}
	if res.Index.BuildSeconds <= 0 || res.Index.HeapBytes == 0 {
		t.Errorf("index: got %+v", res.Index)
	}
	if res.InProcess.Ops < 500 || res.InProcess.Latency.Count == 0 {
		t.Errorf("in process: got %+v, want at least one round of the checks", res.InProcess)
	}
	if len(res.HTTP) != 2 || res.HTTP[0].Concurrency != 1 || res.HTTP[1].Concurrency != 4 {
		t.Fatalf("HTTP: got %+v, want runs at 1 and 4 connections", res.HTTP)
	}
	if len(res.HTTPBaseline) != len(res.HTTP) || res.HTTPBaseline[1].Concurrency != 4 {
		t.Fatalf("HTTP baseline: got %+v, want a run per connection count", res.HTTPBaseline)
	}
	for _, h := range append(res.HTTP, res.HTTPBaseline...) {
		if h.Requests == 0 || h.Errors != 0 || h.Mismatches != 0 {
			t.Errorf("HTTP ×%d: got %d requests, %d errors, %d mismatches", h.Concurrency, h.Requests, h.Errors, h.Mismatches)
		}
	}
	if res.WriteVisible.Count != 3 || res.UserList.Count != 5 || res.WriteVisibleReplica != nil {
		t.Errorf("write→visible %+v, user list %+v, replicas %+v: want 3 samples, 5 pages, no replicas", res.WriteVisible, res.UserList, res.WriteVisibleReplica)
	}

	// The store now holds an organization: a second run refuses it.
	_, _, err := castellanCmd(t, noEnv, "bench", "--profile", "small", "--database", url)
	if err == nil || !strings.Contains(err.Error(), "fresh database") {
		t.Errorf("second run: got %v, want a refusal of the non-empty store", err)
	}
}
