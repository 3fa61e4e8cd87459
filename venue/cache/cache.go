// Package cache keeps the copy of the venue registry's ids that ingest
// checks check-ins against, without a database round trip per record. It
// catches up by asking the registry for what was registered after the last
// Seq it saw (venue.Registry.Since), every refresh interval, so a venue
// registered through any replica is known to every other within about one
// interval; the replica that registers it knows it at once (Add).
//
// Metrics (NewMetrics):
//
//	truyvet_ingest_venue_cache_venues                  venues known
//	truyvet_ingest_venue_cache_staleness_seconds       time since the last successful refresh
//	truyvet_ingest_venue_cache_refresh_errors_total    refreshes that failed
package cache

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/venue"
)

// DefaultRefresh is how often a cache asks for new registrations.
const DefaultRefresh = 2 * time.Second

// page is how many registrations one Since call fetches.
const page = 10_000

// Cache is safe for concurrent use: Known reads an immutable snapshot.
type Cache struct {
	reg     venue.Registry
	refresh time.Duration
	log     *slog.Logger
	now     func() time.Time
	errs    prometheus.Counter

	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises writers (refresh, Add)

	// The venues' provinces, for the summary's counts: an index into
	// names per venue, updated in place (a copy per refresh would cost a
	// map of every venue).
	provMu sync.RWMutex
	prov   map[uint32]uint8
	names  []string // names[0] is "": not known
	counts []int64  // venues per names index
}

// snapshot is one immutable state of the cache.
type snapshot struct {
	ids   *roaring.Bitmap
	seq   uint64    // the greatest Seq seen from the registry
	fresh time.Time // when the registry last answered
}

// Options configure a cache.
type Options struct {
	Refresh    time.Duration // default DefaultRefresh
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
	Now        func() time.Time      // default time.Now
}

// New makes an empty cache of reg; Load fills it.
func New(reg venue.Registry, opts Options) *Cache {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cache{reg: reg, refresh: opts.Refresh, log: opts.Logger.With("component", "venue_cache"), now: opts.Now,
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_ingest_venue_cache_refresh_errors_total",
			Help: "Refreshes of ingest's copy of the venue registry that failed.",
		})}
	c.snap.Store(&snapshot{ids: roaring.New()})
	c.prov, c.names, c.counts = map[uint32]uint8{}, []string{""}, []int64{0}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(c.errs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "truyvet_ingest_venue_cache_venues", Help: "Venues in ingest's copy of the venue registry.",
			}, func() float64 { return float64(c.snap.Load().ids.GetCardinality()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "truyvet_ingest_venue_cache_staleness_seconds",
				Help: "Seconds since ingest's copy of the venue registry last caught up with it.",
			}, func() float64 { return c.Staleness().Seconds() }))
	}
	return c
}

// Known reports whether venue id is registered, as of the last refresh.
func (c *Cache) Known(id uint32) bool { return c.snap.Load().ids.Contains(id) }

// Len is the number of venues known.
func (c *Cache) Len() int { return int(c.snap.Load().ids.GetCardinality()) } //nolint:gosec // at most 2^32

// Staleness is the time since the registry last answered a refresh; a
// venue registered elsewhere longer ago than that is known.
func (c *Cache) Staleness() time.Duration {
	s := c.snap.Load()
	if s.fresh.IsZero() {
		return 0
	}
	return c.now().Sub(s.fresh)
}

// Add makes venues known at once (the replica that registered them).
func (c *Cache) Add(vs []venue.Venue) {
	if len(vs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	next := *old
	next.ids = old.ids.Clone()
	for _, v := range vs {
		next.ids.Add(v.ID)
	}
	c.snap.Store(&next)
	c.setProvinces(vs)
}

// setProvinces records the provinces of vs.
func (c *Cache) setProvinces(vs []venue.Venue) {
	c.provMu.Lock()
	defer c.provMu.Unlock()
	for _, v := range vs {
		if _, seen := c.prov[v.ID]; seen {
			continue // a venue's province does not change
		}
		i := slices.Index(c.names, v.Province)
		if i < 0 {
			if len(c.names) == 256 {
				i = 0 // not a province list of 2021 or since; left unknown
			} else {
				i = len(c.names)
				c.names, c.counts = append(c.names, v.Province), append(c.counts, 0)
			}
		}
		c.prov[v.ID] = uint8(i) //nolint:gosec // i < 256
		c.counts[i]++
	}
}

// RegisteredVenues is the number of venues known in province, or in every
// province when it is "" (summary.Registered).
func (c *Cache) RegisteredVenues(province string) int64 {
	c.provMu.RLock()
	defer c.provMu.RUnlock()
	if province == "" {
		return int64(len(c.prov))
	}
	if i := slices.Index(c.names[1:], province); i >= 0 {
		return c.counts[i+1]
	}
	return 0
}

// ProvincesOf sets dst[i] to the province of venue ids[i], "" when it is not
// known (summary.Provinces).
func (c *Cache) ProvincesOf(ids []uint32, dst []string) {
	c.provMu.RLock()
	defer c.provMu.RUnlock()
	for i, id := range ids {
		dst[i] = c.names[c.prov[id]]
	}
}

// Load catches up with the registry: every venue registered after the last
// one seen, in pages.
func (c *Cache) Load(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	next := *old
	var added *roaring.Bitmap
	for {
		vs, err := c.reg.Since(ctx, next.seq, page)
		if err != nil {
			return fmt.Errorf("refresh venue cache after seq %d: %w", next.seq, err)
		}
		if added == nil && len(vs) > 0 {
			added = old.ids.Clone()
		}
		for _, v := range vs {
			added.Add(v.ID)
			next.seq = max(next.seq, v.Seq)
		}
		c.setProvinces(vs)
		if len(vs) < page {
			break
		}
	}
	if added != nil {
		added.RunOptimize()
		next.ids = added
	}
	next.fresh = c.now()
	c.snap.Store(&next)
	return nil
}

// Run refreshes the cache every interval until ctx ends. A failed refresh
// is logged and counted; the copy stays as it was and the next one retries.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(c.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Load(ctx); err != nil && ctx.Err() == nil {
				c.errs.Inc()
				c.log.Warn("venue registry refresh failed; checking against the copy we have", "staleness", c.Staleness().String(), "err", err)
			}
		}
	}
}
