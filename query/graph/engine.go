package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/truyvet/truyvet/index/bucket"
)

// Engine computes exposure graphs from a Store. It is safe for concurrent use.
type Engine struct {
	store    Store
	workers  int // most refine workers per tier of a query
	minShare int // fewest candidates worth a refine worker of their own
	venueMin int // fewest sources for which a tier reads stays by venue; 0: never
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
// the stays and encounters themselves.
func (e *Engine) Exposures(ctx context.Context, q Query) (*Result, error) {
	if q.Depth < 1 || q.Depth > 2 {
		return nil, fmt.Errorf("depth %d: %w", q.Depth, ErrDepth)
	}
	r := &run{
		engine: e,
		store:  e.store,
		layout: e.store.Layout(),
		q:      q,
		res:    &Result{Query: q, Stats: Stats{StageNanos: map[string]int64{}}},
		known:  roaring.New(),
	}
	r.res.Nodes = append(r.res.Nodes, Node{UserID: q.Case})
	r.known.Add(q.Case)
	if q.Window.To <= q.Window.From {
		return r.res, nil
	}
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	return r.res, nil
}

// run is the state of one query.
type run struct {
	engine *Engine
	store  Store
	layout bucket.Layout
	q      Query
	res    *Result
	known  *roaring.Bitmap // the case and every person already placed in a tier

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
}

// found is a person placed in a tier, with the stays read while finding them
// when those will be needed to trace the next tier.
type found struct {
	node      Node
	stays     []Stay
	staysRead bool
}

// piece is one contact interval between a candidate and a source.
type piece struct {
	src   int32 // index into the sources slice
	ch    Channel
	venue uint32
	Interval
}

// srcInterval is a source's presence at a venue, clipped to its window.
type srcInterval struct {
	src int32
	Interval
}

// venueList holds the sources' presence at one venue, sorted by Start.
type venueList struct {
	items  []srcInterval
	maxLen int64
}

func (r *run) timed(stage string, tier int, start time.Time) {
	r.res.Stats.StageNanos[fmt.Sprintf("%s%s%d", stage, stageTierShift, tier)] += time.Since(start).Nanoseconds()
}

func (r *run) run(ctx context.Context) error {
	t0 := time.Now()
	w := r.q.Window
	one := []uint32{r.q.Case}
	caseSrc := source{id: r.q.Case, from: w.From}
	for us, err := range r.store.Stays(ctx, one, w) {
		if err != nil {
			return fmt.Errorf("read stays of case %d: %w", r.q.Case, err)
		}
		caseSrc.stays = append(caseSrc.stays, us.Stays...)
	}
	for uc, err := range r.store.Contacts(ctx, one, w) {
		if err != nil {
			return fmt.Errorf("read encounters of case %d: %w", r.q.Case, err)
		}
		caseSrc.contacts = append(caseSrc.contacts, uc.Contacts...)
	}
	r.res.Stats.StaysRead += len(caseSrc.stays)
	r.res.Stats.ContactsRead += len(caseSrc.contacts)
	r.timed(StageCase, 1, t0)

	f1, err := r.expand(ctx, 1, []source{caseSrc}, r.q.Depth > 1)
	if err != nil {
		return err
	}
	if r.q.Depth > 1 && len(f1) > 0 {
		t1 := time.Now()
		srcs, err := r.sourcesFrom(ctx, f1)
		if err != nil {
			return err
		}
		r.timed(StageSources, 2, t1)
		if _, err := r.expand(ctx, 2, srcs, false); err != nil {
			return err
		}
	}
	t2 := time.Now()
	r.assemble()
	r.timed(StageAssemble, r.q.Depth, t2)
	return nil
}

// sourcesFrom turns the F1 members into the sources of tier 2, reading the
// stays not read already and everyone's encounters.
func (r *run) sourcesFrom(ctx context.Context, f1 []found) ([]source, error) {
	slices.SortFunc(f1, func(a, b found) int { return cmp.Compare(a.node.UserID, b.node.UserID) })
	srcs := make([]source, len(f1))
	ids := make([]uint32, len(f1))
	var missing []uint32
	w := Window{From: r.q.Window.To, To: r.q.Window.To}
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
	for us, err := range r.store.Stays(ctx, missing, w) {
		if err != nil {
			return nil, fmt.Errorf("read stays of %d F1 members: %w", len(missing), err)
		}
		srcs[index(us.User)].stays = slices.Clone(us.Stays)
		r.res.Stats.StaysRead += len(us.Stays)
	}
	for uc, err := range r.store.Contacts(ctx, ids, w) {
		if err != nil {
			return nil, fmt.Errorf("read encounters of %d F1 members: %w", len(ids), err)
		}
		srcs[index(uc.User)].contacts = slices.Clone(uc.Contacts)
		r.res.Stats.ContactsRead += len(uc.Contacts)
	}
	return srcs, nil
}

// expand finds everyone not yet placed whose contact with at least one
// source qualifies, adds them to the result at tier, and returns them. With
// keepStays it keeps the stays it read of each, for tracing the next tier.
func (r *run) expand(ctx context.Context, tier int, srcs []source, keepStays bool) ([]found, error) {
	t0 := time.Now()
	to := r.q.Window.To
	w := Window{From: to, To: to}
	venues := map[uint32]*venueList{}
	prox := map[uint32][]piece{}
	for si := range srcs {
		s := &srcs[si]
		win := Window{From: s.from, To: to}
		w.From = min(w.From, s.from)
		for _, st := range s.stays {
			iv := st.Interval.Clip(win)
			if iv.Len() == 0 {
				continue
			}
			vl := venues[st.Venue]
			if vl == nil {
				vl = &venueList{}
				venues[st.Venue] = vl
			}
			vl.items = append(vl.items, srcInterval{src: int32(si), Interval: iv})
		}
		for _, c := range s.contacts {
			iv := c.Interval.Clip(win)
			if iv.Len() == 0 || r.known.Contains(c.Peer) {
				continue
			}
			prox[c.Peer] = append(prox[c.Peer], piece{src: int32(si), ch: ChannelProximity, Interval: iv})
		}
	}

	// Candidates: everyone indexed at a venue in a bucket where a source was
	// or, reading by venue, everyone who stayed at a venue when a source was.
	vs, byVenue := r.store.(VenueStore)
	byVenue = byVenue && r.engine.venueMin > 0 && len(srcs) >= r.engine.venueMin
	var ranges []bucket.Range
	var spans []VenueSpans
	for v, vl := range venues {
		slices.SortFunc(vl.items, func(a, b srcInterval) int { return cmp.Compare(a.Start, b.Start) })
		r.ivs = r.ivs[:0]
		for _, it := range vl.items {
			vl.maxLen = max(vl.maxLen, it.Len())
			r.ivs = append(r.ivs, it.Interval)
		}
		r.merged = mergeInto(r.merged[:0], r.ivs)
		if byVenue {
			spans = append(spans, VenueSpans{Venue: v, Spans: slices.Clone(r.merged)})
			continue
		}
		for _, iv := range r.merged {
			if first, last, ok := r.layout.Cover(iv.Start, iv.End); ok {
				ranges = append(ranges, bucket.Range{Venue: v, First: first, Last: last})
			}
		}
	}
	rf := refinement{tier: tier, srcs: srcs, venues: venues, prox: prox, keepStays: keepStays, minSeconds: r.q.MinSeconds, contactsOnly: r.q.ContactsOnly}
	if byVenue {
		outs, err := r.refineByVenue(ctx, &rf, vs, spans)
		if err != nil {
			return nil, err
		}
		r.timed(StageRefine, tier, t0)
		return r.place(outs, keepStays), nil
	}
	slices.SortFunc(ranges, func(a, b bucket.Range) int {
		return cmp.Or(cmp.Compare(a.Venue, b.Venue), cmp.Compare(a.First, b.First))
	})
	cands := roaring.New()
	if len(ranges) > 0 {
		bm, err := r.store.Present(ctx, ranges)
		if err != nil {
			return nil, fmt.Errorf("read co-location bitmaps for tier %d (%d ranges): %w", tier, len(ranges), err)
		}
		cands = bm
	}
	cands.AndNot(r.known)
	r.res.Stats.BitmapRanges += len(ranges)
	nCands := cands.GetCardinality()
	for p := range prox {
		if !cands.Contains(p) {
			nCands++
		}
	}
	r.candidates(tier, int(nCands))
	r.timed(StageBitmaps, tier, t0)

	// Refine: measure each candidate's contact with each source exactly.
	t1 := time.Now()
	outs, err := r.refine(ctx, &rf, cands.ToArray(), w)
	if err != nil {
		return nil, err
	}
	r.timed(StageRefine, tier, t1)
	return r.place(outs, keepStays), nil
}

// place adds the people each worker found at a tier to the result and,
// with keep, returns them in one slice.
func (r *run) place(outs [][]found, keep bool) []found {
	n := 0
	for _, out := range outs {
		n += len(out)
	}
	r.res.Nodes = slices.Grow(r.res.Nodes, n)
	for _, out := range outs {
		for i := range out {
			r.known.Add(out[i].node.UserID)
			r.res.Nodes = append(r.res.Nodes, out[i].node)
		}
	}
	if !keep {
		return nil
	}
	return slices.Concat(outs...)
}

// refinement is what the refine stage of one tier reads; workers share it
// and never write to it.
type refinement struct {
	tier         int
	srcs         []source
	venues       map[uint32]*venueList
	prox         map[uint32][]piece
	keepStays    bool
	minSeconds   int64
	contactsOnly bool // no edges: collect each node's venues instead
}

// refineWorker refines a contiguous share of the candidates with its own
// scratch and its own output.
type refineWorker struct {
	rf        *refinement
	out       []found
	edges     [][]Edge
	seen      map[uint32]struct{}
	staysRead int

	pieces []piece
	ivs    []Interval
	merged []Interval

	// evaluate's grouping of pieces by source
	head    []int32 // per source: its last piece, or -1
	next    []int32 // per piece: the source's piece before it, or -1
	touched []int32 // sources with pieces, in the order first met
	run     []piece
	ids     []uint32 // the candidate's qualifying sources
	vens    []uint32 // the candidate's venues (contact lists)
	slab    []uint32 // backs the nodes' ExposedBy and Venues
}

// refine reads the stays of cands (sorted) and measures their contact with
// rf's sources, splitting the candidates among the engine's refine workers,
// each with its own store reads. Proximity-only candidates come last. The result
// is in candidate order whatever the split.
func (r *run) refine(ctx context.Context, rf *refinement, cands []uint32, w Window) ([][]found, error) {
	n := max(1, min(r.engine.workers, len(cands)/r.engine.minShare))
	workers := make([]*refineWorker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range workers {
		wk := &refineWorker{rf: rf, seen: map[uint32]struct{}{}}
		workers[i] = wk
		share := cands[i*len(cands)/n : (i+1)*len(cands)/n]
		wg.Go(func() { errs[i] = wk.candidates(ctx, r.store, share, w) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("read stays of %d tier-%d candidates: %w", len(cands), rf.tier, err)
	}
	last := workers[n-1]
	for p, ps := range rf.prox {
		if slices.ContainsFunc(workers, func(wk *refineWorker) bool { _, ok := wk.seen[p]; return ok }) {
			continue
		}
		last.pieces = append(last.pieces[:0], ps...)
		if f, ok := last.evaluate(p); ok {
			last.out = append(last.out, f)
		}
	}
	return r.gather(workers), nil
}

// gather joins the refine workers' edges and stays read into the run and
// returns each worker's people.
func (r *run) gather(workers []*refineWorker) [][]found {
	outs := make([][]found, len(workers))
	for i, wk := range workers {
		outs[i] = wk.out
		r.edges = append(r.edges, wk.edges...)
		r.res.Stats.StaysRead += wk.staysRead
	}
	return outs
}

// candidates records how many candidates a tier measured.
func (r *run) candidates(tier, n int) {
	if tier == 1 {
		r.res.Stats.CandidatesF1 = n
	} else {
		r.res.Stats.CandidatesF2 = n
	}
}

func (wk *refineWorker) candidates(ctx context.Context, st Store, cands []uint32, w Window) error {
	rf := wk.rf
	for us, err := range st.Stays(ctx, cands, w) {
		if err != nil {
			return err
		}
		wk.staysRead += len(us.Stays)
		wk.seen[us.User] = struct{}{}
		wk.pieces = wk.pieces[:0]
		for _, st := range us.Stays {
			wk.cut(st)
		}
		wk.pieces = append(wk.pieces, rf.prox[us.User]...)
		if f, ok := wk.evaluate(us.User); ok {
			if rf.keepStays {
				f.stays, f.staysRead = slices.Clone(us.Stays), true
			}
			wk.out = append(wk.out, f)
		}
	}
	return nil
}

// cut appends to wk.pieces the overlaps of a candidate's stay with the
// sources' presence at its venue.
func (wk *refineWorker) cut(st Stay) {
	vl := wk.rf.venues[st.Venue]
	if vl == nil {
		return
	}
	lo, _ := slices.BinarySearchFunc(vl.items, st.Start-vl.maxLen, func(it srcInterval, t int64) int {
		return cmp.Compare(it.Start, t)
	})
	for _, it := range vl.items[lo:] {
		if it.Start >= st.End {
			break
		}
		if iv := intersect(st.Interval, it.Interval); iv.Len() > 0 {
			wk.pieces = append(wk.pieces, piece{src: it.src, ch: ChannelVenue, venue: st.Venue, Interval: iv})
		}
	}
}

// evaluate measures the contact in wk.pieces between candidate x and each
// source, and returns x's node when at least one source's contact qualifies.
// It appends the edges of qualifying pairs to wk.edges.
func (wk *refineWorker) evaluate(x uint32) (found, bool) {
	tier, srcs := wk.rf.tier, wk.rf.srcs
	if len(wk.pieces) == 0 {
		return found{}, false
	}
	wk.ids, wk.vens = wk.ids[:0], wk.vens[:0]
	// Group the pieces by source without sorting them all: chain each
	// source's pieces from head, in the order the sources were first met.
	if wk.head == nil {
		wk.head = make([]int32, len(srcs))
		for i := range wk.head {
			wk.head[i] = -1
		}
	}
	wk.next = slices.Grow(wk.next[:0], len(wk.pieces))[:len(wk.pieces)]
	wk.touched = wk.touched[:0]
	for i := range wk.pieces {
		s := wk.pieces[i].src
		if wk.head[s] < 0 {
			wk.touched = append(wk.touched, s)
		}
		wk.next[i], wk.head[s] = wk.head[s], int32(i)
	}
	var f found
	var mask uint8
	for _, s := range wk.touched {
		run := wk.run[:0]
		for i := wk.head[s]; i >= 0; i = wk.next[i] {
			run = append(run, wk.pieces[i])
		}
		wk.head[s], wk.run = -1, run
		if len(run) > 1 {
			slices.SortFunc(run, comparePieces)
		}
		wk.ivs = wk.ivs[:0]
		for _, p := range run {
			wk.ivs = append(wk.ivs, p.Interval)
		}
		total, first := unionLen(wk.ivs)
		if total == 0 || total < wk.rf.minSeconds {
			continue
		}
		from := srcs[run[0].src].id
		if len(wk.ids) == 0 || first < f.node.FirstExposure {
			f.node.FirstExposure = first
		}
		f.node.ExposureSeconds = max(f.node.ExposureSeconds, total)
		wk.ids = append(wk.ids, from)
		// One edge per maximal interval of each channel's union.
		for a := 0; a < len(run); {
			b := a + 1
			for b < len(run) && run[b].ch == run[a].ch && run[b].venue == run[a].venue {
				b++
			}
			mask |= 1 << run[a].ch
			if wk.rf.contactsOnly {
				if run[a].ch == ChannelVenue {
					wk.vens = append(wk.vens, run[a].venue)
				}
				a = b
				continue
			}
			wk.ivs = wk.ivs[:0]
			for _, p := range run[a:b] {
				wk.ivs = append(wk.ivs, p.Interval)
			}
			wk.merged = mergeInto(wk.merged[:0], wk.ivs)
			for _, iv := range wk.merged {
				wk.addEdge(Edge{From: from, To: x, Channel: run[a].ch, VenueID: run[a].venue, Interval: iv})
			}
			a = b
		}
	}
	if len(wk.ids) == 0 {
		return found{}, false
	}
	slices.Sort(wk.ids)
	f.node.ExposedBy = wk.own(wk.ids)
	if len(wk.vens) > 1 {
		slices.Sort(wk.vens)
		wk.vens = slices.Compact(wk.vens)
	}
	f.node.Venues = wk.own(wk.vens)
	f.node.UserID, f.node.Tier = x, tier
	f.node.Channels = channelSet(mask&(1<<ChannelProximity) != 0, mask&(1<<ChannelVenue) != 0)
	return f, true
}

// slabSize is how many ids a worker's slab block holds.
const slabSize = 1 << 14

// own returns a copy of ids (nil when empty) cut from the worker's slab: a
// large graph's nodes share a few big blocks instead of allocating a slice
// each. The copy's capacity is its length, so appending to it copies.
func (wk *refineWorker) own(ids []uint32) []uint32 {
	if len(ids) == 0 {
		return nil
	}
	if cap(wk.slab)-len(wk.slab) < len(ids) {
		wk.slab = make([]uint32, 0, max(slabSize, len(ids)))
	}
	start := len(wk.slab)
	wk.slab = append(wk.slab, ids...)
	return wk.slab[start:len(wk.slab):len(wk.slab)]
}

// channelSet returns the sorted channels a node was reached by. The slices
// are shared, read-only values with no spare capacity, so appending copies.
func channelSet(proximity, venue bool) []Channel {
	switch {
	case proximity && venue:
		return bothChannels[:2:2]
	case proximity:
		return bothChannels[0:1:1]
	case venue:
		return bothChannels[1:2:2]
	}
	return nil
}

// bothChannels backs channelSet's slices; it is never written.
var bothChannels = [2]Channel{ChannelProximity, ChannelVenue}

// assemble sorts the result and derives the exposure sites from the edges.
func (r *run) assemble() {
	res := r.res
	res.Nodes = sortNodes(res.Nodes)
	// The sites need the edges but not their order: derive them while the
	// edges are sorted.
	var wg sync.WaitGroup
	wg.Go(func() { res.Venues = sites(r.edges, r.q.Case) })
	res.Edges = sortEdges(r.edges)
	wg.Wait()
}

// sortNodes returns nodes ordered by (Tier, FirstExposure, UserID). A large
// graph is ordered by a radix sort of packed keys (tier, first exposure
// relative to the earliest, user), then moved into place once.
func sortNodes(nodes []Node) []Node {
	byOrder := func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.Tier, b.Tier), cmp.Compare(a.FirstExposure, b.FirstExposure), cmp.Compare(a.UserID, b.UserID))
	}
	if len(nodes) < radixMin {
		slices.SortFunc(nodes, byOrder)
		return nodes
	}
	// The case (tier 0, the only one) sorts first whatever its time; the
	// others' first exposures must span less than 2^30 s to pack.
	lo, hi, cases := int64(math.MaxInt64), int64(math.MinInt64), 0
	for i := range nodes {
		switch t := nodes[i].Tier; {
		case t == 0:
			cases++
		case t > 0 && t < 4:
			lo, hi = min(lo, nodes[i].FirstExposure), max(hi, nodes[i].FirstExposure)
		default:
			cases = 2
		}
	}
	if cases > 1 || hi-lo >= 1<<30 {
		slices.SortFunc(nodes, byOrder)
		return nodes
	}
	type keyed struct {
		key uint64
		i   int32
	}
	keys := make([]keyed, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		k := uint64(n.UserID)
		if n.Tier > 0 {
			k |= uint64(n.Tier)<<62 | uint64(n.FirstExposure-lo)<<32
		}
		keys[i] = keyed{key: k, i: int32(i)}
	}
	keys = radixSort(keys, func(k *keyed) uint64 { return k.key })
	out := make([]Node, len(nodes))
	for i, k := range keys {
		out[i] = nodes[k.i]
	}
	return out
}

// sites summarises the venue edges of a graph, given in chunks, into exposure
// sites, sorted by (First, VenueID). Edges from the case give tier 0, all
// others tier 1.
func sites(chunks [][]Edge, caseID uint32) []Site {
	by := map[uint32]*Site{}
	var exposed []uint64 // venue<<32 | to, one per venue edge
	for _, chunk := range chunks {
		for _, e := range chunk {
			if e.Channel != ChannelVenue {
				continue
			}
			by[e.VenueID] = widen(by[e.VenueID], e, caseID)
			exposed = append(exposed, uint64(e.VenueID)<<32|uint64(e.To))
		}
	}
	if len(exposed) < radixMin {
		slices.Sort(exposed)
	} else {
		exposed = radixSort(exposed, func(x *uint64) uint64 { return *x })
	}
	for i, x := range exposed {
		if i == 0 || x != exposed[i-1] {
			by[uint32(x>>32)].Exposed++
		}
	}
	if len(by) == 0 {
		return nil
	}
	out := make([]Site, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Site) int {
		if c := cmp.Compare(a.First, b.First); c != 0 {
			return c
		}
		return cmp.Compare(a.VenueID, b.VenueID)
	})
	return out
}

const edgeChunk = 4096

func (wk *refineWorker) addEdge(e Edge) {
	if n := len(wk.edges); n == 0 || len(wk.edges[n-1]) == edgeChunk {
		wk.edges = append(wk.edges, make([]Edge, 0, edgeChunk))
	}
	last := &wk.edges[len(wk.edges)-1]
	*last = append(*last, e)
}

// sortEdges returns the edges of chunks in CompareEdges order. A large
// graph is ordered by (From, To) with a radix sort; the few edges of each
// pair are then sorted by the rest of the order.
func sortEdges(chunks [][]Edge) []Edge {
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	if total == 0 {
		return nil
	}
	out := make([]Edge, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	if total < radixMin {
		slices.SortFunc(out, CompareEdges)
		return out
	}
	out = radixSort(out, func(e *Edge) uint64 { return uint64(e.From)<<32 | uint64(e.To) })
	for lo := 0; lo < len(out); {
		hi := lo + 1
		for hi < len(out) && out[hi].From == out[lo].From && out[hi].To == out[lo].To {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(out[lo:hi], CompareEdges)
		}
		lo = hi
	}
	return out
}

// radixMin is the fewest edges worth sortEdges' radix passes.
const radixMin = 4096

// radixSort orders s by key with a stable least-significant-digit radix
// sort over 16-bit digits, skipping the digits every element shares, and
// returns the sorted slice: s itself or one of the same length it allocated.
// One pass counts all four digits.
func radixSort[T any](s []T, key func(*T) uint64) []T {
	if len(s) < 2 {
		return s
	}
	count := make([][1 << 16]int, 4)
	for i := range s {
		k := key(&s[i])
		for d := range count {
			count[d][uint16(k>>(16*d))]++
		}
	}
	first := key(&s[0])
	var tmp []T
	for d := range count {
		shift := uint(16 * d)
		if count[d][uint16(first>>shift)] == len(s) {
			continue // every element has this digit
		}
		if tmp == nil {
			tmp = make([]T, len(s))
		}
		c := &count[d]
		off := 0
		for i, n := range c {
			c[i] = off
			off += n
		}
		for i := range s {
			v := uint16(key(&s[i]) >> shift)
			tmp[c[v]] = s[i]
			c[v]++
		}
		s, tmp = tmp, s
	}
	return s
}

// widen returns s (nil for a venue not seen yet) grown to cover venue edge e.
func widen(s *Site, e Edge, caseID uint32) *Site {
	if s == nil {
		s = &Site{VenueID: e.VenueID, Tier: 1, First: e.Start, Last: e.End}
	}
	if e.From == caseID {
		s.Tier = 0
	}
	s.First = min(s.First, e.Start)
	s.Last = max(s.Last, e.End)
	return s
}

// CompareEdges orders edges by (From, To, Start, Channel, VenueID), the order
// of Result.Edges.
func CompareEdges(a, b Edge) int {
	switch {
	case a.From != b.From:
		return cmp.Compare(a.From, b.From)
	case a.To != b.To:
		return cmp.Compare(a.To, b.To)
	case a.Start != b.Start:
		return cmp.Compare(a.Start, b.Start)
	case a.Channel != b.Channel:
		return cmp.Compare(a.Channel, b.Channel)
	}
	return cmp.Compare(a.VenueID, b.VenueID)
}

// comparePieces orders a candidate's pieces by (source, channel, venue, Start).
func comparePieces(a, b piece) int {
	switch {
	case a.src != b.src:
		return cmp.Compare(a.src, b.src)
	case a.ch != b.ch:
		return cmp.Compare(a.ch, b.ch)
	case a.venue != b.venue:
		return cmp.Compare(a.venue, b.venue)
	}
	return cmp.Compare(a.Start, b.Start)
}
