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
	results := map[string]*stats{"truyvet": {}}
	for _, p := range ps {
		results[p.Name()] = &stats{}
	}
	for _, depth := range []int{1, 2} {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(depth)))
		for i := range cases {
			q := graph.Query{Case: uint32(rng.IntN(cfg.People) + 1), Depth: depth, MinSeconds: 900, Window: w}
			t0 := time.Now()
			res, err := engine.Exposures(ctx, q)
			if err != nil {
				return err
			}
			add := func(name string, d time.Duration) {
				ms := float64(d.Microseconds()) / 1000
				if depth == 1 {
					results[name].f1 = append(results[name].f1, ms)
				} else {
					results[name].f2 = append(results[name].f2, ms)
				}
			}
			add("truyvet", time.Since(t0))
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
				results["truyvet"].disagree++
			}
			fmt.Fprintf(env.Stderr, "\rdepth %d: %d/%d cases", depth, i+1, cases)
		}
		fmt.Fprintln(env.Stderr)
	}

	r := &report.Report{Command: "truyvet bench peers", Title: "truyvet and its peers on the same records and cases",
		Started: started, Machine: report.ThisMachine(), Dataset: cf.dataset(cfg)}
	r.Dataset["checkin_records"], r.Dataset["encounter_records"], r.Dataset["cases_per_depth"] = len(recs.Visits), len(recs.Encounters), cases
	names := append([]string{"truyvet"}, func() []string {
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
		if n == "truyvet" {
			note = "embedded store, engine in process"
		}
		if len(ps) > 0 && n == ps[0].Name() {
			note = "the agreement reference here (itself checked against query/graph/reference in the test suite)"
		}
		if s.disagree > 0 {
			note += fmt.Sprintf(" %d answers differ", s.disagree)
		}
		r.Systems = append(r.Systems, report.System{Name: n, F1ms: report.PercentilesOf(s.f1), F2ms: report.PercentilesOf(s.f2), AgreesWithReference: agrees, Notes: note})
		key := n
		if n == "truyvet" {
			key = "truyvet (embedded)"
		}
		r.Figures = append(r.Figures, report.Figure{Name: "load: " + n, Value: loads[key].Seconds(), Unit: "s"})
	}
	if len(r.Systems) > 1 {
		tv := r.Systems[0].F2ms.P99
		best := 0.0
		for _, s := range r.Systems[1:] {
			if best == 0 || s.F2ms.P99 < best {
				best = s.F2ms.P99
			}
		}
		if tv > 0 {
			r.Figures = append(r.Figures, report.Figure{Name: "best peer's F2 p99 ÷ truyvet's", Value: best / tv, Unit: "×", Note: "target ≥ 20×"})
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
