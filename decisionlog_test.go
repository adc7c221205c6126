package castellan_test

import (
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		rule string
	}{
		{"90d", now.Add(-90 * 24 * time.Hour), ""},
		{"720h", now.Add(-720 * time.Hour), ""},
		{"0s", now, ""},
		{"2026-11-01T00:00:00Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2026-11-01T02:00:00+02:00", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ""},
		{"", time.Time{}, "required"},
		{"yesterday", time.Time{}, "format"},
		{"1.5d", time.Time{}, "format"},
		{"-3d", time.Time{}, "format"},
		{"+3d", time.Time{}, "format"},
		{"-5m", time.Time{}, "range"},
		{"100000h", time.Time{}, "range"},
		{"4000d", time.Time{}, "range"},
		{"2026-12-06T00:00:00Z", time.Time{}, "maximum"},
	} {
		got, err := castellan.ParseSince("since", c.in, now)
		if c.rule == "" {
			if err != nil || !got.Equal(c.want) {
				t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		e, ok := err.(*castellan.Error)
		if !ok || e.Code != castellan.CodeInvalidField || len(e.Fields) != 1 || e.Fields[0].Field != "since" || e.Fields[0].Rule != c.rule {
			t.Errorf("%q: got %v, want request.invalid_field on since (%s)", c.in, err, c.rule)
		}
	}
}

func TestCoverage(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	rec := func(mode castellan.DecisionLogMode, start, seen time.Duration) castellan.DecisionRecorder {
		return castellan.DecisionRecorder{Mode: mode, FlushInterval: time.Minute, StartedAt: t0.Add(start), SeenAt: t0.Add(seen)}
	}
	all, sample := castellan.DecisionLogAll, castellan.DecisionLogSample
	for _, c := range []struct {
		name      string
		recorders []castellan.DecisionRecorder
		now       time.Duration
		since     time.Duration // -1: not recording
		sampled   bool
	}{
		{"None", nil, 0, -1, false},
		{"One", []castellan.DecisionRecorder{rec(all, 0, 10*time.Minute)}, 11 * time.Minute, 0, false},
		{"Stopped", []castellan.DecisionRecorder{rec(all, 0, 10*time.Minute)}, 13 * time.Minute, -1, false},
		{"Overlapping", []castellan.DecisionRecorder{rec(sample, 5*time.Minute, 20*time.Minute), rec(all, 0, 6*time.Minute)}, 20 * time.Minute, 0, true},
		{"AfterAGap", []castellan.DecisionRecorder{rec(all, 0, 5*time.Minute), rec(all, 10*time.Minute, 20*time.Minute)}, 20 * time.Minute, 10 * time.Minute, false},
		{"SampledBeforeAGap", []castellan.DecisionRecorder{rec(sample, 0, 5*time.Minute), rec(all, 10*time.Minute, 20*time.Minute)}, 20 * time.Minute, 10 * time.Minute, false},
	} {
		got := castellan.Coverage(c.recorders, t0.Add(c.now))
		if c.since < 0 {
			if got.RecordingSince != nil {
				t.Errorf("%s: got recording since %v, want not recording", c.name, got.RecordingSince)
			}
			continue
		}
		if got.RecordingSince == nil || !got.RecordingSince.Equal(t0.Add(c.since)) || got.Sampled != c.sampled {
			t.Errorf("%s: got %+v, want since %v sampled=%v", c.name, got, t0.Add(c.since), c.sampled)
		}
	}
}
