package summary

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a Tally's:
//
//	truyvet_summary_flushes_total{result}   flushes of counts made on requests (ok, error: kept for the next)
//	truyvet_summary_pending_counters        counters waiting in the tally for a flush
type Metrics struct {
	flushes *prometheus.CounterVec
	pending prometheus.Gauge
}

// NewMetrics registers the metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_summary_flushes_total",
			Help: "Flushes of the summary's counts made on requests to the counter store, by result (error: kept for the next).",
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "truyvet_summary_pending_counters",
			Help: "Summary counters waiting in memory for a flush to the counter store.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.flushes, m.pending)
	}
	return m
}
