package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
)

// WriteTable prints the result as a table for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := r.Config
	row := func(what, value string) { fmt.Fprintf(tw, "%s\t%s\n", what, value) }
	lat := func(l Latency) string {
		return fmt.Sprintf("p50 %s  p99 %s  max %s  (n=%d)", us(l.P50), us(l.P99), us(l.Max), l.Count)
	}
	row("profile", fmt.Sprintf("%s (seed %d) on %s", c.Profile, c.Seed, r.Database))
	row("organization", fmt.Sprintf("%d users (%d without access), %d groups × %d, %d OUs (depth %d), %d accounts, %d projects",
		c.Users, c.NoAccess, c.Groups, c.MembersPerGroup, c.OUs, c.Depth, c.Accounts, c.Projects))
	row("", fmt.Sprintf("%d role grants, %d resource grants, %d control policies", c.Grants, c.ResourceGrants, c.ControlPolicies))
	row("checks", fmt.Sprintf("%d distinct, mix %s %v", c.Checks, c.Mix, r.Checks))
	row("structure", fmt.Sprintf("%.2f s (OUs, accounts, policies, one at a time)", r.Load.StructureSeconds))
	row("load", fmt.Sprintf("%d items in %.2f s, %.0f items/s (%s)", r.Load.Items, r.Load.Seconds, r.Load.ItemsPerSecond, r.Load.Loader))
	row("index build", fmt.Sprintf("%.2f s; then RSS %s (anonymous %s), Go heap %s", r.Index.BuildSeconds, mib(r.Index.RSSBytes), mib(r.Index.AnonRSSBytes), mib(int64(r.Index.HeapBytes))))
	p := r.InProcess
	row("in-process Authorize", fmt.Sprintf("%.0f ops/s per core, %s; %.1f allocs/op, %.0f B/op; %d ops, %d mismatches, %d errors",
		p.OpsPerCore, lat(p.Latency), p.AllocsPerOp, p.BytesPerOp, p.Ops, p.Mismatches, p.Errors))
	for _, c := range slices.Sorted(maps.Keys(p.ByCategory)) {
		row("  "+c, lat(p.ByCategory[c]))
	}
	for _, h := range r.HTTP {
		row(fmt.Sprintf("HTTP /v1/authorize ×%d", h.Concurrency), fmt.Sprintf("%.0f req/s, %s; %d errors, %d mismatches",
			h.PerSecond, lat(h.Latency), h.Errors, h.Mismatches))
	}
	for _, h := range r.HTTPBaseline {
		row(fmt.Sprintf("HTTP baseline ×%d", h.Concurrency), fmt.Sprintf("%.0f req/s, %s; %d errors, %d mismatches",
			h.PerSecond, lat(h.Latency), h.Errors, h.Mismatches))
	}
	row("write→visible, this process", lat(r.WriteVisible))
	if r.WriteVisibleReplica != nil {
		row("write→visible, other replica", lat(*r.WriteVisibleReplica))
	}
	row("user list, page of 100", lat(r.UserList))
	row("mismatches", fmt.Sprint(r.Mismatches))
	return tw.Flush()
}

// us prints microseconds readably.
func us(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f ms", v/1e3)
	}
	return fmt.Sprintf("%.2f µs", v)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
