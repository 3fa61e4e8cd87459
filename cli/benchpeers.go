package cli

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/bench/peers/chjoin"
	"github.com/truyvet/truyvet/bench/peers/naive"
	"github.com/truyvet/truyvet/bench/peers/postgres"
	"github.com/truyvet/truyvet/bench/report"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/query/graph"
)

// runBenchPeers answers the same random cases with truyvet and with the
// peers a health department would otherwise use, on the same records, and
// reports latency side by side with whether each agrees.
func runBenchPeers(ctx context.Context, env Env) error {
	var (
		cf            cityFlags
		cases         int
		pgURL, chAddr string
		withNaive     bool
		out           string
	)
	fs := flag.NewFlagSet("bench peers", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cf.register(fs)
	fs.IntVar(&cases, "cases", 50, "random cases per depth")
	fs.StringVar(&pgURL, "postgres-url", "", "PostgreSQL peer (deploy/local/up.sh prints TRUYVET_POSTGRES_URL); empty: skipped")
	fs.StringVar(&chAddr, "clickhouse-addr", "", "ClickHouse self-join peer (native protocol); empty: skipped")
	fs.BoolVar(&withNaive, "naive", true, "include the naive in-memory peer (it is also the agreement reference)")
	fs.StringVar(&out, "out", "truyvet-peers", "directory for report.json, report.md and charts")
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	cfg, err := cf.config(env.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	started := time.Now()
	city, err := synth.New(cfg)
	if err != nil {
		return err
	}
	recs := cityRecords(city)
	from, to := city.Span()
	w := graph.Window{From: from.Unix(), To: to.Unix()}
	fmt.Fprintf(env.Stderr, "city: %d people, %d check-in and %d encounter records\n", cfg.People, len(recs.Visits), len(recs.Encounters))

	// truyvet: the embedded store, loaded through the processor.
	emb, err := loadEmbedded(ctx, &recs)
	if err != nil {
		return err
	}
	defer emb.close()
	loads := map[string]time.Duration{"truyvet (embedded)": emb.load + emb.compact}
	engine := graph.NewEngine(emb.store)

	var ps []peers.Peer
	if withNaive {
		ps = append(ps, naive.New())
	}
	if pgURL != "" {
		p, err := postgres.New(ctx, pgURL, fmt.Sprintf("peers_%d", env.Now().UnixNano()))
		if err != nil {
			return err
		}
		defer func() { _ = p.Drop(context.WithoutCancel(ctx)); _ = p.Close() }()
		ps = append(ps, p)
	}
	if chAddr != "" {
		p, err := chjoin.New(ctx, splitList(chAddr), fmt.Sprintf("peers_%d", env.Now().UnixNano()))
		if err != nil {
			return err
		}
		defer func() { _ = p.Drop(context.WithoutCancel(ctx)); _ = p.Close() }()
		ps = append(ps, p)
	}
	for _, p := range ps {
		fmt.Fprintf(env.Stderr, "loading %s\n", p.Name())
		t0 := time.Now()
		if err := p.Load(ctx, recs.Visits, recs.Encounters); err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
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
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(depth)))
		for i := range cases {
			q := graph.Query{Case: uint32(rng.IntN(cfg.People) + 1), Depth: depth, MinSeconds: 900, Window: w}
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
					return err
				}
				add(name, time.Since(t0))
				*dst = r
			}
			var want []graph.Node
			for j, p := range ps {
				t0 := time.Now()
				nodes, err := peers.Exposures(ctx, p, q)
				if err != nil {
					return fmt.Errorf("%s: %w", p.Name(), err)
				}
				add(p.Name(), time.Since(t0))
				if j == 0 {
					want = nodes
				} else if !peers.SameContacts(want, nodes) {
					results[p.Name()].disagree++
				}
			}
			if want != nil && !peers.SameContacts(want, res.Nodes) {
				results[tvList].disagree++
			}
			if want != nil && !peers.SameContacts(want, full.Nodes) {
				results[tvGraph].disagree++
			}
			fmt.Fprintf(env.Stderr, "\rdepth %d: %d/%d cases", depth, i+1, cases)
		}
		fmt.Fprintln(env.Stderr)
	}

	r := &report.Report{Command: "truyvet bench peers", Title: "truyvet and its peers on the same records and cases",
		Started: started, Machine: report.ThisMachine(), Dataset: cf.dataset(cfg)}
	r.Dataset["checkin_records"], r.Dataset["encounter_records"], r.Dataset["cases_per_depth"] = len(recs.Visits), len(recs.Encounters), cases
	names := append([]string{tvList, tvGraph}, func() []string {
		var n []string
		for _, p := range ps {
			n = append(n, p.Name())
		}
		return n
	}()...)
	for _, n := range names {
		s := results[n]
		agrees := len(ps) > 0 && s.disagree == 0
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
	if err := r.Write(out); err != nil {
		return err
	}
	for _, s := range r.Systems {
		fmt.Fprintf(env.Stdout, "%-36s F1 p50 %8.2f ms p99 %8.2f ms   F2 p50 %8.2f ms p99 %8.2f ms   agrees %v\n",
			s.Name, s.F1ms.P50, s.F1ms.P99, s.F2ms.P50, s.F2ms.P99, s.AgreesWithReference)
	}
	fmt.Fprintf(env.Stdout, "report in %s\n", out)
	return nil
}
