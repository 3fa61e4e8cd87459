// Package visitors makes a venue's visitor list ("danh sách khách"): the
// stays at one venue during a window, read through the stores' venue-order
// reader (graph.VenueStore.Visitors) that the exposure engine uses too.
package visitors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/truyvet/truyvet/query/graph"
)

// Visit is one stay at the venue.
type Visit struct {
	User  uint32
	Enter int64 // Unix seconds
	Exit  int64
	// ExitImputed: the stay ends the default dwell after it began, as a
	// stay without a check-out does. The stores fold a stay's records into
	// one interval, so a check-out sent exactly the default dwell after
	// entry reads as imputed too (the interval is the same either way).
	ExitImputed bool
}

// MaxVisits bounds one list; a longer window must be asked for in parts.
const MaxVisits = 200_000

// ErrTooMany is returned when a list would exceed MaxVisits.
var ErrTooMany = errors.New("more stays than one list holds; ask for a shorter window")

// List returns the stays at venue that overlap [from, to) (Unix seconds),
// sorted by enter, then user.
func List(ctx context.Context, vs graph.VenueStore, venue uint32, from, to int64) ([]Visit, error) {
	if to <= from {
		return nil, nil
	}
	dwell := vs.Layout().DwellSeconds
	q := graph.VenueSpans{Venue: venue, Spans: []graph.Interval{{Start: from, End: to}}}
	var out []Visit
	for vv, err := range vs.Visitors(ctx, []graph.VenueSpans{q}) {
		if err != nil {
			return nil, fmt.Errorf("visitors of venue %d: %w", venue, err)
		}
		if vv.Venue != venue {
			continue
		}
		for _, v := range vv.Visitors {
			if !q.Overlaps(v.Interval) {
				continue
			}
			if len(out) == MaxVisits {
				return nil, fmt.Errorf("venue %d: %w", venue, ErrTooMany)
			}
			out = append(out, Visit{User: v.User, Enter: v.Start, Exit: v.End, ExitImputed: v.End-v.Start == dwell})
		}
	}
	slices.SortFunc(out, Compare)
	return out, nil
}

// Compare orders visits by enter, user, then exit.
func Compare(a, b Visit) int {
	return cmp.Or(cmp.Compare(a.Enter, b.Enter), cmp.Compare(a.User, b.User), cmp.Compare(a.Exit, b.Exit))
}
