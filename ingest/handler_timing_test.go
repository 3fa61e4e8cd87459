package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas/event"
)

// discard is a Producer that takes everything at once.
type discard struct{}

func (discard) Produce(context.Context, *event.Batch) error { return nil }

// BenchmarkHandlerCheckins is the handler's own cost per check-in: read,
// split, decode and validate a 1000-line NDJSON body, answer 202 (no
// network, a producer that takes everything).
func BenchmarkHandlerCheckins(b *testing.B) {
	h, err := NewHandler(DefaultConfig(), discard{}, NewMetrics(prometheus.NewRegistry()), nil, func() time.Time { return testNow })
	require.NoError(b, err)
	mux := http.NewServeMux()
	h.Register(mux)
	var body []byte
	const n = 1000
	for i := range n {
		v := event.Visit{VisitID: fmt.Sprintf("v-%08d", i), UserID: uint32(i + 1), VenueID: uint32(i%97 + 1),
			Enter: testNow.Add(-3 * time.Hour).Unix(), Exit: testNow.Add(-2 * time.Hour).Unix(), Source: "ncovi"}
		body = append(event.AppendVisitJSON(body, &v), '\n')
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/checkins", bytes.NewReader(body)))
		if rec.Code != http.StatusAccepted {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
