package summary_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/openapi/openapitest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/audit/audittest"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/summary/summarytest"
)

// 2021-07-15 10:00 local.
var now = time.Date(2021, 7, 15, 10, 0, 0, 0, time.FixedZone("ICT", 7*3600))

func clock() time.Time { return now }

var today = bucket.DayOf(now.Unix())

func TestMemoryConformance(t *testing.T) { summarytest.Run(t, &summarytest.Memory{}) }

type nopSink struct{ err error }

func (s nopSink) Write(context.Context, *processor.Batch) error { return s.err }

type provinces map[uint32]string

func (p provinces) ProvincesOf(ids []uint32, dst []string) {
	for i, id := range ids {
		dst[i] = p[id]
	}
}

type failing struct{ summary.Counters }

var errDown = errors.New("store down")

func (failing) AddCounts(context.Context, []summary.Delta) error { return errDown }
func (failing) SummaryCounts(context.Context, summary.Query) ([]summary.Count, error) {
	return nil, errDown
}

func counts(t *testing.T, c summary.Counters, province string) map[string]int64 {
	t.Helper()
	cs, err := c.SummaryCounts(t.Context(), summary.Query{From: today, To: today, Province: province})
	require.NoError(t, err)
	out := map[string]int64{}
	for _, c := range cs {
		if c.N != 0 {
			out[c.Metric+"/"+c.Key] = c.N
		}
	}
	return out
}

func TestSinkCountsDurableBatchesByProvince(t *testing.T) {
	m := &summarytest.Memory{}
	s := &summary.Sink{Next: nopSink{}, Counters: m, Provinces: provinces{10: "79", 11: "01"}, Now: clock}
	b := &processor.Batch{Records: event.Batch{
		Visits:     []event.Visit{{VenueID: 10}, {VenueID: 10}, {VenueID: 11}, {VenueID: 99}},
		Encounters: []event.Encounter{{}, {}, {}},
	}}
	require.NoError(t, s.Write(t.Context(), b))
	require.Equal(t, map[string]int64{"records_in/visit": 2}, counts(t, m, "79"))
	require.Equal(t, map[string]int64{"records_in/visit": 1}, counts(t, m, "01"))
	require.Equal(t, map[string]int64{"records_in/visit": 1, "records_in/encounter": 3}, counts(t, m, summary.Unknown))
	require.Equal(t, map[string]int64{"records_in/visit": 4, "records_in/encounter": 3}, counts(t, m, ""))

	failed := &summary.Sink{Next: nopSink{err: errDown}, Counters: m, Now: clock}
	require.ErrorIs(t, failed.Write(t.Context(), b), errDown)
	require.Equal(t, int64(4), counts(t, m, "")["records_in/visit"], "a batch not durable is not counted")

	uncountable := &summary.Sink{Next: nopSink{}, Counters: failing{}, Now: clock}
	require.ErrorIs(t, uncountable.Write(t.Context(), b), errDown, "a batch that cannot be counted fails, to be retried")
}

func TestTallyKeepsWhatItCannotFlush(t *testing.T) {
	m := &summarytest.Memory{}
	down := true
	c := &switchable{up: m, down: &down}
	tl := summary.NewTally(c, clock, nil, nil)
	tl.Rejected("future_time")
	tl.Rejected("future_time")
	tl.Add("79", summary.CasesRegistered, "", 1)
	require.ErrorIs(t, tl.Flush(t.Context()), errDown)
	tl.Rejected("unknown_venue")
	down = false
	require.NoError(t, tl.Flush(t.Context()))
	require.NoError(t, tl.Flush(t.Context()), "nothing pending")
	require.Equal(t, map[string]int64{"rejections/future_time": 2, "rejections/unknown_venue": 1, "cases_registered/": 1}, counts(t, m, ""))

	tl.Rejected("too_large")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tl.Run(ctx, time.Hour) // flushes once more as it ends
	require.Equal(t, int64(1), counts(t, m, "")["rejections/too_large"])
}

type switchable struct {
	up   summary.Counters
	down *bool
}

func (s *switchable) AddCounts(ctx context.Context, ds []summary.Delta) error {
	if *s.down {
		return errDown
	}
	return s.up.AddCounts(ctx, ds)
}

func (s *switchable) SummaryCounts(ctx context.Context, q summary.Query) ([]summary.Count, error) {
	return s.up.SummaryCounts(ctx, q)
}

type registry map[uint32]cases.Case

func (r registry) RegisterCase(_ context.Context, c cases.Case) (bool, error) {
	if _, ok := r[c.UserID]; ok {
		return false, nil
	}
	r[c.UserID] = c
	return true, nil
}

func (r registry) Case(_ context.Context, id uint32) (cases.Case, error) {
	c, ok := r[id]
	if !ok {
		return c, cases.ErrNotFound
	}
	return c, nil
}

func TestCasesAndLookupsAreCountedInTheirProvince(t *testing.T) {
	m := &summarytest.Memory{}
	tl := summary.NewTally(m, clock, nil, nil)
	reg := summary.Cases{Registry: registry{}, Tally: tl}
	for range 2 {
		_, err := reg.RegisterCase(t.Context(), cases.Case{UserID: 7, Province: "79"})
		require.NoError(t, err)
	}
	trail := summary.Audit{Log: &audittest.Memory{}, Cases: reg, Tally: tl}
	for _, e := range []audit.Entry{
		{Action: audit.ActionExposures, Case: 7, Status: 200, F1: 3, F2: 5},
		{Action: audit.ActionExposures, Case: 8, Status: 200, F1: 1},                 // not registered: unknown
		{Action: audit.ActionExposures, Case: 7, Status: 200, F1: 3, Format: "diff"}, // half of a diff: not counted
		{Action: audit.ActionExposures, Case: 7, Status: 400},                        // refused: not counted
		{Action: audit.ActionVisitors, Status: 200, Rows: 9},                         // not a lookup
		{Action: audit.ActionCaseRegister, Case: 7, Status: 201, F1: 0},              // counted by the registry
	} {
		_, err := trail.Append(t.Context(), e)
		require.NoError(t, err)
	}
	require.NoError(t, tl.Flush(t.Context()))
	require.Equal(t, map[string]int64{"cases_registered/": 1, "lookups/": 1, "contacts_found/": 8}, counts(t, m, "79"))
	require.Equal(t, map[string]int64{"lookups/": 1, "contacts_found/": 1}, counts(t, m, summary.Unknown))
}

func TestHandler(t *testing.T) {
	m := &summarytest.Memory{}
	require.NoError(t, m.AddCounts(t.Context(), []summary.Delta{
		{Day: today, Province: "79", Metric: summary.RecordsIn, Key: "visit", N: 5},
		{Day: today - 1, Province: "79", Metric: summary.RecordsIn, Key: "visit", N: 2},
		{Day: today, Province: summary.Unknown, Metric: summary.Rejections, Key: "future_time", N: 1},
		{Day: today, Province: "01", Metric: summary.CasesRegistered, N: 1},
		{Day: today - 30, Province: "79", Metric: summary.RecordsIn, Key: "visit", N: 100},
	}))
	h := &summary.Handler{Counters: m, Provinces: province.Default(), Now: clock}
	mux := http.NewServeMux()
	h.Register(mux)
	get := func(t *testing.T, c summary.Counters, path string) (int, summary.Answer, map[string]string) {
		t.Helper()
		inner := http.NewServeMux()
		(&summary.Handler{Counters: c, Provinces: province.Default(), Now: clock}).Register(inner)
		rec := httptest.NewRecorder()
		openapitest.Handler(t, inner).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var a summary.Answer
		var e map[string]string
		if rec.Code == http.StatusOK {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
		} else {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		}
		return rec.Code, a, e
	}
	t.Run("national, default window", func(t *testing.T) {
		code, a, _ := get(t, m, "/v1/summary")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "*", a.Province)
		require.Len(t, a.Days, summary.DefaultDays)
		last := a.Days[len(a.Days)-1]
		require.Equal(t, "2021-07-15", last.Day)
		require.Equal(t, int64(5), last.RecordsIn["visit"])
		require.Equal(t, int64(0), last.RecordsIn["encounter"], "every kind listed")
		require.Equal(t, int64(1), last.Rejections["future_time"])
		require.Equal(t, int64(1), last.CasesRegistered)
		require.Equal(t, int64(0), last.SitesPublished)
		require.Equal(t, int64(0), last.VenuesByLevel["green"], "every level listed")
		require.Equal(t, int64(2), a.Days[len(a.Days)-2].RecordsIn["visit"])
	})
	t.Run("a province", func(t *testing.T) {
		code, a, _ := get(t, m, "/v1/summary?province=01&from=2021-07-15&to=2021-07-15")
		require.Equal(t, http.StatusOK, code)
		require.Len(t, a.Days, 1)
		require.Equal(t, int64(0), a.Days[0].RecordsIn["visit"])
		require.Equal(t, int64(1), a.Days[0].CasesRegistered)
		require.Empty(t, a.Days[0].Rejections, "counts of no province are national only")
	})
	t.Run("RFC 3339 bounds are their local days", func(t *testing.T) {
		code, a, _ := get(t, m, "/v1/summary?from=2021-06-15T00:00:00%2B07:00&to=2021-06-15T23:00:00Z")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "2021-06-15", a.From)
		require.Equal(t, "2021-06-16", a.To)
		require.Equal(t, int64(100), a.Days[0].RecordsIn["visit"])
	})
	for _, tc := range []struct{ path, field string }{
		{"/v1/summary?province=00", "province"},
		{"/v1/summary?from=yesterday", "from"},
		{"/v1/summary?to=2021-13-01", "to"},
		{"/v1/summary?from=2021-07-15&to=2021-07-14", "from"},
		{"/v1/summary?from=2021-01-01&to=2021-07-14", "from"},
		{"/v1/summary?from=99999-01-01", "from"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, _, e := get(t, m, tc.path)
			require.Equal(t, http.StatusBadRequest, code)
			require.Equal(t, tc.field, e["field"])
			require.NotEmpty(t, e["reason"])
		})
	}
	t.Run("store down", func(t *testing.T) {
		code, _, e := get(t, failing{}, "/v1/summary")
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Equal(t, "unavailable", e["reason"])
	})
}

func FuzzHandler(f *testing.F) {
	f.Add("province=79&from=2021-07-01&to=2021-07-15")
	f.Add("from=2021-07-01T00:00:00Z")
	f.Add("to=%00")
	h := &summary.Handler{Counters: &summarytest.Memory{}, Provinces: province.Default(), Now: clock}
	f.Fuzz(func(t *testing.T, q string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/v1/summary", nil)
		req.URL.RawQuery = q
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: %d %s", q, rec.Code, rec.Body)
		}
	})
}

type countedSink struct{ counts []summary.Delta }

func (s *countedSink) Write(context.Context, *processor.Batch) error {
	panic("BUG: Write instead of WriteCounted")
}
func (s *countedSink) WriteCounted(_ context.Context, _ *processor.Batch, ds []summary.Delta) error {
	s.counts = append(s.counts, ds...)
	return nil
}

// A sink that stores counts with its batch gets them in the same write.
func TestSinkWritesCountsWithTheBatch(t *testing.T) {
	next := &countedSink{}
	s := &summary.Sink{Next: next, Counters: failing{}, Now: clock}
	require.NoError(t, s.Write(t.Context(), &processor.Batch{Records: event.Batch{Visits: []event.Visit{{VenueID: 1}}}}))
	require.Equal(t, []summary.Delta{{Day: today, Province: summary.Unknown, Metric: summary.RecordsIn, Key: "visit", N: 1}}, next.counts)
}

// assessmentSink stores assessments in memory and reads them back
// (safety.PriorReader), failing writes while down.
type assessmentSink struct {
	as   []event.Assessment
	down bool
}

func (s *assessmentSink) Write(_ context.Context, b *processor.Batch) error {
	if s.down {
		return errDown
	}
	s.as = append(s.as, b.Records.Assessments...)
	return nil
}

func (s *assessmentSink) VenueDayAssessments(_ context.Context, keys []safety.VenueDay) ([]event.Assessment, error) {
	var out []event.Assessment
	for _, a := range s.as {
		if slices.Contains(keys, safety.VenueDay{Venue: a.VenueID, Day: bucket.Day(a.Day)}) {
			out = append(out, a)
		}
	}
	return safety.Order(out), nil
}

func TestSinkMovesVenuesBetweenLevels(t *testing.T) {
	m := &summarytest.Memory{}
	down := false
	st := &assessmentSink{}
	s := &summary.Sink{Next: st, Counters: &switchable{up: m, down: &down}, Provinces: provinces{10: "79"}, Assessments: st, Now: clock}
	d := uint32(today)
	green := event.Assessment{AssessmentID: "a1", VenueID: 10, Day: d, SubmittedAt: 100, Level: checklist.LevelGreen}
	red := event.Assessment{AssessmentID: "a2", VenueID: 10, Day: d, SubmittedAt: 200, Level: checklist.LevelRed}
	other := event.Assessment{AssessmentID: "a3", VenueID: 11, Day: d, SubmittedAt: 150, Level: checklist.LevelYellow}
	write := func(as ...event.Assessment) error {
		return s.Write(t.Context(), &processor.Batch{Records: event.Batch{Assessments: as}})
	}
	require.NoError(t, write(green, other))
	require.Equal(t, map[string]int64{"records_in/assessment": 1, "venues_by_level/green": 1}, counts(t, m, "79"))
	require.Equal(t, map[string]int64{"records_in/assessment": 1, "venues_by_level/yellow": 1}, counts(t, m, summary.Unknown))
	require.NoError(t, write(green), "a replay")
	require.Equal(t, int64(1), counts(t, m, "79")["venues_by_level/green"])

	// The second of the day is stored, but its counts cannot be added: the
	// retry finds it stored and adds the moves kept from the first try.
	down = true
	require.ErrorIs(t, write(red), errDown)
	down = false
	require.NoError(t, write(red))
	require.Equal(t, map[string]int64{"records_in/assessment": 3, "venues_by_level/red": 1}, counts(t, m, "79"))

	st.down = true
	require.ErrorIs(t, write(green), errDown, "a failed write counts nothing")
	require.Equal(t, map[string]int64{"venues_by_level/red": 1, "venues_by_level/yellow": 1, "records_in/assessment": 4},
		counts(t, m, ""))
}

func TestNotAssessedIsRegisteredLessAssessed(t *testing.T) {
	m := &summarytest.Memory{}
	require.NoError(t, m.AddCounts(t.Context(), []summary.Delta{
		{Day: today, Province: "79", Metric: summary.VenuesByLevel, Key: "green", N: 3},
		{Day: today, Province: "79", Metric: summary.VenuesByLevel, Key: "red", N: 1},
		{Day: today, Province: "01", Metric: summary.VenuesByLevel, Key: "yellow", N: 9},
	}))
	inner := http.NewServeMux()
	(&summary.Handler{Counters: m, Provinces: province.Default(), Now: clock, Venues: registered{"79": 10, "01": 5}}).Register(inner)
	get := func(path string) summary.Answer {
		rec := httptest.NewRecorder()
		openapitest.Handler(t, inner).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code)
		var a summary.Answer
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
		return a
	}
	a := get("/v1/summary?province=79&from=2021-07-14&to=2021-07-15")
	require.Equal(t, map[string]int64{"green": 0, "yellow": 0, "orange": 0, "red": 0, "not_assessed": 10}, a.Days[0].VenuesByLevel)
	require.Equal(t, map[string]int64{"green": 3, "yellow": 0, "orange": 0, "red": 1, "not_assessed": 6}, a.Days[1].VenuesByLevel)
	a = get("/v1/summary?province=01&from=2021-07-15&to=2021-07-15")
	require.Equal(t, int64(0), a.Days[0].VenuesByLevel["not_assessed"], "never below zero")
	a = get("/v1/summary?from=2021-07-15&to=2021-07-15")
	require.Equal(t, int64(15-13), a.Days[0].VenuesByLevel["not_assessed"])
}

type registered map[string]int64

func (r registered) RegisteredVenues(p string) int64 {
	if p == "" {
		var n int64
		for _, c := range r {
			n += c
		}
		return n
	}
	return r[p]
}

func TestLevelsAreTheChecklists(t *testing.T) {
	var want []string
	for _, l := range checklist.Levels() {
		want = append(want, string(l))
	}
	require.Equal(t, want, summary.Levels)
}
