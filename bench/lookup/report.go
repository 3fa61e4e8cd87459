package lookup

import (
	"time"

	"github.com/truyvet/truyvet/bench/report"
)

// Report is the report of a run with cfg from started: dataset says what
// the records were. It times the answers and does not check them, so its
// system claims no agreement with the reference (the test suite checks the
// answers; `truyvet bench peers` checks them against peers).
func (res *Result) Report(cfg Config, dataset map[string]any, started time.Time) *report.Report {
	r := report.New("truyvet bench query", "Exposure-graph latency over HTTP", dataset)
	r.Started, r.Duration = started, time.Since(started)
	r.Dataset["url"], r.Dataset["cases_per_depth"] = cfg.URL, cfg.Cases
	d1, d2 := report.DistributionOf(res.F1MS), report.DistributionOf(res.F2MS)
	f1, f2 := d1.Percentiles(), d2.Percentiles()
	r.Systems = []report.System{{Name: "truyvet", F1ms: f1, F2ms: f2,
		Notes: "answers timed, not checked here: the test suite checks them against the reference"}}
	r.Figures = append(r.Figures,
		report.Figure{Name: "F1 p50", Value: f1.P50, Unit: "ms"}, report.Figure{Name: "F1 p99", Value: f1.P99, Unit: "ms"},
		report.Figure{Name: "F2 p50", Value: f2.P50, Unit: "ms"}, report.Figure{Name: "F2 p99", Value: f2.P99, Unit: "ms"})
	r.Histograms = append(r.Histograms, report.Histogram{Name: "F1 latency", Unit: "ms", Dist: d1},
		report.Histogram{Name: "F2 latency", Unit: "ms", Dist: d2})
	return r
}
