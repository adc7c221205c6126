package decisionlog_test

import (
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/decisionlog"
)

// BenchmarkAuthorize measures what the decision log adds to a decision:
// the wrapped authorizer answers at once, so ns/op and allocs/op are the
// recorder's own (sampling, the non-blocking send), with the aggregator
// draining the buffer as in a server. "full" never drains: every
// decision is dropped and counted.
func BenchmarkAuthorize(b *testing.B) {
	for _, c := range []struct {
		name  string
		cfg   decisionlog.Config
		drain bool
	}{
		{"off", decisionlog.Config{Mode: castellan.DecisionLogOff}, false},
		{"sample=0.01", decisionlog.Config{Mode: castellan.DecisionLogSample, SampleRate: 0.01}, true},
		{"all", decisionlog.Config{Mode: castellan.DecisionLogAll}, true},
		{"all,full", decisionlog.Config{Mode: castellan.DecisionLogAll, Buffer: 1}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.cfg.Store, c.cfg.FlushInterval = &fakeStore{}, time.Second
			l := decisionlog.New(c.cfg)
			if c.drain {
				defer run(l)()
			}
			a := l.Wrap(allowAuthorizer{})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ask(b, a, alice, "x:Allowed", project)
				}
			})
		})
	}
}
