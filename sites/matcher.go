package sites

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
)

// Matcher is the standing query of published sites: it decorates the
// processor's sink, and once a batch is durable it matches the batch's
// visits against the active sites (published, not retracted) and stores the
// alert of every person whose stay now overlaps a site's window, so a
// check-in that arrives after publication is alerted as it streams through.
//
// A visit record is only a candidate: the person's stays are read back from
// the store, folded by the visit rule, and the alert carries their exact
// overlap with the window (Overlap), as a sweep's would. Write fails when
// the alerts cannot be stored, so the batch is retried (the store write is
// idempotent) and no alert is lost; an alert raised twice is stored once.
//
// The active sites are a copy, reloaded from the Registry every refresh
// interval (Run) and at once by Refresh. Fanout.Grace must cover how old
// that copy may be, so that a stay the copy missed is found by the sweep.
type Matcher struct {
	next   processor.Sink
	reg    Registry
	alerts Alerts
	stays  graph.Store
	pub    Publisher
	m      *Metrics
	log    *slog.Logger
	now    func() time.Time
	dwell  int64

	mu      sync.RWMutex
	byVenue map[uint32][]Site
	loaded  time.Time     // wall clock of the last reload
	maxAge  time.Duration // Run's: a copy older than this is reloaded before matching
}

var _ processor.Sink = (*Matcher)(nil)

// NewMatcher returns a matcher in front of next, reading stays from st (the
// same store next writes) and storing alerts in as; pub may be nil.
func NewMatcher(next processor.Sink, st Store, stays graph.Store, pub Publisher, m *Metrics, log *slog.Logger, now func() time.Time) *Matcher {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Matcher{next: next, reg: st, alerts: st, stays: stays, pub: pub, m: m, log: log.With("component", "site-matcher"),
		now: now, dwell: stays.Layout().DwellSeconds, byVenue: map[uint32][]Site{}}
}

// Refresh reloads the active sites from the registry.
func (mt *Matcher) Refresh(ctx context.Context) error {
	byVenue := map[uint32][]Site{}
	n := 0
	for s, err := range mt.reg.Sites(ctx, StatusPublished) {
		if err != nil {
			return fmt.Errorf("load the active exposure sites: %w", err)
		}
		byVenue[s.VenueID] = append(byVenue[s.VenueID], s)
		n++
	}
	mt.mu.Lock()
	mt.byVenue, mt.loaded = byVenue, time.Now()
	mt.mu.Unlock()
	mt.m.active.Set(float64(n))
	return nil
}

// Run refreshes every interval until ctx ends. While it runs, a batch
// finding the copy older than two intervals reloads it first, and fails
// (to be retried) when it cannot: the pipeline stalls rather than match
// against a copy older than the sweeps' grace allows for.
func (mt *Matcher) Run(ctx context.Context, interval time.Duration) {
	mt.mu.Lock()
	mt.maxAge = 2 * interval
	mt.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := mt.Refresh(ctx); err != nil && ctx.Err() == nil {
			mt.log.Warn("keeping the last copy of the active sites", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Write implements processor.Sink.
func (mt *Matcher) Write(ctx context.Context, b *processor.Batch) error {
	t0 := time.Now()
	if err := mt.next.Write(ctx, b); err != nil {
		return err
	}
	mt.mu.RLock()
	stale := mt.maxAge > 0 && time.Since(mt.loaded) > mt.maxAge
	mt.mu.RUnlock()
	if stale {
		if err := mt.Refresh(ctx); err != nil {
			return fmt.Errorf("match new stays against the published sites: %w", err)
		}
	}
	cands := mt.candidates(b)
	if len(cands) == 0 {
		return nil
	}
	as, err := mt.confirm(ctx, cands)
	if err != nil {
		return err
	}
	stored, err := storeAlerts(ctx, mt.alerts, mt.pub, mt.m, as)
	if err != nil {
		return err
	}
	if len(stored) > 0 {
		d := time.Since(t0).Seconds()
		for range stored {
			mt.m.lateDelay.Observe(d)
		}
	}
	return nil
}

// confirm reads the candidates' stays back from the store, in one read for
// all of them over the windows' span, and returns the alerts of those whose
// stays at a site's venue overlap its window.
func (mt *Matcher) confirm(ctx context.Context, cands []candidate) ([]Alert, error) {
	var users []uint32
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	wanted := map[uint32][]int{} // user → candidates naming them
	for i, c := range cands {
		from, to := c.site.Window()
		lo, hi = min(lo, from), max(hi, to)
		for _, u := range c.users {
			if len(wanted[u]) == 0 {
				users = append(users, u)
			}
			wanted[u] = append(wanted[u], i)
		}
	}
	slices.Sort(users)
	var as []Alert
	at := mt.now()
	var ivs []graph.Interval
	for us, err := range mt.stays.Stays(ctx, users, graph.Window{From: lo, To: hi}) {
		if err != nil {
			return nil, fmt.Errorf("match against the published sites: stays of %d users: %w", len(users), err)
		}
		for _, i := range wanted[us.User] {
			s := cands[i].site
			ivs = ivs[:0]
			for _, st := range us.Stays {
				if st.Venue == s.VenueID {
					ivs = append(ivs, st.Interval)
				}
			}
			from, to := s.Window()
			if e, ok := Overlap(ivs, from, to); ok {
				e.User = us.User
				as = append(as, ExposureAlert(s, e, at))
			}
		}
	}
	return as, nil
}

type candidate struct {
	site  Site
	users []uint32
}

// candidates are the (site, users) pairs whose visit records in b overlap
// the site's window by a second, users sorted without duplicates.
func (mt *Matcher) candidates(b *processor.Batch) []candidate {
	mt.mu.RLock()
	defer mt.mu.RUnlock()
	if len(mt.byVenue) == 0 {
		return nil
	}
	idx := map[uint64]int{}
	var out []candidate
	for i := range b.Records.Visits {
		v := &b.Records.Visits[i]
		for _, s := range mt.byVenue[v.VenueID] {
			from, to := s.Window()
			end := v.Exit
			if end == 0 {
				end = v.Enter + mt.dwell
			}
			if min(end, to) <= max(v.Enter, from) {
				continue
			}
			j, ok := idx[s.ID]
			if !ok {
				j = len(out)
				idx[s.ID] = j
				out = append(out, candidate{site: s})
			}
			out[j].users = append(out[j].users, v.UserID)
		}
	}
	for i := range out {
		slices.Sort(out[i].users)
		out[i].users = slices.Compact(out[i].users)
	}
	return out
}
