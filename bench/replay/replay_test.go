package replay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/schemas/event"
)

// memKafka keeps what is produced, failing the first few writes as an
// unavailable broker would.
type memKafka struct {
	mu       sync.Mutex
	got      event.Batch
	failures atomic.Int32
}

func (m *memKafka) Produce(_ context.Context, b *event.Batch) error {
	if m.failures.Add(-1) >= 0 {
		return errors.New("broker unavailable")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got.Append(b)
	return nil
}

func (m *memKafka) count() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(m.got.Len())
}

// Straight to Kafka, built as it goes or prepared first: every record of the city is produced exactly as
// generated, failed writes are retried and counted, and lag and freshness
// come from the processors' status.
func TestRunKafka(t *testing.T) {
	for _, prepare := range []bool{false, true} {
		t.Run(fmt.Sprintf("prepare=%v", prepare), func(t *testing.T) { testRunKafka(t, prepare) })
	}
}

func testRunKafka(t *testing.T, prepare bool) {
	cfg := synth.Demo()
	cfg.People, cfg.Venues, cfg.Days = 300, 20, 1
	city, err := synth.New(cfg)
	require.NoError(t, err)
	var want event.Batch
	for b := range city.Batches() {
		want.Append(&b)
	}
	k := &memKafka{}
	k.failures.Store(2)
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"processed": %d}`, k.count())
	}))
	defer status.Close()

	rc := DefaultConfig()
	rc.Kafka, rc.StatusURLs, rc.Sample, rc.Prepare = k, []string{status.URL}, 100*time.Millisecond, prepare
	res, err := Run(t.Context(), city, rc, nil)
	require.NoError(t, err)
	require.EqualValues(t, want.Len(), res.Events)
	require.EqualValues(t, 2, res.Unavailable, "two failed writes, retried")
	require.ElementsMatch(t, want.Visits, k.got.Visits)
	require.ElementsMatch(t, want.Encounters, k.got.Encounters)
	require.Positive(t, res.Latency.Count())
	require.Positive(t, res.Drained)
	require.Nil(t, res.Behind, "no target rate, no schedule")

	require.ErrorIs(t, Config{Clients: 1, Sample: time.Second, Timeout: time.Second}.Validate(), ErrConfig)
}
