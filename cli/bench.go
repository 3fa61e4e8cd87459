package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/bench/dataset"
	"github.com/truyvet/truyvet/bench/load"
	"github.com/truyvet/truyvet/bench/lookup"
	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/bench/peers/chjoin"
	"github.com/truyvet/truyvet/bench/peers/naive"
	"github.com/truyvet/truyvet/bench/peers/postgres"
	"github.com/truyvet/truyvet/bench/replay"
	"github.com/truyvet/truyvet/bench/scaling"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/chstore"
)

// runBench is `truyvet bench <generate|load|replay|query|peers|scale>`.
func runBench(ctx context.Context, env Env) error {
	subs := map[string]func(context.Context, Env) error{
		"generate": runBenchGenerate,
		"load":     runBenchLoad,
		"replay":   runBenchReplay,
		"query":    runBenchQuery,
		"peers":    runBenchPeers,
		"scale":    runBenchScale,
	}
	if len(env.Args) == 0 || subs[env.Args[0]] == nil {
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("%w: truyvet bench <%s> [flags]", errUsage, strings.Join(names, "|"))
	}
	sub := env
	sub.Args = env.Args[1:]
	return subs[env.Args[0]](ctx, sub)
}

// cityFlags choose a synthetic city.
type cityFlags struct{ synth.Choice }

func (c *cityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Tier, "tier", "demo", "synthetic population: demo (4 000 people), S (a city: 1 M people, 10 k venues, one day), M (a country of 63 provinces: 10 M people, 100 k venues, 14 days) or L/k (1/k of the nation over the 14 days of Tết, with the travel surge), optionally with :tet, :reunification or :ordinary; e.g. "+strings.Join(synth.PresetNames(), ", "))
	fs.IntVar(&c.People, "people", 0, "override the tier's population")
	fs.IntVar(&c.Venues, "venues", 0, "override the tier's venue count")
	fs.IntVar(&c.Days, "days", 0, "override the tier's days")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed; the same seed gives the same city")
	fs.StringVar(&c.End, "end", "now", `when the data ends: "now" (datasets are shifted to end near the server's clock) or RFC 3339`)
	fs.Float64Var(&c.Adoption, "adoption", 0, "override the share of people who scan QR codes (0..1)")
	fs.Float64Var(&c.CheckoutRate, "checkout-rate", 0, "override the share of stays that also send a check-out (0..1)")
	fs.Float64Var(&c.BluetoothRate, "bluetooth-rate", 0, "override the share of people running Bluezone (0..1)")
	fs.BoolVar(&c.Declarations, "declarations", false, "also file health declarations (entrants' flights, coach trips, families)")
}

// benchFlags parses a bench command's flags. Unlike the serving commands'
// flags, they are never filled from a deployment's environment variables
// (TRUYVET_KAFKA_*, TRUYVET_CLICKHOUSE_*, TRUYVET_POSTGRES_*, which
// deploy/local/up.sh tells users to export): a bench command goes where its
// own command line says, never somewhere else because of the shell it runs in.
func benchFlags(fs *flag.FlagSet, env Env) error {
	return parseFlags(fs, env.Args, func(name string) (string, bool) {
		for _, p := range []string{"KAFKA_", "CLICKHOUSE_", "POSTGRES_"} {
			if strings.HasPrefix(name, EnvPrefix+p) {
				return "", false
			}
		}
		return env.LookupEnv(name)
	})
}

// benchCity parses a bench command's flags and gives the city they choose.
func benchCity(fs *flag.FlagSet, cf *cityFlags, env Env) (synth.Config, error) {
	if err := benchFlags(fs, env); err != nil {
		return synth.Config{}, err
	}
	cfg, err := cf.Config(env.Now())
	if err != nil {
		return cfg, fmt.Errorf("%w: --%w", errUsage, err)
	}
	return cfg, nil
}

func benchFlagSet(env Env, name string, cf *cityFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cf.register(fs)
	return fs
}

// runBenchGenerate writes a city's records as gzipped NDJSON, in upload order,
// with dataset.json describing them.
func runBenchGenerate(ctx context.Context, env Env) error {
	var cf cityFlags
	fs := benchFlagSet(env, "generate", &cf)
	out := fs.String("out", "truyvet-dataset", "directory for checkins.ndjson.gz, proximity.ndjson.gz and dataset.json")
	cfg, err := benchCity(fs, &cf, env)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := dataset.Write(ctx, dataset.Config{City: cfg, Dataset: cf.Describe(cfg), Out: *out})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %d check-in and %d encounter records (%s → %s) to %s in %s\n",
		res.Visits, res.Encounters, res.From.Format(time.RFC3339), res.To.Format(time.RFC3339), *out, time.Since(start).Round(time.Millisecond))
	return nil
}

// runBenchReplay streams a city to ingest, or with --kafka-brokers straight
// to Kafka, and reports what it measured and which way the records went.
func runBenchReplay(ctx context.Context, env Env) error {
	var (
		cf          cityFlags
		kf          kafkaFlags
		rc          = replay.DefaultConfig()
		status, out string
	)
	fs := benchFlagSet(env, "replay", &cf)
	kf.register(fs) // --kafka-brokers set: produce straight to Kafka, bypassing ingest
	fs.StringVar(&rc.IngestURL, "url", "http://127.0.0.1:8080", "base URL of ingest (all-in-one or `truyvet ingest`)")
	fs.StringVar(&status, "status-url", "", "base URL(s) whose /v1/status count processed records, comma-separated (all-in-one: the same as --url; distributed: every process); empty: the --url")
	venues := "-"
	fs.StringVar(&venues, "venues-url", venues, "base URL of the venue registry (all-in-one or `truyvet query`) to import the city's venues into before replaying; default the --url; empty: none")
	fs.Float64Var(&rc.Rate, "rate", 0, "target events/s; 0: as fast as it goes")
	fs.IntVar(&rc.Clients, "clients", rc.Clients, "concurrent HTTP clients")
	fs.BoolVar(&rc.Prepare, "prepare", false, "build every request before the clock starts (memory: about 150 bytes a record), so the timed run only sends")
	secretFlag(fs, &rc.Token, "token", "bearer token of an account with the app role (TRUYVET_TOKEN)")
	fs.StringVar(&out, "out", "truyvet-replay", "directory for report.json, report.md and charts")
	cfg, err := benchCity(fs, &cf, env)
	if err != nil {
		return err
	}
	rc.StatusURLs = splitList(status)
	if rc.VenuesURL = venues; venues == "-" {
		rc.VenuesURL = rc.IngestURL
	}
	ds := cf.Describe(cfg)
	ds["prepared"] = rc.Prepare
	if kf.brokers != "" {
		kcfg, err := kf.config()
		if err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		if len(rc.StatusURLs) == 0 {
			return fmt.Errorf("%w: --status-url is required with --kafka-brokers (the processors' base URLs)", errUsage)
		}
		prod, err := replay.OpenKafka(ctx, kcfg)
		if err != nil {
			return err
		}
		defer func() { _ = prod.Close() }()
		rc.Kafka, rc.IngestURL = prod, ""
		ds["kafka_brokers"], ds["kafka_topic_prefix"] = kf.brokers, kf.cfg.TopicPrefix
	}
	if len(rc.StatusURLs) == 0 {
		rc.StatusURLs = []string{rc.IngestURL}
	}
	if err := rc.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	city, err := synth.New(cfg)
	if err != nil {
		return err
	}
	started := time.Now()
	res, err := replay.Run(ctx, city, rc, env.Stderr)
	if err != nil {
		return err
	}
	if err := res.Report(rc, ds, started).Write(out); err != nil {
		return err
	}
	lat := res.Latency.Percentiles()
	fmt.Fprintf(env.Stdout, "%d records in %s via %s: %.0f events/s; request p50 %.1f ms, p99 %.1f ms; report in %s\n",
		res.Events, res.Sent.Round(time.Millisecond), replayPath(rc), float64(res.Events)/res.Sent.Seconds(), lat.P50, lat.P99, out)
	return nil
}

func replayPath(rc replay.Config) string {
	if rc.Kafka != nil {
		return "Kafka"
	}
	return rc.IngestURL
}

// runBenchLoad writes a city straight into a store with the processor's
// writer and asks random cases of it through the query server's engine.
func runBenchLoad(ctx context.Context, env Env) error {
	var (
		cf  cityFlags
		sf  storeFlags
		lc  load.Config
		out string
	)
	fs := benchFlagSet(env, "load", &cf)
	sf.register(fs, true)
	fs.IntVar(&lc.Batch, "batch", load.DefaultBatch, "records per write (one columnar insert per table on ClickHouse)")
	fs.IntVar(&lc.Writers, "writers", 2, "batches built and written at once")
	fs.IntVar(&lc.Cases, "cases", 100, "random cases asked at depth 1 and at depth 2 after the load; 0: none")
	fs.Float64Var(&lc.MinMinutes, "min-minutes", 15, "contact threshold of the queries")
	fs.BoolVar(&lc.QueryOnly, "query-only", false, "skip the load: the store already holds this city (same flags), only ask the cases")
	fs.BoolVar(&lc.ContactsOnly, "contacts-only", false, "ask for contact lists (people and their venues, as tracers' lists) rather than whole graphs with edges")
	depths := fs.String("depths", "1,2", "depths to ask, comma-separated")
	fs.DurationVar(&lc.Settle, "settle", 0, "after the load, wait up to this long for the bytes on disk to stop changing (merges) before measuring them again")
	fs.StringVar(&out, "out", "truyvet-load", "directory for report.json, report.md and charts")
	cfg, err := benchCity(fs, &cf, env)
	if err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	lc.City, lc.Dataset, lc.Progress = cfg, cf.Describe(cfg), env.Stderr
	for d := range strings.SplitSeq(*depths, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(d))
		if err != nil {
			return fmt.Errorf("%w: --depths: %q is not a depth", errUsage, d)
		}
		lc.Depths = append(lc.Depths, n)
	}
	if err := lc.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := sf.open(ctx, &startup{timeout: 30 * time.Second, log: log}, prometheus.NewRegistry(), log)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	t := load.Target{Sink: s, Layout: s.Layout(), Engine: graph.NewEngine(s, engineOptions(s)...)}
	if sz, ok := s.(store.Sizer); ok {
		t.Sizer = sz
	}
	switch c := s.(type) {
	case *chstore.Store:
		t.Compact = settleDays(c)
	case interface{ Compact(context.Context) error }:
		t.Compact = c.Compact
	}
	r, err := load.Run(ctx, lc, t)
	if err != nil {
		return err
	}
	if err := r.Write(out); err != nil {
		return err
	}
	for _, f := range r.Figures {
		fmt.Fprintf(env.Stdout, "%-48s %14.1f %s\n", f.Name, f.Value, f.Unit)
	}
	fmt.Fprintf(env.Stdout, "report in %s\n", out)
	return nil
}

// settleDays merges every loaded day but the last into one part per table,
// as the process stage's compaction (chstore.RunCompaction) would have by
// the time the last day has settled, a pass of CompactPerPass partitions a
// shard at a time until none is left.
func settleDays(s *chstore.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		days, err := s.Days(ctx)
		if err != nil || len(days) < 2 {
			return err
		}
		for range maxSettlePasses {
			n, err := s.Compact(ctx, days[len(days)-1], chstore.CompactPerPass)
			if err != nil || n == 0 {
				return err
			}
		}
		return fmt.Errorf("days still in several parts after %d merge passes", maxSettlePasses)
	}
}

// maxSettlePasses bounds settleDays: 28 days of seven tables are six passes.
const maxSettlePasses = 64

// runBenchQuery asks a running truyvet for random cases' exposure graphs.
func runBenchQuery(ctx context.Context, env Env) error {
	var (
		cf  cityFlags
		lc  lookup.Config
		out string
	)
	fs := benchFlagSet(env, "query", &cf)
	fs.StringVar(&lc.URL, "url", "http://127.0.0.1:8080", "base URL of the query API (all-in-one or `truyvet query`)")
	fs.IntVar(&lc.Cases, "cases", 100, "random cases per depth")
	fs.Float64Var(&lc.MinMinutes, "min-minutes", 15, "contact threshold")
	secretFlag(fs, &lc.Token, "token", "bearer token of a national epidemiologist account (TRUYVET_TOKEN)")
	fs.StringVar(&out, "out", "truyvet-query", "directory for report.json, report.md and charts")
	cfg, err := benchCity(fs, &cf, env)
	if err != nil {
		return err
	}
	city, err := synth.New(cfg)
	if err != nil {
		return err
	}
	lc.People, lc.Seed = cfg.People, cfg.Seed
	lc.From, lc.To = city.Span()
	started := time.Now()
	res, err := lookup.Run(ctx, lc, env.Stderr)
	if err != nil {
		return err
	}
	r := res.Report(lc, cf.Describe(cfg), started)
	if err := r.Write(out); err != nil {
		return err
	}
	f1, f2 := r.Systems[0].F1ms, r.Systems[0].F2ms
	fmt.Fprintf(env.Stdout, "F1 p50 %.1f ms p99 %.1f ms; F2 p50 %.1f ms p99 %.1f ms over %d cases each; report in %s\n",
		f1.P50, f1.P99, f2.P50, f2.P99, lc.Cases, out)
	return nil
}

// runBenchPeers answers the same random cases with truyvet and with the
// peers a health department would otherwise use (bench/peers).
func runBenchPeers(ctx context.Context, env Env) error {
	var (
		cf            cityFlags
		pc            peers.Config
		pgURL, chAddr string
		withNaive     bool
		out           string
	)
	fs := benchFlagSet(env, "peers", &cf)
	fs.IntVar(&pc.Cases, "cases", 50, "random cases per depth")
	fs.StringVar(&pgURL, "postgres-url", "", "PostgreSQL peer (e.g. the TRUYVET_POSTGRES_URL deploy/local/up.sh prints; never read from the environment); empty: skipped")
	fs.StringVar(&chAddr, "clickhouse-addr", "", "ClickHouse self-join peer (native protocol; never read from the environment); empty: skipped")
	fs.BoolVar(&withNaive, "naive", true, "include the naive in-memory peer (it is also the agreement reference)")
	fs.StringVar(&out, "out", "truyvet-peers", "directory for report.json, report.md and charts")
	cfg, err := benchCity(fs, &cf, env)
	if err != nil {
		return err
	}
	pc.City, pc.Dataset, pc.Progress = cfg, cf.Describe(cfg), env.Stderr
	if withNaive {
		pc.Peers = append(pc.Peers, naive.New())
	}
	if pgURL != "" {
		p, err := postgres.New(ctx, pgURL, fmt.Sprintf("peers_%d", env.Now().UnixNano()))
		if err != nil {
			return err
		}
		defer func() { _ = p.Drop(context.WithoutCancel(ctx)); _ = p.Close() }()
		pc.Peers = append(pc.Peers, p)
	}
	if chAddr != "" {
		p, err := chjoin.New(ctx, splitList(chAddr), fmt.Sprintf("peers_%d", env.Now().UnixNano()))
		if err != nil {
			return err
		}
		defer func() { _ = p.Drop(context.WithoutCancel(ctx)); _ = p.Close() }()
		pc.Peers = append(pc.Peers, p)
	}
	r, err := peers.Run(ctx, pc)
	if errors.Is(err, peers.ErrConfig) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
	if err := r.Write(out); err != nil {
		return err
	}
	for _, s := range r.Systems {
		agrees := "unchecked"
		if s.AgreesWithReference != nil {
			agrees = fmt.Sprint(*s.AgreesWithReference)
		}
		fmt.Fprintf(env.Stdout, "%-36s F1 p50 %8.2f ms p99 %8.2f ms   F2 p50 %8.2f ms p99 %8.2f ms   agrees %s\n",
			s.Name, s.F1ms.P50, s.F1ms.P99, s.F2ms.P50, s.F2ms.P99, agrees)
	}
	fmt.Fprintf(env.Stdout, "report in %s\n", out)
	return nil
}

// runBenchScale measures a scaling curve and extrapolates it (bench/scaling).
func runBenchScale(ctx context.Context, env Env) error {
	var (
		cf         cityFlags
		sc         scaling.Config
		sizes, out string
	)
	fs := benchFlagSet(env, "scale", &cf)
	fs.StringVar(&sizes, "sizes", "0.25,0.5,1", "fractions of the tier's people and venues to measure, comma-separated (at least two)")
	fs.IntVar(&sc.Cases, "cases", 100, "random cases per depth and size")
	fs.StringVar(&out, "out", "truyvet-scale", "directory for report.json, report.md and charts")
	cfg, err := benchCity(fs, &cf, env)
	if err != nil {
		return err
	}
	sc.City, sc.Dataset, sc.Progress = cfg, cf.Describe(cfg), env.Stderr
	if sc.Sizes, err = scaling.ParseSizes(sizes); err == nil {
		err = sc.Validate()
	}
	if err != nil {
		return fmt.Errorf("%w: --sizes: %w", errUsage, err)
	}
	r, err := scaling.Run(ctx, sc)
	if err != nil {
		return err
	}
	if err := r.Write(out); err != nil {
		return err
	}
	for _, row := range r.Tables[1].Rows {
		fmt.Fprintln(env.Stdout, strings.Join(row, "  "))
	}
	fmt.Fprintf(env.Stdout, "report in %s\n", out)
	return nil
}
