package api_test

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/openapi/openapitest"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/audit/audittest"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
)

// world is a tiny in-memory graph.Store: case 1 and user 2 shared venue 10
// for 30 minutes; user 2 then met user 3 by Bluetooth for 20 minutes.
type world struct{}

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, api.Local).Unix()

func (world) Layout() bucket.Layout { return bucket.DefaultLayout() }

func (world) Stays(_ context.Context, users []uint32, _ graph.Window) iter.Seq2[graph.UserStays, error] {
	stays := map[uint32][]graph.Stay{
		1: {{Venue: 10, Interval: graph.Interval{Start: t0, End: t0 + 3600}}},
		2: {{Venue: 10, Interval: graph.Interval{Start: t0 + 1800, End: t0 + 5400}}},
	}
	return func(yield func(graph.UserStays, error) bool) {
		for _, u := range users {
			if s, ok := stays[u]; ok && !yield(graph.UserStays{User: u, Stays: s}, nil) {
				return
			}
		}
	}
}

func (world) Contacts(_ context.Context, users []uint32, _ graph.Window) iter.Seq2[graph.UserContacts, error] {
	c := map[uint32][]graph.Contact{
		2: {{Peer: 3, Interval: graph.Interval{Start: t0 + 7200, End: t0 + 8400}}},
		3: {{Peer: 2, Interval: graph.Interval{Start: t0 + 7200, End: t0 + 8400}}},
	}
	return func(yield func(graph.UserContacts, error) bool) {
		for _, u := range users {
			if s, ok := c[u]; ok && !yield(graph.UserContacts{User: u, Contacts: s}, nil) {
				return
			}
		}
	}
}

func (world) Present(_ context.Context, ranges []bucket.Range) (*roaring.Bitmap, error) {
	bm := roaring.New()
	for _, r := range ranges {
		if r.Venue == 10 {
			bm.AddMany([]uint32{1, 2})
		}
	}
	return bm, nil
}

// registry is an in-memory cases.Registry.
type registry struct {
	mu    sync.Mutex
	cases map[uint32]cases.Case
}

func (r *registry) RegisterCase(_ context.Context, c cases.Case) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.cases[c.UserID]; ok {
		if cases.Same(old, c) {
			return false, nil
		}
		return false, cases.ErrConflict
	}
	r.cases[c.UserID] = c
	return true, nil
}

func (r *registry) Case(_ context.Context, id uint32) (cases.Case, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cases[id]
	if !ok {
		return c, cases.ErrNotFound
	}
	return c, nil
}

func server(t *testing.T) (*http.ServeMux, *audittest.Memory) {
	mux, tr, _ := serverWithRegistry(t)
	return mux, tr
}

func serverWithRegistry(t *testing.T) (*http.ServeMux, *audittest.Memory, *registry) {
	tr := &audittest.Memory{}
	reg := &registry{cases: map[uint32]cases.Case{}}
	now := func() time.Time { return time.Unix(t0+86400, 0) }
	a := api.New(api.DefaultConfig(), graph.NewEngine(world{}), tr, reg, definitions.New(&definitions.Memory{}), api.NewMetrics(prometheus.NewRegistry()), nil, now)
	inner := http.NewServeMux()
	a.Register(inner)
	return openapitest.Mux(t, inner), tr, reg
}

func do(mux *http.ServeMux, path string, hdr ...string) *httptest.ResponseRecorder {
	return doBody(mux, http.MethodGet, path, "", hdr...)
}

func doBody(mux *http.ServeMux, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func TestBadParametersNameTheField(t *testing.T) {
	mux, tr := server(t)
	for path, field := range map[string]string{
		"/v1/cases/0/exposures?purpose=trace":                                                   "user_id",
		"/v1/cases/abc/exposures?purpose=trace":                                                 "user_id",
		"/v1/cases/1/exposures?purpose=trace&depth=3":                                           "depth",
		"/v1/cases/1/exposures?purpose=trace&min_minutes=-1":                                    "min_minutes",
		"/v1/cases/1/exposures?purpose=trace&min_minutes=NaN":                                   "min_minutes",
		"/v1/cases/1/exposures?purpose=trace&from=yesterday":                                    "from",
		"/v1/cases/1/exposures?purpose=trace&to=2026-13-01T00:00:00Z":                           "to",
		"/v1/cases/1/exposures?purpose=trace&from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z": "from",
		"/v1/cases/1/exposures?purpose=trace&from=2026-01-01T00:00:00Z&to=2026-11-20T00:00:00Z": "from",
		"/v1/cases/1/exposures":                                                                 "purpose",
		"/v1/cases/1/exposures?purpose=ab":                                                      "purpose",
		"/v1/cases/1/exposures?purpose=" + strings.Repeat("x", 201):                             "purpose",
		"/v1/audit?limit=0":      "limit",
		"/v1/audit?case=x":       "case",
		"/v1/audit?since=monday": "since",
	} {
		rec := do(mux, path)
		require.Equal(t, http.StatusBadRequest, rec.Code, path)
		var body map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), path)
		require.Contains(t, body["error"], field, path)
	}
	require.Len(t, tr.Snapshot(), 12, "refused lookups are audited too")
	for _, e := range tr.Snapshot() {
		require.Equal(t, http.StatusBadRequest, e.Status)
		require.Equal(t, audit.ActionExposures, e.Action)
		require.NotEmpty(t, e.Reason)
		require.LessOrEqual(t, len(e.Purpose), audit.MaxPurpose)
	}
	n, _, err := audit.Verify(t.Context(), tr)
	require.NoError(t, err)
	require.Equal(t, uint64(12), n)
}

func TestExposuresJSONCSVAndAudit(t *testing.T) {
	mux, tr := server(t)
	rec := do(mux, "/v1/cases/1/exposures?purpose=cluster+tracing&depth=2", "X-Requested-By", "team-hanoi")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var g api.GraphJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	require.Len(t, g.Nodes, 3)
	require.Equal(t, uint32(2), g.Nodes[1].UserID)
	require.EqualValues(t, 1800, g.Nodes[1].ExposureSeconds)
	require.Equal(t, 1, g.Nodes[1].Tier)
	require.Equal(t, uint32(3), g.Nodes[2].UserID)
	require.EqualValues(t, 1200, g.Nodes[2].ExposureSeconds)
	require.Equal(t, 2, g.Nodes[2].Tier)
	require.True(t, strings.HasSuffix(rec.Body.String(), "\n"))
	require.Contains(t, rec.Body.String(), `"first_exposure":"2026-11-20T08:30:00+07:00"`)

	rec = do(mux, "/v1/cases/1/exposures?purpose=cluster+tracing&depth=2", "Accept", "text/html, text/csv;q=0.9")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, strings.Join(api.CSVHeader, ","), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "2,1,2026-11-20T08:30:00+07:00,1800,30.0,venue,1,10"), lines[1])

	require.Len(t, tr.Snapshot(), 2)
	require.Equal(t, "team-hanoi", tr.Snapshot()[0].Requester)
	require.Equal(t, 1, tr.Snapshot()[0].F1)
	require.Equal(t, 1, tr.Snapshot()[0].F2)
	require.Equal(t, "csv", tr.Snapshot()[1].Format)
	require.Equal(t, "cluster tracing", tr.Snapshot()[0].Purpose)
	rec = do(mux, "/v1/audit?limit=1")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"format":"csv"`)
	rec = do(mux, "/v1/audit?requester=team-hanoi&case=1")
	require.Equal(t, http.StatusOK, rec.Code)
	var list struct{ Entries []audit.Entry }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Entries, 1)
	require.Equal(t, "team-hanoi", list.Entries[0].Requester)
	rec = do(mux, "/v1/audit?case=2")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Empty(t, list.Entries)
	rec = do(mux, "/v1/audit?since=2030-01-01T00:00:00Z")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Empty(t, list.Entries)
}

func TestCasesRegistryAndInfectiousWindow(t *testing.T) {
	mux, tr, _ := serverWithRegistry(t)
	body := `{"user_id":1,"province":"01","confirmed_at":"2026-11-20T18:00:00+07:00","onset":"2026-11-21"}`
	rec := doBody(mux, http.MethodPost, "/v1/cases", body)
	require.Equal(t, http.StatusBadRequest, rec.Code, "onset after confirmation")
	require.Contains(t, rec.Body.String(), `"field":"onset"`)
	body = `{"user_id":1,"province":"01","confirmed_at":"2026-11-20T18:00:00+07:00","onset":"2026-11-20"}`
	rec = doBody(mux, http.MethodPost, "/v1/cases", body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"infectious_window":{"from":"2026-11-18T00:00:00+07:00","to":"2026-11-20T18:00:00+07:00"}`)
	require.Equal(t, http.StatusOK, doBody(mux, http.MethodPost, "/v1/cases", body).Code, "the same facts again")
	rec = doBody(mux, http.MethodPost, "/v1/cases", strings.Replace(body, `"01"`, `"79"`, 1))
	require.Equal(t, http.StatusConflict, rec.Code)
	rec = do(mux, "/v1/cases/1")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"province":"01"`)
	require.Equal(t, http.StatusNotFound, do(mux, "/v1/cases/2").Code)

	// The registered case's lookup defaults to its infectious window.
	rec = do(mux, "/v1/cases/1/exposures?purpose=cluster+tracing&depth=2")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"from":"2026-11-18T00:00:00+07:00","to":"2026-11-20T18:00:00+07:00"`)
	last := tr.Snapshot()[len(tr.Snapshot())-1]
	require.Equal(t, time.Date(2026, 11, 18, 0, 0, 0, 0, api.Local).Unix(), last.From.Unix())
	require.Equal(t, audit.ActionCaseRegister, tr.Snapshot()[0].Action)
	require.Equal(t, http.StatusBadRequest, tr.Snapshot()[0].Status)
}

func TestAcceptHonoursQValues(t *testing.T) {
	mux, _ := server(t)
	for accept, csv := range map[string]bool{
		"text/csv":                               true,
		"text/csv;q=0.1, application/json":       false,
		"application/json;q=0.5, text/csv":       true,
		"text/csv;q=0, */*":                      false,
		"text/*":                                 true,
		"*/*":                                    false,
		"text/csv;q=0.5, application/*;q=0.4":    true,
		"application/json, text/csv":             false,
		"TEXT/CSV; Q=0.9, application/json;q=.8": true,
		"":                                       false,
	} {
		rec := do(mux, "/v1/cases/1/exposures?purpose=test", "Accept", accept)
		require.Equal(t, http.StatusOK, rec.Code, accept)
		want := "application/json"
		if csv {
			want = "text/csv; charset=utf-8"
		}
		require.Equal(t, want, rec.Header().Get("Content-Type"), accept)
	}
}

func TestWindowEndingAfterNowIsRefused(t *testing.T) {
	mux, _ := server(t)
	// now is 2026-11-21T08:00+07:00; the clock-skew allowance is 5 minutes.
	rec := do(mux, "/v1/cases/1/exposures?purpose=test&to=2030-01-01T00:00:00Z")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Contains(t, body["error"], "to")
	require.Contains(t, body["error"], "future")
	rec = do(mux, "/v1/cases/1/exposures?purpose=test&to=2026-11-21T08:04:00%2B07:00")
	require.Equal(t, http.StatusOK, rec.Code, "within the allowance")
	rec = do(mux, "/v1/cases/1/exposures?purpose=test&to=2026-11-21T08:06:00%2B07:00")
	require.Equal(t, http.StatusBadRequest, rec.Code, "past the allowance")
}

// TestLastExposureTimelineAndCaseRecords: nodes carry last_exposure (JSON and
// the CSV's last column); the answer holds the case's own stays and
// encounters, and stats count them, so "no records" differs from "no contacts".
func TestLastExposureTimelineAndCaseRecords(t *testing.T) {
	mux, _ := server(t)
	rec := do(mux, "/v1/cases/1/exposures?purpose=test&depth=2")
	require.Equal(t, http.StatusOK, rec.Code)
	var g api.GraphJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	require.Nil(t, g.Nodes[0].LastExposure, "the case has no exposure")
	// User 2 shared venue 10 with the case over [08:30, 09:00).
	require.EqualValues(t, t0+3600, *g.Nodes[1].LastExposure)
	// User 3 met user 2 over [10:00, 10:20).
	require.EqualValues(t, t0+8400, *g.Nodes[2].LastExposure)
	require.Contains(t, rec.Body.String(), `"last_exposure":"2026-11-20T09:00:00+07:00"`)
	require.Equal(t, api.TimelineJSON{
		Stays:      []api.StayJSON{{VenueID: 10, Enter: api.Time(t0), Exit: api.Time(t0 + 3600)}},
		Encounters: []api.EncounterJSON{},
	}, g.Timeline)
	require.Equal(t, 1, g.Stats.CaseStays)
	require.Zero(t, g.Stats.CaseEncounters)

	rec = do(mux, "/v1/cases/1/exposures?purpose=test&depth=2&format=csv")
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	require.Equal(t, "last_exposure", api.CSVHeader[len(api.CSVHeader)-1])
	require.True(t, strings.HasSuffix(lines[1], ",2026-11-20T09:00:00+07:00"), lines[1])
	require.True(t, strings.HasSuffix(lines[2], ",2026-11-20T10:20:00+07:00"), lines[2])

	// User 2's timeline has the Bluetooth meeting with 3.
	rec = do(mux, "/v1/cases/2/exposures?purpose=test")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	require.Equal(t, []api.EncounterJSON{{PeerID: 3, Start: api.Time(t0 + 7200), End: api.Time(t0 + 8400), Seconds: 1200}}, g.Timeline.Encounters)
	require.Equal(t, 1, g.Stats.CaseEncounters)

	// Someone the store knows nothing about.
	rec = do(mux, "/v1/cases/99/exposures?purpose=test")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	require.Zero(t, g.Stats.CaseStays)
	require.Zero(t, g.Stats.CaseEncounters)
	require.Contains(t, rec.Body.String(), `"timeline":{"stays":[],"encounters":[]}`)
}
