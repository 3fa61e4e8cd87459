package cli

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/internal/await"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/pgvenue"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/cache"
)

// summaryFlush is how often counts made on requests reach the store.
const summaryFlush = time.Second

// summarySide is a process's part of the summary (package summary): the
// counters it adds to and answers from, and its tally of counts made on
// requests.
type summarySide struct {
	counters summary.Counters
	tally    *summary.Tally
	now      func() time.Time
	log      *slog.Logger
	venues   summary.Registered // the registry's copy, for not_assessed; nil: not known here
}

func newSummary(c summary.Counters, d *deps, now func() time.Time) *summarySide {
	return &summarySide{counters: c, tally: summary.NewTally(c, now, d.log, summary.NewMetrics(d.reg)), now: now, log: d.log}
}

// run flushes the tally until ctx ends, and once more then.
func (s *summarySide) run(ctx context.Context) { s.tally.Run(ctx, summaryFlush) }

// routes adds GET /v1/summary.
func (s *summarySide) routes(mux *http.ServeMux) {
	h := &summary.Handler{Counters: s.counters, Provinces: province.Default(), Now: s.now, Log: s.log}
	if s.venues != nil { // not a nil *cache.Cache in the interface
		h.Venues = s.venues
	}
	h.Register(mux)
}

// sink counts each batch next makes durable; provinces name check-ins' and
// assessed venues' (nil: unknown). The venues' levels are kept when next
// reads its assessments back (safety.PriorReader: both stores do).
func (s *summarySide) sink(next processor.Sink, provinces summary.Provinces) *summary.Sink {
	sk := &summary.Sink{Next: next, Counters: s.counters, Provinces: provinces, Now: s.now}
	if pr, ok := next.(safety.PriorReader); ok {
		sk.Assessments = pr
	}
	return sk
}

// ingestOption counts ingest's rejections.
func (s *summarySide) ingestOption() ingest.Option { return ingest.WithRejections(s.tally.Rejected) }

// cases counts new cases of reg; trail counts answered lookups of cases in reg.
func (s *summarySide) cases(reg cases.Registry) cases.Registry {
	return summary.Cases{Registry: reg, Tally: s.tally}
}

func (s *summarySide) trail(t audit.Log, reg cases.Registry) audit.Log {
	return summary.Audit{Log: t, Cases: reg, Tally: s.tally}
}

// sites counts the publications and the new alerts of st, in the province
// of their venue from provinces (nil: unknown; may be set until first use).
func (s *summarySide) sites(st sites.Store, provinces summary.Provinces) *summary.Sites {
	return &summary.Sites{Store: st, Provinces: provinces, Tally: s.tally}
}

// venueProvinces keeps a copy of the venues' provinces from the registry
// reg (refreshed until the returned stop), for the processor's counts.
func venueProvinces(ctx context.Context, reg venue.Registry, log *slog.Logger, now func() time.Time) (*cache.Cache, func(), error) {
	c := cache.New(reg, cache.Options{Logger: log, Now: now})
	if err := c.Load(ctx); err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(runCtx) }()
	return c, func() { cancel(); <-done }, nil
}

// distributedProvinces is venueProvinces over the PostgreSQL registry, or
// nil (check-ins count under unknown) without --postgres-url.
func distributedProvinces(ctx context.Context, af accessFlags, log *slog.Logger, now func() time.Time) (summary.Provinces, func(), error) {
	if af.pgURL == "" {
		return nil, func() {}, nil
	}
	reg, err := pgvenue.Open(ctx, pgvenue.Options{URL: af.pgURL, Schema: af.pgSchema})
	if err != nil {
		return nil, nil, err
	}
	c, stop, err := venueProvinces(ctx, reg, log, now)
	if err != nil {
		_ = reg.Close()
		return nil, nil, err
	}
	return c, func() { stop(); _ = reg.Close() }, nil
}

// processProvinces is where the processor finds check-ins' provinces: the
// embedded store's own registry, else the PostgreSQL one.
func processProvinces(ctx context.Context, st store.Backend, af accessFlags, log *slog.Logger, now func() time.Time) (summary.Provinces, func(), error) {
	if reg, ok := st.(venue.Registry); ok && !st.Shared() {
		return venueProvinces(ctx, reg, log, now)
	}
	return distributedProvinces(ctx, af, log, now)
}

// summaryStoreFlags are ingest's way to the summary's counters: ingest keeps
// no records, but its rejections are counted in the ClickHouse store the
// processors and query servers use (summary.Tally over a counters-only
// connection).
type summaryStoreFlags struct {
	addr, db, user, password, cluster string
}

func (f *summaryStoreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "clickhouse-addr", "", "ClickHouse native-protocol address(es), comma-separated, where rejections are counted for GET /v1/summary (empty: not counted)")
	fs.StringVar(&f.db, "clickhouse-database", "truyvet", "ClickHouse database of this deployment")
	fs.StringVar(&f.cluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers) holding the database, as the processors name it; empty: one server")
	fs.StringVar(&f.user, "clickhouse-user", "default", "ClickHouse user")
	secretFlag(fs, &f.password, "clickhouse-password", "ClickHouse password (never printed)")
}

// errNotConnected is what lateCounters answers before its store is open.
var errNotConnected = errors.New("the summary's store is not connected yet")

// lateCounters are counters whose store opens after the process starts:
// until then adds fail (a Tally keeps them for later).
type lateCounters struct{ p atomic.Pointer[chstore.Store] }

func (l *lateCounters) AddCounts(ctx context.Context, ds []summary.Delta) error {
	s := l.p.Load()
	if s == nil {
		return errNotConnected
	}
	return s.AddCounts(ctx, ds)
}

func (l *lateCounters) SummaryCounts(ctx context.Context, q summary.Query) ([]summary.Count, error) {
	s := l.p.Load()
	if s == nil {
		return nil, errNotConnected
	}
	return s.SummaryCounts(ctx, q)
}

// open connects in the background, retrying until ctx ends; the returned
// function waits for that and closes the store. Without an address the
// rejections are not counted, and open says so.
func (f *summaryStoreFlags) open(ctx context.Context, log *slog.Logger) (summary.Counters, func()) {
	if f.addr == "" {
		log.Warn("no --clickhouse-addr: ingest's rejections are not counted in GET /v1/summary")
		return nil, func() {}
	}
	late := &lateCounters{}
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.Username, opts.Password, opts.Cluster = splitList(f.addr), f.db, f.user, f.password, f.cluster
	opts.Migrate, opts.CountersOnly, opts.Logger = false, true, log
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := await.Do(ctx, await.Options{Name: "clickhouse (summary counters)", Log: log, MaxBackoff: 30 * time.Second},
			func(ctx context.Context) (*chstore.Store, error) { return chstore.Open(ctx, opts) })
		if err == nil {
			late.p.Store(s)
		}
	}()
	return late, func() {
		<-done
		if s := late.p.Load(); s != nil {
			_ = s.Close()
		}
	}
}
