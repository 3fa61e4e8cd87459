package pebblestore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/safety/safetytest"
)

func TestFeedbackConformance(t *testing.T) {
	safetytest.RunFeedback(t, func(t *testing.T) safety.FeedbackStore {
		return open(t, bucket.DefaultLayout()).(*Store)
	})
}

// The queue outlives a restart and is not dropped by retention.
func TestFeedbackSurvivesReopenAndRetention(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	f, err := s.AddFeedback(t.Context(), safety.Feedback{VenueID: 4, Province: "01", Category: safety.CategoryNoMasks})
	require.NoError(t, err)
	_, err = s.DropBefore(t.Context(), bucket.Day(1<<30))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	got, err := s.ListFeedback(t.Context(), safety.FeedbackFilter{})
	require.NoError(t, err)
	require.Equal(t, []safety.Feedback{f}, got)
	g, err := s.AddFeedback(t.Context(), safety.Feedback{VenueID: 4, Province: "01", Category: safety.CategoryOther})
	require.NoError(t, err)
	require.Equal(t, uint64(2), g.ID)
}
