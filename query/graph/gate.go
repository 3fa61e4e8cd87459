package graph

import (
	"context"
	"fmt"
	"slices"

	"github.com/truyvet/truyvet/index/bucket"
)

// The gates of a contact definition (Rule), applied only when a query has
// one that is not the default: presenceOf drops the encounters under the
// RSSI floor (and the stays when co-presence cannot be close and casual
// co-presence is not wanted); gateVenues marks the venues whose kind the
// rule leaves out and the buckets too crowded to be close; cut turns their
// co-presence into casual pieces; gate measures each channel on its own
// before the union; casualNode lists what is left of tier 1's co-presence.

// gateVenues applies the rule's venue kinds and crowd cap to a tier's
// venues. Unless casual co-presence is wanted it drops the venues where no
// co-presence can be close, so their visitors are never read.
func (s *search) gateVenues(ctx context.Context, venues map[uint32]*venueList, casual bool) error {
	vr := s.rule.Venue
	if vr == nil { // presenceOf kept the stays only for casual co-presence
		for _, vl := range venues {
			vl.casualOnly = true
		}
		return nil
	}
	if len(venues) == 0 {
		return nil
	}
	ids := make([]uint32, 0, len(venues))
	for v := range venues {
		ids = append(ids, v)
	}
	slices.Sort(ids)
	if vr.Kinds != nil {
		kinds := make([]string, len(ids))
		if s.engine.kinds != nil {
			ks, err := s.engine.kinds.Kinds(ctx, ids)
			if err != nil {
				return fmt.Errorf("read the kinds of %d venues: %w", len(ids), err)
			}
			if len(ks) != len(ids) {
				return fmt.Errorf("venue kinds: %d kinds for %d venues", len(ks), len(ids))
			}
			kinds = ks
		}
		for i, v := range ids {
			if !s.rule.allows(kinds[i]) {
				venues[v].casualOnly = true
			}
		}
	}
	if vr.MaxPresent > 0 {
		if err := s.markCrowded(ctx, ids, venues, vr.MaxPresent); err != nil {
			return err
		}
	}
	if !casual {
		for _, v := range ids {
			if vl := venues[v]; vl.casualOnly {
				delete(venues, v)
			}
		}
	}
	return nil
}

// markCrowded sets each venue's crowded intervals: the buckets of its
// presence in which more than maxPresent people were indexed there. A venue
// crowded over all its presence can only be casual.
func (s *search) markCrowded(ctx context.Context, ids []uint32, venues map[uint32]*venueList, maxPresent int) error {
	cs, ok := s.store.(CrowdStore)
	if !ok {
		return fmt.Errorf("a crowd cap (max_present): %w", ErrNoCrowds)
	}
	var ranges []bucket.Range
	spans := map[uint32][]Interval{}
	for _, v := range ids {
		vl := venues[v]
		if vl.casualOnly {
			continue
		}
		ivs := make([]Interval, 0, len(vl.items))
		for _, it := range vl.items {
			ivs = append(ivs, it.Interval)
		}
		spans[v] = mergeInto(nil, ivs)
		for _, iv := range spans[v] {
			if first, last, ok := s.layout.Cover(iv.Start, iv.End); ok {
				ranges = append(ranges, bucket.Range{Venue: v, First: first, Last: last})
			}
		}
	}
	crowds, err := cs.Crowds(ctx, ranges)
	if err != nil {
		return fmt.Errorf("count people per bucket at %d venues: %w", len(spans), err)
	}
	for v, sp := range spans {
		vl := venues[v]
		open := false
		for _, iv := range sp {
			first, last, _ := s.layout.Cover(iv.Start, iv.End)
			for b := first; b <= last; b++ {
				if crowds[bucket.Key{Venue: v, Bucket: b}] <= maxPresent {
					open = true
					continue
				}
				bi := Interval{Start: s.layout.Start(b), End: s.layout.Start(b + 1)}
				if n := len(vl.crowded); n > 0 && vl.crowded[n-1].End >= bi.Start {
					vl.crowded[n-1].End = max(vl.crowded[n-1].End, bi.End)
					continue
				}
				vl.crowded = append(vl.crowded, bi)
			}
		}
		if !open {
			vl.casualOnly, vl.crowded = true, nil
		}
	}
	return nil
}

// appendUncrowded appends pc to ps cut by the crowded intervals (sorted,
// disjoint): the parts inside them casual, the rest as it was.
func appendUncrowded(ps []piece, pc piece, crowded []Interval) []piece {
	i, _ := slices.BinarySearchFunc(crowded, pc.Start, func(c Interval, t int64) int {
		if c.End <= t {
			return -1
		}
		return 1
	})
	at := pc.Start
	for ; i < len(crowded) && crowded[i].Start < pc.End && at < pc.End; i++ {
		c := crowded[i]
		if c.Start > at {
			part := pc
			part.Start, part.End = at, c.Start
			ps = append(ps, part)
			at = c.Start
		}
		part := pc
		part.Start, part.End, part.casual = at, min(c.End, pc.End), true
		ps = append(ps, part)
		at = part.End
	}
	if at < pc.End {
		part := pc
		part.Start = at
		ps = append(ps, part)
	}
	return ps
}

// gate keeps, of one source's pieces (sorted by comparePieces), the close
// ones of the channels that pass on their own: a channel passes when the
// union of its close pieces is positive and at least its threshold. It
// compacts group in place and returns it.
func (wk *refineWorker) gate(group []piece) []piece {
	var pass [4]bool
	for _, c := range [...]Channel{ChannelProximity, ChannelVenue, ChannelVehicle} {
		wk.ivs = wk.ivs[:0]
		for _, p := range group {
			if p.ch == c && !p.casual {
				wk.ivs = append(wk.ivs, p.Interval)
			}
		}
		total, _ := unionLen(wk.ivs)
		pass[c] = total > 0 && total >= wk.rf.rule.minSecondsOf(c)
	}
	return slices.DeleteFunc(group, func(p piece) bool { return p.casual || !pass[p.ch] })
}

// casualNode returns candidate x as casual co-presence with the case when
// it shared a venue with the case at all (wk.pieces, every source being the
// case at tier 1).
func (wk *refineWorker) casualNode(x uint32) (found, bool) {
	wk.ivs, wk.vens = wk.ivs[:0], wk.vens[:0]
	var last int64
	for _, p := range wk.pieces {
		if p.ch == ChannelVenue {
			wk.ivs = append(wk.ivs, p.Interval)
			wk.vens = append(wk.vens, p.venue)
			last = max(last, p.End)
		}
	}
	total, first := unionLen(wk.ivs)
	if total == 0 {
		return found{}, false
	}
	slices.Sort(wk.vens)
	wk.vens = slices.Compact(wk.vens)
	var f found
	f.node = Node{
		UserID: x, Tier: TierCasual, FirstExposure: first, LastExposure: last, ExposureSeconds: total,
		Channels:  wk.channelSlab.copyOf([]Channel{ChannelVenue}),
		ExposedBy: wk.idSlab.copyOf([]uint32{wk.rf.srcs[0].id}),
		Venues:    wk.idSlab.copyOf(wk.vens),
	}
	return f, true
}
