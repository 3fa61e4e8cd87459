// Package retention drops a store's old local days on a schedule: the loop
// both stores (embedded and ClickHouse) run, with its log lines and metrics.
//
//	truyvet_store_retention_dropped_days_total   local days dropped whole
//	truyvet_store_retention_runs_total{result}   passes, by result (ok, error)
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/index/bucket"
)

// Dropper drops every day before cutoff and returns the days it dropped.
type Dropper interface {
	DropBefore(ctx context.Context, cutoff bucket.Day) ([]bucket.Day, error)
}

// DropEach drops, one at a time with drop, each of days (ascending) before
// cutoff, and returns those it dropped; it stops at the first error.
func DropEach(ctx context.Context, days []bucket.Day, cutoff bucket.Day, drop func(context.Context, bucket.Day) error) ([]bucket.Day, error) {
	var dropped []bucket.Day
	for _, d := range days {
		if d >= cutoff {
			break
		}
		if err := drop(ctx, d); err != nil {
			return dropped, err
		}
		dropped = append(dropped, d)
	}
	return dropped, nil
}

// Metrics count what retention did.
type Metrics struct {
	dropped prometheus.Counter
	runs    *prometheus.CounterVec
}

// NewMetrics returns unregistered metrics; register Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "truyvet_store_retention_dropped_days_total",
			Help: "Local days dropped whole by retention."}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_store_retention_runs_total",
			Help: "Retention passes, by result (ok|error)."}, []string{"result"}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.dropped, m.runs}
}

// Run drops the days older than keep at once and then every interval, until
// ctx ends, logging each day dropped and each failed pass.
func Run(ctx context.Context, d Dropper, keep, interval time.Duration, now func() time.Time, log *slog.Logger, m *Metrics) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		cutoff := bucket.DayOf(now().Add(-keep).Unix())
		dropped, err := d.DropBefore(ctx, cutoff)
		for _, day := range dropped {
			log.Info("retention dropped a day", "day", day.String(), "cutoff", cutoff.String())
		}
		m.dropped.Add(float64(len(dropped)))
		if err != nil && ctx.Err() == nil {
			m.runs.WithLabelValues("error").Inc()
			log.Error("retention pass failed", "err", err)
		} else {
			m.runs.WithLabelValues("ok").Inc()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
