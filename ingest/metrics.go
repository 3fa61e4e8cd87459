package ingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/schemas/event"
)

// ReasonUnavailable labels records refused because the producer could not
// make them durable (the request got a 503).
const ReasonUnavailable = "unavailable"

// Metrics are the ingest stage's Prometheus series; the package doc lists them.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	received *prometheus.CounterVec
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec
	produce  *prometheus.HistogramVec
}

// NewMetrics creates the series and registers them with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_ingest_requests_total", Help: "Ingest requests answered, by endpoint and HTTP status.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "truyvet_ingest_request_duration_seconds", Help: "Time to answer an ingest request.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 4, 10),
		}, []string{"endpoint"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_ingest_request_bytes_total", Help: "Request body bytes read (after decompression).",
		}, []string{"endpoint"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_ingest_events_received_total", Help: "Records received, valid or not.",
		}, []string{"kind"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_ingest_events_accepted_total", Help: "Records acknowledged as durable.",
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_ingest_events_rejected_total", Help: "Records refused, by reason.",
		}, []string{"kind", "reason"}),
		produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "truyvet_ingest_produce_duration_seconds", Help: "Time for the producer to make a request's records durable.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 4, 10),
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.bytes, m.received, m.accepted, m.rejected, m.produce)
	}
	return m
}

// endpointMetrics are the series of one endpoint, resolved once.
type endpointMetrics struct {
	m           *Metrics
	name        string
	kind        string
	duration    prometheus.Observer
	bytes       prometheus.Counter
	received    prometheus.Counter
	accepted    prometheus.Counter
	unavailable prometheus.Counter
	produce     prometheus.Observer
}

func (m *Metrics) forEndpoint(name string, kind event.Kind) *endpointMetrics {
	k := kind.String()
	em := &endpointMetrics{
		m: m, name: name, kind: k,
		duration:    m.duration.WithLabelValues(name),
		bytes:       m.bytes.WithLabelValues(name),
		received:    m.received.WithLabelValues(k),
		accepted:    m.accepted.WithLabelValues(k),
		unavailable: m.rejected.WithLabelValues(k, ReasonUnavailable),
		produce:     m.produce.WithLabelValues(k),
	}
	// Pre-create every reason so dashboards see zeros, not gaps.
	for _, r := range event.Reasons {
		m.rejected.WithLabelValues(k, string(r))
	}
	return em
}

func (em *endpointMetrics) requests(code int) prometheus.Counter {
	return em.m.requests.WithLabelValues(em.name, strconv.Itoa(code))
}

func (em *endpointMetrics) rejected(r event.Reason) prometheus.Counter {
	return em.m.rejected.WithLabelValues(em.kind, string(r))
}
