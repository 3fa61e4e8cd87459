package await_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/internal/await"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errDown = errors.New("connection refused")

func TestRetriesUntilAvailable(t *testing.T) {
	tries, retried := 0, 0
	v, err := await.Do(t.Context(), await.Options{Name: "svc", MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		OnRetry: func(error, time.Duration) { retried++ }},
		func(context.Context) (int, error) {
			tries++
			if tries < 5 {
				return 0, errDown
			}
			return 42, nil
		})
	require.NoError(t, err)
	require.Equal(t, 42, v)
	require.Equal(t, 5, tries)
	require.Equal(t, 4, retried)
}

func TestBoundedWaitGivesUp(t *testing.T) {
	start := time.Now()
	_, err := await.Do(t.Context(), await.Options{Name: "svc", MaxWait: 50 * time.Millisecond, MinBackoff: 5 * time.Millisecond},
		func(context.Context) (int, error) { return 0, errDown })
	require.ErrorIs(t, err, await.ErrGaveUp)
	require.ErrorIs(t, err, errDown)
	require.Less(t, time.Since(start), time.Second)
}

func TestPermanentErrorEndsAtOnce(t *testing.T) {
	errBad := errors.New("wrong layout")
	tries := 0
	_, err := await.Do(t.Context(), await.Options{Name: "svc", Permanent: func(err error) bool { return errors.Is(err, errBad) }},
		func(context.Context) (int, error) { tries++; return 0, errBad })
	require.ErrorIs(t, err, errBad)
	require.Equal(t, 1, tries)
}

func TestContextEndsWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := await.Do(ctx, await.Options{Name: "svc", MinBackoff: time.Millisecond},
		func(context.Context) (int, error) { return 0, errDown })
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
