package event

import (
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/venue"
)

// Assessment is a venue's daily self-check against its kind's checklist
// (the Safety Map's). A venue has at most one assessment that counts per
// local day: the one filed last (greatest SubmittedAt, then AssessmentID);
// the others stay in its history. Replays of a record are the same record.
type Assessment struct {
	AssessmentID string // assigned when filed; a replay carries the same
	VenueID      uint32
	Kind         venue.Kind   // the venue's kind when filed: it picks the checklist
	Day          uint32       // the local day assessed (days since 1970-01-01 in Asia/Ho_Chi_Minh)
	Version      uint32       // the checklist's version
	SubmittedAt  int64        // Unix seconds
	Account      string       // the account that filed it
	Answers      []ItemAnswer // one per item, sorted by item id
	Tenths       uint16       // the score in tenths of a percent (checklist.Result)
	Level        checklist.Level
}

// ItemAnswer says whether one checklist item is met.
type ItemAnswer struct {
	Item string
	Met  bool
}

// AnswerMap returns the answers as item id → met.
func (a *Assessment) AnswerMap() map[string]bool {
	m := make(map[string]bool, len(a.Answers))
	for _, x := range a.Answers {
		m[x.Item] = x.Met
	}
	return m
}

// Later reports whether a was filed after o: it replaces o for its day.
func (a *Assessment) Later(o *Assessment) bool {
	if a.SubmittedAt != o.SubmittedAt {
		return a.SubmittedAt > o.SubmittedAt
	}
	return a.AssessmentID > o.AssessmentID
}

// AnswersFrom returns m as sorted answers.
func AnswersFrom(m map[string]bool) []ItemAnswer {
	out := make([]ItemAnswer, 0, len(m))
	for id, met := range m {
		out = append(out, ItemAnswer{Item: id, Met: met})
	}
	slices.SortFunc(out, func(a, b ItemAnswer) int {
		switch {
		case a.Item < b.Item:
			return -1
		case a.Item > b.Item:
			return 1
		}
		return 0
	})
	return out
}

// localDay is the local day of t (Unix seconds), as bucket.DayOf counts it.
func localDay(t int64) uint32 {
	const offset = 7 * 3600
	if t < -offset {
		return 0
	}
	return uint32((t + offset) / 86400) //nolint:gosec // times are bounded by the wire and JSON decoders
}

// ValidateAssessment returns nil or a *ValidationError naming the first field
// at fault: the date a local day not after today and not before the
// retention window, the version one of the venue kind's checklist, the
// answers every item of it and nothing else, and the score and level the
// checklist gives them. A zero now skips the checks against the clock, as
// for ValidateVisit.
func (l *Limits) ValidateAssessment(a *Assessment, cat *checklist.Catalog, now time.Time) error {
	if err := l.checkID("assessment_id", a.AssessmentID); err != nil {
		return err
	}
	if a.VenueID == 0 {
		return invalid("venue_id", ReasonMissingField, "missing or zero")
	}
	if a.Kind == "" {
		return invalid("kind", ReasonMissingField, "missing")
	}
	if !a.Kind.Valid() {
		return invalid("kind", ReasonInvalidValue, "%.40q is not a venue kind", string(a.Kind))
	}
	if a.Day == 0 {
		return invalid("date", ReasonMissingField, "missing")
	}
	if !now.IsZero() {
		if a.Day > localDay(now.Add(l.MaxFuture).Unix()) {
			return invalid("date", ReasonFutureTime, "a local day after today")
		}
		if a.Day < localDay(now.Add(-l.Retention).Unix()) {
			return invalid("date", ReasonExpired, "older than the retention window (%s)", l.Retention)
		}
	}
	if a.SubmittedAt <= 0 {
		return invalid("submitted_at", ReasonMissingField, "missing")
	}
	if !now.IsZero() && a.SubmittedAt > now.Add(l.MaxFuture).Unix() {
		return invalid("submitted_at", ReasonFutureTime, "more than %s in the future", l.MaxFuture)
	}
	if len(a.Account) > l.MaxIDBytes || !utf8.ValidString(a.Account) {
		return invalid("account", ReasonInvalidValue, "at most %d bytes of UTF-8", l.MaxIDBytes)
	}
	if a.Version == 0 {
		return invalid("version", ReasonMissingField, "missing or zero")
	}
	c, err := cat.For(a.Kind, a.Version)
	if err != nil {
		return invalid("version", ReasonInvalidValue, "no checklist version %d for %s venues", a.Version, a.Kind)
	}
	if len(a.Answers) == 0 {
		return invalid("answers", ReasonMissingField, "one answer per item of %s@%d", c.Name, c.Version)
	}
	for i := 1; i < len(a.Answers); i++ {
		if a.Answers[i-1].Item >= a.Answers[i].Item {
			return invalid("answers", ReasonInvalidValue, "items out of order or repeated")
		}
	}
	r, err := c.Score(a.AnswerMap())
	var ie *checklist.ItemError
	switch {
	case errors.As(err, &ie) && errors.Is(err, checklist.ErrMissingItem):
		return invalid("answers", ReasonMissingField, "item %q of %s@%d not answered", ie.Item, c.Name, c.Version)
	case errors.As(err, &ie):
		return invalid("answers", ReasonInvalidValue, "%.60q is not an item of %s@%d", ie.Item, c.Name, c.Version)
	case err != nil:
		return invalid("answers", ReasonInvalidValue, "%v", err)
	}
	if int(a.Tenths) != r.Tenths || a.Level != r.Level {
		return invalid("score", ReasonInvalidValue, "%d tenths, %s: the checklist gives %d, %s", a.Tenths, a.Level, r.Tenths, r.Level)
	}
	return nil
}

// Score fills a's score and level from its checklist, or returns the
// validation error that says why the answers cannot be scored.
func (l *Limits) Score(a *Assessment, cat *checklist.Catalog, now time.Time) error {
	c, err := cat.For(a.Kind, a.Version)
	if err == nil {
		if r, err := c.Score(a.AnswerMap()); err == nil {
			a.Tenths, a.Level = uint16(r.Tenths), r.Level //nolint:gosec // at most 1000
		}
	}
	return l.ValidateAssessment(a, cat, now)
}
