package siteapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/openapi/openapitest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/siteapi"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/venuetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	srv   *httptest.Server
	st    *pebblestore.Store
	proc  *processor.Processor
	mt    *sites.Matcher
	mu    sync.Mutex
	trail []audit.Entry
}

// as is a request made by account id with role.
func (f *fixture) as(t *testing.T, id, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("X-Account", id)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, buf.Bytes()
}

func setup(t *testing.T) *fixture {
	ctx := t.Context()
	st, err := pebblestore.Open(ctx, pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20, NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	_, err = st.Register(ctx, []venue.Spec{venuetest.Spec(1), venuetest.Spec(2)})
	require.NoError(t, err)
	f := &fixture{st: st}
	clock := func() time.Time { return now }
	f.mt = sites.NewMatcher(st, st, st, nil, nil, nil, clock)
	f.proc, err = processor.New(bucket.DefaultLayout(), f.mt, nil)
	require.NoError(t, err)
	fan := sites.NewFanout(sites.FanoutConfig{Wave: 2, Interval: time.Hour}, st, st, nil, nil, nil, clock)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fan.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	h := siteapi.New(siteapi.Deps{Store: st, Venues: st, Stays: st, Fanout: fan, Now: clock,
		Contacts: func(_ context.Context, c uint32, _, _ int64) (map[uint32]bool, error) {
			return map[uint32]bool{c + 1: true}, nil
		},
		Changed: func(ctx context.Context) { require.NoError(t, f.mt.Refresh(ctx)) },
		Audit: func(_ context.Context, e audit.Entry) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.trail = append(f.trail, e)
			return nil
		}})
	inner := http.NewServeMux()
	h.Register(inner)
	// Every answer is checked against the OpenAPI document.
	mux := openapitest.Handler(t, inner)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("X-Account"); id != "" {
			r = r.WithContext(access.WithAccount(r.Context(), access.Account{ID: id, Name: id}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) visits(t *testing.T, vs ...event.Visit) {
	t.Helper()
	require.NoError(t, f.proc.Process(t.Context(), &event.Batch{Visits: vs}))
}

func ts(h, m int) int64 { return time.Date(2026, 12, 1, h, m, 0, 0, time.UTC).Unix() }

func at(h, m int) string { return time.Unix(ts(h, m), 0).UTC().Format(time.RFC3339) }

func TestLifecycle(t *testing.T) {
	f := setup(t)
	f.visits(t,
		event.Visit{VisitID: "a", UserID: 10, VenueID: 1, Enter: ts(8, 0), Exit: ts(9, 0)},
		event.Visit{VisitID: "b", UserID: 11, VenueID: 1, Enter: ts(9, 30)},                 // default dwell: to 10:30
		event.Visit{VisitID: "c", UserID: 12, VenueID: 1, Enter: ts(7, 0), Exit: ts(9, 0)},  // ends at from: 0 s
		event.Visit{VisitID: "d", UserID: 13, VenueID: 2, Enter: ts(9, 0), Exit: ts(10, 0)}, // other venue
		event.Visit{VisitID: "e", UserID: 10, VenueID: 1, Enter: ts(9, 40), Exit: ts(9, 50)},
	)
	body := fmt.Sprintf(`{"venue_id":1,"from":%q,"to":%q,"severity":"close","advice":"Theo dõi sức khỏe","case_id":9}`, at(9, 0), at(11, 0))
	code, b := f.as(t, "epi", "POST", "/v1/exposure-sites", body)
	require.Equal(t, http.StatusCreated, code, string(b))
	require.JSONEq(t, `{"site_id":1,"status":"draft","preview":{"people":2,"already_contacts":1,"by_hour":[2,1]}}`, string(b))

	code, b = f.as(t, "epi", "POST", "/v1/exposure-sites/1/approve", "")
	require.Equal(t, http.StatusForbidden, code)
	require.JSONEq(t, `{"error":"exposure site 1: the account that created a site cannot approve it","reason":"same_person"}`, string(b))

	code, b = f.as(t, "approver", "POST", "/v1/exposure-sites/1/approve", "")
	require.Equal(t, http.StatusOK, code, string(b))
	code, _ = f.as(t, "approver2", "POST", "/v1/exposure-sites/1/approve", "")
	require.Equal(t, http.StatusConflict, code)

	feed := waitAlerts(t, f, 2)
	require.Equal(t, "e-1-10", feed[0]["alert_id"])
	require.Equal(t, map[string]any{"alert_id": "e-1-10", "type": "exposure", "user_id": 10.0, "site_id": 1.0, "venue_id": 1.0,
		"overlap_from": "2026-12-01T16:40:00+07:00", "overlap_to": "2026-12-01T16:50:00+07:00", "severity": "close",
		"advice": "Theo dõi sức khỏe", "created_at": "2026-12-01T19:00:00+07:00"}, feed[0])

	// A late check-in raises its alert as it streams through.
	f.visits(t, event.Visit{VisitID: "late", UserID: 20, VenueID: 1, Enter: ts(10, 59), Exit: ts(12, 0)})
	feed = waitAlerts(t, f, 3)
	require.Equal(t, "e-1-20", feed[2]["alert_id"])
	require.Equal(t, "2026-12-01T18:00:00+07:00", feed[2]["overlap_to"])

	// The cursor pages without skipping or repeating.
	code, b = f.as(t, "app", "GET", "/v1/alerts?limit=2", "")
	require.Equal(t, http.StatusOK, code)
	var page struct {
		Alerts []map[string]any `json:"alerts"`
		Next   string           `json:"next"`
	}
	require.NoError(t, json.Unmarshal(b, &page))
	require.Len(t, page.Alerts, 2)
	code, b = f.as(t, "app", "GET", "/v1/alerts?limit=2&after="+page.Next, "")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal(b, &page))
	require.Len(t, page.Alerts, 1)
	require.Equal(t, "e-1-20", page.Alerts[0]["alert_id"])
	code, _ = f.as(t, "app", "GET", "/v1/alerts?after=x", "")
	require.Equal(t, http.StatusBadRequest, code)

	// Public list: exactly DESIGN's fields.
	code, b = f.as(t, "", "GET", "/v1/exposure-sites", "")
	require.Equal(t, http.StatusOK, code)
	var list struct {
		Sites []map[string]any `json:"sites"`
	}
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Sites, 1)
	keys := []string{}
	for k := range list.Sites[0] {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, siteapi.CSVHeader, keys)
	require.Equal(t, venuetest.Spec(1).Name, list.Sites[0]["venue_name"])
	code, b = f.as(t, "", "GET", "/v1/exposure-sites?format=csv", "")
	require.Equal(t, http.StatusOK, code)
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, siteapi.CSVHeader, rows[0])
	code, b = f.as(t, "", "GET", "/v1/exposure-sites.geojson", "")
	require.Equal(t, http.StatusOK, code)
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Geometry struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	require.NoError(t, json.Unmarshal(b, &fc))
	require.Equal(t, "FeatureCollection", fc.Type)
	require.Equal(t, []float64{venuetest.Spec(1).Lon, venuetest.Spec(1).Lat}, fc.Features[0].Geometry.Coordinates)

	// Retraction: one retraction per alerted user; off the public list.
	code, _ = f.as(t, "approver", "POST", "/v1/exposure-sites/1/retract", `{}`)
	require.Equal(t, http.StatusBadRequest, code)
	code, b = f.as(t, "approver", "POST", "/v1/exposure-sites/1/retract", `{"reason":"nhầm địa điểm"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	feed = waitAlerts(t, f, 6)
	for _, a := range feed[3:] {
		require.Equal(t, "retraction", a["type"])
	}
	code, b = f.as(t, "", "GET", "/v1/exposure-sites/1", "")
	require.Equal(t, http.StatusOK, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, "retracted", got["status"])
	require.Equal(t, map[string]any{"exposure": 3.0, "retraction": 3.0}, got["alerts_sent"])
	require.NotContains(t, got, "case_id")
	code, b = f.as(t, "", "GET", "/v1/exposure-sites", "")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"sites":[]}`, string(b))
	code, b = f.as(t, "approver", "POST", "/v1/exposure-sites/1/retract", `{"reason":"again"}`)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, string(b), `"reason":"status_retracted"`)

	f.mu.Lock()
	defer f.mu.Unlock()
	var actions []string
	for _, e := range f.trail {
		actions = append(actions, fmt.Sprintf("%s %d %s", e.Action, e.Status, e.Account.ID))
	}
	require.Equal(t, []string{"site.create 201 epi", "site.approve 403 epi", "site.approve 200 approver", "site.approve 409 approver2",
		"site.retract 400 approver", "site.retract 200 approver", "site.retract 409 approver"}, actions)
}

func waitAlerts(t *testing.T, f *fixture, n int) []map[string]any {
	t.Helper()
	var page struct {
		Alerts []map[string]any `json:"alerts"`
	}
	require.Eventually(t, func() bool {
		_, b := f.as(t, "app", "GET", "/v1/alerts", "")
		page.Alerts = nil
		require.NoError(t, json.Unmarshal(b, &page))
		return len(page.Alerts) >= n
	}, 5*time.Second, 10*time.Millisecond)
	require.Len(t, page.Alerts, n)
	return page.Alerts
}

func TestCreateRefusals(t *testing.T) {
	f := setup(t)
	for _, c := range []struct {
		body, field, reason string
		code                int
	}{
		{`{"venue_id":3,"from":"2026-12-01T09:00:00Z","to":"2026-12-01T10:00:00Z","severity":"close","advice":"x"}`, "venue_id", "unknown_venue", 400},
		{`{"venue_id":1,"from":"2026-12-01T09:00:00Z","to":"2026-12-01T08:00:00Z","severity":"close","advice":"x"}`, "to", "invalid_value", 400},
		{`{"venue_id":1,"from":"2026-12-01T09:00:00Z","to":"2026-12-01T10:00:00Z","severity":"far","advice":"x"}`, "severity", "invalid_value", 400},
		{`not json`, "body", "invalid_value", 400},
	} {
		code, b := f.as(t, "epi", "POST", "/v1/exposure-sites", c.body)
		require.Equal(t, c.code, code, c.body)
		var p map[string]any
		require.NoError(t, json.Unmarshal(b, &p))
		require.Equal(t, c.field, p["field"], c.body)
		require.Equal(t, c.reason, p["reason"], c.body)
	}
	code, _ := f.as(t, "epi", "GET", "/v1/exposure-sites/9", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = f.as(t, "approver", "POST", "/v1/exposure-sites/9/approve", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = f.as(t, "approver", "POST", "/v1/exposure-sites/9/retract", `{"reason":"x"}`)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = f.as(t, "app", "GET", "/v1/alerts?limit=0", "")
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = f.as(t, "epi", "POST", "/v1/exposure-sites", `{"advice":"`+strings.Repeat("x", sites.MaxRequestBytes)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	code, _ = f.as(t, "epi", "GET", "/v1/exposure-sites/x", "")
	require.Equal(t, http.StatusBadRequest, code)
}
