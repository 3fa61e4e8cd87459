package load_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/load"
	"github.com/truyvet/truyvet/bench/report"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// backend is a store the load writes and reads.
type backend interface {
	processor.Sink
	graph.Store
	store.Counter
	store.Sizer
}

// city is a small city (2 000 people, 40 venues, two days), small batches
// so that several writers share the work.
func city(t *testing.T) synth.Config {
	cfg := synth.Demo()
	cfg.People, cfg.Venues = 2000, 40
	require.NoError(t, cfg.Validate())
	return cfg
}

// counted are a city's records, with resends and without.
type counted struct{ visits, encounters, distinctVisits, distinctEncounters int64 }

func generated(t *testing.T, cfg synth.Config) counted {
	c, err := synth.New(cfg)
	require.NoError(t, err)
	var n counted
	vs, es := map[event.Visit]bool{}, map[event.Encounter]bool{}
	for b := range c.Batches() {
		n.visits += int64(len(b.Visits))
		n.encounters += int64(len(b.Encounters))
		for _, v := range b.Visits {
			vs[v] = true
		}
		for _, e := range b.Encounters {
			es[e] = true
		}
	}
	n.distinctVisits, n.distinctEncounters = int64(len(vs)), int64(len(es))
	require.Less(t, n.distinctVisits, n.visits, "the city resends some records")
	return n
}

func figure(t *testing.T, r *report.Report, name string) float64 {
	t.Helper()
	for _, f := range r.Figures {
		if f.Name == name {
			return f.Value
		}
	}
	t.Fatalf("no figure %q in %v", name, r.Figures)
	return 0
}

// check loads the city into s and holds the report to what was stored.
func check(t *testing.T, s backend, layout bucket.Layout, opts ...graph.Option) {
	ctx := context.Background()
	cfg := city(t)
	n := generated(t, cfg)
	r, err := load.Run(ctx, load.Config{City: cfg, Batch: 1000, Writers: 3, Cases: 10, MinMinutes: 15},
		load.Target{Sink: s, Layout: layout, Sizer: s, Engine: graph.NewEngine(s, opts...)})
	require.NoError(t, err)
	require.Equal(t, float64(n.visits+n.encounters), figure(t, r, "records loaded"))
	require.Positive(t, figure(t, r, "load rate"))
	require.Positive(t, figure(t, r, "bitmaps written"))
	require.Positive(t, figure(t, r, "bytes on disk per record"))
	require.Positive(t, figure(t, r, "F2 people found, median"), "a demo city's F2 graph is not empty")
	require.GreaterOrEqual(t, figure(t, r, "F1 p99"), figure(t, r, "F1 p50"))
	c, err := s.Counts(ctx)
	require.NoError(t, err)
	// Every record stored: ClickHouse's merges may have folded resends already.
	require.LessOrEqual(t, n.distinctVisits, c.Visits, "every check-in stored")
	require.LessOrEqual(t, c.Visits, n.visits)
	require.LessOrEqual(t, n.distinctEncounters, c.Encounters, "every encounter stored")
	require.LessOrEqual(t, c.Encounters, n.encounters)
	require.Len(t, r.Tables, 3)
	require.NotEmpty(t, r.Tables[0].Rows, "bytes by table")
	stages := map[string]bool{}
	for _, row := range r.Tables[2].Rows {
		stages[row[0]+" "+row[1]] = true
	}
	for _, want := range []string{"1 case_f1", "1 refine_f1", "2 sources_f2", "2 refine_f2"} {
		require.True(t, stages[want], "the stage table names %s: %v", want, r.Tables[2].Rows)
	}
	require.NoError(t, r.Write(t.TempDir()))

	// The same city again: the stores' writes are idempotent, so the answers
	// do not change (the people found are the same median).
	again, err := load.Run(ctx, load.Config{City: cfg, Batch: 5000, Writers: 1, Cases: 10, MinMinutes: 15},
		load.Target{Sink: s, Layout: layout, Engine: graph.NewEngine(s, opts...)})
	require.NoError(t, err)
	require.Equal(t, figure(t, r, "F2 people found, median"), figure(t, again, "F2 people found, median"))
	require.Equal(t, figure(t, r, "F1 people found, median"), figure(t, again, "F1 people found, median"))
}

func TestLoadEmbedded(t *testing.T) {
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	check(t, s, s.Layout())

	// Asking again without loading: the same people, no load figures.
	cfg := city(t)
	r, err := load.Run(t.Context(), load.Config{City: cfg, QueryOnly: true, Depths: []int{2}, Cases: 10, MinMinutes: 15},
		load.Target{Sink: s, Layout: s.Layout(), Engine: graph.NewEngine(s)})
	require.NoError(t, err)
	for _, f := range r.Figures {
		require.NotEqual(t, "records loaded", f.Name, "nothing loaded")
		require.NotContains(t, f.Name, "F1", "depth 1 not asked")
	}
	require.Positive(t, figure(t, r, "F2 people found, median"))

	// Contact lists find the same people as whole graphs.
	lists, err := load.Run(t.Context(), load.Config{City: cfg, QueryOnly: true, Depths: []int{2}, Cases: 10, MinMinutes: 15, ContactsOnly: true},
		load.Target{Sink: s, Layout: s.Layout(), Engine: graph.NewEngine(s)})
	require.NoError(t, err)
	require.Equal(t, figure(t, r, "F2 people found, median"), figure(t, lists, "F2 people found, median"))
	require.Equal(t, true, lists.Dataset["contacts_only"])
}

func TestLoadClickHouse(t *testing.T) {
	addr := chtest.Addr(t)
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.Layout = addr, chtest.Database(t, addr), bucket.DefaultLayout()
	s, err := chstore.Open(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	check(t, s, s.Layout(), graph.VenueReads(1))
}

// flaky fails its first writes, as a store that is briefly unreachable.
type flaky struct {
	processor.Sink
	fails atomic.Int32
}

var errDown = errors.New("down")

func (f *flaky) Write(ctx context.Context, b *processor.Batch) error {
	if f.fails.Add(-1) >= 0 {
		return errDown
	}
	return f.Sink.Write(ctx, b)
}

func TestLoadRetriesAFailedWrite(t *testing.T) {
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	cfg := city(t)
	n := generated(t, cfg)
	f := &flaky{Sink: s}
	f.fails.Store(1)
	r, err := load.Run(t.Context(), load.Config{City: cfg, Batch: 20_000, Writers: 1}, load.Target{Sink: f, Layout: s.Layout()})
	require.NoError(t, err)
	require.Equal(t, 1.0, figure(t, r, "write retries"))
	c, err := s.Counts(t.Context())
	require.NoError(t, err)
	require.Equal(t, n.visits, c.Visits, "the retried batch is stored")
}

func TestLoadRejectsABadConfig(t *testing.T) {
	for _, c := range []load.Config{
		{City: synth.Demo(), Batch: -1},
		{City: synth.Demo(), Writers: 65},
		{City: synth.Demo(), Cases: -1},
		{City: synth.Demo(), Settle: -1},
		{City: synth.Demo(), Depths: []int{3}},
		{City: synth.Config{}},
	} {
		err := c.Validate()
		require.Error(t, err)
		if c.City.People > 0 {
			require.ErrorIs(t, err, load.ErrConfig)
			require.Contains(t, err.Error(), "load: invalid config")
		}
	}
	_, err := load.Run(t.Context(), load.Config{City: synth.Demo(), Cases: 1}, load.Target{})
	require.ErrorIs(t, err, load.ErrConfig, "cases need an engine")
}
