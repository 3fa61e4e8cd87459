package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/kafkaconsumer"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// kafkaFlags are the Kafka settings shared by ingest and process.
type kafkaFlags struct {
	brokers string
	cfg     kafkaproducer.Config
}

func (k *kafkaFlags) register(fs *flag.FlagSet) {
	k.cfg = kafkaproducer.DefaultConfig()
	fs.StringVar(&k.brokers, "kafka-brokers", "", "comma-separated Kafka bootstrap brokers (required)")
	fs.StringVar(&k.cfg.TopicPrefix, "kafka-topic-prefix", k.cfg.TopicPrefix, "prefix of the topics <prefix>checkins, <prefix>proximity, <prefix>deadletter")
	fs.IntVar(&k.cfg.Partitions, "kafka-partitions", k.cfg.Partitions, "partitions of the topics, when this process creates them")
	fs.IntVar(&k.cfg.Replication, "kafka-replication", k.cfg.Replication, "replication factor of the topics, when this process creates them")
	fs.StringVar(&k.cfg.Compression, "kafka-compression", k.cfg.Compression, "compression of produced batches: none, lz4, snappy, gzip or zstd")
}

func (k *kafkaFlags) config() (kafkaproducer.Config, error) {
	k.cfg.Brokers = kafkaproducer.SplitBrokers(k.brokers)
	return k.cfg, k.cfg.Validate()
}

// registry returns a registry with the Go and process collectors.
func registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serve runs an HTTP server on addr until ctx ends, then shuts it down
// gracefully. ready is set while it accepts requests.
func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, ready *atomic.Bool, onListen func(string)) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	ready.Store(true)
	log.Info("serving", "addr", ln.Addr().String())
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-srvErr:
	}
	ready.Store(false)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if e := srv.Shutdown(shutCtx); e != nil && err == nil {
		err = e
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func writeStatus(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// runIngest is `truyvet ingest`: HTTP in, Kafka out.
func runIngest(ctx context.Context, env Env) error {
	var (
		listen string
		kf     kafkaFlags
		icfg   = ingest.DefaultConfig()
		dryRun bool
		logc   logConfig
	)
	icfg.ProduceTimeout = 10 * time.Second
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&listen, "listen", "127.0.0.1:8081", "HTTP listen address")
	kf.register(fs)
	registerIngest(fs, &icfg)
	fs.BoolVar(&dryRun, "dry-run", false, "validate the configuration, print it and exit")
	logc.register(fs)
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	kcfg, err := kf.config()
	if err == nil {
		err = icfg.Validate()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	log, err := logc.logger(env.Stderr)
	if err != nil {
		return err
	}
	if dryRun {
		return printConfig(env, fs)
	}
	log = log.With("component", "ingest")
	if _, err := kafkaproducer.EnsureTopics(ctx, kcfg); err != nil {
		return err
	}
	reg := registry()
	prod, err := kafkaproducer.New(kcfg, kafkaproducer.NewMetrics(reg), log)
	if err != nil {
		return err
	}
	if err := prod.LearnPartitions(ctx); err != nil {
		return err
	}
	defer func() { _ = prod.Close() }()
	h, err := ingest.NewHandler(icfg, prod, ingest.NewMetrics(reg), log, env.Now)
	if err != nil {
		return err
	}
	var ready atomic.Bool
	started := env.Now()
	mux := http.NewServeMux()
	h.Register(mux)
	registerOps(mux, reg, &ready, func(ctx context.Context) error { return kafkaproducer.Ping(ctx, kcfg) })
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		c := h.Counts()
		writeStatus(w, map[string]any{"mode": "ingest", "accepted": c.Accepted, "rejected": c.Rejected, "received": c.Received,
			"topics": prod.Topics(), "uptime_seconds": int64(env.Now().Sub(started).Seconds())})
	})
	return serve(ctx, listen, mux, log, &ready, nil)
}

// registerIngest adds the ingest limits shared by all-in-one and ingest.
func registerIngest(fs *flag.FlagSet, c *ingest.Config) {
	durationFlag(fs, &c.Limits.Retention, "retention", c.Limits.Retention, "keep this many days (e.g. 28d); older records are rejected and older days dropped whole")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest ingest request body (after gzip), in bytes")
	fs.IntVar(&c.MaxRecords, "max-records", c.MaxRecords, "most records in one ingest request")
	durationFlag(fs, &c.ProduceTimeout, "ingest-timeout", c.ProduceTimeout, "longest an ingest request waits for durability before answering 503")
}

// runProcess is `truyvet process`: a member of the processor group, writing
// to ClickHouse (--clickhouse-addr; any number of replicas) or to the embedded
// store under --data-dir (one active replica per directory, others stand by;
// it then also serves the query API, as no other process can read that store).
func runProcess(ctx context.Context, env Env) error {
	var (
		listen                 string
		kf                     kafkaFlags
		sf                     storeFlags
		ccfg                   = kafkaconsumer.DefaultConfig()
		retention, retInterval time.Duration
		qcfg                   = api.DefaultConfig()
		dryRun                 bool
		logc                   logConfig
	)
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&listen, "listen", "127.0.0.1:8082", "HTTP listen address (metrics, status; with the embedded store also the query API)")
	kf.register(fs)
	sf.register(fs, true)
	fs.StringVar(&ccfg.Group, "kafka-group", ccfg.Group, "consumer group shared by the processor replicas")
	fs.IntVar(&ccfg.MaxRecords, "batch-records", ccfg.MaxRecords, "flush a batch at this many records")
	durationFlag(fs, &ccfg.FlushInterval, "flush-interval", ccfg.FlushInterval, "or this long after its first message")
	durationFlag(fs, &retention, "retention", ccfg.Limits.Retention, "keep this many days (e.g. 28d); older days are dropped whole")
	durationFlag(fs, &retInterval, "retention-interval", time.Hour, "how often retention runs")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the configuration, print it and exit")
	logc.register(fs)
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	kcfg, err := kf.config()
	if err == nil {
		err = sf.validate()
	}
	ccfg.Brokers, ccfg.TopicPrefix = kcfg.Brokers, kcfg.TopicPrefix
	if err == nil {
		err = ccfg.Validate()
	}
	if err == nil && (retention <= 0 || retInterval <= 0) {
		err = errors.New("--retention and --retention-interval must be positive")
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	log, err := logc.logger(env.Stderr)
	if err != nil {
		return err
	}
	if dryRun {
		return printConfig(env, fs)
	}
	if _, err := kafkaproducer.EnsureTopics(ctx, kcfg); err != nil {
		return err
	}
	reg := registry()
	store, err := sf.open(ctx, reg, log)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	proc, err := processor.New(sf.layout(), store, processor.NewMetrics(reg))
	if err != nil {
		return err
	}
	cons, err := kafkaconsumer.New(ccfg, proc, kafkaconsumer.NewMetrics(reg), log)
	if err != nil {
		return err
	}
	var ready atomic.Bool
	started := env.Now()
	mux := http.NewServeMux()
	if !store.shared() {
		api.New(qcfg, graph.NewEngine(store), store, api.NewMetrics(reg), log, env.Now).Register(mux)
		mux.Handle("/", ui.Handler())
	}
	registerOps(mux, reg, &ready, nil)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		stored, dead := cons.Counts()
		st, err := store.stored(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeStatus(w, map[string]any{"mode": "process", "processed": stored, "dead_lettered": dead, "stored": st,
			"uptime_seconds": int64(env.Now().Sub(started).Seconds())})
	})

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var consErr error
	wg.Go(func() {
		consErr = cons.Run(runCtx)
		cancel()
	})
	wg.Go(func() { store.RunRetention(runCtx, retention, retInterval, env.Now) })
	err = serve(runCtx, listen, mux, log.With("component", "process"), &ready, nil)
	cancel()
	wg.Wait()
	return errors.Join(err, consErr)
}

// runQuery is `truyvet query`: the query API and UI over the ClickHouse store.
func runQuery(ctx context.Context, env Env) error {
	var (
		listen string
		sf     storeFlags
		qcfg   = api.DefaultConfig()
		dryRun bool
		logc   logConfig
	)
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&listen, "listen", "127.0.0.1:8083", "HTTP listen address")
	sf.register(fs, false)
	durationFlag(fs, &qcfg.Timeout, "query-timeout", qcfg.Timeout, "longest an exposure query may run")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the configuration, print it and exit")
	logc.register(fs)
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	log, err := logc.logger(env.Stderr)
	if err != nil {
		return err
	}
	if dryRun {
		return printConfig(env, fs)
	}
	reg := registry()
	store, err := sf.open(ctx, reg, log)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	var ready atomic.Bool
	started := env.Now()
	mux := http.NewServeMux()
	api.New(qcfg, graph.NewEngine(store), store, api.NewMetrics(reg), log, env.Now).Register(mux)
	registerOps(mux, reg, &ready, nil)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := store.stored(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeStatus(w, map[string]any{"mode": "query", "stored": st, "layout": map[string]int64{
			"bucket_seconds": store.Layout().BucketSeconds, "dwell_seconds": store.Layout().DwellSeconds},
			"uptime_seconds": int64(env.Now().Sub(started).Seconds())})
	})
	mux.Handle("/", ui.Handler())
	return serve(ctx, listen, mux, log.With("component", "query"), &ready, nil)
}

// registerOps adds /metrics, /debug/pprof/, /healthz and /readyz; readyz
// also runs check when not nil.
func registerOps(mux *http.ServeMux, reg *prometheus.Registry, ready *atomic.Bool, check func(context.Context) error) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	registerPprof(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if check != nil {
			cctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := check(cctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
}

// openStandby opens the embedded store, waiting while another replica holds
// it: a second `process` on the same data directory is a hot standby that
// takes over (store and partitions) when the first one dies.
func openStandby(ctx context.Context, opts pebblestore.Options, log *slog.Logger) (*pebblestore.Store, error) {
	logged := false
	for {
		store, err := pebblestore.Open(ctx, opts)
		if !errors.Is(err, pebblestore.ErrLocked) {
			if err == nil && logged {
				log.Info("store free; taking over", "data_dir", opts.Dir)
			}
			return store, err
		}
		if !logged {
			log.Info("store in use by another replica; standing by", "data_dir", opts.Dir)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// registerPprof serves Go's profiles under /debug/pprof/, for operators
// finding where a stage spends its time.
func registerPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
