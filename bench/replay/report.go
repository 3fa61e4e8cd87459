package replay

import (
	"time"

	"github.com/truyvet/truyvet/bench/report"
)

// Report is the report of a replay that ran with cfg from started: dataset
// says what the records were. It names the path the records took (HTTP
// ingest or straight to Kafka), so a report never hides which one ran.
func (res *Result) Report(cfg Config, dataset map[string]any, started time.Time) *report.Report {
	r := report.New("truyvet bench replay", "Replay of a synthetic city into truyvet ingest", dataset)
	r.Started, r.Duration = started, time.Since(started)
	r.Dataset["target_rate"], r.Dataset["clients"], r.Dataset["ingest_url"] = cfg.Rate, cfg.Clients, cfg.IngestURL
	r.Dataset["path"] = "http-ingest"
	if cfg.Kafka != nil {
		r.Dataset["path"] = "kafka"
		r.Title = "Replay of a synthetic city straight into Kafka"
		r.Notes = append(r.Notes, "Records were produced straight to Kafka (ingest's producer, all in-sync replicas acknowledging), bypassing HTTP ingest and its validation; request latency is the produce latency and 503s are failed produce attempts, retried.")
	}
	lat, fresh := res.Latency.Percentiles(), res.Freshness.Percentiles()
	r.Figures = append(r.Figures,
		report.Figure{Name: "records accepted", Value: float64(res.Events), Unit: "records"},
		report.Figure{Name: "records rejected", Value: float64(res.Rejected), Unit: "records"},
		report.Figure{Name: "503 answers (retried)", Value: float64(res.Unavailable), Unit: "answers"},
		report.Figure{Name: "ingest throughput", Value: float64(res.Events) / res.Sent.Seconds(), Unit: "events/s", Note: "first request to last 202"},
		report.Figure{Name: "request latency p50", Value: lat.P50, Unit: "ms"},
		report.Figure{Name: "request latency p99", Value: lat.P99, Unit: "ms"},
	)
	if res.Behind != nil {
		behind := res.Behind.Percentiles()
		r.Figures = append(r.Figures,
			report.Figure{Name: "latency from schedule p50", Value: behind.P50, Unit: "ms", Note: "from when the target rate meant to send each request: free of coordinated omission"},
			report.Figure{Name: "latency from schedule p99", Value: behind.P99, Unit: "ms"})
	}
	if res.Drained > 0 {
		r.Figures = append(r.Figures,
			report.Figure{Name: "sustained throughput", Value: float64(res.Events) / res.Drained.Seconds(), Unit: "events/s", Note: "first request until everything is processed"},
			report.Figure{Name: "freshness p50", Value: fresh.P50, Unit: "ms", Note: "202 → processed, status polled every 50 ms"},
			report.Figure{Name: "freshness p99", Value: fresh.P99, Unit: "ms"})
	}
	thr := report.Series{Name: "accepted events per second", Unit: "events/s"}
	lag := report.Series{Name: "lag (accepted, not yet processed)", Unit: "records"}
	for _, s := range res.Series {
		thr.Points = append(thr.Points, report.Point{X: s.Seconds, Y: s.EventsPerS})
		if s.LagRecords >= 0 {
			lag.Points = append(lag.Points, report.Point{X: s.Seconds, Y: float64(s.LagRecords)})
		}
	}
	r.Series = append(r.Series, thr, lag)
	r.Histograms = append(r.Histograms, report.Histogram{Name: "request latency", Unit: "ms", Dist: res.Latency},
		report.Histogram{Name: "freshness", Unit: "ms", Dist: res.Freshness})
	if res.Behind != nil {
		r.Histograms = append(r.Histograms, report.Histogram{Name: "latency from schedule", Unit: "ms", Dist: res.Behind})
	}
	r.Notes = append(r.Notes, "Freshness is measured from /v1/status: the time from a 202 until the processed count reaches the records acknowledged by then; it assumes no other traffic.")
	return r
}
