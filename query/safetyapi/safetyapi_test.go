package safetyapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/safetyapi"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var now = time.Date(2021, 7, 20, 12, 0, 0, 0, safetyapi.Local)

// direct is a producer that writes straight into the store, as the
// all-in-one pipe does; fail makes it fail.
type direct struct {
	p    *processor.Processor
	fail error
}

func (d *direct) Produce(ctx context.Context, b *event.Batch) error {
	if d.fail != nil {
		return d.fail
	}
	return d.p.Process(ctx, b)
}

type fixture struct {
	h     http.Handler
	store *pebblestore.Store
	prod  *direct
	reg   *prometheus.Registry
	clock time.Time
}

func newFixture(t *testing.T, guard func(*pebblestore.Store, http.Handler) http.Handler) *fixture {
	t.Helper()
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, err = s.Register(t.Context(), []venue.Spec{
		{ID: 1, Name: "Trường THCS Ba Đình", Kind: venue.KindSchool, Province: "01", Address: "Phố Đội Cấn", Lat: 21.03, Lon: 105.82},
		{ID: 2, Name: "Chợ Bến Thành", Kind: venue.KindMarket, Province: "79", Address: "Lê Lợi", Lat: 10.7725, Lon: 106.698},
		{ID: 3, Name: "Nhà máy Quang Châu", Kind: venue.KindFactory, Province: "24", Address: "KCN Quang Châu", Lat: 21.23, Lon: 106.14},
	})
	require.NoError(t, err)
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	f := &fixture{store: s, prod: &direct{p: p}, reg: prometheus.NewRegistry(), clock: now}
	h, err := safetyapi.New(safetyapi.Deps{Registry: s, Producer: f.prod, Assessments: s, Feedback: s,
		Metrics: safetyapi.NewMetrics(f.reg), Now: func() time.Time { return f.clock }})
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.Register(mux)
	f.h = mux
	if guard != nil {
		f.h = guard(s, mux)
	}
	return f
}

func (f *fixture) do(t *testing.T, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

type problem struct{ Error, Field, Reason string }

// answers builds an assessment body meeting every item of kind's checklist
// but those named.
func answers(t *testing.T, k venue.Kind, date string, unmet ...string) string {
	t.Helper()
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	c, err := cat.For(k, 0)
	require.NoError(t, err)
	ans := map[string]bool{}
	for _, it := range c.Items {
		ans[it.ID] = true
	}
	for _, id := range unmet {
		ans[id] = false
	}
	b, err := json.Marshal(map[string]any{"date": date, "version": c.Version, "answers": ans})
	require.NoError(t, err)
	return string(b)
}

func TestChecklist(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do(t, "GET", "/v1/checklists/school", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var c struct {
		Kind, Checklist string
		Version         uint32
		Items           []struct {
			ID       string
			Text     struct{ VI, EN string }
			Weight   int
			Critical bool
		}
		TotalWeight int `json:"total_weight"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Equal(t, "school", c.Kind)
	require.Equal(t, uint32(1), c.Version)
	require.NotEmpty(t, c.Items)
	require.NotEmpty(t, c.Items[0].Text.VI)
	require.NotEmpty(t, c.Items[0].Text.EN)
	require.Contains(t, rec.Body.String(), `"critical":true`)
	require.Equal(t, http.StatusNotFound, f.do(t, "GET", "/v1/checklists/spaceport", "").Code)
	require.Equal(t, http.StatusNotFound, f.do(t, "GET", "/v1/checklists/school?version=2", "").Code)
	require.Equal(t, http.StatusBadRequest, f.do(t, "GET", "/v1/checklists/school?version=x", "").Code)
	require.Equal(t, http.StatusOK, f.do(t, "GET", "/v1/checklists/bus_station?version=1", "").Code)
}

func TestAssessments(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do(t, "POST", "/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-20", "ventilation"))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	got := decode[map[string]any](t, rec)
	require.InDelta(t, 92.0, got["score"], 1e-9, "ventilation weighs 8 of 100")
	require.Equal(t, "green", got["level"])

	for _, tc := range []struct {
		path, body, field, reason string
		code                      int
	}{
		{"/v1/venues/1/assessments", `{"version":1,"answers":{}}`, "date", "missing_field", 400},
		{"/v1/venues/1/assessments", `{"date":"2021-07-20","answers":{}}`, "version", "missing_field", 400},
		{"/v1/venues/1/assessments", `{"date":"2021-07-20","version":1}`, "answers", "missing_field", 400},
		{"/v1/venues/1/assessments", `{"date":"20/07/2021","version":1,"answers":{}}`, "date", "invalid_time", 400},
		{"/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-21"), "date", "future_time", 400},
		{"/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-06-01"), "date", "expired", 400},
		{"/v1/venues/1/assessments", strings.Replace(answers(t, venue.KindSchool, "2021-07-20"), `"version":1`, `"version":3`, 1), "version", "invalid_value", 400},
		{"/v1/venues/1/assessments", strings.Replace(answers(t, venue.KindSchool, "2021-07-20"), `"masks":true`, `"masks":true,"lasers":true`, 1), "answers", "invalid_value", 400},
		{"/v1/venues/1/assessments", strings.Replace(answers(t, venue.KindSchool, "2021-07-20"), `"masks":true,`, ``, 1), "answers", "missing_field", 400},
		{"/v1/venues/1/assessments", answers(t, venue.KindMarket, "2021-07-20"), "answers", "invalid_value", 400},
		{"/v1/venues/1/assessments", `{"date":"2021-07-20","version":1,"answers":{},"extra":1}`, "body", "invalid_json", 400},
		{"/v1/venues/1/assessments", `not json`, "body", "invalid_json", 400},
		{"/v1/venues/9/assessments", answers(t, venue.KindSchool, "2021-07-20"), "", "not_found", 404},
		{"/v1/venues/x/assessments", answers(t, venue.KindSchool, "2021-07-20"), "id", "invalid_value", 400},
	} {
		rec := f.do(t, "POST", tc.path, tc.body)
		require.Equal(t, tc.code, rec.Code, "%s %s", tc.body, rec.Body.String())
		p := decode[problem](t, rec)
		require.Equal(t, tc.field, p.Field, tc.body)
		require.Equal(t, tc.reason, p.Reason, tc.body)
	}

	// A second assessment that day replaces the first for the level; the
	// first stays in the history.
	f.clock = now.Add(time.Hour)
	rec = f.do(t, "POST", "/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-20", "masks"))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, "red", decode[map[string]any](t, rec)["level"], "masks are critical")
	// And yesterday's, filed today.
	rec = f.do(t, "POST", "/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-19", "ventilation", "distancing", "disinfection", "response_plan"))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, "orange", decode[map[string]any](t, rec)["level"], "100 - 8 - 10 - 8 - 8 = 66")
}

func TestProducerFailureIs503(t *testing.T) {
	f := newFixture(t, nil)
	f.prod.fail = errors.New("kafka down")
	rec := f.do(t, "POST", "/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-20"))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	require.NotContains(t, rec.Body.String(), "kafka down")
}

type feature struct {
	VenueID             uint32 `json:"venue_id"`
	Name, Kind          string
	Province            string
	Level               string
	Score               *float64
	AssessedAt          *string `json:"assessed_at"`
	OpenFeedback        *int    `json:"open_feedback"`
	ActiveExposureSites *int    `json:"active_exposure_sites"`
}

// mapOf fetches and checks the map: RFC 7946 (a FeatureCollection of
// Features with [lon, lat] points), every property present.
func mapOf(t *testing.T, f *fixture, query string) map[uint32]feature {
	t.Helper()
	rec := f.do(t, "GET", "/v1/safety-map.geojson"+query, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/geo+json", rec.Header().Get("Content-Type"))
	fc, err := geojson.UnmarshalFeatureCollection(rec.Body.Bytes())
	require.NoError(t, err)
	var raw struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string                     `json:"type"`
			Geometry   struct{ Type string }      `json:"geometry"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"features"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	require.Equal(t, "FeatureCollection", raw.Type)
	out := map[uint32]feature{}
	for i, ft := range fc.Features {
		require.Equal(t, "Feature", raw.Features[i].Type)
		require.Equal(t, "Point", raw.Features[i].Geometry.Type)
		pt, ok := ft.Geometry.(orb.Point)
		require.True(t, ok)
		require.True(t, pt.Lon() > 100 && pt.Lat() < 25, "[lon, lat]")
		for _, k := range []string{"venue_id", "name", "kind", "province", "level", "score", "assessed_at", "open_feedback", "active_exposure_sites"} {
			require.Contains(t, raw.Features[i].Properties, k)
		}
		b, err := json.Marshal(ft.Properties)
		require.NoError(t, err)
		var x feature
		require.NoError(t, json.Unmarshal(b, &x))
		out[x.VenueID] = x
	}
	return out
}

func TestSafetyMap(t *testing.T) {
	f := newFixture(t, nil)
	require.Equal(t, http.StatusCreated, f.do(t, "POST", "/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-20", "ventilation")).Code)
	require.Equal(t, http.StatusCreated, f.do(t, "POST", "/v1/venues/2/assessments", answers(t, venue.KindMarket, "2021-07-20", "ventilation", "temperature_check", "disinfection", "staff_health_declaration")).Code)
	require.Equal(t, http.StatusAccepted, f.do(t, "POST", "/v1/venues/2/feedback", `{"category":"crowding","text":"Đông quá"}`).Code)
	m := mapOf(t, f, "")
	require.Len(t, m, 3)
	require.Equal(t, "green", m[1].Level)
	require.InDelta(t, 92.0, *m[1].Score, 1e-9)
	require.Equal(t, "2021-07-20T12:00:00+07:00", *m[1].AssessedAt)
	require.Equal(t, "yellow", m[2].Level)
	require.InDelta(t, 72.0, *m[2].Score, 1e-9)
	require.Equal(t, 1, *m[2].OpenFeedback)
	require.Equal(t, 0, *m[1].OpenFeedback)
	require.Equal(t, "not_assessed", m[3].Level)
	require.Nil(t, m[3].Score)
	require.Nil(t, m[3].AssessedAt)
	require.Nil(t, m[3].ActiveExposureSites, "no exposure-site registry wired: unknown, not 0")
	// Filters, and another day.
	require.Len(t, mapOf(t, f, "?province=79"), 1)
	require.Len(t, mapOf(t, f, "?kind=school"), 1)
	y := mapOf(t, f, "?date=2021-07-19")
	require.Equal(t, "not_assessed", y[1].Level)
	require.Equal(t, http.StatusBadRequest, f.do(t, "GET", "/v1/safety-map.geojson?date=2021-07-21", "").Code)
	require.Equal(t, http.StatusBadRequest, f.do(t, "GET", "/v1/safety-map.geojson?kind=spaceport", "").Code)

	// The history of venue 1: today green, the days before not assessed.
	f.clock = now.Add(2 * time.Hour)
	require.Equal(t, http.StatusCreated, f.do(t, "POST", "/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-20", "masks")).Code)
	rec := f.do(t, "GET", "/v1/safety-map/venues/1?days=3", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var h struct {
		Name string
		Days []struct {
			Date, Level string
			Score       *float64
			Unmet       []string
			Filed       int
		}
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &h))
	require.Equal(t, "Trường THCS Ba Đình", h.Name)
	require.Len(t, h.Days, 3)
	require.Equal(t, "2021-07-20", h.Days[0].Date)
	require.Equal(t, "red", h.Days[0].Level, "the second assessment of the day counts")
	require.Equal(t, []string{"masks"}, h.Days[0].Unmet)
	require.Equal(t, 2, h.Days[0].Filed)
	require.Equal(t, "not_assessed", h.Days[1].Level)
	require.Nil(t, h.Days[1].Score)
	require.Equal(t, http.StatusBadRequest, f.do(t, "GET", "/v1/safety-map/venues/1?days=99", "").Code)
	require.Equal(t, http.StatusNotFound, f.do(t, "GET", "/v1/safety-map/venues/77", "").Code)

	// Counts for dashboards, in the API and as metrics.
	rec = f.do(t, "GET", "/v1/safety-map/summary", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var c struct {
		Date      string
		Venues    int
		Levels    map[string]int
		Missing   int
		Provinces map[string]struct {
			Venues  int
			Levels  map[string]int
			Missing int
		}
		OpenFeedback *int `json:"open_feedback"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Equal(t, 3, c.Venues)
	require.Equal(t, map[string]int{"green": 0, "yellow": 1, "orange": 0, "red": 1, "not_assessed": 1}, c.Levels)
	require.Equal(t, 1, c.Missing)
	require.Equal(t, 1, c.Provinces["24"].Missing)
	require.Equal(t, 1, c.Provinces["01"].Levels["red"])
	require.Equal(t, 1, *c.OpenFeedback)
	require.InDelta(t, 1, testutil.ToFloat64(gaugeOf(t, f.reg, "truyvet_safety_assessments_missing_venues")), 0)
	n, err := testutil.GatherAndCount(f.reg, "truyvet_safety_venues_by_province")
	require.NoError(t, err)
	require.Equal(t, 3*len(checklist.Levels()), n)
}

// gaugeOf is a collector reading one gathered gauge.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func TestFeedback(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do(t, "POST", "/v1/venues/2/feedback", `{"category":"no_qr_checkin","text":"Không có mã QR ở cổng"}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	require.Equal(t, map[string]uint64{"feedback_id": 1}, decode[map[string]uint64](t, rec))
	long := strings.Repeat("ệ", 1000)
	require.Equal(t, http.StatusAccepted, f.do(t, "POST", "/v1/venues/1/feedback", `{"category":"other","text":"`+long+`"}`).Code)
	for _, tc := range []struct {
		body, field, reason string
	}{
		{`{"category":"other","text":"` + long + `x"}`, "text", "too_large"},
		{`{"category":"noise","text":"x"}`, "category", "invalid_value"},
		{`{"text":"x"}`, "category", "missing_field"},
		{`{"category":"other","text":"a\u0000b"}`, "text", "invalid_value"},
		{`{"category":"other","stars":5}`, "body", "invalid_json"},
	} {
		rec := f.do(t, "POST", "/v1/venues/1/feedback", tc.body)
		require.Equal(t, http.StatusBadRequest, rec.Code, tc.body)
		p := decode[problem](t, rec)
		require.Equal(t, tc.field, p.Field, tc.body)
		require.Equal(t, tc.reason, p.Reason, tc.body)
	}
	require.Equal(t, http.StatusNotFound, f.do(t, "POST", "/v1/venues/9/feedback", `{"category":"other"}`).Code)

	type queue struct {
		Feedback []struct {
			FeedbackID uint64 `json:"feedback_id"`
			VenueID    uint32 `json:"venue_id"`
			Province   string
			Status     string
			ResolvedBy string `json:"resolved_by"`
		}
		Next *uint64
	}
	q := decode[queue](t, f.do(t, "GET", "/v1/feedback?status=open", ""))
	require.Len(t, q.Feedback, 2)
	require.Equal(t, "79", q.Feedback[0].Province)
	q = decode[queue](t, f.do(t, "GET", "/v1/feedback?status=open&limit=1", ""))
	require.Len(t, q.Feedback, 1)
	require.Equal(t, uint64(1), *q.Next)
	q = decode[queue](t, f.do(t, "GET", "/v1/feedback?status=open&limit=1&after=1", ""))
	require.Len(t, q.Feedback, 1)
	require.Nil(t, q.Next)
	require.Equal(t, http.StatusBadRequest, f.do(t, "GET", "/v1/feedback?status=maybe", "").Code)

	rec = f.do(t, "POST", "/v1/feedback/1/resolve", `{"resolution":"Đã nhắc nhở"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"status":"resolved"`)
	require.Equal(t, http.StatusConflict, f.do(t, "POST", "/v1/feedback/1/resolve", "").Code)
	require.Equal(t, http.StatusNotFound, f.do(t, "POST", "/v1/feedback/99/resolve", "").Code)
	q = decode[queue](t, f.do(t, "GET", "/v1/feedback?status=open", ""))
	require.Len(t, q.Feedback, 1)
	q = decode[queue](t, f.do(t, "GET", "/v1/feedback?status=resolved", ""))
	require.Len(t, q.Feedback, 1)
}

// Through the access guard: feedback needs no token and is rate-limited
// per client with 429 and Retry-After (a limit of its own, stricter than
// the other public routes'); assessments need the venue's admin;
// a provincial moderator sees and resolves their province's reports only.
func TestThroughTheGuard(t *testing.T) {
	var tokens = map[string]string{}
	f := newFixture(t, func(s *pebblestore.Store, next http.Handler) http.Handler {
		for name, spec := range map[string]access.Spec{
			"admin1":  {Name: "venue 1", Roles: []access.Role{access.RoleVenueAdmin}, Provinces: []string{"01"}, Venues: []uint32{1}},
			"viewer":  {Name: "Hà Nội", Roles: []access.Role{access.RoleViewer}, Provinces: []string{"01"}},
			"nviewer": {Name: "national", Roles: []access.Role{access.RoleViewer}, Provinces: []string{"*"}},
		} {
			a, tok, h, err := access.NewAccount(spec, "test", now)
			require.NoError(t, err)
			require.NoError(t, s.CreateAccount(t.Context(), a, h))
			tokens[name] = tok
		}
		g, err := access.NewGuard(access.Config{Policy: access.DefaultPolicy(), Auth: access.NewAuthenticator(s, nil),
			PublicLimiter: access.NewLimiter(0.001, 10), ReportLimiter: access.NewLimiter(0.001, 3), Now: func() time.Time { return now },
			Venues: func(ctx context.Context, id uint32) (string, bool, error) {
				v, err := s.Venue(ctx, id)
				if errors.Is(err, venue.ErrNotFound) {
					return "", false, nil
				}
				return v.Province, err == nil, err
			}}, next)
		require.NoError(t, err)
		return g
	})
	bearer := func(name string) []string { return []string{"Authorization", "Bearer " + tokens[name]} }
	body := answers(t, venue.KindSchool, "2021-07-20")
	require.Equal(t, http.StatusUnauthorized, f.do(t, "POST", "/v1/venues/1/assessments", body).Code)
	require.Equal(t, http.StatusForbidden, f.do(t, "POST", "/v1/venues/2/assessments", answers(t, venue.KindMarket, "2021-07-20"), bearer("admin1")...).Code)
	require.Equal(t, http.StatusCreated, f.do(t, "POST", "/v1/venues/1/assessments", body, bearer("admin1")...).Code)

	for i, v := range []string{"1", "2", "1"} {
		rec := f.do(t, "POST", "/v1/venues/"+v+"/feedback", `{"category":"no_masks"}`)
		require.Equal(t, http.StatusAccepted, rec.Code, "report %d", i)
	}
	rec := f.do(t, "POST", "/v1/venues/1/feedback", `{"category":"no_masks"}`)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	// Another client is not held back.
	req := httptest.NewRequest("POST", "/v1/venues/1/feedback", bytes.NewReader([]byte(`{"category":"crowding"}`)))
	req.RemoteAddr = "192.0.2.77:4000"
	rr := httptest.NewRecorder()
	f.h.ServeHTTP(rr, req)
	require.Equal(t, http.StatusAccepted, rr.Code)

	require.Equal(t, http.StatusUnauthorized, f.do(t, "GET", "/v1/feedback", "").Code)
	require.Equal(t, http.StatusForbidden, f.do(t, "GET", "/v1/feedback", "", bearer("admin1")...).Code)
	var q struct{ Feedback []struct{ Province string } }
	require.NoError(t, json.Unmarshal(f.do(t, "GET", "/v1/feedback?status=open", "", bearer("viewer")...).Body.Bytes(), &q))
	require.Len(t, q.Feedback, 3, "Hà Nội's viewer sees the reports about venue 1 only")
	require.NoError(t, json.Unmarshal(f.do(t, "GET", "/v1/feedback?status=open", "", bearer("nviewer")...).Body.Bytes(), &q))
	require.Len(t, q.Feedback, 4)
	require.Equal(t, http.StatusForbidden, f.do(t, "POST", "/v1/feedback/2/resolve", "", bearer("viewer")...).Code, "report 2 is about a venue of 79")
	require.Equal(t, http.StatusOK, f.do(t, "POST", "/v1/feedback/1/resolve", "", bearer("viewer")...).Code)
	// The map and the checklists are public: the client held back from
	// reporting still reads them, within the public limit.
	for _, path := range []string{"/v1/checklists/school", "/v1/safety-map.geojson", "/v1/safety-map/summary"} {
		require.Equal(t, http.StatusOK, f.do(t, "GET", path, "").Code, path)
	}
	for range 10 {
		f.do(t, "GET", "/v1/checklists/school", "")
	}
	rec = f.do(t, "GET", "/v1/checklists/school", "")
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "the public limit holds too")
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
}

// Assessments filed within one second count in the order they came.
func TestSameSecondAssessmentsCountInOrder(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 20 {
		f.clock = now.Add(time.Duration(i) * time.Millisecond)
		unmet := []string{}
		want := "green"
		if i%2 == 1 {
			unmet, want = []string{"masks"}, "red"
		}
		require.Equal(t, http.StatusCreated, f.do(t, "POST", "/v1/venues/1/assessments", answers(t, venue.KindSchool, "2021-07-20", unmet...)).Code)
		require.Equal(t, want, mapOf(t, f, "")[1].Level, "assessment %d", i)
	}
}
