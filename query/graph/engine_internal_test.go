package graph

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortEdges and sites work on the refine stage's chunks; on graphs large
// enough for the radix passes they must agree with a plain sort and with the
// definition of a site.
func TestSortEdgesAndSites(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{0, 1, 100, radixMin - 1, radixMin, 50_000} {
		var chunks [][]Edge
		var all []Edge
		caseID := uint32(rng.IntN(1 << 20))
		for i := range n {
			from := caseID
			if rng.IntN(3) > 0 {
				// Ids spread over both 16-bit halves, with repeats.
				from = uint32(rng.IntN(40)) << uint(rng.IntN(3)*12)
			}
			e := Edge{From: from, To: uint32(rng.IntN(500)), Channel: Channel(1 + rng.IntN(2))}
			if e.Channel == ChannelVenue {
				e.VenueID = uint32(1 + rng.IntN(30))
			}
			e.Start = int64(rng.IntN(10_000))
			e.End = e.Start + int64(1+rng.IntN(3600))
			e.Start += int64(i) * 100_000 // distinct: no two edges tie on every field
			if len(chunks) == 0 || rng.IntN(50) == 0 {
				chunks = append(chunks, nil)
			}
			chunks[len(chunks)-1] = append(chunks[len(chunks)-1], e)
			all = append(all, e)
		}
		want := slices.Clone(all)
		slices.SortFunc(want, CompareEdges)
		got := sortEdges(chunks)
		if n == 0 {
			want = nil
		}
		if !slices.Equal(want, got) {
			t.Fatalf("%d edges: sortEdges differs from a plain sort", n)
		}
		if gs, ws := sites(chunks, caseID), naiveSites(all, caseID); !slices.Equal(gs, ws) {
			t.Fatalf("%d edges: sites %v, want %v", n, gs, ws)
		}
	}
}

func naiveSites(edges []Edge, caseID uint32) []Site {
	var out []Site
	for v := uint32(1); v <= 30; v++ {
		s := Site{VenueID: v, Tier: 1, First: 1 << 62, Last: -1 << 62}
		to := map[uint32]bool{}
		for _, e := range edges {
			if e.Channel == ChannelVenue && e.VenueID == v {
				if e.From == caseID {
					s.Tier = 0
				}
				s.First, s.Last = min(s.First, e.Start), max(s.Last, e.End)
				to[e.To] = true
			}
		}
		if s.Exposed = len(to); s.Exposed > 0 {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Site) int {
		if a.First != b.First {
			return int(a.First - b.First)
		}
		return int(a.VenueID) - int(b.VenueID)
	})
	return out
}

// radixSort is a stable sort by key, whichever digits the keys share.
func TestRadixSortIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type item struct {
		key uint64
		pos int
	}
	for _, shape := range []func() uint64{
		func() uint64 { return uint64(rng.IntN(5)) },                           // one digit varies
		func() uint64 { return uint64(rng.IntN(1<<20)) << 32 },                 // only high digits
		func() uint64 { return rng.Uint64() },                                  // all four
		func() uint64 { return uint64(rng.IntN(3))<<48 | uint64(rng.IntN(7)) }, // outer digits
		func() uint64 { return 42 },                                            // none
	} {
		for _, n := range []int{0, 1, 2, 1000, 20_000} {
			items := make([]item, n)
			for i := range items {
				items[i] = item{key: shape(), pos: i}
			}
			want := slices.Clone(items)
			slices.SortStableFunc(want, func(a, b item) int { return cmp.Compare(a.key, b.key) })
			got := radixSort(slices.Clone(items), func(it *item) uint64 { return it.key })
			if !slices.Equal(want, got) {
				t.Fatalf("n=%d: radixSort differs from a stable sort", n)
			}
		}
	}
}

// sortNodes orders large graphs by packed keys; the order must be the
// comparison order, with the case first whatever its time.
func TestSortNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	byOrder := func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.Tier, b.Tier), cmp.Compare(a.FirstExposure, b.FirstExposure), cmp.Compare(a.UserID, b.UserID))
	}
	for _, n := range []int{1, 100, radixMin, 30_000} {
		for _, span := range []int64{3600, 14 * 86400, 1 << 31} {
			nodes := []Node{{UserID: uint32(rng.IntN(1 << 30))}}
			base := int64(1_620_000_000)
			for i := 1; i < n; i++ {
				nodes = append(nodes, Node{UserID: uint32(rng.IntN(1 << 20)), Tier: 1 + rng.IntN(2), FirstExposure: base + rng.Int64N(span)})
			}
			want := slices.Clone(nodes)
			slices.SortFunc(want, byOrder)
			got := sortNodes(slices.Clone(nodes))
			if !slices.EqualFunc(want, got, func(a, b Node) bool { return byOrder(a, b) == 0 }) {
				t.Fatalf("n=%d span=%d: sortNodes differs from the comparison sort", n, span)
			}
		}
	}
}
