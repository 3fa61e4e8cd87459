package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/internal/server"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/kafkaconsumer"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/sites/alertkafka"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/store/pgsites"
	"github.com/truyvet/truyvet/store/pgstore"
	"github.com/truyvet/truyvet/venue"
)

// kafkaFlags are the Kafka settings shared by ingest and process.
type kafkaFlags struct {
	brokers string
	cfg     kafkaproducer.Config
}

func (k *kafkaFlags) register(fs *flag.FlagSet) {
	k.cfg = kafkaproducer.DefaultConfig()
	fs.StringVar(&k.brokers, "kafka-brokers", "", "comma-separated Kafka bootstrap brokers (required)")
	fs.StringVar(&k.cfg.TopicPrefix, "kafka-topic-prefix", k.cfg.TopicPrefix, "prefix of the topics <prefix>checkins, <prefix>proximity, <prefix>deadletter, <prefix>alerts")
	fs.IntVar(&k.cfg.Partitions, "kafka-partitions", k.cfg.Partitions, "partitions of the topics, when this process creates them")
	fs.IntVar(&k.cfg.Replication, "kafka-replication", k.cfg.Replication, "replication factor of the topics, when this process creates them")
	fs.StringVar(&k.cfg.Compression, "kafka-compression", k.cfg.Compression, "compression of produced batches: none, lz4, snappy, gzip or zstd")
	durationFlag(fs, &k.cfg.BatchTimeout, "kafka-linger", k.cfg.BatchTimeout, "how long a partial batch of produced messages waits for more before it is sent")
}

func (k *kafkaFlags) config() (kafkaproducer.Config, error) {
	k.cfg.Brokers = kafkaproducer.SplitBrokers(k.brokers)
	return k.cfg, k.cfg.Validate()
}

// validateIngest checks the ingest configuration, naming the flag of a bad
// limit that registerIngest set (ingest.Config.Validate knows no flags).
func validateIngest(c ingest.Config) error {
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"--retention", c.Limits.Retention <= 0},
		{"--max-body-bytes", c.MaxBodyBytes <= 0},
		{"--max-records", c.MaxRecords <= 0},
		{"--ingest-timeout", c.ProduceTimeout <= 0},
	} {
		if f.bad {
			return fmt.Errorf("%s must be positive: %w", f.name, ingest.ErrBadLimit)
		}
	}
	return c.Validate()
}

// countsSince is when h's counters started, for /v1/status.
func countsSince(h *ingest.Handler) *string {
	s := h.Since().In(api.Local).Format(time.RFC3339)
	return &s
}

// registerIngest adds the ingest limits shared by all-in-one and ingest.
func registerIngest(fs *flag.FlagSet, c *ingest.Config) {
	durationFlag(fs, &c.Limits.Retention, "retention", c.Limits.Retention, "keep this many days (e.g. 28d); older records are rejected and older days dropped whole")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest ingest request body (after gzip), in bytes")
	fs.IntVar(&c.MaxRecords, "max-records", c.MaxRecords, "most records in one ingest request")
	durationFlag(fs, &c.ProduceTimeout, "ingest-timeout", c.ProduceTimeout, "longest an ingest request waits for durability before answering 503")
}

// runIngest is `truyvet ingest`: HTTP in, Kafka out.
func runIngest(ctx context.Context, env Env) error {
	srv := newServeCmd(env, "ingest", "127.0.0.1:8081", "HTTP listen address")
	var kf kafkaFlags
	kf.register(srv.fs)
	icfg := ingest.DefaultConfig()
	icfg.ProduceTimeout = 10 * time.Second
	registerIngest(srv.fs, &icfg)
	var af accessFlags
	af.register(srv.fs, true, false)
	var vf venueFlags
	vf.register(srv.fs, "")
	var ssf summaryStoreFlags
	ssf.register(srv.fs)
	var start startup
	start.register(srv.fs)
	var kcfg kafkaproducer.Config
	d, err := srv.setup(env, func() (err error) {
		if kcfg, err = kf.config(); err != nil {
			return err
		}
		if err := validateIngest(icfg); err != nil {
			return err
		}
		if af.pgURL == "" {
			return pgstore.ErrNoURL
		}
		return nil
	})
	if d == nil {
		return err
	}
	start.log = d.log
	// Serve the ops routes at once; the API answers 503 until Kafka is there.
	var h *ingest.Handler
	var topics event.Topics
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	guard := start.guardLater()
	e := start.serveEarly(runCtx, cancel, srv, d, ops{
		guard: guard.wrap,
		status: func(context.Context) (server.Status, error) {
			c := h.Counts()
			return server.Status{Received: server.Count(c.Received), Accepted: server.Count(c.Accepted), Rejected: server.Count(c.Rejected),
				Unavailable: server.Count(c.Unavailable), CountsSince: countsSince(h), Topics: &topics}, nil
		},
		ready: func(ctx context.Context) error {
			if kafkaproducer.Ping(ctx, kcfg) != nil {
				return errors.New("kafka unreachable")
			}
			return nil
		},
	})
	g, venues, closeGuarded, err := openGuarded(runCtx, af, vf, guard, false, d, env.Now)
	if err != nil {
		return e.fail(err)
	}
	defer closeGuarded()
	pm := kafkaproducer.NewMetrics(d.reg)
	prod, err := awaitDep(runCtx, &start, "kafka", func(ctx context.Context) (*kafkaproducer.Producer, error) {
		if _, err := kafkaproducer.EnsureTopics(ctx, kcfg); err != nil {
			return nil, err
		}
		prod, err := kafkaproducer.New(kcfg, pm, d.log)
		if err != nil {
			return nil, err
		}
		if err := prod.LearnPartitions(ctx); err != nil {
			_ = prod.Close()
			return nil, err
		}
		return prod, nil
	})
	if err != nil {
		return e.fail(err)
	}
	defer func() { _ = prod.Close() }()
	iopts := venues.ingestOptions()
	// The rejections' tally: flushed until runCtx ends (once more then),
	// before its store closes.
	var wg sync.WaitGroup
	counters, closeCounters := ssf.open(runCtx, d.log)
	defer func() { cancel(); wg.Wait(); closeCounters() }()
	if counters != nil {
		sum := newSummary(counters, d, env.Now)
		iopts = append(iopts, sum.ingestOption())
		wg.Go(func() { sum.run(runCtx) })
	}
	if h, err = ingest.NewHandler(icfg, prod, ingest.NewMetrics(d.reg), d.log, env.Now, iopts...); err != nil {
		return e.fail(err)
	}
	h.Register(e.mux)
	safe := safetySide{producer: prod, limits: icfg.Limits}
	if venues != nil {
		venues.routes(e.mux, nil, g.trail, d, env.Now)
		safe.registry = venues.reg
	}
	if err := safe.routes(e.mux, d, env.Now); err != nil {
		return e.fail(err)
	}
	g.accounts().Register(e.mux)
	topics = prod.Topics()
	start.started()
	return e.served()
}

// runProcess is `truyvet process`: a member of the processor group, writing
// to ClickHouse (--clickhouse-addr; any number of replicas) or to the embedded
// store under --data-dir (one active replica per directory, others stand by;
// it then also serves the query API, as no other process can read that store).
func runProcess(ctx context.Context, env Env) error {
	srv := newServeCmd(env, "process", "127.0.0.1:8082", "HTTP listen address (metrics, status; with the embedded store also the query API)")
	var (
		kf                     kafkaFlags
		sf                     storeFlags
		ccfg                   = kafkaconsumer.DefaultConfig()
		retention, retInterval time.Duration
		kcfg                   kafkaproducer.Config
		af                     accessFlags
		sfl                    siteFlags
	)
	kf.register(srv.fs)
	sfl.register(srv.fs)
	sf.register(srv.fs, true)
	af.register(srv.fs, true, true)
	srv.fs.StringVar(&ccfg.Group, "kafka-group", ccfg.Group, "consumer group shared by the processor replicas")
	srv.fs.IntVar(&ccfg.MaxRecords, "batch-records", ccfg.MaxRecords, "flush a batch at this many records")
	durationFlag(srv.fs, &ccfg.FlushInterval, "flush-interval", ccfg.FlushInterval, "or this long after its first message")
	durationFlag(srv.fs, &retention, "retention", ccfg.Limits.Retention, "keep this many days (e.g. 28d); older days are dropped whole")
	durationFlag(srv.fs, &retInterval, "retention-interval", time.Hour, "how often retention runs")
	durationFlag(srv.fs, &ccfg.StuckAfter, "stuck-after", ccfg.StuckAfter, "report a partition stuck (metric, /readyz) when its batch has failed to write this long")
	srv.fs.IntVar(&ccfg.DeadLetterMaxBytes, "dead-letter-max-bytes", ccfg.DeadLetterMaxBytes, "most payload a dead letter carries; longer ones are cut (keep below the broker's message.max.bytes)")
	var start startup
	start.register(srv.fs)
	d, err := srv.setup(env, func() (err error) {
		if kcfg, err = kf.config(); err != nil {
			return err
		}
		if err := sf.validate(); err != nil {
			return err
		}
		if sf.chAddr != "" && af.pgURL == "" {
			return pgstore.ErrNoURL
		}
		ccfg.Brokers, ccfg.TopicPrefix = kcfg.Brokers, kcfg.TopicPrefix
		if err := ccfg.Validate(); err != nil {
			return err
		}
		if retention <= 0 || retInterval <= 0 {
			return errors.New("--retention and --retention-interval must be positive")
		}
		sf.retention = retention
		return sfl.validate()
	})
	if d == nil {
		return err
	}
	start.log = d.log
	// Serve the ops routes at once; start work once Kafka and the store are there.
	var (
		st   store.Backend
		cons *kafkaconsumer.Consumer
		lag  *groupLag
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	guard := start.guardLater()
	e := start.serveEarly(runCtx, cancel, srv, d, ops{
		guard: guard.wrap,
		status: func(ctx context.Context) (server.Status, error) {
			stored, dead := cons.Counts()
			s := server.Status{Processed: server.Count(stored), DeadLettered: server.Count(dead)}
			if n, err := lag.records(ctx); err == nil {
				s.Lag = &server.LagStatus{Records: n}
			} else {
				d.log.Debug("measuring lag for the status failed", "err", err)
			}
			return s, server.StoreStatus(ctx, &s, st)
		},
		ready: func(ctx context.Context) error {
			if err := cons.Ready(); err != nil {
				return err
			}
			return storeReady(ctx, st)
		},
	})
	fail := e.fail
	topics, err := awaitDep(runCtx, &start, "kafka", func(ctx context.Context) (event.Topics, error) { return kafkaproducer.EnsureTopics(ctx, kcfg) })
	if err != nil {
		return fail(err)
	}
	if st, err = sf.open(runCtx, &start, d.reg, d.log); err != nil {
		return fail(err)
	}
	defer func() { _ = st.Close() }()
	sum := newSummary(st, d, env.Now)
	provinces, stopProvinces, err := processProvinces(runCtx, st, af, d.log, env.Now)
	if err != nil {
		return fail(err)
	}
	defer stopProvinces()
	opened, closeSites, err := openSiteStore(runCtx, st, af)
	if err != nil {
		return fail(err)
	}
	defer closeSites()
	var siteStore sites.Store
	if opened != nil {
		siteStore = sum.sites(opened, provinces) // publications and alerts sent, for the summary
	}
	siteMetrics := sites.NewMetrics(d.reg)
	var sink processor.Sink = sum.sink(st, provinces)
	var match *sites.Matcher
	var side *siteSide
	if siteStore != nil {
		// Processors send every alert: those of late stays (the matcher)
		// and the sweeps of published and retracted sites, to the store of
		// sent alerts and to <prefix>alerts.
		pub := alertkafka.New(kcfg.Brokers, topics.Alerts, d.log)
		defer func() { _ = pub.Close() }()
		side = newSiteSide(sfl, sfl.grace(), siteStore, st, pub, siteMetrics, d, env.Now)
		// The copy of the published sites must be there before the first batch.
		match = sites.NewMatcher(sink, siteStore, st, pub, siteMetrics, d.log, env.Now)
		if err := match.Refresh(runCtx); err != nil {
			return fail(err)
		}
		sink = match
	}
	proc, err := processor.New(sf.layout(), sink, processor.NewMetrics(d.reg))
	if err != nil {
		return fail(err)
	}
	if cons, err = kafkaconsumer.New(ccfg, proc, kafkaconsumer.NewMetrics(d.reg), d.log); err != nil {
		return fail(err)
	}
	var embedded accessState
	tokenFile := ""
	if pb, ok := st.(*pebblestore.Store); ok {
		embedded, tokenFile = pb, filepath.Join(sf.dataDir, "admin.token")
	}
	g, closeState, err := af.open(runCtx, embedded, tokenFile, d.reg, d.log, env.Now)
	if err != nil {
		return fail(err)
	}
	defer closeState()
	if err := guard.set(g.guard(!st.Shared())); err != nil {
		return fail(err)
	}
	if !st.Shared() {
		registerQuery(e.mux, api.DefaultConfig(), st, g, d, env.Now, nil, sum)
		if pb, ok := st.(*pebblestore.Store); ok {
			siteLoc := locateSites(pb, pb)
			g.sites.Store(&siteLoc)
			side.routes(e.mux, pb, st, graph.NewEngine(st), g.trail, func(ctx context.Context) { _ = match.Refresh(ctx) }, d, env.Now)
			if err := (safetySide{registry: pb, assessments: pb, feedback: pb, sites: activeSites{pb}}).routes(e.mux, d, env.Now); err != nil {
				return fail(err)
			}
		}
	} else {
		g.accounts().Register(e.mux)
	}
	lag = &groupLag{client: &kafka.Client{Addr: kafka.TCP(kcfg.Brokers...), Timeout: 5 * time.Second},
		group: ccfg.Group, topics: topics.Records(), now: env.Now}

	var wg sync.WaitGroup
	var consErr error
	wg.Go(func() {
		consErr = cons.Run(runCtx)
		cancel()
	})
	wg.Go(func() { st.RunRetention(runCtx, retention, retInterval, env.Now) })
	if match != nil {
		wg.Go(func() { match.Run(runCtx, sfl.refresh) })
	}
	if side != nil {
		side.run(runCtx, &wg)
	}
	wg.Go(func() { sum.run(runCtx) })
	start.started()
	err = e.served()
	cancel()
	wg.Wait()
	return errors.Join(err, consErr)
}

// groupLag measures the processor group's lag for /v1/status, at most once
// a second however often the status is polled.
type groupLag struct {
	client *kafka.Client
	group  string
	topics []string
	now    func() time.Time

	mu  sync.Mutex
	at  time.Time
	n   int64
	err error
}

func (g *groupLag) records(ctx context.Context) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := g.now(); now.Sub(g.at) >= time.Second {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		lag, err := kafkaconsumer.Lag(ctx, g.client, g.group, g.topics)
		g.at, g.n, g.err = now, 0, err
		for _, n := range lag {
			g.n += n
		}
	}
	return g.n, g.err
}

// runQuery is `truyvet query`: the query API and UI over the ClickHouse store.
func runQuery(ctx context.Context, env Env) error {
	srv := newServeCmd(env, "query", "127.0.0.1:8083", "HTTP listen address")
	var sf storeFlags
	var af accessFlags
	qcfg := api.DefaultConfig()
	sf.register(srv.fs, false)
	af.register(srv.fs, true, false)
	var vf venueFlags
	vf.register(srv.fs, "")
	var sfl siteFlags
	sfl.register(srv.fs)
	durationFlag(srv.fs, &qcfg.Timeout, "query-timeout", qcfg.Timeout, "longest an exposure query may run")
	durationFlag(srv.fs, &sf.retention, "retention", event.DefaultRetention, "the process stage's --retention: the store reads a person's records of the oldest weeks it keeps from the day tables")
	durationFlag(srv.fs, &qcfg.SummaryCache, "summary-cache", qcfg.SummaryCache, "how long the declarations summary reuses counts it read (0: never)")
	var start startup
	start.register(srv.fs)
	d, err := srv.setup(env, func() error {
		if af.pgURL == "" {
			return pgstore.ErrNoURL
		}
		if err := sfl.validate(); err != nil {
			return err
		}
		if sf.retention <= 0 {
			return errors.New("--retention must be positive")
		}
		return sf.validate()
	})
	if d == nil {
		return err
	}
	start.log = d.log
	// Serve the ops routes at once; the API answers 503 until ClickHouse is there.
	var st store.Backend
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	guard := start.guardLater()
	e := start.serveEarly(runCtx, cancel, srv, d, ops{
		guard: guard.wrap,
		status: func(ctx context.Context) (server.Status, error) {
			var s server.Status
			return s, server.StoreStatus(ctx, &s, st)
		},
		ready: func(ctx context.Context) error { return storeReady(ctx, st) },
	})
	if st, err = sf.open(runCtx, &start, d.reg, d.log); err != nil {
		return e.fail(err)
	}
	defer func() { _ = st.Close() }()
	g, venues, closeGuarded, err := openGuarded(runCtx, af, vf, guard, true, d, env.Now)
	if err != nil {
		return e.fail(err)
	}
	defer closeGuarded()
	sum := newSummary(st, d, env.Now)
	safe := safetySide{assessments: st}
	if venues == nil {
		registerQuery(e.mux, qcfg, st, g, d, env.Now, nil, sum)
	} else {
		sum.venues = venues.known
		registerQuery(e.mux, qcfg, st, g, d, env.Now, venues.reg, sum)
		venues.routes(e.mux, st, g.trail, d, env.Now)
		fb, err := openFeedback(runCtx, af)
		if err != nil {
			return e.fail(err)
		}
		defer func() { _ = fb.Close() }()
		safe.registry, safe.feedback = venues.reg, fb
	}
	if venues != nil {
		// Sites name registered venues: without a registry there are none.
		ss, err := pgsites.Open(runCtx, pgsites.Options{URL: af.pgURL, Schema: af.pgSchema})
		if err != nil {
			return e.fail(err)
		}
		defer func() { _ = ss.Close() }()
		// The processors sweep published sites (they write <prefix>alerts);
		// this server only records the transitions and serves the feed.
		side := &siteSide{st: sum.sites(ss, venues.known), m: sites.NewMetrics(d.reg)}
		siteLoc := locateSites(ss, venues.reg)
		g.sites.Store(&siteLoc)
		side.routes(e.mux, venues.reg, st, graph.NewEngine(st, graph.WithVenueKinds(venue.KindsOf{Registry: venues.reg})), g.trail, nil, d, env.Now)
		safe.sites = activeSites{ss}
	}
	if err := safe.routes(e.mux, d, env.Now); err != nil {
		return e.fail(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { sum.run(runCtx) })
	start.started()
	err = e.served()
	cancel()
	wg.Wait()
	return err
}

// openGuarded opens what the access guard of a distributed ingest or query
// server stands on — the account state and, with a venue secret, the venue
// registry, both in PostgreSQL — and installs the guard on late (withCases:
// the server serves case lookups). closeAll releases both.
func openGuarded(ctx context.Context, af accessFlags, vf venueFlags, late *lateGuard, withCases bool, d *deps, now func() time.Time) (g *guarded, venues *venueSide, closeAll func(), err error) {
	g, closeState, err := af.open(ctx, nil, "", d.reg, d.log, now)
	if err != nil {
		return nil, nil, nil, err
	}
	venues, closeVenues, err := openDistributedVenues(ctx, af.pgURL, af.pgSchema, vf, d, now)
	if err != nil {
		closeState()
		return nil, nil, nil, err
	}
	closeAll = func() { closeVenues(); closeState() }
	if venues != nil {
		g.venues = venues.locate()
	}
	if err := late.set(g.guard(withCases)); err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return g, venues, closeAll, nil
}

// engineOptions are the query engine's options on s.
func engineOptions(s store.Backend) []graph.Option {
	if _, remote := s.(*chstore.Store); remote {
		// Over the network a round trip costs more than reading a venue's
		// visitors: the first tier too is read by venue (the case in one
		// query, its venues' visitors in another), not through the bitmaps
		// and then the candidates' stays (bench/README.md).
		return []graph.Option{graph.VenueReads(1)}
	}
	return nil
}

// registerQuery adds the query API, the summary, the accounts routes and
// the UI over s, auditing to g's trail and counting cases and lookups in
// sum. Contact definitions live in s.
// With a venue registry reg, exposure sites are named and contact
// definitions' venue kinds come from it (without, every venue is "other").
func registerQuery(mux *http.ServeMux, cfg api.Config, s store.Backend, g *guarded, d *deps, now func() time.Time, reg venue.Registry, sum *summarySide) {
	eopts := engineOptions(s)
	opts := []api.Option{api.WithDeclarations(s)}
	if reg != nil {
		eopts = append(eopts, graph.WithVenueKinds(venue.KindsOf{Registry: reg}))
		opts = append(opts, api.WithVenues(reg))
	}
	api.New(cfg, graph.NewEngine(s, eopts...), sum.trail(g.trail, g.state), sum.cases(g.state), definitions.New(s), api.NewMetrics(d.reg), d.log, now, opts...).Register(mux)
	sum.routes(mux)
	g.accounts().Register(mux)
	mux.Handle("/", ui.Handler())
}
