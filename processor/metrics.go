package processor

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/schemas/event"
)

// Metrics are the processor's Prometheus series; the package doc lists them.
type Metrics struct {
	visits, encounters, declarations prometheus.Counter
	assessments                      prometheus.Counter
	batches                          prometheus.Counter
	batchRecords                     prometheus.Histogram
	bitmapKeys                       prometheus.Counter
	bitmapEntries                    prometheus.Counter
	buildSeconds                     prometheus.Histogram
	sinkSeconds                      prometheus.Histogram
	sinkErrors                       prometheus.Counter
	pipePending                      prometheus.Gauge
}

// NewMetrics creates the processor's series and registers them with reg
// (nil: unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	records := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "truyvet_processor_records_total", Help: "Records processed and written to the sink, by kind.",
	}, []string{"kind"})
	m := &Metrics{
		visits:       records.WithLabelValues(event.KindVisit.String()),
		encounters:   records.WithLabelValues(event.KindEncounter.String()),
		declarations: records.WithLabelValues(event.KindDeclaration.String()),
		assessments:  records.WithLabelValues(event.KindAssessment.String()),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_processor_batches_total", Help: "Batches written to the sink.",
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "truyvet_processor_batch_records", Help: "Records per batch written to the sink.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		bitmapKeys: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_processor_bitmap_keys_total", Help: "(venue, bucket) co-location bitmaps written.",
		}),
		bitmapEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_processor_bitmap_entries_total", Help: "(user, venue, bucket) entries set in co-location bitmaps.",
		}),
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "truyvet_processor_build_duration_seconds", Help: "Time to build a batch's co-location bitmaps.",
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10),
		}),
		sinkSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "truyvet_processor_sink_write_duration_seconds", Help: "Time for the sink to make a batch durable.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 4, 10),
		}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_processor_sink_errors_total", Help: "Sink writes that failed.",
		}),
		pipePending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "truyvet_processor_pipe_pending_batches", Help: "Batches waiting in the in-process pipe (all-in-one).",
		}),
	}
	if reg != nil {
		reg.MustRegister(records, m.batches, m.batchRecords, m.bitmapKeys, m.bitmapEntries,
			m.buildSeconds, m.sinkSeconds, m.sinkErrors, m.pipePending)
	}
	return m
}
