package graph

import (
	"cmp"
	"math"
	"slices"
	"sync"
)

// assemble sorts the result and derives the exposure sites from the edges.
func (s *search) assemble() {
	res := s.res
	res.Nodes = sortNodes(res.Nodes)
	// The sites need the edges but not their order: derive them while the
	// edges are sorted.
	var wg sync.WaitGroup
	wg.Go(func() { res.Venues = sites(s.edges, s.q.Case) })
	res.Edges = sortEdges(s.edges)
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
	lo, ok := packBase(nodes)
	if !ok {
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

// packBase returns the earliest first exposure among the nodes past tier 0,
// and whether every node's order packs into 64 bits as (tier, first exposure
// minus that, user): at most one case (tier 0, which sorts first whatever
// its time), no tier past 3, and first exposures spanning less than 2^30 s.
func packBase(nodes []Node) (lo int64, ok bool) {
	lo, hi, cases := int64(math.MaxInt64), int64(math.MinInt64), 0
	for i := range nodes {
		switch t := nodes[i].Tier; {
		case t == 0:
			cases++
		case t > 0 && t < 4:
			lo, hi = min(lo, nodes[i].FirstExposure), max(hi, nodes[i].FirstExposure)
		default:
			return 0, false
		}
	}
	return lo, cases <= 1 && hi-lo < 1<<30
}

// sites summarises the venue edges of a graph, given in chunks, into exposure
// sites, sorted by (First, VenueID). Edges from the case give tier 0, all
// others tier 1.
func sites(chunks [][]Edge, caseID uint32) []Site {
	by := map[uint32]*Site{}
	var exposed []uint64 // venue<<32 | to, one per venue edge
	for _, chunk := range chunks {
		for i := range chunk {
			e := &chunk[i]
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

// widen returns s (nil for a venue not seen yet) grown to cover venue edge e.
func widen(s *Site, e *Edge, caseID uint32) *Site {
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

// sortEdges returns the edges of chunks in CompareEdges order, in a slice of
// its own. A large graph is ordered by (From, To) with a radix sort; the few
// edges of each pair are then sorted by the rest of the order.
func sortEdges(chunks [][]Edge) []Edge {
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	if total == 0 {
		return nil
	}
	if total < radixMin {
		out := make([]Edge, 0, total)
		for _, c := range chunks {
			out = append(out, c...)
		}
		slices.SortFunc(out, CompareEdges)
		return out
	}
	// An edge holds a string (the vehicle), so moving edges through the
	// radix sort's passes costs a write barrier per edge while the
	// collector runs; sort packed keys with each edge's place instead, then
	// move every edge once.
	type keyed struct {
		key   uint64
		chunk int32
		i     int32
	}
	keys := make([]keyed, 0, total)
	for c, chunk := range chunks {
		for i := range chunk {
			e := &chunk[i]
			keys = append(keys, keyed{key: uint64(e.From)<<32 | uint64(e.To), chunk: int32(c), i: int32(i)})
		}
	}
	keys = radixSort(keys, func(k *keyed) uint64 { return k.key })
	out := make([]Edge, total)
	for i, k := range keys {
		out[i] = chunks[k.chunk][k.i]
	}
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

// CompareEdges orders edges by (From, To, Start, Channel, VenueID, Vehicle),
// the order of Result.Edges.
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
	case a.VenueID != b.VenueID:
		return cmp.Compare(a.VenueID, b.VenueID)
	}
	return cmp.Compare(a.Vehicle, b.Vehicle)
}
