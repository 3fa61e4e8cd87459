package peers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/truyvet/truyvet/bench/embedded"
	"github.com/truyvet/truyvet/bench/report"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/query/graph"
)

// Config is one `truyvet bench peers` run.
type Config struct {
	City    synth.Config
	Dataset map[string]any // what the report says about the records (tier, overrides)
	Cases   int            // random cases per depth
	// Peers answer beside truyvet; the first is the agreement reference.
	// The caller opens and closes them; Run loads them with the city.
	Peers    []Peer
	Progress io.Writer // progress lines; nil: none
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("peers: invalid config")

// Run answers the same random cases with truyvet (the embedded store, loaded
// through the processor, engine in process) and with each peer, on the same
// records, and reports latency side by side with whether each agrees with
// the reference.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	if cfg.Cases < 1 {
		return nil, fmt.Errorf("%w: cases must be at least 1", ErrConfig)
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	started := time.Now()
	city, err := synth.New(cfg.City)
	if err != nil {
		return nil, err
	}
	recs := embedded.Records(city)
	from, to := city.Span()
	w := graph.Window{From: from.Unix(), To: to.Unix()}
	fmt.Fprintf(progress, "city: %d people, %d check-in and %d encounter records\n", cfg.City.People, len(recs.Visits), len(recs.Encounters))

	emb, err := embedded.Load(ctx, &recs)
	if err != nil {
		return nil, err
	}
	defer func() { _ = emb.Close() }()
	loads := map[string]time.Duration{"truyvet (embedded)": emb.LoadTime + emb.CompactTime}
	engine := graph.NewEngine(emb)
	ps := cfg.Peers
	for _, p := range ps {
		fmt.Fprintf(progress, "loading %s\n", p.Name())
		t0 := time.Now()
		if err := p.Load(ctx, recs.Visits, recs.Encounters); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name(), err)
		}
		loads[p.Name()] = time.Since(t0)
	}

	type stats struct {
		f1, f2   []float64
		disagree int
	}
	// truyvet answers each case twice: the contact list (what the peers
	// compute: people, tiers, times, channels, exposed-by) and the full graph
	// (with every edge and exposure site as well).
	const tvList, tvGraph = "truyvet", "truyvet (full graph)"
	results := map[string]*stats{tvList: {}, tvGraph: {}}
	for _, p := range ps {
		results[p.Name()] = &stats{}
	}
	for _, depth := range []int{1, 2} {
		rng := rand.New(rand.NewPCG(cfg.City.Seed, uint64(depth)))
		for i := range cfg.Cases {
			q := graph.Query{Case: uint32(rng.IntN(cfg.City.People) + 1), Depth: depth, MinSeconds: 900, Window: w}
			add := func(name string, d time.Duration) {
				ms := float64(d.Microseconds()) / 1000
				if depth == 1 {
					results[name].f1 = append(results[name].f1, ms)
				} else {
					results[name].f2 = append(results[name].f2, ms)
				}
			}
			list := q
			list.ContactsOnly = true
			var res, full *graph.Result
			// Alternate which goes first, so neither always finds the
			// other's reads in the cache.
			for k := range 2 {
				name, qq, dst := tvList, list, &res
				if (i+k)%2 == 1 {
					name, qq, dst = tvGraph, q, &full
				}
				t0 := time.Now()
				r, err := engine.Exposures(ctx, qq)
				if err != nil {
					return nil, err
				}
				add(name, time.Since(t0))
				*dst = r
			}
			var want []graph.Node
			for j, p := range ps {
				t0 := time.Now()
				nodes, err := Exposures(ctx, p, q)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", p.Name(), err)
				}
				add(p.Name(), time.Since(t0))
				if j == 0 {
					want = nodes
				} else if !SameContacts(want, nodes) {
					results[p.Name()].disagree++
				}
			}
			if want != nil && !SameContacts(want, res.Nodes) {
				results[tvList].disagree++
			}
			if want != nil && !SameContacts(want, full.Nodes) {
				results[tvGraph].disagree++
			}
			fmt.Fprintf(progress, "\rdepth %d: %d/%d cases", depth, i+1, cfg.Cases)
		}
		fmt.Fprintln(progress)
	}

	r := report.New("truyvet bench peers", "truyvet and its peers on the same records and cases", cfg.Dataset)
	r.Started = started
	r.Dataset["checkin_records"], r.Dataset["encounter_records"], r.Dataset["cases_per_depth"] = len(recs.Visits), len(recs.Encounters), cfg.Cases
	names := []string{tvList, tvGraph}
	for _, p := range ps {
		names = append(names, p.Name())
	}
	for _, n := range names {
		s := results[n]
		var agrees *bool // unchecked without a reference
		if len(ps) > 0 {
			ok := s.disagree == 0
			agrees = &ok
		}
		note := ""
		switch n {
		case tvList:
			note = "embedded store, engine in process; the contact list, as the peers compute it"
		case tvGraph:
			note = "the same, with every edge and exposure site"
		}
		if len(ps) > 0 && n == ps[0].Name() {
			note = "the agreement reference here (itself checked against query/graph/reference in the test suite)"
		}
		if s.disagree > 0 {
			note += fmt.Sprintf(" %d answers differ", s.disagree)
		}
		r.Systems = append(r.Systems, report.System{Name: n, F1ms: report.PercentilesOf(s.f1), F2ms: report.PercentilesOf(s.f2), AgreesWithReference: agrees, Notes: note})
		key := n
		if n == tvList || n == tvGraph {
			key = "truyvet (embedded)"
		}
		r.Figures = append(r.Figures, report.Figure{Name: "load: " + n, Value: loads[key].Seconds(), Unit: "s"})
	}
	if len(r.Systems) > 2 {
		for _, pct := range []struct {
			name string
			of   func(report.Percentiles) float64
		}{{"p50", func(p report.Percentiles) float64 { return p.P50 }}, {"p99", func(p report.Percentiles) float64 { return p.P99 }}} {
			best := 0.0
			for _, s := range r.Systems[2:] {
				if v := pct.of(s.F2ms); best == 0 || v < best {
					best = v
				}
			}
			for _, tv := range r.Systems[:2] {
				if v := pct.of(tv.F2ms); v > 0 {
					r.Figures = append(r.Figures, report.Figure{Name: fmt.Sprintf("best peer's F2 %s ÷ %s's", pct.name, tv.Name), Value: best / v, Unit: "×", Note: "target ≥ 20×"})
				}
			}
		}
	}
	r.Duration = time.Since(r.Started)
	return r, nil
}
