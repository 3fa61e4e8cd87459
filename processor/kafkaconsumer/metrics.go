package kafkaconsumer

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the consumer; the names are listed in the package doc.
type Metrics struct {
	records       *prometheus.CounterVec
	messages      *prometheus.CounterVec
	deadLettered  *prometheus.CounterVec
	flush, commit prometheus.Histogram
	retries       *prometheus.CounterVec
	commitErrors  prometheus.Counter
	lag           *prometheus.GaugeVec
	stuck         *prometheus.GaugeVec
	truncated     prometheus.Counter
}

// NewMetrics registers the consumer's metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	durations := prometheus.ExponentialBuckets(0.001, 2, 16)
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_processor_kafka_records_total",
			Help: "Records consumed from Kafka, by topic and result (stored|deadlettered)."}, []string{"topic", "result"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_processor_kafka_messages_total",
			Help: "Kafka messages consumed, by topic."}, []string{"topic"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_processor_deadletter_records_total",
			Help: "Records sent to the dead-letter topic, by reason."}, []string{"reason"}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truyvet_processor_flush_duration_seconds",
			Help: "Time to build and durably write one consumed batch, retries included.", Buckets: durations}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truyvet_processor_commit_duration_seconds",
			Help: "Time to commit a batch's Kafka offsets.", Buckets: durations}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_processor_flush_retries_total",
			Help: "Failed store or dead-letter writes that were retried, by stage."}, []string{"stage"}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "truyvet_processor_commit_errors_total",
			Help: "Offset commits that failed; their batches will be replayed."}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "truyvet_processor_kafka_lag_records",
			Help: "Records in a partition not yet committed by the processor group, exported by the replica that owns the partition."}, []string{"topic", "partition"}),
		stuck: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "truyvet_processor_partition_stuck",
			Help: "1 while a partition's batch has failed to write for longer than the stuck time."}, []string{"topic", "partition"}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{Name: "truyvet_processor_deadletter_truncated_total",
			Help: "Dead letters whose payload was cut to fit the broker's limit."}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.messages, m.deadLettered, m.flush, m.commit, m.retries, m.commitErrors, m.lag, m.stuck, m.truncated)
	}
	return m
}
