package report

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/require"
)

func TestPercentilesOf(t *testing.T) {
	require.Equal(t, Percentiles{}, PercentilesOf(nil))
	require.Equal(t, Percentiles{}, PercentilesOf([]float64{math.NaN(), math.Inf(1)}))
	s := make([]float64, 100)
	for i := range s {
		s[i] = float64(100 - i) // 100..1
	}
	require.Equal(t, Percentiles{P50: 50, P90: 90, P99: 99, Max: 100, N: 100}, PercentilesOf(s))
	require.Equal(t, Percentiles{P50: 7, P90: 7, P99: 7, Max: 7, N: 1}, PercentilesOf([]float64{7}))
}

func requireXML(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err, svg)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	agrees := true
	r := &Report{Command: "truyvet bench peers", Title: "peers <&\"> test", Started: time.Unix(1_790_000_000, 0), Duration: time.Second,
		Machine: ThisMachine(), Dataset: map[string]any{"people": 1000},
		Figures: []Figure{{Name: "throughput", Value: 12345.6, Unit: "events/s"}},
		Systems: []System{
			{Name: "truyvet", F1ms: Percentiles{P50: 0.2, P99: 6}, F2ms: Percentiles{P50: 3, P99: 300}, AgreesWithReference: &agrees},
			{Name: "postgres <gist>", F1ms: Percentiles{P50: 20, P99: 80}, F2ms: Percentiles{P50: 900, P99: 9000}},
		},
		Series:     []Series{{Name: "lag", Unit: "records", Points: []Point{{0, 0}, {1, 50}, {2, math.NaN()}, {3, 10}}}, {Name: "empty"}},
		Histograms: []Histogram{{Name: "latency", Unit: "ms", Dist: DistributionOf([]float64{0, 0.5, 1, 2, 3, 100, 2000})}, {Name: "none", Unit: "ms"}},
		Notes:      []string{"a note"},
		Tables:     []Table{{Title: "Sizes", Header: []string{"people", "a|b"}, Rows: [][]string{{"1 000", "x\ny"}}}},
	}
	require.NoError(t, r.Write(dir))

	var raw map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &raw))
	sys := raw["systems"].([]any)
	require.Len(t, sys, 2)
	first := sys[0].(map[string]any)
	for _, k := range []string{"name", "f1_ms", "f2_ms", "agrees_with_reference"} {
		require.Contains(t, first, k)
	}
	require.Contains(t, first["f2_ms"], "p99")
	require.Contains(t, first["f1_ms"], "p50")
	require.NotContains(t, sys[1], "agrees_with_reference", "unchecked answers claim nothing")
	dists := raw["distributions"].(map[string]any)
	require.Len(t, dists, 1, "an empty distribution is left out")
	lat := dists["latency"].(map[string]any)
	require.InDelta(t, 2.0, lat["p50"], 0.01)
	require.InDelta(t, 2000.0, lat["max"], 2)
	require.NotEmpty(t, lat["hdr"])
	hgrm, err := os.ReadFile(filepath.Join(dir, "latency.hgrm"))
	require.NoError(t, err)
	require.Contains(t, string(hgrm), "#[Max")

	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	svgs := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".svg") {
			continue
		}
		svgs++
		require.Contains(t, string(md), "("+e.Name()+")", "the markdown shows every chart")
		svg, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		requireXML(t, string(svg))
	}
	require.Equal(t, 5, svgs)
	require.Contains(t, string(md), "| postgres <gist> |")
	require.Contains(t, string(md), "| 1.0× | ✓ |\n| postgres <gist> | 20.0 | 80.0 | 900.0 | 9000 | 30.0× | – |", "checked and unchecked systems")
	require.Contains(t, string(md), "30.0×")
	require.Contains(t, string(md), "## Sizes\n\n| people | a\\|b |\n| --- | --- |\n| 1 000 | x y |\n")
}

func TestChartsEscapeAndSurviveEdgeCases(t *testing.T) {
	for _, pts := range [][]Point{nil, {{1, 1}}, {{1, 5}, {2, 5}}, {{0, -3}, {1, -1}}, {{math.Inf(1), 1}}} {
		requireXML(t, LineChart(`a<b>&"c"`+"\x01", "x", "y", []Series{{Name: "s<1>", Points: pts}}))
	}
	for _, xs := range [][]float64{nil, {0}, {-1, -2}, {5, 5, 5}, {1e-6, 1e9}} {
		requireXML(t, HistogramChart(Histogram{Name: "h", Unit: "ms", Dist: DistributionOf(xs)}))
	}
	requireXML(t, HistogramChart(Histogram{Name: "nil"}))
	requireXML(t, SystemsChart(nil))
	requireXML(t, SystemsChart([]System{{Name: "zero"}}))
	require.Equal(t, "chart", slug("<>"))
	require.Equal(t, "f1-latency", slug("F1 latency"))
}

// The HDR distribution agrees with exact nearest-rank percentiles to within
// its precision, survives an encode/decode round trip, corrects coordinated
// omission and clamps what is out of its range.
func TestDistribution(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ms []float64
	d := NewDistribution()
	for range 100_000 {
		v := math.Exp(rng.NormFloat64()*1.5) * 5 // lognormal around 5 ms
		ms = append(ms, v)
		d.Record(time.Duration(v * float64(time.Millisecond)))
	}
	exact, hdr := PercentilesOf(ms), d.Percentiles()
	require.Equal(t, 100_000, hdr.N)
	for _, pair := range [][2]float64{{exact.P50, hdr.P50}, {exact.P90, hdr.P90}, {exact.P99, hdr.P99}, {exact.Max, hdr.Max}} {
		require.InEpsilon(t, pair[0], pair[1], 0.002)
	}
	enc, err := d.Encoded()
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(enc)
	require.NoError(t, err)
	back, err := hdrhistogram.Decode(raw)
	require.NoError(t, err)
	require.Equal(t, int64(100_000), back.TotalCount())
	require.Equal(t, d.h.ValueAtQuantile(99), back.ValueAtQuantile(99))

	out := NewDistribution()
	out.Record(0)
	out.Record(2 * time.Hour)
	require.Equal(t, int64(2), out.clamped)
	require.InDelta(t, 3_600_000.0, out.Percentiles().Max, 3_600)
}

func FuzzLineChart(f *testing.F) {
	f.Add("name", 1.0, 2.0, 3.0)
	f.Fuzz(func(t *testing.T, name string, a, b, c float64) {
		requireXML(t, LineChart(name, "x", "y", []Series{{Name: name, Points: []Point{{a, b}, {b, c}, {c, a}}}}))
	})
}
