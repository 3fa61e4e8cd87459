package event_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue"
)

// t0Day is the local day of now (2021-07-15).
const t0Day = uint32(18823)

func catalog(t testing.TB) *checklist.Catalog {
	t.Helper()
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	return cat
}

// sampleAssessment is a school's assessment of day d with every item met
// but ventilation, scored.
func sampleAssessment(d uint32) event.Assessment {
	cat, _ := checklist.Shipped()
	c, _ := cat.For(venue.KindSchool, 1)
	ans := map[string]bool{}
	for _, it := range c.Items {
		ans[it.ID] = it.ID != "ventilation"
	}
	a := event.Assessment{AssessmentID: "as-1", VenueID: 42, Kind: venue.KindSchool, Day: d, Version: 1,
		SubmittedAt: now.Unix() - 60, Account: "acc_1", Answers: event.AnswersFrom(ans)}
	r, _ := c.Score(ans)
	a.Tenths, a.Level = uint16(r.Tenths), r.Level
	return a
}

func TestAssessmentWireRoundTrip(t *testing.T) {
	as := []event.Assessment{sampleAssessment(t0Day), sampleAssessment(t0Day - 3)}
	as[1].AssessmentID, as[1].Account, as[1].Answers[0].Met = "as-2", "", false
	msg := event.AppendAssessmentsWire(nil, as)
	kind, err := event.WireKind(msg)
	require.NoError(t, err)
	require.Equal(t, event.KindAssessment, kind)
	var b event.Batch
	require.NoError(t, event.DecodeWire(msg, &b))
	require.Equal(t, as, b.Assessments)
	require.Equal(t, 2, b.Len())
	// Cut anywhere, it does not decode and leaves dst alone.
	for n := 3; n < len(msg); n++ {
		b := event.Batch{Assessments: []event.Assessment{{AssessmentID: "keep"}}}
		require.ErrorIs(t, event.DecodeWire(msg[:n], &b), event.ErrWire, n)
		require.Len(t, b.Assessments, 1)
	}
}

func TestValidateAssessment(t *testing.T) {
	cat := catalog(t)
	l := event.DefaultLimits()
	good := sampleAssessment(t0Day)
	require.NoError(t, l.ValidateAssessment(&good, cat, now))
	require.Equal(t, checklist.LevelGreen, good.Level, "ventilation is not critical and weighs 8 of 100")
	for _, tc := range []struct {
		name   string
		edit   func(*event.Assessment)
		field  string
		reason event.Reason
	}{
		{"no id", func(a *event.Assessment) { a.AssessmentID = "" }, "assessment_id", event.ReasonMissingField},
		{"no venue", func(a *event.Assessment) { a.VenueID = 0 }, "venue_id", event.ReasonMissingField},
		{"bad kind", func(a *event.Assessment) { a.Kind = "spaceport" }, "kind", event.ReasonInvalidValue},
		{"no date", func(a *event.Assessment) { a.Day = 0 }, "date", event.ReasonMissingField},
		{"tomorrow", func(a *event.Assessment) { a.Day = t0Day + 1 }, "date", event.ReasonFutureTime},
		{"past retention", func(a *event.Assessment) { a.Day = t0Day - 29 }, "date", event.ReasonExpired},
		{"no version", func(a *event.Assessment) { a.Version = 0 }, "version", event.ReasonMissingField},
		{"unknown version", func(a *event.Assessment) { a.Version = 9 }, "version", event.ReasonInvalidValue},
		{"no answers", func(a *event.Assessment) { a.Answers = nil }, "answers", event.ReasonMissingField},
		{"unknown item", func(a *event.Assessment) {
			a.Answers = append(a.Answers, event.ItemAnswer{Item: "zzz", Met: true})
		}, "answers", event.ReasonInvalidValue},
		{"missing item", func(a *event.Assessment) { a.Answers = a.Answers[1:] }, "answers", event.ReasonMissingField},
		{"repeated item", func(a *event.Assessment) { a.Answers = append(a.Answers[:1], a.Answers...) }, "answers", event.ReasonInvalidValue},
		{"wrong score", func(a *event.Assessment) { a.Tenths = 1000 }, "score", event.ReasonInvalidValue},
		{"wrong level", func(a *event.Assessment) { a.Level = checklist.LevelRed }, "score", event.ReasonInvalidValue},
		{"future submission", func(a *event.Assessment) { a.SubmittedAt = now.Unix() + 3600 }, "submitted_at", event.ReasonFutureTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := sampleAssessment(t0Day)
			a.Answers = append([]event.ItemAnswer(nil), a.Answers...)
			tc.edit(&a)
			err := l.ValidateAssessment(&a, cat, now)
			var ve *event.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
			require.Equal(t, tc.reason, ve.Reason)
		})
	}
	// The oldest day inside retention and today are taken.
	for _, d := range []uint32{t0Day, t0Day - 28} {
		a := sampleAssessment(d)
		require.NoError(t, l.ValidateAssessment(&a, cat, now), d)
	}
	// Score fills score and level before validating.
	a := sampleAssessment(t0Day)
	a.Tenths, a.Level = 0, ""
	require.NoError(t, l.Score(&a, cat, now))
	require.Equal(t, sampleAssessment(t0Day).Tenths, a.Tenths)
}

func TestLaterBreaksTiesByID(t *testing.T) {
	a, b := sampleAssessment(t0Day), sampleAssessment(t0Day)
	b.AssessmentID = "as-2"
	require.True(t, b.Later(&a))
	require.False(t, a.Later(&b))
	a.SubmittedAt++
	require.True(t, a.Later(&b))
}

// FuzzDecodeAssessmentWire: no input panics; what decodes re-encodes to a
// message that decodes to the same records, and validation never panics.
func FuzzDecodeAssessmentWire(f *testing.F) {
	f.Add(event.AppendAssessmentsWire(nil, []event.Assessment{sampleAssessment(t0Day)}))
	f.Add([]byte{'T', 1, 4, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0})
	cat := catalog(f)
	l := event.DefaultLimits()
	f.Fuzz(func(t *testing.T, msg []byte) {
		var got event.Batch
		if err := event.DecodeWire(msg, &got); err != nil {
			require.Zero(t, got.Len())
			return
		}
		for i := range got.Assessments {
			if err := l.ValidateAssessment(&got.Assessments[i], cat, now); err != nil {
				requireValidationError(t, err)
			}
		}
		if kind, _ := event.WireKind(msg); kind != event.KindAssessment {
			return
		}
		var again event.Batch
		require.NoError(t, event.DecodeWire(event.AppendAssessmentsWire(nil, got.Assessments), &again))
		require.Equal(t, got, again)
	})
}
