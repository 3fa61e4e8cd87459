package visitors

import (
	"slices"

	"github.com/truyvet/truyvet/schemas/event"
)

// Reference is the visitor list computed naively from the raw records, by
// DESIGN's visit rule: records with the same visit_id, user, venue and enter
// are one stay, ending at their greatest exit, or dwell after enter when
// none has one. Tests check List against it.
func Reference(visits []event.Visit, dwell int64, venue uint32, from, to int64) []Visit {
	type key struct {
		id          string
		user, venue uint32
		enter       int64
	}
	exits := map[key]int64{}
	for _, v := range visits {
		k := key{v.VisitID, v.UserID, v.VenueID, v.Enter}
		exits[k] = max(exits[k], v.Exit)
	}
	var out []Visit
	for k, exit := range exits {
		st := Visit{User: k.user, Enter: k.enter, Exit: exit}
		if exit == 0 {
			st.Exit, st.ExitImputed = k.enter+dwell, true
		}
		if k.venue == venue && st.Exit > st.Enter && st.Enter < to && from < st.Exit {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, Compare)
	return out
}
