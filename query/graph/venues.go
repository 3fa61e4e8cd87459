package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// visit is a candidate's stay found from the venue's side.
type visit struct {
	user uint32
	Stay
}

// refineByVenue finds and measures a tier's candidates by reading every stay
// at the sources' venues during their spans, instead of asking the bitmaps
// who was there and then seeking each candidate's stays. It runs in two
// phases. First, workers read interleaved shares of the venues and deal the
// stays of people not yet placed into one partition per worker, by person.
// Then each worker sorts one partition by person and measures each person's
// stays, with their encounters with sources, against the sources, exactly as
// the bitmap path does; people met only by encounter are measured by the
// worker of their partition too.
func (s *search) refineByVenue(ctx context.Context, rf *refinement, vs VenueStore, spans []VenueSpans) ([][]found, error) {
	slices.SortFunc(spans, func(a, b VenueSpans) int { return cmp.Compare(a.Venue, b.Venue) })
	perWorker := max(1, s.engine.minShare/venueShareDivisor)
	n := max(1, min(s.engine.workers, len(spans)/perWorker))

	// Phase 1: read venues, deal stays by person.
	parts := make([][][]visit, n) // [reader][partition]
	read := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		parts[i] = make([][]visit, n)
		var share []VenueSpans
		for j := i; j < len(spans); j += n {
			share = append(share, spans[j])
		}
		wg.Go(func() { read[i], errs[i] = s.dealVisitors(ctx, vs, share, parts[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("read stays at %d venues for tier %d: %w", len(spans), rf.tier, err)
	}

	// Phase 2: measure each partition's people.
	workers := make([]*refineWorker, n)
	cands := make([]int, n)
	for j := range n {
		wk := newRefineWorker(rf)
		workers[j] = wk
		size := 0
		for i := range n {
			size += len(parts[i][j])
		}
		all := make([]visit, 0, size)
		for i := range n {
			all = append(all, parts[i][j]...)
			parts[i][j] = nil
		}
		wg.Go(func() { cands[j] = wk.measurePartition(all, j, n) })
	}
	wg.Wait()

	total := 0
	for j := range workers {
		s.res.Stats.VisitorsRead += read[j]
		total += cands[j]
	}
	s.countCandidates(rf.tier, total)
	return s.gather(workers), nil
}

// venueShareDivisor turns the engine's fewest candidates per refine worker
// into fewest venues per reader: a source's venue yields about this many
// candidates.
const venueShareDivisor = 64

// dealVisitors reads the stays at share's venues and appends each stay of a
// person not yet placed to that person's partition. It returns the stays read.
func (s *search) dealVisitors(ctx context.Context, vs VenueStore, share []VenueSpans, parts [][]visit) (int, error) {
	n := uint32(len(parts))
	read := 0
	for vv, err := range vs.Visitors(ctx, share) {
		if err != nil {
			return read, err
		}
		read += len(vv.Visitors)
		for _, v := range vv.Visitors {
			if !s.known.Contains(v.User) {
				p := &parts[v.User%n]
				*p = append(*p, visit{user: v.User, Stay: Stay{Venue: vv.Venue, Interval: v.Interval}})
			}
		}
	}
	return read, nil
}

// measurePartition measures the people of partition j of n: those with stays
// in all, and those met by encounter only. It returns how many it measured.
func (wk *refineWorker) measurePartition(all []visit, j, n int) int {
	rf := wk.rf
	if len(all) < radixMin {
		slices.SortFunc(all, func(a, b visit) int { return cmp.Compare(a.user, b.user) })
	} else {
		all = radixSort(all, func(v *visit) uint64 { return uint64(v.user) })
	}
	people := len(rf.prox) / n
	for i := range all {
		if i == 0 || all[i].user != all[i-1].user {
			people++
		}
	}
	wk.out = slices.Grow(wk.out, people)
	cands := 0
	for lo := 0; lo < len(all); {
		u := all[lo].user
		wk.pieces = wk.pieces[:0]
		for ; lo < len(all) && all[lo].user == u; lo++ {
			wk.cut(all[lo].Stay)
		}
		if ps, ok := rf.prox[u]; ok {
			wk.pieces = append(wk.pieces, ps...)
			wk.seen[u] = struct{}{}
		}
		cands++
		if f, ok := wk.evaluate(u); ok {
			wk.out = append(wk.out, f)
		}
	}
	for p, ps := range rf.prox {
		if int(p%uint32(n)) != j {
			continue
		}
		if _, ok := wk.seen[p]; ok {
			continue
		}
		cands++
		wk.measureEncountered(p, ps)
	}
	return cands
}
