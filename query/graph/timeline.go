package graph

import (
	"cmp"
	"slices"
)

// timeline returns the case's own stays and encounters that overlap w (a
// store may yield more), each meeting once.
func timeline(c source, w Window) Timeline {
	var tl Timeline
	for _, st := range c.stays {
		if st.Clip(w).Len() > 0 {
			tl.Stays = append(tl.Stays, st)
		}
	}
	for _, ct := range c.contacts {
		if ct.Clip(w).Len() > 0 {
			// A meeting, not a report: the merged reports' signals are left out.
			tl.Contacts = append(tl.Contacts, Contact{Peer: ct.Peer, Interval: ct.Interval})
		}
	}
	slices.SortFunc(tl.Stays, func(a, b Stay) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Venue, b.Venue), cmp.Compare(a.End, b.End))
	})
	// Both phones report a meeting, each with its own clock: merge the
	// overlapping encounters with one peer into one.
	slices.SortFunc(tl.Contacts, func(a, b Contact) int {
		return cmp.Or(cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.Start, b.Start))
	})
	merged := tl.Contacts[:0]
	for _, ct := range tl.Contacts {
		if n := len(merged); n > 0 && merged[n-1].Peer == ct.Peer && ct.Start <= merged[n-1].End {
			merged[n-1].End = max(merged[n-1].End, ct.End)
			continue
		}
		merged = append(merged, ct)
	}
	tl.Contacts = merged
	slices.SortFunc(tl.Contacts, func(a, b Contact) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Peer, b.Peer))
	})
	return tl
}
