// Package report writes what a benchmark command measured into a directory:
// report.json for scripts, report.md for people, and SVG charts the markdown
// shows. The JSON of Systems is a contract scripts compare runs with:
//
//	"systems": [{"name", "f1_ms": {"p50", "p99"}, "f2_ms": {"p50", "p99"}, "agrees_with_reference"}]
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Percentiles summarise samples.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   int     `json:"n"`
}

// PercentilesOf returns nearest-rank percentiles of samples (NaN and Inf
// dropped); the zero value when none are left.
func PercentilesOf(samples []float64) Percentiles {
	s := make([]float64, 0, len(samples))
	for _, x := range samples {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Percentiles{}
	}
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Percentiles{P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Max: s[len(s)-1], N: len(s)}
}

// Point is one point of a series; X is seconds since the start for time series.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Series is a line on a chart.
type Series struct {
	Name   string  `json:"name"`
	Unit   string  `json:"unit"`
	Points []Point `json:"points"`
}

// Histogram is a named latency distribution, in milliseconds: summarised in
// report.json (percentiles and the HDR encoding), drawn as a chart, and
// written as an HdrHistogram percentile table (<name>.hgrm).
type Histogram struct {
	Name string
	Unit string
	Dist *Distribution
}

// Summary is a distribution in report.json: its percentiles and, for
// merging runs or other HdrHistogram tools, its encoding (compressed V2,
// base64, values in microseconds).
type Summary struct {
	Percentiles
	HDR string `json:"hdr,omitempty"`
}

// Figure is one headline number.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

// System is one system's answers to the same queries (truyvet or a peer).
type System struct {
	Name string      `json:"name"`
	F1ms Percentiles `json:"f1_ms"`
	F2ms Percentiles `json:"f2_ms"`
	// AgreesWithReference is whether every answer was the reference's; nil
	// when nothing checked them (the field is then left out).
	AgreesWithReference *bool  `json:"agrees_with_reference,omitempty"`
	Notes               string `json:"notes,omitempty"`
}

// Table is a small table of text cells, for what fits neither figures nor
// systems (a scaling curve's sizes, a fitted model).
type Table struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// Machine describes where the numbers were taken.
type Machine struct {
	Hostname  string `json:"hostname"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	MemoryGiB int    `json:"memory_gib,omitempty"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Go        string `json:"go"`
}

// ThisMachine reads the machine's description.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = int(math.Round(float64(kb) / (1 << 20)))
		}
	}
	return m
}

// Report is everything one command measured.
type Report struct {
	Command    string             `json:"command"`
	Title      string             `json:"title"`
	Started    time.Time          `json:"started"`
	Duration   time.Duration      `json:"duration_ns"`
	Machine    Machine            `json:"machine"`
	Dataset    map[string]any     `json:"dataset"`
	Figures    []Figure           `json:"figures"`
	Systems    []System           `json:"systems,omitempty"`
	Tables     []Table            `json:"tables,omitempty"`
	Series     []Series           `json:"series,omitempty"`
	Histograms []Histogram        `json:"-"`
	Summaries  map[string]Summary `json:"distributions,omitempty"`
	Notes      []string           `json:"notes,omitempty"`
}

// New starts the report of command on this machine, now, with a copy of
// dataset (what the records were) that the command adds to.
func New(command, title string, dataset map[string]any) *Report {
	r := &Report{Command: command, Title: title, Started: time.Now(), Machine: ThisMachine(), Dataset: maps.Clone(dataset)}
	if r.Dataset == nil {
		r.Dataset = map[string]any{}
	}
	return r
}

// Write creates dir and writes report.json, report.md and the charts.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// JSON has no NaN or Inf: drop such points and figures' values.
	for i := range r.Series {
		r.Series[i].Points = slices.DeleteFunc(slices.Clone(r.Series[i].Points), func(p Point) bool { return !finite(p.X) || !finite(p.Y) })
	}
	for i := range r.Figures {
		if !finite(r.Figures[i].Value) {
			r.Figures[i].Value = 0
			r.Figures[i].Note = strings.TrimSpace(r.Figures[i].Note + " (not measured)")
		}
	}
	r.Summaries = map[string]Summary{}
	for _, h := range r.Histograms {
		if h.Dist == nil || h.Dist.Count() == 0 {
			continue
		}
		enc, err := h.Dist.Encoded()
		if err != nil {
			return err
		}
		r.Summaries[h.Name] = Summary{Percentiles: h.Dist.Percentiles(), HDR: enc}
		if err := writeHgrm(filepath.Join(dir, slug(h.Name)+".hgrm"), h.Dist); err != nil {
			return err
		}
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	var charts []string // file names, in order
	write := func(name, svg string) error {
		charts = append(charts, name)
		return os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644)
	}
	for _, s := range r.Series {
		if err := write("series-"+slug(s.Name)+".svg", LineChart(s.Name, "seconds since start", s.Unit, []Series{s})); err != nil {
			return err
		}
	}
	for _, h := range r.Histograms {
		if err := write("histogram-"+slug(h.Name)+".svg", HistogramChart(h)); err != nil {
			return err
		}
	}
	if len(r.Systems) > 0 {
		if err := write("systems.svg", SystemsChart(r.Systems)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.markdown(charts)), 0o644)
}

func writeHgrm(path string, d *Distribution) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := d.WritePercentiles(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func (r *Report) markdown(charts []string) string {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	fmt.Fprintf(w, "# %s\n\n`%s`, started %s, took %s.\n\n", r.Title, r.Command, r.Started.Format(time.RFC3339), r.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %d GiB, %s/%s, %s, host %s.\n\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryGiB,
		r.Machine.OS, r.Machine.Arch, r.Machine.Go, r.Machine.Hostname)
	if len(r.Dataset) > 0 {
		keys := make([]string, 0, len(r.Dataset))
		for k := range r.Dataset {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintln(w, "## Dataset\n\n| | |\n| --- | --- |")
		for _, k := range keys {
			fmt.Fprintf(w, "| %s | %v |\n", k, r.Dataset[k])
		}
		fmt.Fprintln(w)
	}
	if len(r.Figures) > 0 {
		fmt.Fprintln(w, "## Figures\n\n| figure | value | unit | note |\n| --- | ---: | --- | --- |")
		for _, f := range r.Figures {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Name, num(f.Value), f.Unit, f.Note)
		}
		fmt.Fprintln(w)
	}
	if len(r.Systems) > 0 {
		best := math.Inf(1)
		for _, s := range r.Systems {
			if s.F2ms.P99 > 0 {
				best = min(best, s.F2ms.P99)
			}
		}
		fmt.Fprintln(w, "## Systems\n\n| system | F1 p50 ms | F1 p99 ms | F2 p50 ms | F2 p99 ms | F2 p99 × fastest | same answers |\n| --- | ---: | ---: | ---: | ---: | ---: | :---: |")
		for _, s := range r.Systems {
			ratio := "–"
			if s.F2ms.P99 > 0 && !math.IsInf(best, 1) {
				ratio = fmt.Sprintf("%.1f×", s.F2ms.P99/best)
			}
			ok := "–"
			if s.AgreesWithReference != nil {
				ok = map[bool]string{true: "✓", false: "✗"}[*s.AgreesWithReference]
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", s.Name, num(s.F1ms.P50), num(s.F1ms.P99), num(s.F2ms.P50), num(s.F2ms.P99), ratio, ok)
		}
		fmt.Fprintln(w)
	}
	for _, t := range r.Tables {
		fmt.Fprintf(w, "## %s\n\n|", t.Title)
		for _, h := range t.Header {
			fmt.Fprintf(w, " %s |", cell(h))
		}
		fmt.Fprint(w, "\n|")
		for range t.Header {
			fmt.Fprint(w, " --- |")
		}
		fmt.Fprintln(w)
		for _, row := range t.Rows {
			fmt.Fprint(w, "|")
			for _, c := range row {
				fmt.Fprintf(w, " %s |", cell(c))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	if len(r.Summaries) > 0 {
		names := make([]string, 0, len(r.Summaries))
		for n := range r.Summaries {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintln(w, "## Distributions\n\n| | n | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: |")
		for _, n := range names {
			p := r.Summaries[n]
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", n, p.N, num(p.P50), num(p.P90), num(p.P99), num(p.Max))
		}
		fmt.Fprintln(w)
	}
	if len(charts) > 0 {
		fmt.Fprintln(w, "## Charts")
		fmt.Fprintln(w)
		for _, c := range charts {
			fmt.Fprintf(w, "![%s](%s)\n\n", strings.TrimSuffix(c, ".svg"), c)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "## Notes")
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	_ = w.Flush()
	return b.String()
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// num formats a value with sensible precision.
func num(v float64) string {
	switch a := math.Abs(v); {
	case v == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// slug turns a name into a safe file name part.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if out == "" {
		return "chart"
	}
	return out
}
