package chstore

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/store/retention"
)

// Metrics of the store; the names are listed in the package doc.
type Metrics struct {
	rows, bytes   *prometheus.CounterVec
	insert, query *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	compacted     *prometheus.CounterVec
	compaction    prometheus.Histogram
	ret           *retention.Metrics
}

// NewMetrics registers the store's metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	durations := prometheus.ExponentialBuckets(0.0005, 2, 18)
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_store_clickhouse_rows_written_total",
			Help: "Rows inserted into ClickHouse, by table."}, []string{"table"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_store_clickhouse_bytes_written_total",
			Help: "Approximate uncompressed bytes inserted into ClickHouse, by table."}, []string{"table"}),
		insert: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "truyvet_store_clickhouse_insert_duration_seconds",
			Help: "Time per ClickHouse insert, by table.", Buckets: durations}, []string{"table"}),
		query: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "truyvet_store_clickhouse_query_duration_seconds",
			Help: "Time per ClickHouse read, by what was read (stays, visitors, contacts, bitmaps, person: a case's stays and contacts together).", Buckets: durations}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_store_clickhouse_errors_total",
			Help: "Failed ClickHouse inserts and queries, by operation."}, []string{"op"}),
		compacted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_store_clickhouse_compacted_partitions_total",
			Help: "Day partitions merged into one part by compaction, by table."}, []string{"table"}),
		compaction: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truyvet_store_clickhouse_compaction_duration_seconds",
			Help: "Time to merge one day partition of a table into one part.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 18)}),
		ret: retention.NewMetrics(),
	}
	if reg != nil {
		reg.MustRegister(m.rows, m.bytes, m.insert, m.query, m.errors, m.compacted, m.compaction)
		reg.MustRegister(m.ret.Collectors()...)
	}
	return m
}
