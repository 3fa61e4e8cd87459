package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// allInOneConfig is the configuration of the all-in-one mode.
type allInOneConfig struct {
	Listen            string
	DataDir           string
	Bucket, Dwell     time.Duration
	RetentionInterval time.Duration
	CacheBytes        int64
	Ingest            ingest.Config
	Query             api.Config
	DryRun            bool
	Log               logConfig
}

func (c *allInOneConfig) register(fs *flag.FlagSet) {
	c.Ingest = ingest.DefaultConfig()
	c.Query = api.DefaultConfig()
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&c.DataDir, "data-dir", "truyvet-data", "directory of the embedded store")
	durationFlag(fs, &c.Bucket, "bucket", bucket.DefaultBucket, "time bucket of the co-location index (divides 1h); fixed for a data directory's life")
	durationFlag(fs, &c.Dwell, "dwell", bucket.DefaultDwell, "assumed stay of a check-in without check-out; fixed for a data directory's life")
	durationFlag(fs, &c.RetentionInterval, "retention-interval", time.Hour, "how often retention runs")
	fs.Int64Var(&c.CacheBytes, "cache-bytes", 256<<20, "block cache of the embedded store, in bytes")
	registerIngest(fs, &c.Ingest)
	durationFlag(fs, &c.Query.Timeout, "query-timeout", c.Query.Timeout, "longest an exposure query may run")
	fs.BoolVar(&c.DryRun, "dry-run", false, "validate the configuration, print it and exit")
	c.Log.register(fs)
}

func (c *allInOneConfig) layout() bucket.Layout {
	return bucket.Layout{BucketSeconds: int64(c.Bucket / time.Second), DwellSeconds: int64(c.Dwell / time.Second)}
}

// Configuration errors.
var (
	ErrMissingListen  = errors.New("--listen is required")
	ErrMissingDataDir = errors.New("--data-dir is required")
)

func (c *allInOneConfig) validate() error {
	if c.Listen == "" {
		return ErrMissingListen
	}
	if c.DataDir == "" {
		return ErrMissingDataDir
	}
	if c.RetentionInterval <= 0 {
		return fmt.Errorf("--retention-interval must be positive")
	}
	if err := c.layout().Validate(); err != nil {
		return err
	}
	return c.Ingest.Validate()
}

func runAllInOne(ctx context.Context, env Env) error {
	var cfg allInOneConfig
	fs := flag.NewFlagSet("all-in-one", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfg.register(fs)
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	log, err := cfg.Log.logger(env.Stderr)
	if err != nil {
		return err
	}
	if cfg.DryRun {
		return printConfig(env, fs)
	}
	n, err := newNode(ctx, cfg, log, env.Now)
	if err != nil {
		return err
	}
	return n.run(ctx, nil)
}

// printConfig prints the effective flags, for --dry-run.
func printConfig(env Env, fs *flag.FlagSet) error {
	fmt.Fprintln(env.Stdout, "configuration is valid:")
	fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(env.Stdout, "  --%s=%s\n", f.Name, f.Value) })
	return nil
}

// node is one all-in-one process: ingest → pipe → processor → embedded store ← query.
type node struct {
	cfg     allInOneConfig
	log     *slog.Logger
	now     func() time.Time
	reg     *prometheus.Registry
	store   *pebblestore.Store
	proc    *processor.Processor
	pipe    *processor.Pipe
	ingest  *ingest.Handler
	engine  *graph.Engine
	mux     *http.ServeMux
	ready   atomic.Bool
	started time.Time
}

func newNode(ctx context.Context, cfg allInOneConfig, log *slog.Logger, now func() time.Time) (*node, error) {
	n := &node{cfg: cfg, log: log, now: now, reg: prometheus.NewRegistry(), mux: http.NewServeMux(), started: now()}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store, err := pebblestore.Open(ctx, pebblestore.Options{
		Dir: cfg.DataDir, Layout: cfg.layout(), CacheBytes: cfg.CacheBytes, Logger: log, Registerer: n.reg,
	})
	if err != nil {
		return nil, err
	}
	n.store = store
	n.proc, err = processor.New(cfg.layout(), store, processor.NewMetrics(n.reg))
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	n.pipe = processor.NewPipe(n.proc, 0)
	n.ingest, err = ingest.NewHandler(cfg.Ingest, n.pipe, ingest.NewMetrics(n.reg), log, now)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	n.engine = graph.NewEngine(store)
	a := api.New(cfg.Query, n.engine, store, api.NewMetrics(n.reg), log, now)

	n.ingest.Register(n.mux)
	a.Register(n.mux)
	n.mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg}))
	registerPprof(n.mux)
	n.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	n.mux.HandleFunc("GET /readyz", n.readyz)
	n.mux.HandleFunc("GET /v1/status", n.status)
	n.mux.Handle("/", ui.Handler())
	return n, nil
}

func (n *node) readyz(w http.ResponseWriter, _ *http.Request) {
	if !n.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// statusJSON is the body of GET /v1/status.
type statusJSON struct {
	Mode          string         `json:"mode"`
	Accepted      int64          `json:"accepted"`
	Processed     int64          `json:"processed"`
	Rejected      int64          `json:"rejected"`
	DeadLettered  int64          `json:"dead_lettered"`
	Lag           lagJSON        `json:"lag"`
	Stored        storedJSON     `json:"stored"`
	Layout        map[string]int `json:"layout"`
	UptimeSeconds int64          `json:"uptime_seconds"`
}

type lagJSON struct {
	Records int64 `json:"records"`
}

type storedJSON struct {
	Visits     int64    `json:"visits"`
	Encounters int64    `json:"encounters"`
	Days       []string `json:"days"`
}

func (n *node) status(w http.ResponseWriter, r *http.Request) {
	c := n.ingest.Counts()
	sc, err := n.store.Counts(r.Context())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	st := statusJSON{
		Mode: "all-in-one", Accepted: c.Accepted, Processed: n.proc.Processed(), Rejected: c.Rejected,
		Lag:           lagJSON{Records: max(0, c.Accepted-n.proc.Processed())},
		Stored:        storedJSON{Visits: sc.Visits, Encounters: sc.Encounters, Days: []string{}},
		Layout:        map[string]int{"bucket_seconds": int(n.cfg.layout().BucketSeconds), "dwell_seconds": int(n.cfg.layout().DwellSeconds)},
		UptimeSeconds: int64(n.now().Sub(n.started).Seconds()),
	}
	for _, d := range sc.Days {
		st.Stored.Days = append(st.Stored.Days, d.String())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

// run serves until ctx ends, then shuts down in order: stop taking requests,
// let in-flight ones finish, stop the pipe, close the store. onListen, if not
// nil, is called with the bound address once the server is accepting.
func (n *node) run(ctx context.Context, onListen func(addr string)) error {
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = n.pipe.Run(pipeCtx) })
	wg.Go(func() {
		n.store.RunRetention(pipeCtx, n.cfg.Ingest.Limits.Retention, n.cfg.RetentionInterval, n.now)
	})
	n.log.Info("truyvet all-in-one starting", "data_dir", n.cfg.DataDir, "bucket", n.cfg.Bucket.String(),
		"dwell", n.cfg.Dwell.String(), "retention", n.cfg.Ingest.Limits.Retention.String())
	err := serve(ctx, n.cfg.Listen, n.mux, n.log, &n.ready, onListen)
	n.log.Info("shutting down")
	stopPipe()
	wg.Wait()
	if e := n.store.Close(); e != nil && err == nil {
		err = e
	}
	return err
}
