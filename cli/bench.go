package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/bench/lookup"
	"github.com/truyvet/truyvet/bench/replay"
	"github.com/truyvet/truyvet/bench/report"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/schemas/event"
)

// runBench is `truyvet bench <generate|replay|query|peers|scale>`.
func runBench(ctx context.Context, env Env) error {
	subs := map[string]func(context.Context, Env) error{
		"generate": runBenchGenerate,
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
type cityFlags struct {
	tier                   string
	people, venues, days   int
	seed                   uint64
	end                    string
	adoption, checkout, bt float64
}

func (c *cityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.tier, "tier", "demo", "synthetic population: demo (4 000 people), S (a city: 1 M people, 10 k venues, one day), M (a country of 63 provinces: 10 M people, 100 k venues, 14 days) or L/k (1/k of the nation over the 14 days of Tết, with the travel surge), optionally with :tet, :reunification or :ordinary; e.g. "+strings.Join(synth.PresetNames(), ", "))
	fs.IntVar(&c.people, "people", 0, "override the tier's population")
	fs.IntVar(&c.venues, "venues", 0, "override the tier's venue count")
	fs.IntVar(&c.days, "days", 0, "override the tier's days")
	fs.Uint64Var(&c.seed, "seed", 1, "seed; the same seed gives the same city")
	fs.StringVar(&c.end, "end", "now", `when the data ends: "now" (datasets are shifted to end near the server's clock) or RFC 3339`)
	fs.Float64Var(&c.adoption, "adoption", 0, "override the share of people who scan QR codes (0..1)")
	fs.Float64Var(&c.checkout, "checkout-rate", 0, "override the share of stays that also send a check-out (0..1)")
	fs.Float64Var(&c.bt, "bluetooth-rate", 0, "override the share of people running Bluezone (0..1)")
}

func (c *cityFlags) config(now time.Time) (synth.Config, error) {
	cfg, err := synth.Preset(c.tier)
	if err != nil {
		return cfg, fmt.Errorf("--tier: %w", err)
	}
	if c.people > 0 {
		cfg.People = c.people
	}
	if c.venues > 0 {
		cfg.Venues = c.venues
	}
	if c.days > 0 {
		cfg.Days = c.days
	}
	for _, o := range []struct {
		v   float64
		dst *float64
	}{{c.adoption, &cfg.Adoption}, {c.checkout, &cfg.CheckoutRate}, {c.bt, &cfg.BluetoothRate}} {
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	cfg.Seed = c.seed
	cfg.End = now
	if c.end != "now" {
		t, err := time.Parse(time.RFC3339, c.end)
		if err != nil {
			return cfg, fmt.Errorf("--end: %w", err)
		}
		cfg.End = t
	}
	return cfg, cfg.Validate()
}

func (c *cityFlags) dataset(cfg synth.Config) map[string]any {
	return map[string]any{"tier": c.tier, "people": cfg.People, "venues": cfg.Venues, "days": cfg.Days, "seed": cfg.Seed,
		"provinces": cfg.Provinces, "scenario": cfg.Scenario, "travel_rate": cfg.TravelRate,
		"end": cfg.End.Format(time.RFC3339), "adoption": cfg.Adoption, "checkout_rate": cfg.CheckoutRate, "bluetooth_rate": cfg.BluetoothRate}
}

// runBenchGenerate writes a city's records as gzipped NDJSON, in upload order,
// with dataset.json describing them.
func runBenchGenerate(ctx context.Context, env Env) error {
	var (
		cf  cityFlags
		out string
	)
	fs := flag.NewFlagSet("bench generate", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cf.register(fs)
	fs.StringVar(&out, "out", "truyvet-dataset", "directory for checkins.ndjson.gz, proximity.ndjson.gz and dataset.json")
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	cfg, err := cf.config(env.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	city, err := synth.New(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	files := map[string]*gzipFile{}
	for _, name := range []string{"checkins", "proximity"} {
		f, err := createGzip(filepath.Join(out, name+".ndjson.gz"))
		if err != nil {
			return err
		}
		files[name] = f
	}
	var nv, ne int
	var line []byte
	for _, b := range city.Uploads() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for i := range b.Visits {
			line = append(event.AppendVisitJSON(line[:0], &b.Visits[i]), '\n')
			if _, err := files["checkins"].w.Write(line); err != nil {
				return err
			}
		}
		for i := range b.Encounters {
			line = append(event.AppendEncounterJSON(line[:0], &b.Encounters[i]), '\n')
			if _, err := files["proximity"].w.Write(line); err != nil {
				return err
			}
		}
		nv, ne = nv+len(b.Visits), ne+len(b.Encounters)
	}
	for _, f := range files {
		if err := f.close(); err != nil {
			return err
		}
	}
	from, to := city.Span()
	ds := cf.dataset(cfg)
	ds["checkin_records"], ds["encounter_records"] = nv, ne
	ds["from"], ds["to"] = from.Format(time.RFC3339), to.Format(time.RFC3339)
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "dataset.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %d check-in and %d encounter records (%s → %s) to %s in %s\n",
		nv, ne, from.Format(time.RFC3339), to.Format(time.RFC3339), out, time.Since(start).Round(time.Millisecond))
	return nil
}

type gzipFile struct {
	f  *os.File
	bw *bufio.Writer
	w  *gzip.Writer
}

func createGzip(path string) (*gzipFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	return &gzipFile{f: f, bw: bw, w: w}, nil
}

func (g *gzipFile) close() error {
	return errors.Join(g.w.Close(), g.bw.Flush(), g.f.Close())
}

// runBenchReplay streams a city to ingest and reports what it measured.
func runBenchReplay(ctx context.Context, env Env) error {
	var (
		cf          cityFlags
		rc          = replay.DefaultConfig()
		status, out string
		rate        float64
		clients     int
		kf          kafkaFlags
	)
	fs := flag.NewFlagSet("bench replay", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cf.register(fs)
	kf.register(fs) // --kafka-brokers set: produce straight to Kafka, bypassing ingest
	fs.StringVar(&rc.IngestURL, "url", "http://127.0.0.1:8080", "base URL of ingest (all-in-one or `truyvet ingest`)")
	fs.StringVar(&status, "status-url", "", "base URL(s) whose /v1/status count processed records, comma-separated (all-in-one: the same as --url; distributed: every process); empty: the --url")
	fs.Float64Var(&rate, "rate", 0, "target events/s; 0: as fast as it goes")
	fs.IntVar(&clients, "clients", rc.Clients, "concurrent HTTP clients")
	fs.StringVar(&out, "out", "truyvet-replay", "directory for report.json, report.md and charts")
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	cfg, err := cf.config(env.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	rc.Rate, rc.Clients = rate, clients
	rc.StatusURLs = splitList(status)
	if kf.brokers != "" {
		kcfg, err := kf.config()
		if err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		if len(rc.StatusURLs) == 0 {
			return fmt.Errorf("%w: --status-url is required with --kafka-brokers (the processors' base URLs)", errUsage)
		}
		if _, err := kafkaproducer.EnsureTopics(ctx, kcfg); err != nil {
			return err
		}
		prod, err := kafkaproducer.New(kcfg, kafkaproducer.NewMetrics(prometheus.NewRegistry()), nil)
		if err != nil {
			return err
		}
		defer func() { _ = prod.Close() }()
		if err := prod.LearnPartitions(ctx); err != nil {
			return err
		}
		rc.Kafka, rc.IngestURL = prod, ""
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
	r := &report.Report{Command: "truyvet bench replay", Title: "Replay of a synthetic city into truyvet ingest", Started: started,
		Duration: time.Since(started), Machine: report.ThisMachine(), Dataset: cf.dataset(cfg)}
	r.Dataset["target_rate"], r.Dataset["clients"], r.Dataset["ingest_url"] = rate, clients, rc.IngestURL
	if rc.Kafka != nil {
		r.Title = "Replay of a synthetic city straight into Kafka"
		r.Dataset["kafka_brokers"], r.Dataset["kafka_topic_prefix"] = kf.brokers, kf.cfg.TopicPrefix
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
	if err := r.Write(out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d records in %s: %.0f events/s; request p50 %.1f ms, p99 %.1f ms; report in %s\n",
		res.Events, res.Sent.Round(time.Millisecond), float64(res.Events)/res.Sent.Seconds(), lat.P50, lat.P99, out)
	return nil
}

// runBenchQuery asks a running truyvet for random cases' exposure graphs.
func runBenchQuery(ctx context.Context, env Env) error {
	var (
		cf  cityFlags
		lc  lookup.Config
		out string
	)
	fs := flag.NewFlagSet("bench query", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cf.register(fs)
	fs.StringVar(&lc.URL, "url", "http://127.0.0.1:8080", "base URL of the query API (all-in-one or `truyvet query`)")
	fs.IntVar(&lc.Cases, "cases", 100, "random cases per depth")
	fs.Float64Var(&lc.MinMinutes, "min-minutes", 15, "contact threshold")
	fs.StringVar(&out, "out", "truyvet-query", "directory for report.json, report.md and charts")
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	cfg, err := cf.config(env.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
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
	r := &report.Report{Command: "truyvet bench query", Title: "Exposure-graph latency over HTTP", Started: started,
		Duration: time.Since(started), Machine: report.ThisMachine(), Dataset: cf.dataset(cfg)}
	r.Dataset["url"], r.Dataset["cases_per_depth"] = lc.URL, lc.Cases
	d1, d2 := report.DistributionOf(res.F1MS), report.DistributionOf(res.F2MS)
	f1, f2 := d1.Percentiles(), d2.Percentiles()
	r.Systems = []report.System{{Name: "truyvet", F1ms: f1, F2ms: f2, AgreesWithReference: true,
		Notes: "answers are checked against the reference by the test suite, not by this command"}}
	r.Figures = append(r.Figures,
		report.Figure{Name: "F1 p50", Value: f1.P50, Unit: "ms"}, report.Figure{Name: "F1 p99", Value: f1.P99, Unit: "ms"},
		report.Figure{Name: "F2 p50", Value: f2.P50, Unit: "ms"}, report.Figure{Name: "F2 p99", Value: f2.P99, Unit: "ms"})
	r.Histograms = append(r.Histograms, report.Histogram{Name: "F1 latency", Unit: "ms", Dist: d1},
		report.Histogram{Name: "F2 latency", Unit: "ms", Dist: d2})
	if err := r.Write(out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "F1 p50 %.1f ms p99 %.1f ms; F2 p50 %.1f ms p99 %.1f ms over %d cases each; report in %s\n",
		f1.P50, f1.P99, f2.P50, f2.P99, lc.Cases, out)
	return nil
}
