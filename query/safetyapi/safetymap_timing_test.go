package safetyapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/safetyapi"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
)

// BenchmarkSafetyMap answers GET /v1/safety-map.geojson for a city of tier
// S (10 000 venues), nine in ten assessed today, on the embedded store.
func BenchmarkSafetyMap(b *testing.B) {
	s, err := pebblestore.Open(b.Context(), pebblestore.Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 64 << 20})
	require.NoError(b, err)
	defer func() { require.NoError(b, s.Close()) }()
	const n = 10_000
	specs := make([]venue.Spec, n)
	kinds := venue.Kinds()
	for i := range specs {
		specs[i] = venue.Spec{ID: uint32(i + 1), Name: fmt.Sprintf("Địa điểm %d", i+1), Kind: kinds[i%len(kinds)], Province: "79",
			Address: "Quận 1", Lat: 10.7 + float64(i%100)/1000, Lon: 106.6 + float64(i/100)/1000}
	}
	_, err = s.Register(b.Context(), specs)
	require.NoError(b, err)
	cat, err := checklist.Shipped()
	require.NoError(b, err)
	now := time.Now()
	day := bucket.DayOf(now.Unix())
	var as []event.Assessment
	for i := range n {
		if i%10 != 9 {
			as = append(as, safetytest.Assessment(b, cat, uint32(i+1), kinds[i%len(kinds)], day, now.Unix()-60, fmt.Sprint(i), func(j int) bool { return (i+j)%7 != 0 }))
		}
	}
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(b, err)
	require.NoError(b, p.Process(b.Context(), &event.Batch{Assessments: as}))
	for i := range 200 {
		_, err := s.AddFeedback(b.Context(), safety.Feedback{VenueID: uint32(1 + i*37%n), Province: "79", Category: safety.CategoryCrowding, CreatedAt: now})
		require.NoError(b, err)
	}
	h, err := safetyapi.New(safetyapi.Deps{Registry: s, Assessments: s, Feedback: s})
	require.NoError(b, err)
	mux := http.NewServeMux()
	h.Register(mux)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/safety-map.geojson", nil))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
		size = rec.Body.Len()
	}
	b.SetBytes(int64(size))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/venue")
}
