package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// piece is one contact interval between a candidate and a source.
type piece struct {
	src    int32 // index into the sources slice
	ch     Channel
	casual bool   // co-presence the rule does not count as close
	venue  uint32 // the venue; for the vehicle channel, the index of its name in refinement.vehicles
	Interval
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
	contactsOnly bool     // no edges: collect each node's venues instead
	rule         *Rule    // nil: the default rule
	casual       bool     // list casual co-presence (tier 1 under a casual rule)
	vehicles     []string // names of the vehicles of vehicle pieces
}

// refineWorker refines a share of the candidates with its own scratch and
// its own output.
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
	head    []int32  // per source: its last piece, or -1
	next    []int32  // per piece: the source's piece before it, or -1
	touched []int32  // sources with pieces, in the order first met
	group   []piece  // one source's pieces
	ids     []uint32 // the candidate's qualifying sources
	vens    []uint32 // the candidate's venues (contact lists)

	// back the nodes' slices: each node owns its own, none shared with
	// another node or another answer
	idSlab      slab[uint32]  // ExposedBy and Venues
	channelSlab slab[Channel] // Channels
}

func newRefineWorker(rf *refinement) *refineWorker {
	return &refineWorker{rf: rf, seen: map[uint32]struct{}{}}
}

// refineCandidates reads the stays of cands (sorted) and measures their
// contact with rf's sources, splitting the candidates among the engine's
// refine workers, each with its own store reads. Proximity-only candidates
// come last. The result is in candidate order whatever the split.
func (s *search) refineCandidates(ctx context.Context, rf *refinement, cands []uint32, w Window) ([][]found, error) {
	n := max(1, min(s.engine.workers, len(cands)/s.engine.minShare))
	workers := make([]*refineWorker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range workers {
		wk := newRefineWorker(rf)
		workers[i] = wk
		share := cands[i*len(cands)/n : (i+1)*len(cands)/n]
		wg.Go(func() { errs[i] = wk.measureCandidates(ctx, s.store, share, w) })
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
		last.measureEncountered(p, ps)
	}
	return s.gather(workers), nil
}

// gather joins the refine workers' edges and stays read into the search and
// returns each worker's people.
func (s *search) gather(workers []*refineWorker) [][]found {
	outs := make([][]found, len(workers))
	for i, wk := range workers {
		outs[i] = wk.out
		s.edges = append(s.edges, wk.edges...)
		s.res.Stats.StaysRead += wk.staysRead
	}
	return outs
}

// measureCandidates reads the stays of cands (sorted) over w and measures
// each candidate's contact with the sources, stays and encounters together.
func (wk *refineWorker) measureCandidates(ctx context.Context, st Store, cands []uint32, w Window) error {
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

// measureEncountered measures p, whom the sources met only through the
// encounters ps.
func (wk *refineWorker) measureEncountered(p uint32, ps []piece) {
	wk.pieces = append(wk.pieces[:0], ps...)
	if f, ok := wk.evaluate(p); ok {
		wk.out = append(wk.out, f)
	}
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
		iv := intersect(st.Interval, it.Interval)
		if iv.Len() <= 0 {
			continue
		}
		pc := piece{src: it.src, ch: ChannelVenue, venue: st.Venue, Interval: iv}
		switch {
		case vl.casualOnly:
			pc.casual = true
			wk.pieces = append(wk.pieces, pc)
		case len(vl.crowded) > 0:
			wk.pieces = appendUncrowded(wk.pieces, pc, vl.crowded)
		default:
			wk.pieces = append(wk.pieces, pc)
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
		group := wk.group[:0]
		for i := wk.head[s]; i >= 0; i = wk.next[i] {
			group = append(group, wk.pieces[i])
		}
		wk.head[s], wk.group = -1, group
		if len(group) > 1 {
			slices.SortFunc(group, comparePieces)
		}
		if wk.rf.rule != nil {
			group = wk.gate(group)
		}
		wk.ivs = wk.ivs[:0]
		for _, p := range group {
			wk.ivs = append(wk.ivs, p.Interval)
		}
		total, first := unionLen(wk.ivs)
		if total == 0 || total < wk.rf.minSeconds {
			continue
		}
		from := srcs[group[0].src].id
		if len(wk.ids) == 0 || first < f.node.FirstExposure {
			f.node.FirstExposure = first
		}
		for _, iv := range wk.ivs {
			if iv.End > iv.Start {
				f.node.LastExposure = max(f.node.LastExposure, iv.End)
			}
		}
		f.node.ExposureSeconds = max(f.node.ExposureSeconds, total)
		wk.ids = append(wk.ids, from)
		// One edge per maximal interval of each channel's union.
		for a := 0; a < len(group); {
			b := a + 1
			for b < len(group) && group[b].ch == group[a].ch && group[b].venue == group[a].venue {
				b++
			}
			mask |= 1 << group[a].ch
			if wk.rf.contactsOnly {
				if group[a].ch == ChannelVenue {
					wk.vens = append(wk.vens, group[a].venue)
				}
				a = b
				continue
			}
			wk.ivs = wk.ivs[:0]
			for _, p := range group[a:b] {
				wk.ivs = append(wk.ivs, p.Interval)
			}
			wk.merged = mergeInto(wk.merged[:0], wk.ivs)
			e := Edge{From: from, To: x, Channel: group[a].ch, VenueID: group[a].venue}
			if e.Channel == ChannelVehicle {
				e.VenueID, e.Vehicle = 0, wk.rf.vehicles[group[a].venue]
			}
			for _, iv := range wk.merged {
				e.Interval = iv
				wk.addEdge(e)
			}
			a = b
		}
	}
	if len(wk.ids) == 0 {
		if wk.rf.casual {
			return wk.casualNode(x)
		}
		return found{}, false
	}
	slices.Sort(wk.ids)
	f.node.ExposedBy = wk.idSlab.copyOf(wk.ids)
	if len(wk.vens) > 1 {
		slices.Sort(wk.vens)
		wk.vens = slices.Compact(wk.vens)
	}
	f.node.Venues = wk.idSlab.copyOf(wk.vens)
	f.node.UserID, f.node.Tier = x, tier
	chs, n := channelsOf(mask)
	f.node.Channels = wk.channelSlab.copyOf(chs[:n])
	return f, true
}

// channelsOf returns the channels set in mask (bit c for channel c): the
// first n of chs, sorted.
func channelsOf(mask uint8) (chs [3]Channel, n int) {
	for _, c := range [...]Channel{ChannelProximity, ChannelVenue, ChannelVehicle} {
		if mask&(1<<c) != 0 {
			chs[n] = c
			n++
		}
	}
	return chs, n
}

// slabSize is how many elements a slab block holds.
const slabSize = 1 << 14

// slab hands out copies of small slices cut from large blocks: a large
// graph's nodes share a few big allocations instead of one each.
type slab[T any] struct {
	block []T
}

// copyOf returns a copy of v (nil when empty) cut from the slab. Copies
// never overlap and have no spare capacity, so writing to one changes no
// other and appending to one copies it.
func (sl *slab[T]) copyOf(v []T) []T {
	if len(v) == 0 {
		return nil
	}
	if cap(sl.block)-len(sl.block) < len(v) {
		sl.block = make([]T, 0, max(slabSize, len(v)))
	}
	start := len(sl.block)
	sl.block = append(sl.block, v...)
	return sl.block[start:len(sl.block):len(sl.block)]
}

// edgeChunk is how many edges a chunk of a worker's edges holds.
const edgeChunk = 4096

func (wk *refineWorker) addEdge(e Edge) {
	if n := len(wk.edges); n == 0 || len(wk.edges[n-1]) == edgeChunk {
		wk.edges = append(wk.edges, make([]Edge, 0, edgeChunk))
	}
	last := &wk.edges[len(wk.edges)-1]
	*last = append(*last, e)
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
