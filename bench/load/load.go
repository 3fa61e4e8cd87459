// Package load fills a store with a synthetic city through the processor's
// own writer (processor.Process: the co-location bitmaps, then the store's
// Write, one columnar insert per table per batch) — the bulk path for a
// whole tier, far faster than HTTP ingest and Kafka — and then asks random
// cases of the loaded store, in process, through the engine the query
// server runs on it. It reports the load's rate, the bytes on disk per
// record and F1/F2 latency.
//
// Records go in the order an app backend receives them (synth's upload
// order), in batches of Config.Batch, Config.Writers batches in flight at
// once. A failed write is retried: the stores' writes are idempotent, so a
// batch written twice is stored once.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/truyvet/truyvet/bench/report"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
)

// Config is one load.
type Config struct {
	City    synth.Config
	Dataset map[string]any // what the report says about the records
	Batch   int            // records per write; 0: DefaultBatch
	Writers int            // batches built and written at once; 0: 2
	// Cases random people are asked at depth 1 and at depth 2 after the
	// load (0: no queries), over the city's whole span, with MinMinutes.
	Cases      int
	MinMinutes float64
	Depths     []int // the depths asked, in order; nil: 1 and 2
	// ContactsOnly asks for contact lists (graph.Query.ContactsOnly: the
	// people and their venues, no edges), as tracers' lists and the
	// definitions' lookups do, instead of whole graphs.
	ContactsOnly bool
	// QueryOnly skips the load: the store already holds the city (an earlier
	// load of the same configuration), and only the queries are timed.
	QueryOnly bool
	// Settle is how long to wait at most, after the load, for the store's
	// bytes on disk to stop changing (background merges) before measuring
	// them again; 0: measured once, right after the load.
	Settle   time.Duration
	Every    time.Duration // progress interval; 0: 10 s
	Progress io.Writer     // progress lines; nil: none
}

// DefaultBatch is the default number of records per write.
const DefaultBatch = 200_000

// Target is where the records go and what reads them back.
type Target struct {
	Sink   processor.Sink
	Layout bucket.Layout
	Sizer  store.Sizer // nil: no bytes on disk in the report
	// Compact, if set, runs after the load before the bytes are measured
	// (the embedded store flushes and compacts; ClickHouse merges each day but
	// the last into one part per table, as the process stage would have).
	Compact func(context.Context) error
	Engine  *graph.Engine // required when Config.Cases > 0
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("load: invalid config")

// Attempts a batch is written before the load fails.
const attempts = 4

func (c *Config) defaults() error {
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Writers == 0 {
		c.Writers = 2
	}
	if c.Every <= 0 {
		c.Every = 10 * time.Second
	}
	switch {
	case c.Batch < 1 || c.Batch > 10_000_000:
		return fmt.Errorf("%w: batch %d is not in 1..10000000", ErrConfig, c.Batch)
	case c.Writers < 1 || c.Writers > 64:
		return fmt.Errorf("%w: writers %d is not in 1..64", ErrConfig, c.Writers)
	case c.Cases < 0:
		return fmt.Errorf("%w: cases %d is negative", ErrConfig, c.Cases)
	case c.Settle < 0:
		return fmt.Errorf("%w: settle %s is negative", ErrConfig, c.Settle)
	}
	if c.Depths == nil {
		c.Depths = []int{1, 2}
	}
	for _, d := range c.Depths {
		if d != 1 && d != 2 {
			return fmt.Errorf("%w: depth %d is not 1 or 2", ErrConfig, d)
		}
	}
	return c.City.Validate()
}

// Validate checks the configuration.
func (c Config) Validate() error { return c.defaults() }

// Run loads the city into t and measures it.
func Run(ctx context.Context, cfg Config, t Target) (*report.Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if cfg.Cases > 0 && t.Engine == nil {
		return nil, fmt.Errorf("%w: cases need an engine", ErrConfig)
	}
	started := time.Now()
	city, err := synth.New(cfg.City)
	if err != nil {
		return nil, err
	}
	built := time.Since(started)
	r := report.New("truyvet bench load", "Bulk load through the processor's writer, then exposure-graph latency", cfg.Dataset)
	r.Dataset["batch"], r.Dataset["writers"], r.Dataset["contacts_only"] = cfg.Batch, cfg.Writers, cfg.ContactsOnly
	if !cfg.QueryOnly {
		if err := loadInto(ctx, cfg, t, city, r, built); err != nil {
			return nil, err
		}
	}
	if cfg.Cases > 0 {
		from, to := city.Span()
		if err := ask(ctx, cfg, t.Engine, graph.Window{From: from.Unix(), To: to.Unix()}, r); err != nil {
			return nil, err
		}
	}
	r.Duration = time.Since(started)
	return r, nil
}

// loadInto loads the city and adds the load's figures to r.
func loadInto(ctx context.Context, cfg Config, t Target, city *synth.City, r *report.Report, built time.Duration) error {
	l, err := loadCity(ctx, cfg, t, city)
	if err != nil {
		return err
	}
	secs := l.took.Seconds()
	r.Figures = append(r.Figures,
		report.Figure{Name: "city built", Value: built.Seconds(), Unit: "s", Note: "people, venues and routines, before the first record"},
		report.Figure{Name: "records loaded", Value: float64(l.records), Unit: "records", Note: fmt.Sprintf("%d check-ins and check-outs, %d encounters, %d declarations", l.visits, l.encounters, l.declarations)},
		report.Figure{Name: "load time", Value: secs, Unit: "s", Note: "first record generated → last batch durable (generation included)"},
		report.Figure{Name: "load rate", Value: float64(l.records) / secs, Unit: "records/s"},
		report.Figure{Name: "bitmaps written", Value: float64(l.bitmaps), Unit: "bitmaps"},
		report.Figure{Name: "write retries", Value: float64(l.retries), Unit: "batches"},
	)
	r.Series = append(r.Series, report.Series{Name: "records loaded", Unit: "records", Points: l.points})
	if t.Compact != nil {
		t0 := time.Now()
		if err := t.Compact(ctx); err != nil {
			return err
		}
		r.Figures = append(r.Figures, report.Figure{Name: "compaction", Value: time.Since(t0).Seconds(), Unit: "s", Note: "after the load, before the bytes are measured"})
	}
	if t.Sizer != nil {
		return sizeUp(ctx, cfg, t.Sizer, l.records, r)
	}
	return nil
}

type loaded struct {
	records, visits, encounters, declarations, bitmaps int64
	retries                                            int64
	took                                               time.Duration
	points                                             []report.Point
}

// loadCity streams the city's batches to cfg.Writers writers.
func loadCity(ctx context.Context, cfg Config, t Target, city *synth.City) (*loaded, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan *event.Batch, cfg.Writers)
	var (
		mu sync.Mutex
		l  loaded
		wg sync.WaitGroup
	)
	for range cfg.Writers {
		p, err := processor.New(t.Layout, t.Sink, nil)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			for b := range work {
				var pb processor.Batch
				p.Build(b, &pb)
				retries, err := write(ctx, t.Sink, &pb)
				if err != nil {
					cancel(err)
					continue // drain
				}
				mu.Lock()
				l.records += int64(b.Len())
				l.visits += int64(len(b.Visits))
				l.encounters += int64(len(b.Encounters))
				l.declarations += int64(len(b.Declarations))
				l.bitmaps += int64(len(pb.Bitmaps))
				l.retries += int64(retries)
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	sample := func() {
		mu.Lock()
		n := l.records
		mu.Unlock()
		el := time.Since(start)
		l.points = append(l.points, report.Point{X: el.Seconds(), Y: float64(n)})
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "load: %d records in %s (%.0f records/s)\n", n, el.Round(time.Second), float64(n)/el.Seconds())
		}
	}
	batch := &event.Batch{}
	send := func() bool {
		select {
		case work <- batch:
			batch = &event.Batch{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for part := range city.Batches() {
		batch.Append(&part)
		if batch.Len() >= cfg.Batch && !send() {
			break
		}
		select {
		case <-tick.C:
			sample()
		default:
		}
	}
	if ctx.Err() == nil && batch.Len() > 0 {
		send()
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	l.took = time.Since(start)
	sample()
	return &l, nil
}

// write writes b, retrying a failed write: a batch written twice is stored
// once. It returns how many retries it took.
func write(ctx context.Context, sink processor.Sink, b *processor.Batch) (int, error) {
	var err error
	for i := range attempts {
		if err = sink.Write(ctx, b); err == nil {
			return i, nil
		}
		select {
		case <-time.After(time.Duration(1<<i) * time.Second):
		case <-ctx.Done():
			return i, context.Cause(ctx)
		}
	}
	return attempts, fmt.Errorf("load: write failed %d times: %w", attempts, err)
}

// sizeUp adds bytes on disk per record to r, right after the load and, with
// cfg.Settle, once they stop changing.
func sizeUp(ctx context.Context, cfg Config, sz store.Sizer, records int64, r *report.Report) error {
	total := func() (int64, []store.TableUsage, error) {
		u, err := sz.DiskUsage(ctx)
		var n int64
		for _, t := range u {
			n += t.Bytes
		}
		return n, u, err
	}
	b, _, err := total()
	if err != nil {
		return err
	}
	r.Figures = append(r.Figures, report.Figure{Name: "bytes on disk per record, right after the load", Value: float64(b) / float64(max(records, 1)), Unit: "B", Note: "merges still running"})
	if cfg.Settle > 0 {
		deadline := time.Now().Add(cfg.Settle)
		for time.Now().Before(deadline) {
			select {
			case <-time.After(min(30*time.Second, cfg.Settle)):
			case <-ctx.Done():
				return ctx.Err()
			}
			nb, _, err := total()
			if err != nil {
				return err
			}
			if nb == b {
				break
			}
			b = nb
		}
	}
	_, usage, err := total()
	if err != nil {
		return err
	}
	tab := report.Table{Title: "Bytes on disk by table (one copy)", Header: []string{"table", "rows", "bytes", "bytes per record loaded"}}
	for _, t := range usage {
		tab.Rows = append(tab.Rows, []string{t.Table, fmt.Sprint(t.Rows), fmt.Sprint(t.Bytes), fmt.Sprintf("%.1f", float64(t.Bytes)/float64(max(records, 1)))})
	}
	r.Tables = append(r.Tables, tab)
	r.Figures = append(r.Figures, report.Figure{Name: "bytes on disk per record", Value: float64(b) / float64(max(records, 1)), Unit: "B",
		Note: fmt.Sprintf("all tables, one copy, %d bytes in all, after waiting up to %s for merges", b, cfg.Settle)})
	return nil
}

// ask times cfg.Cases random people at depth 1, then at depth 2.
func ask(ctx context.Context, cfg Config, eng *graph.Engine, w graph.Window, r *report.Report) error {
	rng := rand.New(rand.NewPCG(cfg.City.Seed, 7))
	stab := report.Table{Title: "Time per stage over the cases (a query's stages may overlap)", Header: []string{"depth", "stage", "p50 ms", "p99 ms"}}
	tab := report.Table{Title: "Slowest query of each depth", Header: []string{"depth", "case", "ms", "people", "candidates F1", "candidates F2", "stays read", "visitors read", "contacts read"}}
	for _, depth := range cfg.Depths {
		var ms, nodes []float64
		var slow struct {
			ms   float64
			id   uint32
			res  *graph.Result
			seen bool
		}
		stages := map[string][]float64{}
		for i := range cfg.Cases {
			id := uint32(rng.IntN(cfg.City.People) + 1)
			t0 := time.Now()
			res, err := eng.Exposures(ctx, graph.Query{Case: id, Window: w, Depth: depth, MinSeconds: int64(cfg.MinMinutes * 60), ContactsOnly: cfg.ContactsOnly})
			if err != nil {
				return fmt.Errorf("case %d depth %d: %w", id, depth, err)
			}
			d := float64(time.Since(t0).Microseconds()) / 1000
			ms, nodes = append(ms, d), append(nodes, float64(len(res.Nodes)-1))
			if !slow.seen || d > slow.ms {
				slow.ms, slow.id, slow.res, slow.seen = d, id, res, true
			}
			for st, ns := range res.Stats.StageNanos {
				stages[st] = append(stages[st], float64(ns)/1e6)
			}
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "depth %d case %d/%d: person %d, %d people, %.1f ms (%s)\n", depth, i+1, cfg.Cases, id, len(res.Nodes)-1, d, stageList(res.Stats.StageNanos))
			}
		}
		name := fmt.Sprintf("F%d", depth)
		dist := report.DistributionOf(ms)
		p := dist.Percentiles()
		np := report.PercentilesOf(nodes)
		r.Figures = append(r.Figures,
			report.Figure{Name: name + " p50", Value: p.P50, Unit: "ms"}, report.Figure{Name: name + " p99", Value: p.P99, Unit: "ms"},
			report.Figure{Name: name + " people found, median", Value: np.P50, Unit: "people", Note: fmt.Sprintf("max %.0f", np.Max)})
		r.Histograms = append(r.Histograms, report.Histogram{Name: name + " latency", Unit: "ms", Dist: dist})
		for _, name := range slices.Sorted(maps.Keys(stages)) {
			// A stage a case skipped counts as 0 ms for it.
			v := stages[name]
			v = append(v, make([]float64, cfg.Cases-len(v))...)
			p := report.PercentilesOf(v)
			stab.Rows = append(stab.Rows, []string{fmt.Sprint(depth), name, fmt.Sprintf("%.1f", p.P50), fmt.Sprintf("%.1f", p.P99)})
		}
		st := slow.res.Stats
		tab.Rows = append(tab.Rows, []string{fmt.Sprint(depth), fmt.Sprint(slow.id), fmt.Sprintf("%.1f", slow.ms), fmt.Sprint(len(slow.res.Nodes)),
			fmt.Sprint(st.CandidatesF1), fmt.Sprint(st.CandidatesF2), fmt.Sprint(st.StaysRead), fmt.Sprint(st.VisitorsRead), fmt.Sprint(st.ContactsRead)})
	}
	r.Tables = append(r.Tables, tab, stab)
	return nil
}

// stageList formats a query's stage times, in ms, by name.
func stageList(ns map[string]int64) string {
	var b []byte
	for _, name := range slices.Sorted(maps.Keys(ns)) {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s %.1f", name, float64(ns[name])/1e6)
	}
	return string(b)
}
