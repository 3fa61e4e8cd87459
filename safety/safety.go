// Package safety is the Safety Map's contract (DESIGN "Safety Map"): the
// reads a store gives of venues' daily self-assessments (AssessmentStore,
// implemented by the embedded and the ClickHouse store, checked by
// safety/safetytest), the citizen feedback queue (FeedbackStore, in the
// embedded store and in PostgreSQL, store/pgfeedback), and the rule that
// picks the assessment that counts for a venue's day.
//
// Assessments are records like check-ins: validated by schemas/event,
// carried by Kafka in distributed mode, written by the processor. A venue
// files at most one assessment that counts per local day: the one filed last
// (event.Assessment.Later); the earlier ones stay in its history. A venue
// with none for a day is checklist.LevelNotAssessed that day.
package safety

import (
	"cmp"
	"context"
	"slices"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
)

// AssessmentStore reads the assessments a store keeps. Results belong to
// the caller. A replayed record is the same record: it is returned once.
type AssessmentStore interface {
	// DayAssessments returns every assessment filed for local day d,
	// replaced ones included, ordered by venue, then as filed (Order).
	DayAssessments(ctx context.Context, d bucket.Day) ([]event.Assessment, error)
	// VenueAssessments returns venue's assessments of the local days from
	// to to (inclusive), ordered by day, then as filed (Order).
	VenueAssessments(ctx context.Context, venue uint32, from, to bucket.Day) ([]event.Assessment, error)
}

// Compare orders assessments by day, venue, SubmittedAt and AssessmentID:
// the order the stores return them in, the one that counts last in its
// (venue, day).
func Compare(a, b *event.Assessment) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.VenueID, b.VenueID),
		cmp.Compare(a.SubmittedAt, b.SubmittedAt), cmp.Compare(a.AssessmentID, b.AssessmentID))
}

// Order sorts as by Compare and folds repeats of one record (the same
// venue, day, submission time and id): what a store does with replays.
func Order(as []event.Assessment) []event.Assessment {
	slices.SortStableFunc(as, func(a, b event.Assessment) int { return Compare(&a, &b) })
	return slices.CompactFunc(as, func(a, b event.Assessment) bool { return Compare(&a, &b) == 0 })
}

// Latest returns, per venue, the assessment that counts for its day among
// as (assessments of one day): the one filed last.
func Latest(as []event.Assessment) map[uint32]event.Assessment {
	out := make(map[uint32]event.Assessment, len(as))
	for i := range as {
		a := &as[i]
		if old, ok := out[a.VenueID]; !ok || a.Later(&old) {
			out[a.VenueID] = *a
		}
	}
	return out
}

// Day is a venue's standing on one local day.
type Day struct {
	Day      bucket.Day
	Level    checklist.Level   // LevelNotAssessed without an assessment
	Counting *event.Assessment // the assessment that counts; nil without one
	Filed    int               // assessments filed for the day, replaced ones included
}

// History folds one venue's assessments of the days from to to into one
// Day per day, oldest first, days without an assessment included.
func History(as []event.Assessment, from, to bucket.Day) []Day {
	if to < from {
		return nil
	}
	out := make([]Day, 0, int(to-from)+1)
	for d := from; d <= to; d++ {
		out = append(out, Day{Day: d, Level: checklist.LevelNotAssessed})
	}
	for i := range as {
		a := &as[i]
		if bucket.Day(a.Day) < from || bucket.Day(a.Day) > to {
			continue
		}
		day := &out[bucket.Day(a.Day)-from]
		day.Filed++
		if day.Counting == nil || a.Later(day.Counting) {
			c := *a
			day.Counting, day.Level = &c, a.Level
		}
	}
	return out
}

// VenueDay is one venue's local day: the unit a level is kept for.
type VenueDay struct {
	Venue uint32
	Day   bucket.Day
}

// PriorReader reads the assessments a store holds for some (venue, day)s in
// one call: what the level moves of a batch are computed against (Moves).
// The embedded and the ClickHouse store implement it.
type PriorReader interface {
	// VenueDayAssessments returns every assessment stored for the given
	// (venue, day)s, replaced ones included, ordered as Order does: at
	// least the fields that pick the one that counts and its level
	// (VenueID, Day, SubmittedAt, AssessmentID, Level; see Brief), the
	// others possibly zero.
	VenueDayAssessments(ctx context.Context, keys []VenueDay) ([]event.Assessment, error)
}

// Brief is a with only the fields PriorReader must return.
func Brief(a event.Assessment) event.Assessment {
	return event.Assessment{VenueID: a.VenueID, Day: a.Day, SubmittedAt: a.SubmittedAt, AssessmentID: a.AssessmentID, Level: a.Level}
}

// Keys returns the (venue, day)s of as, each once, in (day, venue) order.
func Keys(as []event.Assessment) []VenueDay {
	out := make([]VenueDay, 0, len(as))
	for i := range as {
		out = append(out, VenueDay{Venue: as[i].VenueID, Day: bucket.Day(as[i].Day)})
	}
	slices.SortFunc(out, func(a, b VenueDay) int { return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Venue, b.Venue)) })
	return slices.Compact(out)
}

// Move is a change of a venue's level on a day: From is "" when the venue
// had no assessment that day before (it was LevelNotAssessed), else the
// level of the assessment that counted until then.
type Move struct {
	VenueDay
	From, To checklist.Level
}

// Moves returns the level changes that storing batch makes, given stored,
// the assessments the store held for batch's (venue, day)s before it was
// written (PriorReader): per (venue, day), from the level of the one that
// counted among stored (Latest) to the level of the one that counts among
// stored and batch together, where the two differ. So a record already
// stored (a replay) changes nothing, nor one filed before the one that
// counts (late, out of order); a later one the same day moves the venue
// from its level to the new one. Ordered by day and venue.
func Moves(stored, batch []event.Assessment) []Move {
	before := map[VenueDay]*event.Assessment{}
	for i := range stored {
		a := &stored[i]
		k := VenueDay{Venue: a.VenueID, Day: bucket.Day(a.Day)}
		if old, ok := before[k]; !ok || a.Later(old) {
			before[k] = a
		}
	}
	after := map[VenueDay]*event.Assessment{}
	for i := range batch {
		a := &batch[i]
		k := VenueDay{Venue: a.VenueID, Day: bucket.Day(a.Day)}
		old, ok := after[k]
		if !ok {
			old, ok = before[k], before[k] != nil
		}
		if !ok || a.Later(old) {
			after[k] = a
		} else {
			after[k] = old
		}
	}
	var out []Move
	for _, k := range Keys(batch) {
		to := after[k]
		var from checklist.Level
		if b := before[k]; b != nil {
			from = b.Level
		}
		if from != to.Level {
			out = append(out, Move{VenueDay: k, From: from, To: to.Level})
		}
	}
	return out
}
