package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue/qrsig"
)

// discard is a Producer that takes everything at once.
type discard struct{}

func (discard) Produce(context.Context, *event.Batch) error { return nil }

// BenchmarkHandlerCheckins is the handler's own cost per check-in: read,
// split, decode and validate a 1000-line NDJSON body, answer 202 (no
// network, a producer that takes everything): by venue_id with no registry
// (on_faith), by venue_id checked against a registry of 100 000 venues
// (registered), and by signed venue_code.
func BenchmarkHandlerCheckins(b *testing.B) {
	k, err := qrsig.NewKeyring([]qrsig.Key{{Secret: bytes.Repeat([]byte{7}, 32)}}, time.Hour, time.Now)
	require.NoError(b, err)
	ids := roaring.New()
	ids.AddRange(1, 100_001)
	for _, bc := range []struct {
		name string
		opts []Option
		code bool
	}{
		{"on_faith", nil, false},
		{"registered", []Option{WithVenues(bitmapVenues{k, ids}, true)}, false},
		{"venue_code", []Option{WithVenues(bitmapVenues{k, ids}, true)}, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkCheckins(b, k, bc.code, bc.opts...) })
	}
}

// bitmapVenues knows the venues of a bitmap.
type bitmapVenues struct {
	*qrsig.Keyring
	ids *roaring.Bitmap
}

func (v bitmapVenues) Known(id uint32) bool { return v.ids.Contains(id) }

func benchmarkCheckins(b *testing.B, k *qrsig.Keyring, byCode bool, opts ...Option) {
	h, err := NewHandler(DefaultConfig(), discard{}, NewMetrics(prometheus.NewRegistry()), nil, func() time.Time { return testNow }, opts...)
	require.NoError(b, err)
	mux := http.NewServeMux()
	h.Register(mux)
	var body []byte
	const n = 1000
	for i := range n {
		v := event.Visit{VisitID: fmt.Sprintf("v-%08d", i), UserID: uint32(i + 1), VenueID: uint32(i%97 + 1),
			Enter: testNow.Add(-3 * time.Hour).Unix(), Exit: testNow.Add(-2 * time.Hour).Unix(), Source: "ncovi"}
		line := event.AppendVisitJSON(nil, &v)
		if byCode {
			line = bytes.Replace(line, []byte(fmt.Sprintf(`"venue_id":%d`, v.VenueID)), []byte(`"venue_code":"`+k.Code(v.VenueID)+`"`), 1)
		}
		body = append(append(body, line...), '\n')
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
