package ingest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/internal/metricstest"
	"github.com/truyvet/truyvet/schemas/event"
)

const (
	declOK  = `{"declaration_id":"d1","user_id":1001,"kind":"entry","declared_at":"2021-07-15T10:00:00Z","province":"79","symptoms":["fever"],"onset":"2021-07-14","travel":{"vehicle":"vn 123","depart":"2021-07-15T01:00:00Z","arrive":"2021-07-15T03:30:00Z","origin_country":"KR"},"source":"vhd"}`
	declOK2 = `{"declaration_id":"d2","user_id":1001,"subject_id":1003,"kind":"voluntary","declared_at":"2021-07-15T11:00:00Z","province":"01","source":"ncovi"}`
)

func TestDeclarations(t *testing.T) {
	f := newFixture(t, nil)
	body := lines(
		declOK,
		`{"declaration_id":"d3","user_id":1001,"kind":"tourist","declared_at":"2021-07-15T10:00:00Z","province":"79"}`,
		declOK2,
		`{"declaration_id":"d4","user_id":1001,"kind":"entry","declared_at":"2021-07-15T10:00:00Z","province":"79","travel":{"vehicle":"VN1","depart":"2021-07-15T03:00:00Z","arrive":"2021-07-15T02:00:00Z"}}`,
		`{"declaration_id":"d5","user_id":1001,"kind":"entry","declared_at":"2021-07-15T10:00:00Z","province":"79","symptoms":["sneezing"]}`,
		`{"declaration_id":"d6","user_id":1001,"kind":"entry","declared_at":"2021-07-15T10:00:00Z","province":"79","onset":"15/07/2021"}`,
		`{"declaration_id":"d7","user_id":1001,"kind":"entry","declared_at":"2021-07-15T10:00:00Z","province":"79","source":"zalo"}`,
		`{"declaration_id":"d8","user_id":1001,"kind":"entry","declared_at":"2021-07-15T12:10:00Z","province":"79"}`,
	)
	rec := f.post(t, "/v1/declarations", body)
	require.Equal(t, []string{
		"1 kind invalid_value",
		"3 travel.arrive invalid_time",
		"4 symptoms invalid_value",
		"5 onset invalid_time",
		"6 source invalid_value",
		"7 declared_at future_time",
	}, want202(t, rec, 2))
	_, batches := f.prod.snapshot()
	require.Len(t, batches, 1)
	ds := batches[0].Declarations
	require.Len(t, ds, 2)
	require.Empty(t, batches[0].Visits)
	require.Equal(t, "VN123", ds[0].Travel.Vehicle)
	require.Equal(t, uint32(1001), ds[0].SubjectID)
	require.Equal(t, uint32(1003), ds[1].SubjectID)

	// A JSON array is taken too.
	rec = f.post(t, "/v1/declarations", []byte("["+declOK+","+declOK2+"]"))
	require.Empty(t, want202(t, rec, 2))

	require.InDelta(t, 4.0, metricstest.Value(t, f.reg, "truyvet_ingest_events_accepted_total", "kind", "declaration"), 0)
	require.InDelta(t, 10.0, metricstest.Value(t, f.reg, "truyvet_ingest_events_received_total", "kind", "declaration"), 0)
	require.InDelta(t, 1.0, metricstest.Value(t, f.reg, "truyvet_ingest_events_rejected_total", "kind", "declaration", "reason", string(event.ReasonFutureTime)), 0)

	// Not JSON at all is a 400.
	wantError(t, f.post(t, "/v1/declarations", []byte("declare")), 400, "")
}
