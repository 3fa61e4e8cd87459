package graph

import (
	"cmp"
	"slices"
)

// unionLen sorts ivs by Start and returns the length of their union and the
// earliest Start of a non-empty interval (0 when the union is empty).
func unionLen(ivs []Interval) (total, first int64) {
	slices.SortFunc(ivs, func(a, b Interval) int { return cmp.Compare(a.Start, b.Start) })
	var cur Interval
	open := false
	for _, iv := range ivs {
		if iv.End <= iv.Start {
			continue
		}
		if !open {
			cur, open, first = iv, true, iv.Start
			continue
		}
		if iv.Start <= cur.End {
			cur.End = max(cur.End, iv.End)
			continue
		}
		total += cur.Len()
		cur = iv
	}
	if open {
		total += cur.Len()
	}
	return total, first
}

// mergeInto appends to dst the maximal intervals of the union of ivs (which
// it sorts), merging intervals that overlap or touch, and returns dst.
func mergeInto(dst, ivs []Interval) []Interval {
	slices.SortFunc(ivs, func(a, b Interval) int { return cmp.Compare(a.Start, b.Start) })
	n := len(dst)
	for _, iv := range ivs {
		if iv.End <= iv.Start {
			continue
		}
		if len(dst) > n && iv.Start <= dst[len(dst)-1].End {
			last := &dst[len(dst)-1]
			last.End = max(last.End, iv.End)
			continue
		}
		dst = append(dst, iv)
	}
	return dst
}

// intersect returns the overlap of a and b, possibly empty.
func intersect(a, b Interval) Interval {
	return Interval{Start: max(a.Start, b.Start), End: min(a.End, b.End)}
}
