package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/query/graph"
)

// Metrics are the query API's Prometheus series; the package doc lists them.
type Metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	stages     *prometheus.HistogramVec
	candidates *prometheus.HistogramVec
	nodes      *prometheus.HistogramVec
	summary    prometheus.Histogram
}

// NewMetrics creates the series and registers them with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	sizes := prometheus.ExponentialBuckets(1, 4, 12)
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_query_requests_total", Help: "Query requests answered, by endpoint and HTTP status.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "truyvet_query_duration_seconds", Help: "Time to compute an exposure graph, by depth.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2.5, 14),
		}, []string{"depth"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "truyvet_query_stage_duration_seconds", Help: "Time spent in each engine stage (case, bitmaps, refine, sources, assemble; per tier).",
			Buckets: prometheus.ExponentialBuckets(1e-5, 3, 14),
		}, []string{"stage"}),
		candidates: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "truyvet_query_candidates", Help: "Candidates proposed by the bitmaps and refined, per query and tier.", Buckets: sizes,
		}, []string{"tier"}),
		nodes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "truyvet_query_result_nodes", Help: "People found per query, by tier (1, 2, casual).", Buckets: sizes,
		}, []string{"tier"}),
		summary: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "truyvet_query_declaration_summary_duration_seconds", Help: "Time to answer GET /v1/declarations/summary.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2.5, 12),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.stages, m.candidates, m.nodes, m.summary)
	}
	return m
}

func (m *Metrics) observe(res *graph.Result, elapsed time.Duration) {
	m.duration.WithLabelValues(strconv.Itoa(res.Query.Depth)).Observe(elapsed.Seconds())
	for stage, ns := range res.Stats.StageNanos {
		// Stage names come from a closed set in the graph package.
		m.stages.WithLabelValues(strings.ToLower(stage)).Observe(float64(ns) / 1e9)
	}
	m.candidates.WithLabelValues("1").Observe(float64(res.Stats.CandidatesF1))
	var f1, f2, casual int
	for _, n := range res.Nodes {
		switch n.Tier {
		case 1:
			f1++
		case 2:
			f2++
		case graph.TierCasual:
			casual++
		}
	}
	if q := res.Query; q.Rule != nil && q.Rule.Casual {
		m.nodes.WithLabelValues("casual").Observe(float64(casual))
	}
	m.nodes.WithLabelValues("1").Observe(float64(f1))
	if res.Query.Depth > 1 {
		m.candidates.WithLabelValues("2").Observe(float64(res.Stats.CandidatesF2))
		m.nodes.WithLabelValues("2").Observe(float64(f2))
	}
}
