package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/internal/server"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
)

// allInOneConfig is the configuration of the all-in-one mode, beyond the
// server's own flags.
type allInOneConfig struct {
	DataDir           string
	Bucket, Dwell     time.Duration
	RetentionInterval time.Duration
	CacheBytes        int64
	Ingest            ingest.Config
	Query             api.Config
	Access            accessFlags
	Venues            venueFlags
	Sites             siteFlags
}

func (c *allInOneConfig) register(fs *flag.FlagSet) {
	c.Ingest = ingest.DefaultConfig()
	c.Query = api.DefaultConfig()
	fs.StringVar(&c.DataDir, "data-dir", "truyvet-data", "directory of the embedded store")
	layoutFlags(fs, &c.Bucket, &c.Dwell, "a data directory's")
	durationFlag(fs, &c.RetentionInterval, "retention-interval", time.Hour, "how often retention runs")
	fs.Int64Var(&c.CacheBytes, "cache-bytes", 256<<20, "block cache of the embedded store, in bytes")
	registerIngest(fs, &c.Ingest)
	durationFlag(fs, &c.Query.Timeout, "query-timeout", c.Query.Timeout, "longest an exposure query may run")
	durationFlag(fs, &c.Query.SummaryCache, "summary-cache", c.Query.SummaryCache, "how long the declarations summary reuses counts it read (0: never)")
	c.Access.register(fs, false, true)
	c.Venues.register(fs, "")
	c.Sites.register(fs)
	fs.Lookup("venue-secret-file").Usage += "; default DATA_DIR/venue.secret"
}

func (c *allInOneConfig) layout() bucket.Layout { return layoutOf(c.Bucket, c.Dwell) }

// ErrMissingDataDir is returned when --data-dir is empty.
var ErrMissingDataDir = errors.New("--data-dir is required")

func (c *allInOneConfig) validate() error {
	if c.DataDir == "" {
		return ErrMissingDataDir
	}
	if c.RetentionInterval <= 0 {
		return fmt.Errorf("--retention-interval must be positive")
	}
	if err := c.layout().Validate(); err != nil {
		return err
	}
	v := c.venueFlags()
	if err := v.validate(); err != nil {
		return err
	}
	if err := c.Sites.validate(); err != nil {
		return err
	}
	return validateIngest(c.Ingest)
}

// venueFlags are the venue flags with the secret file defaulting into the
// data directory.
func (c *allInOneConfig) venueFlags() venueFlags {
	v := c.Venues
	if v.secretFile == "" {
		v.secretFile = defaultSecretFile(c.DataDir)
	}
	return v
}

func runAllInOne(ctx context.Context, env Env) error {
	srv := newServeCmd(env, "all-in-one", "127.0.0.1:8080", "HTTP listen address")
	var cfg allInOneConfig
	cfg.register(srv.fs)
	d, err := srv.setup(env, cfg.validate)
	if d == nil {
		return err
	}
	// A start that fails before serving (the port is taken) must not leave
	// behind a data directory it created: nothing was written into it.
	_, statErr := os.Stat(cfg.DataDir)
	created := errors.Is(statErr, os.ErrNotExist)
	served := false
	n, err := newNode(ctx, cfg, d, env.Now)
	if err == nil {
		err = n.run(ctx, srv, func(string) { served = true })
	}
	if err != nil && created && !served {
		if e := os.RemoveAll(cfg.DataDir); e != nil {
			d.log.Warn("cannot remove the data directory of a failed start", "data_dir", cfg.DataDir, "err", e)
		}
	}
	return err
}

// node is one all-in-one process: ingest → pipe → processor → embedded store ← query.
type node struct {
	cfg    allInOneConfig
	log    *slog.Logger
	d      *deps
	now    func() time.Time
	store  *pebblestore.Store
	proc   *processor.Processor
	pipe   *processor.Pipe
	ingest *ingest.Handler
	venues *venueSide
	sites  *siteSide
	match  *sites.Matcher
	engine *graph.Engine
	mux    *http.ServeMux
	access *guarded
	sum    *summarySide
}

func newNode(ctx context.Context, cfg allInOneConfig, d *deps, now func() time.Time) (*node, error) {
	n := &node{cfg: cfg, log: d.log, d: d, now: now, mux: http.NewServeMux()}
	store, err := pebblestore.Open(ctx, pebblestore.Options{
		Dir: cfg.DataDir, Layout: cfg.layout(), CacheBytes: cfg.CacheBytes, Logger: d.log, Registerer: d.reg,
	})
	if err != nil {
		return nil, err
	}
	n.store = store
	// The processor writes through the matcher of published sites, which
	// the registry tells at once of a change (Changed below): a grace of a
	// second covers a batch matched against the copy before the change.
	// Behind the matcher, the summary counts each batch as it is stored.
	n.sum = newSummary(store, d, now)
	siteMetrics := sites.NewMetrics(d.reg)
	sink := n.sum.sink(store, nil)
	// The site store counts publications and alerts sent for the summary.
	siteStore := n.sum.sites(store, nil)
	n.match = sites.NewMatcher(sink, siteStore, store, nil, siteMetrics, d.log, now)
	if err := n.match.Refresh(ctx); err != nil {
		_ = store.Close()
		return nil, err
	}
	n.sites = newSiteSide(cfg.Sites, time.Second, siteStore, store, nil, siteMetrics, d, now)
	n.proc, err = processor.New(cfg.layout(), n.match, processor.NewMetrics(d.reg))
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	n.pipe = processor.NewPipe(n.proc, 0)
	if n.venues, err = openVenues(ctx, cfg.venueFlags(), store, true, d, now); err != nil {
		_ = store.Close()
		return nil, err
	}
	sink.Provinces, siteStore.Provinces = n.venues.known, n.venues.known // before the pipe runs
	n.sum.venues = n.venues.known
	n.ingest, err = ingest.NewHandler(cfg.Ingest, n.pipe, ingest.NewMetrics(d.reg), d.log, now, n.venues.ingestOption(), n.sum.ingestOption())
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	n.engine = graph.NewEngine(store, graph.WithVenueKinds(venue.KindsOf{Registry: store}))
	n.access, err = cfg.Access.setup(ctx, store, filepath.Join(cfg.DataDir, "admin.token"), d.reg, d.log, now)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	n.ingest.Register(n.mux)
	api.New(cfg.Query, n.engine, n.sum.trail(n.access.trail, store), n.sum.cases(store), definitions.New(store), api.NewMetrics(d.reg), d.log, now, api.WithVenues(store), api.WithDeclarations(store)).Register(n.mux)
	n.sum.routes(n.mux)
	n.access.accounts().Register(n.mux)
	n.venues.routes(n.mux, store, n.access.trail, d, now)
	n.access.venues = n.venues.locate()
	siteLoc := locateSites(store, store)
	n.access.sites.Store(&siteLoc)
	n.sites.routes(n.mux, store, store, n.engine, n.access.trail, func(ctx context.Context) {
		if err := n.match.Refresh(ctx); err != nil {
			n.log.Warn("cannot reload the published exposure sites; the next sweep catches what the matcher misses", "err", err)
		}
	}, d, now)
	safe := safetySide{registry: store, producer: n.pipe, assessments: store, feedback: store, sites: activeSites{store}, limits: cfg.Ingest.Limits}
	if err := safe.routes(n.mux, d, now); err != nil {
		_ = store.Close()
		return nil, err
	}
	n.mux.Handle("/", ui.Handler())
	return n, nil
}

func (n *node) status(ctx context.Context) (server.Status, error) {
	c, processed := n.ingest.Counts(), n.proc.Processed()
	st := server.Status{Received: server.Count(c.Received), Accepted: server.Count(c.Accepted), Rejected: server.Count(c.Rejected),
		Unavailable: server.Count(c.Unavailable), CountsSince: countsSince(n.ingest),
		Processed: server.Count(processed), DeadLettered: server.Count(0), Lag: &server.LagStatus{Records: max(0, c.Accepted-processed)}}
	return st, server.StoreStatus(ctx, &st, n.store)
}

// run serves until ctx ends, then shuts down in order: stop taking requests,
// let in-flight ones finish, stop the pipe, close the store. onListen, if not
// nil, is called with the bound address once the server is accepting.
func (n *node) run(ctx context.Context, srv *serveCmd, onListen func(addr string)) error {
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = n.pipe.Run(pipeCtx) })
	wg.Go(func() {
		n.store.RunRetention(pipeCtx, n.cfg.Ingest.Limits.Retention, n.cfg.RetentionInterval, n.now)
	})
	wg.Go(func() { n.match.Run(pipeCtx, n.cfg.Sites.refresh) })
	n.sites.run(pipeCtx, &wg)
	wg.Go(func() { n.sum.run(pipeCtx) })
	n.log.Info("truyvet all-in-one starting", "data_dir", n.cfg.DataDir, "bucket", n.cfg.Bucket.String(),
		"dwell", n.cfg.Dwell.String(), "retention", n.cfg.Ingest.Limits.Retention.String())
	err := srv.serve(ctx, n.d, n.mux, ops{status: n.status, guard: n.access.guard(true)}, onListen)
	n.log.Info("shutting down")
	stopPipe()
	wg.Wait()
	if e := n.store.Close(); e != nil && err == nil {
		err = e
	}
	return err
}

// registerVenues imports specs (with their ids) into the registry and
// makes them known to ingest at once.
func (n *node) registerVenues(ctx context.Context, specs []venue.Spec) error {
	vs, err := n.store.Register(ctx, specs)
	if err != nil {
		return fmt.Errorf("register %d venues: %w", len(specs), err)
	}
	n.venues.known.Add(vs)
	return nil
}
