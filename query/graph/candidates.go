package graph

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/truyvet/truyvet/index/bucket"
)

// presence is where and when a tier's sources were, each clipped to the
// window that counts for it.
type presence struct {
	venues map[uint32]*venueList // by venue, the sources' stays there
	prox   map[uint32][]piece    // by peer not yet placed, the sources' encounters and co-travel with them
	// vehicles names the vehicles of vehicle pieces (piece.venue indexes it).
	vehicles []string
	window   Window // the earliest source's from to the query's end: what candidates' stays are read over
}

// srcInterval is a source's presence at a venue, clipped to its window.
type srcInterval struct {
	src int32
	Interval
}

// venueList holds the sources' presence at one venue, sorted by Start once
// coverVenues has run.
type venueList struct {
	items  []srcInterval
	maxLen int64

	// Under a rule (gateVenues): co-presence here is never close (a kind
	// the rule leaves out), or not during crowded (sorted, disjoint).
	casualOnly bool
	crowded    []Interval
}

// presenceOf gathers the sources' stays by venue and their encounters by
// peer, leaving out people already placed, and under a rule the encounters
// it drops and, unless casual co-presence is wanted, the stays when
// co-presence makes no close contact.
func (s *search) presenceOf(srcs []source, casual bool) presence {
	to := s.q.Window.To
	p := presence{venues: map[uint32]*venueList{}, prox: map[uint32][]piece{}, window: Window{From: to, To: to}}
	for si := range srcs {
		src := &srcs[si]
		win := Window{From: src.from, To: to}
		p.window.From = min(p.window.From, src.from)
		stays, contacts := src.stays, src.contacts
		if s.rule != nil && s.rule.Venue == nil && !casual {
			stays = nil
		}
		for _, st := range stays {
			iv := st.Interval.Clip(win)
			if iv.Len() == 0 {
				continue
			}
			vl := p.venues[st.Venue]
			if vl == nil {
				vl = &venueList{}
				p.venues[st.Venue] = vl
			}
			vl.items = append(vl.items, srcInterval{src: int32(si), Interval: iv})
		}
		for _, c := range contacts {
			iv := c.Interval.Clip(win)
			if iv.Len() == 0 || s.known.Contains(c.Peer) || (s.rule != nil && !s.rule.passes(c)) {
				continue
			}
			p.prox[c.Peer] = append(p.prox[c.Peer], piece{src: int32(si), ch: ChannelProximity, Interval: iv})
		}
		for _, c := range src.trips {
			iv := c.Interval.Clip(win)
			if iv.Len() == 0 || s.known.Contains(c.peer) {
				continue
			}
			v := slices.Index(p.vehicles, c.vehicle)
			if v < 0 {
				v = len(p.vehicles)
				p.vehicles = append(p.vehicles, c.vehicle)
			}
			p.prox[c.peer] = append(p.prox[c.peer], piece{src: int32(si), ch: ChannelVehicle, venue: uint32(v), Interval: iv})
		}
	}
	return p
}

// coverVenues sorts each venue's presence by Start and notes its longest
// interval, for the refine stage, and returns what the candidates are found
// from: with byVenue, each venue's merged spans, whose every stay is read;
// otherwise the bitmap ranges covering those spans.
func (s *search) coverVenues(venues map[uint32]*venueList, byVenue bool) ([]bucket.Range, []VenueSpans) {
	var ranges []bucket.Range
	var spans []VenueSpans
	for v, vl := range venues {
		slices.SortFunc(vl.items, func(a, b srcInterval) int { return cmp.Compare(a.Start, b.Start) })
		s.ivs = s.ivs[:0]
		for _, it := range vl.items {
			vl.maxLen = max(vl.maxLen, it.Len())
			s.ivs = append(s.ivs, it.Interval)
		}
		s.merged = mergeInto(s.merged[:0], s.ivs)
		if byVenue {
			spans = append(spans, VenueSpans{Venue: v, Spans: slices.Clone(s.merged)})
			continue
		}
		for _, iv := range s.merged {
			if first, last, ok := s.layout.Cover(iv.Start, iv.End); ok {
				ranges = append(ranges, bucket.Range{Venue: v, First: first, Last: last})
			}
		}
	}
	return ranges, spans
}

// bitmapCandidates returns everyone not yet placed who is indexed at a venue
// in a bucket of ranges, and records how many people the tier will measure:
// those and the peers of prox outside them.
func (s *search) bitmapCandidates(ctx context.Context, tier int, ranges []bucket.Range, prox map[uint32][]piece) (*roaring.Bitmap, error) {
	slices.SortFunc(ranges, func(a, b bucket.Range) int {
		return cmp.Or(cmp.Compare(a.Venue, b.Venue), cmp.Compare(a.First, b.First))
	})
	cands := roaring.New()
	if len(ranges) > 0 {
		bm, err := s.store.Present(ctx, ranges)
		if err != nil {
			return nil, fmt.Errorf("read co-location bitmaps for tier %d (%d ranges): %w", tier, len(ranges), err)
		}
		cands = bm
	}
	cands.AndNot(s.known)
	s.res.Stats.BitmapRanges += len(ranges)
	n := cands.GetCardinality()
	for p := range prox {
		if !cands.Contains(p) {
			n++
		}
	}
	s.countCandidates(tier, int(n))
	return cands, nil
}

// countCandidates records in the stats how many candidates a tier measured.
func (s *search) countCandidates(tier, n int) {
	if tier == 1 {
		s.res.Stats.CandidatesF1 = n
	} else {
		s.res.Stats.CandidatesF2 = n
	}
}
