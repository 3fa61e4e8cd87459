package sites

import "github.com/prometheus/client_golang/prometheus"

// Metrics of exposure sites and alerts:
//
//	truyvet_sites_exposure_sites{status}         sites by status (draft, published, retracted)
//	truyvet_sites_active_sites                   published sites a matcher holds
//	truyvet_sites_alerts_produced_total{type}    alerts stored (exposure, retraction), each once
//	truyvet_sites_alerts_delivered_total         alerts served on GET /v1/alerts
//	truyvet_sites_sweep_duration_seconds{status} time to sweep a published or retracted site
//	truyvet_sites_checkin_to_alert_seconds       from a batch reaching the store to its late alerts stored
type Metrics struct {
	sites        *prometheus.GaugeVec
	active       prometheus.Gauge
	produced     *prometheus.CounterVec
	Delivered    prometheus.Counter
	sweepSeconds *prometheus.HistogramVec
	lateDelay    prometheus.Histogram
}

// NewMetrics registers the metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sites: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "truyvet_sites_exposure_sites", Help: "Exposure sites by status."}, []string{"status"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "truyvet_sites_active_sites",
			Help: "Published exposure sites this process matches new stays against."}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_sites_alerts_produced_total",
			Help: "Alerts stored, each (site, user, type) once."}, []string{"type"}),
		Delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "truyvet_sites_alerts_delivered_total",
			Help: "Alerts served to the apps on GET /v1/alerts."}),
		sweepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "truyvet_sites_sweep_duration_seconds",
			Help: "Time to sweep the alerts of a published or retracted site.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)}, []string{"status"}),
		lateDelay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truyvet_sites_checkin_to_alert_seconds",
			Help: "From a batch of check-ins reaching the store to the alerts it raised being stored.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}),
	}
	for _, t := range []Type{TypeExposure, TypeRetraction} {
		m.produced.WithLabelValues(string(t))
	}
	for _, s := range Statuses() {
		m.sites.WithLabelValues(string(s))
	}
	if reg != nil {
		reg.MustRegister(m.sites, m.active, m.produced, m.Delivered, m.sweepSeconds, m.lateDelay)
	}
	return m
}
