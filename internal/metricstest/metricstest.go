// Package metricstest reads series from a Prometheus registry in tests, so
// tests check what /metrics would show rather than a package's internals.
package metricstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Value returns the value of the series name{labels} (labels as name, value
// pairs; a series matches when it has at least these) gathered from g: a
// counter's or gauge's value, a histogram's or summary's sample count. The
// test fails when there is no such series.
func Value(tb testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	tb.Helper()
	if len(labels)%2 != 0 {
		tb.Fatalf("metricstest.Value(%s): labels want name, value pairs", name)
	}
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			case m.Summary != nil:
				return float64(m.GetSummary().GetSampleCount())
			default:
				return m.GetUntyped().GetValue()
			}
		}
	}
	tb.Fatalf("no series %s%v", name, labels)
	return 0
}
