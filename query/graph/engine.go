package graph

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"golang.org/x/sync/errgroup"

	"github.com/truyvet/truyvet/index/bucket"
)

// A query runs in stages, each in its own file: this file orchestrates them
// (read the case, trace each tier, assemble); candidates.go finds who may
// have been in contact with a tier's sources; refine.go (and venues.go, for
// reads in venue order) measures each candidate exactly; assemble.go sorts
// the answer and derives its exposure sites; radix.go holds the sort both
// use on large graphs.

// Engine computes exposure graphs from a Store. It is safe for concurrent use.
type Engine struct {
	store    Store
	workers  int // most refine workers per tier of a query
	minShare int // fewest candidates worth a refine worker of their own
	venueMin int // fewest sources for which a tier reads stays by venue; 0: never
	kinds    VenueKinds
}

// Option configures an Engine.
type Option func(*Engine)

// RefineWorkers sets how many workers may refine one tier's candidates in
// parallel (default GOMAXPROCS, at most 8) and the fewest candidates a worker
// is started for (default 1024): small tiers are refined on the caller's
// goroutine, where a worker costs more than it saves.
func RefineWorkers(workers, minShare int) Option {
	return func(e *Engine) { e.workers, e.minShare = max(1, workers), max(1, minShare) }
}

// VenueReads sets the fewest sources a tier must have for its candidates to
// be found and measured by reading every stay at the sources' venues (when
// the store is a VenueStore) rather than through the bitmaps and a read of
// each candidate's stays; 0 turns venue reads off. The default, 2, reads by
// venue for the second tier: its sources share offices, classes and markets,
// so one sequential read per venue and day replaces a seek per candidate. A
// single case's few venues are cheaper through the bitmaps.
func VenueReads(minSources int) Option {
	return func(e *Engine) { e.venueMin = max(0, minSources) }
}

// NewEngine returns an engine reading from store, which must be safe for
// concurrent use.
func NewEngine(store Store, opts ...Option) *Engine {
	e := &Engine{store: store, workers: min(runtime.GOMAXPROCS(0), 8), minShare: 1024, venueMin: 2}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Stage names used in Stats.StageNanos; a closed set, safe as metric labels.
const (
	StageCase      = "case"
	StageBitmaps   = "bitmaps"
	StageRefine    = "refine"
	StageSources   = "sources"
	StageAssemble  = "assemble"
	stageTierShift = "_f"
)

// Exposures returns the exposure graph of q.Case. It applies DESIGN.md's rules
// exactly: bitmaps only propose candidates, and every contact is measured from
// the stays and encounters themselves. The result owns all its memory: no
// part of it is shared with another answer or kept by the engine.
func (e *Engine) Exposures(ctx context.Context, q Query) (*Result, error) {
	if q.Depth < 1 || q.Depth > 2 {
		return nil, fmt.Errorf("depth %d: %w", q.Depth, ErrDepth)
	}
	s := &search{
		engine: e,
		store:  e.store,
		layout: e.store.Layout(),
		q:      q,
		rule:   q.Rule,
		res:    &Result{Query: q, Stats: Stats{StageNanos: map[string]int64{}}},
		known:  roaring.New(),
	}
	if q.Rule.plain() {
		s.rule = nil // the default path: no gates to apply
	}
	s.res.Nodes = append(s.res.Nodes, Node{UserID: q.Case})
	s.known.Add(q.Case)
	if q.Window.To <= q.Window.From {
		return s.res, nil
	}
	if err := s.traceCase(ctx); err != nil {
		return nil, err
	}
	return s.res, nil
}

// search is the state of one query.
type search struct {
	engine *Engine
	store  Store
	layout bucket.Layout
	q      Query
	res    *Result
	known  *roaring.Bitmap // the case and every person already placed in a tier
	rule   *Rule           // nil: the default rule
	casual []Node          // tier 1's casual co-presence, placed after the last tier

	edges [][]Edge // in chunks of edgeChunk, so a large graph never regrows one slice

	// scratch, reused across venues
	ivs    []Interval
	merged []Interval
}

// source is a person whose contacts are being traced: the case for tier 1,
// an F1 member for tier 2. Contact with it counts over [from, q.Window.To].
type source struct {
	id       uint32
	from     int64
	stays    []Stay
	contacts []Contact
	trips    []coTravel
}

// coTravel is a source's shared trip with peer on vehicle, over the overlap
// of their trips.
type coTravel struct {
	peer    uint32
	vehicle string
	Interval
}

// coTravelOf returns, for each of ids (sorted) that has any, its co-travel
// over trips that may overlap w: nil when the store keeps no trips or the
// rule does not count them.
func (s *search) coTravelOf(ctx context.Context, ids []uint32, w Window) (map[uint32][]coTravel, error) {
	ts, ok := s.store.(TripStore)
	if !ok || !s.q.Rule.vehicles() || len(ids) == 0 {
		return nil, nil
	}
	trips, err := ts.UserTrips(ctx, ids, w)
	if err != nil || len(trips) == 0 {
		return nil, err
	}
	var vds []VehicleDay
	for _, t := range trips {
		vds = append(vds, VehicleDay{Vehicle: t.Vehicle, Day: t.Day})
	}
	slices.SortFunc(vds, func(a, b VehicleDay) int { return cmp.Or(cmp.Compare(a.Vehicle, b.Vehicle), cmp.Compare(a.Day, b.Day)) })
	vds = slices.Compact(vds)
	all, err := ts.VehicleTrips(ctx, vds)
	if err != nil {
		return nil, err
	}
	on := map[VehicleDay][]Trip{}
	for _, t := range all {
		k := VehicleDay{Vehicle: t.Vehicle, Day: t.Day}
		on[k] = append(on[k], t)
	}
	out := map[uint32][]coTravel{}
	for _, t := range trips {
		for _, o := range on[VehicleDay{Vehicle: t.Vehicle, Day: t.Day}] {
			if o.Subject == t.Subject {
				continue
			}
			if iv := intersect(t.Interval, o.Interval); iv.Len() > 0 {
				out[t.Subject] = append(out[t.Subject], coTravel{peer: o.Subject, vehicle: t.Vehicle, Interval: iv})
			}
		}
	}
	return out, nil
}

// found is a person placed in a tier, with the stays read while finding them
// when those will be needed to trace the next tier.
type found struct {
	node      Node
	stays     []Stay
	staysRead bool
}

func (s *search) timed(stage string, tier int, start time.Time) {
	s.res.Stats.StageNanos[fmt.Sprintf("%s%s%d", stage, stageTierShift, tier)] += time.Since(start).Nanoseconds()
}

// traceCase reads the case, traces its contacts (tier 1) and, at depth 2,
// theirs (tier 2), then assembles the result.
func (s *search) traceCase(ctx context.Context) error {
	t0 := time.Now()
	caseSrc, err := s.readCase(ctx)
	if err != nil {
		return err
	}
	s.timed(StageCase, 1, t0)

	f1, err := s.traceTier(ctx, 1, []source{caseSrc}, s.q.Depth > 1)
	if err != nil {
		return err
	}
	if s.q.Depth > 1 && len(f1) > 0 {
		t1 := time.Now()
		srcs, err := s.sourcesFrom(ctx, f1)
		if err != nil {
			return err
		}
		s.timed(StageSources, 2, t1)
		if _, err := s.traceTier(ctx, 2, srcs, false); err != nil {
			return err
		}
	}
	for _, n := range s.casual {
		if !s.known.Contains(n.UserID) { // close at tier 2 beats casual
			s.res.Nodes = append(s.res.Nodes, n)
		}
	}
	t2 := time.Now()
	s.assemble()
	s.timed(StageAssemble, s.q.Depth, t2)
	return nil
}

// readCase reads the case's stays and encounters over the window: the source
// of tier 1.
func (s *search) readCase(ctx context.Context) (source, error) {
	w := s.q.Window
	one := []uint32{s.q.Case}
	caseSrc := source{id: s.q.Case, from: w.From}
	// The case's trips are read beside its stays and encounters: on a
	// remote store that is one round trip fewer on the way to F1. A failed
	// read cancels the other rather than waiting for it.
	g, gctx := errgroup.WithContext(ctx)
	var trips map[uint32][]coTravel
	g.Go(func() error {
		t, err := s.coTravelOf(gctx, one, w)
		if err != nil {
			return fmt.Errorf("read trips of case %d: %w", s.q.Case, err)
		}
		trips = t
		return nil
	})
	var src source
	g.Go(func() (err error) {
		src, err = s.readStaysAndContacts(gctx, caseSrc)
		return err
	})
	if err := g.Wait(); err != nil {
		return source{}, err
	}
	src.trips = trips[s.q.Case]
	return s.caseRead(src), nil
}

// readStaysAndContacts reads the case's stays and encounters into caseSrc.
func (s *search) readStaysAndContacts(ctx context.Context, caseSrc source) (source, error) {
	w := s.q.Window
	one := []uint32{s.q.Case}
	if ps, ok := s.store.(PersonStore); ok {
		stays, contacts, err := ps.Person(ctx, s.q.Case, w)
		if err != nil {
			return source{}, fmt.Errorf("read stays and encounters of case %d: %w", s.q.Case, err)
		}
		caseSrc.stays, caseSrc.contacts = stays, contacts
	} else {
		for us, err := range s.store.Stays(ctx, one, w) {
			if err != nil {
				return source{}, fmt.Errorf("read stays of case %d: %w", s.q.Case, err)
			}
			caseSrc.stays = append(caseSrc.stays, us.Stays...)
		}
		for uc, err := range s.store.Contacts(ctx, one, w) {
			if err != nil {
				return source{}, fmt.Errorf("read encounters of case %d: %w", s.q.Case, err)
			}
			caseSrc.contacts = append(caseSrc.contacts, uc.Contacts...)
		}
	}
	return caseSrc, nil
}

// caseRead counts what was read of the case and draws its timeline.
func (s *search) caseRead(caseSrc source) source {
	s.res.Stats.StaysRead += len(caseSrc.stays)
	s.res.Stats.ContactsRead += len(caseSrc.contacts)
	s.res.Timeline = timeline(caseSrc, s.q.Window)
	return caseSrc
}

// sourcesFrom turns the F1 members into the sources of tier 2, reading the
// stays not read already and everyone's encounters.
func (s *search) sourcesFrom(ctx context.Context, f1 []found) ([]source, error) {
	slices.SortFunc(f1, func(a, b found) int { return cmp.Compare(a.node.UserID, b.node.UserID) })
	srcs := make([]source, len(f1))
	ids := make([]uint32, len(f1))
	var missing []uint32
	w := Window{From: s.q.Window.To, To: s.q.Window.To}
	for i := range f1 {
		n := &f1[i].node
		srcs[i] = source{id: n.UserID, from: n.FirstExposure, stays: f1[i].stays}
		ids[i] = n.UserID
		w.From = min(w.From, n.FirstExposure)
		if !f1[i].staysRead {
			missing = append(missing, n.UserID)
		}
	}
	index := func(id uint32) int {
		i, _ := slices.BinarySearch(ids, id)
		return i
	}
	// The three reads go out together: on a remote store each is a round
	// trip and a scan of the window's days, and they fill distinct fields.
	g, gctx := errgroup.WithContext(ctx)
	stays, contacts := s.sourceReads(gctx, srcs, ids, missing, w)
	g.Go(func() error {
		for us, err := range stays {
			if err != nil {
				return fmt.Errorf("read stays of %d F1 members: %w", len(missing), err)
			}
			srcs[index(us.User)].stays = slices.Clone(us.Stays)
			s.res.Stats.StaysRead += len(us.Stays)
		}
		return nil
	})
	g.Go(func() error {
		for uc, err := range contacts {
			if err != nil {
				return fmt.Errorf("read encounters of %d F1 members: %w", len(ids), err)
			}
			srcs[index(uc.User)].contacts = slices.Clone(uc.Contacts)
			s.res.Stats.ContactsRead += len(uc.Contacts)
		}
		return nil
	})
	g.Go(func() error {
		trips, err := s.coTravelOf(gctx, ids, w)
		if err != nil {
			return fmt.Errorf("read trips of %d F1 members: %w", len(ids), err)
		}
		for id, ts := range trips {
			srcs[index(id)].trips = ts
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return srcs, nil
}

// sourceReads are the reads of the encounters of srcs (whose ids are ids)
// and of the stays of missing, a sorted subset of them: on a SinceStore,
// each source over its own window [from, w.To]; otherwise every one over w,
// the widest.
func (s *search) sourceReads(ctx context.Context, srcs []source, ids, missing []uint32, w Window) (iter.Seq2[UserStays, error], iter.Seq2[UserContacts, error]) {
	ss, ok := s.store.(SinceStore)
	if !ok {
		return s.store.Stays(ctx, missing, w), s.store.Contacts(ctx, ids, w)
	}
	all := make([]Since, len(srcs))
	some := make([]Since, 0, len(missing))
	for i, src := range srcs {
		all[i] = Since{User: src.id, From: src.from}
		if len(some) < len(missing) && missing[len(some)] == src.id {
			some = append(some, all[i])
		}
	}
	return ss.StaysSince(ctx, some, w.To), ss.ContactsSince(ctx, all, w.To)
}

// traceTier finds everyone not yet placed whose contact with at least one
// source qualifies, adds them to the result at tier, and returns them. With
// keepStays it keeps the stays it read of each, for tracing the next tier.
func (s *search) traceTier(ctx context.Context, tier int, srcs []source, keepStays bool) ([]found, error) {
	t0 := time.Now()
	casual := tier == 1 && s.rule != nil && s.rule.Casual
	p := s.presenceOf(srcs, casual)
	if s.rule != nil {
		if err := s.gateVenues(ctx, p.venues, casual); err != nil {
			return nil, err
		}
	}
	vs, byVenue := s.store.(VenueStore)
	byVenue = byVenue && s.engine.venueMin > 0 && len(srcs) >= s.engine.venueMin
	ranges, spans := s.coverVenues(p.venues, byVenue)
	rf := refinement{tier: tier, srcs: srcs, venues: p.venues, prox: p.prox, keepStays: keepStays, minSeconds: s.q.MinSeconds, contactsOnly: s.q.ContactsOnly, rule: s.rule, casual: casual, vehicles: p.vehicles}
	if byVenue {
		outs, err := s.refineByVenue(ctx, &rf, vs, spans)
		if err != nil {
			return nil, err
		}
		s.timed(StageRefine, tier, t0)
		return s.place(outs, keepStays), nil
	}
	cands, err := s.bitmapCandidates(ctx, tier, ranges, p.prox)
	if err != nil {
		return nil, err
	}
	s.timed(StageBitmaps, tier, t0)

	t1 := time.Now()
	outs, err := s.refineCandidates(ctx, &rf, cands.ToArray(), p.window)
	if err != nil {
		return nil, err
	}
	s.timed(StageRefine, tier, t1)
	return s.place(outs, keepStays), nil
}

// place adds the people each worker found at a tier to the result and,
// with keep, returns them in one slice.
func (s *search) place(outs [][]found, keep bool) []found {
	n := 0
	for _, out := range outs {
		n += len(out)
	}
	s.res.Nodes = slices.Grow(s.res.Nodes, n)
	casual := 0
	for _, out := range outs {
		for i := range out {
			if out[i].node.Tier == TierCasual {
				s.casual = append(s.casual, out[i].node)
				casual++
				continue
			}
			s.known.Add(out[i].node.UserID)
			s.res.Nodes = append(s.res.Nodes, out[i].node)
		}
	}
	if !keep {
		return nil
	}
	all := slices.Concat(outs...)
	if casual > 0 {
		all = slices.DeleteFunc(all, func(f found) bool { return f.node.Tier == TierCasual })
	}
	return all
}
