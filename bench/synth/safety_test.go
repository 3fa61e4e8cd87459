package synth

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
)

func TestAssessmentsAndFeedbackAreValidAndSeeded(t *testing.T) {
	cfg := Demo()
	cfg.People, cfg.Venues, cfg.Days = 500, 60, 2
	c, err := New(cfg)
	require.NoError(t, err)
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	as, err := c.Assessments(cat)
	require.NoError(t, err)
	require.NotEmpty(t, as)
	l := event.DefaultLimits()
	levels := map[checklist.Level]int{}
	days := map[uint32]bool{}
	for i := range as {
		require.NoError(t, l.ValidateAssessment(&as[i], cat, cfg.End), "%+v", as[i])
		require.Less(t, as[i].SubmittedAt, cfg.End.Unix())
		levels[as[i].Level]++
		days[as[i].Day] = true
	}
	require.Contains(t, days, uint32(bucket.DayOf(cfg.End.Unix()-60)), "today is assessed")
	require.Positive(t, levels[checklist.LevelGreen])
	require.Positive(t, levels[checklist.LevelRed])
	again, err := c.Assessments(cat)
	require.NoError(t, err)
	require.Equal(t, as, again)

	fs := c.Feedback()
	require.NotEmpty(t, fs)
	for _, f := range fs {
		require.NoError(t, safety.ValidateReport(f.Category, f.Text))
		require.NotEmpty(t, f.Province)
		require.False(t, f.CreatedAt.After(cfg.End))
	}
	require.Equal(t, fs, c.Feedback())
}
