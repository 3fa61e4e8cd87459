package graph

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/truyvet/truyvet/processor/bucket"
)

// Engine computes exposure graphs from a Store. It is safe for concurrent use.
type Engine struct {
	store Store
}

// NewEngine returns an engine reading from store.
func NewEngine(store Store) *Engine { return &Engine{store: store} }

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
	store  Store
	layout bucket.Layout
	q      Query
	res    *Result
	known  *roaring.Bitmap // the case and every person already placed in a tier

	// scratch, reused across candidates
	pieces []piece
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

	// Candidates: everyone indexed at a venue in a bucket where a source was.
	var ranges []bucket.Range
	for v, vl := range venues {
		slices.SortFunc(vl.items, func(a, b srcInterval) int { return cmp.Compare(a.Start, b.Start) })
		r.ivs = r.ivs[:0]
		for _, it := range vl.items {
			vl.maxLen = max(vl.maxLen, it.Len())
			r.ivs = append(r.ivs, it.Interval)
		}
		r.merged = mergeInto(r.merged[:0], r.ivs)
		for _, iv := range r.merged {
			if first, last, ok := r.layout.Cover(iv.Start, iv.End); ok {
				ranges = append(ranges, bucket.Range{Venue: v, First: first, Last: last})
			}
		}
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
	if tier == 1 {
		r.res.Stats.CandidatesF1 = int(nCands)
	} else {
		r.res.Stats.CandidatesF2 = int(nCands)
	}
	r.timed(StageBitmaps, tier, t0)

	// Refine: measure each candidate's contact with each source exactly.
	t1 := time.Now()
	var out []found
	seen := map[uint32]struct{}{}
	for us, err := range r.store.Stays(ctx, cands.ToArray(), w) {
		if err != nil {
			return nil, fmt.Errorf("read stays of %d tier-%d candidates: %w", cands.GetCardinality(), tier, err)
		}
		r.res.Stats.StaysRead += len(us.Stays)
		seen[us.User] = struct{}{}
		r.pieces = r.pieces[:0]
		for _, st := range us.Stays {
			vl := venues[st.Venue]
			if vl == nil {
				continue
			}
			lo, _ := slices.BinarySearchFunc(vl.items, st.Start-vl.maxLen, func(it srcInterval, t int64) int {
				return cmp.Compare(it.Start, t)
			})
			for _, it := range vl.items[lo:] {
				if it.Start >= st.End {
					break
				}
				if iv := intersect(st.Interval, it.Interval); iv.Len() > 0 {
					r.pieces = append(r.pieces, piece{src: it.src, ch: ChannelVenue, venue: st.Venue, Interval: iv})
				}
			}
		}
		r.pieces = append(r.pieces, prox[us.User]...)
		if f, ok := r.evaluate(us.User, tier, srcs); ok {
			if keepStays {
				f.stays, f.staysRead = slices.Clone(us.Stays), true
			}
			out = append(out, f)
		}
	}
	for p, ps := range prox {
		if _, ok := seen[p]; ok {
			continue
		}
		r.pieces = append(r.pieces[:0], ps...)
		if f, ok := r.evaluate(p, tier, srcs); ok {
			out = append(out, f)
		}
	}
	for i := range out {
		r.known.Add(out[i].node.UserID)
		r.res.Nodes = append(r.res.Nodes, out[i].node)
	}
	r.timed(StageRefine, tier, t1)
	return out, nil
}

// evaluate measures the contact in r.pieces between candidate x and each
// source, and returns x's node when at least one source's contact qualifies.
// It appends the edges of qualifying pairs to the result.
func (r *run) evaluate(x uint32, tier int, srcs []source) (found, bool) {
	if len(r.pieces) == 0 {
		return found{}, false
	}
	slices.SortFunc(r.pieces, func(a, b piece) int {
		return cmp.Or(cmp.Compare(a.src, b.src), cmp.Compare(a.ch, b.ch),
			cmp.Compare(a.venue, b.venue), cmp.Compare(a.Start, b.Start))
	})
	var f found
	var mask uint8
	for lo := 0; lo < len(r.pieces); {
		hi := lo + 1
		for hi < len(r.pieces) && r.pieces[hi].src == r.pieces[lo].src {
			hi++
		}
		run := r.pieces[lo:hi]
		lo = hi
		r.ivs = r.ivs[:0]
		for _, p := range run {
			r.ivs = append(r.ivs, p.Interval)
		}
		total, first := unionLen(r.ivs)
		if total == 0 || total < r.q.MinSeconds {
			continue
		}
		from := srcs[run[0].src].id
		if len(f.node.ExposedBy) == 0 || first < f.node.FirstExposure {
			f.node.FirstExposure = first
		}
		f.node.ExposureSeconds = max(f.node.ExposureSeconds, total)
		f.node.ExposedBy = append(f.node.ExposedBy, from)
		// One edge per maximal interval of each channel's union.
		for a := 0; a < len(run); {
			b := a + 1
			for b < len(run) && run[b].ch == run[a].ch && run[b].venue == run[a].venue {
				b++
			}
			mask |= 1 << run[a].ch
			r.ivs = r.ivs[:0]
			for _, p := range run[a:b] {
				r.ivs = append(r.ivs, p.Interval)
			}
			r.merged = mergeInto(r.merged[:0], r.ivs)
			for _, iv := range r.merged {
				r.res.Edges = append(r.res.Edges, Edge{From: from, To: x, Channel: run[a].ch, VenueID: run[a].venue, Interval: iv})
			}
			a = b
		}
	}
	if len(f.node.ExposedBy) == 0 {
		return found{}, false
	}
	f.node.UserID, f.node.Tier = x, tier
	for _, c := range []Channel{ChannelProximity, ChannelVenue} {
		if mask&(1<<c) != 0 {
			f.node.Channels = append(f.node.Channels, c)
		}
	}
	return f, true
}

// assemble sorts the result and derives the exposure sites from the edges.
func (r *run) assemble() {
	res := r.res
	slices.SortFunc(res.Nodes, func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.Tier, b.Tier), cmp.Compare(a.FirstExposure, b.FirstExposure), cmp.Compare(a.UserID, b.UserID))
	})
	slices.SortFunc(res.Edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Start, b.Start),
			cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.VenueID, b.VenueID))
	})
	res.Venues = Sites(res.Edges, r.q.Case)
}

// Sites summarises the venue edges of a graph into exposure sites, sorted by
// (First, VenueID). Edges from the case give tier 0, all others tier 1.
func Sites(edges []Edge, caseID uint32) []Site {
	type acc struct {
		site Site
		to   map[uint32]struct{}
	}
	by := map[uint32]*acc{}
	for _, e := range edges {
		if e.Channel != ChannelVenue {
			continue
		}
		a := by[e.VenueID]
		if a == nil {
			a = &acc{site: Site{VenueID: e.VenueID, Tier: 1, First: e.Start, Last: e.End}, to: map[uint32]struct{}{}}
			by[e.VenueID] = a
		}
		if e.From == caseID {
			a.site.Tier = 0
		}
		a.site.First = min(a.site.First, e.Start)
		a.site.Last = max(a.site.Last, e.End)
		a.to[e.To] = struct{}{}
	}
	var out []Site
	for _, a := range by {
		a.site.Exposed = len(a.to)
		out = append(out, a.site)
	}
	slices.SortFunc(out, func(a, b Site) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.VenueID, b.VenueID))
	})
	return out
}
