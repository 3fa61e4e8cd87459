package pgfeedback_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/store/pgfeedback"
	"github.com/truyvet/truyvet/store/pgschema/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFeedbackConformance(t *testing.T) {
	url := pgtest.URL(t)
	safetytest.RunFeedback(t, func(t *testing.T) safety.FeedbackStore {
		s, err := pgfeedback.Open(t.Context(), pgfeedback.Options{URL: url, Schema: pgtest.Schema(t, url, "feedbacktest")})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestOpenNeedsURL(t *testing.T) {
	_, err := pgfeedback.Open(t.Context(), pgfeedback.Options{})
	require.ErrorIs(t, err, pgfeedback.ErrNoURL)
}
