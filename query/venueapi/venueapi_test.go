package venueapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/openapi/openapitest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/venueapi"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/poster"
	"github.com/truyvet/truyvet/venue/qrsig"
	"github.com/truyvet/truyvet/venue/venuetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type provinces map[string]bool

func (p provinces) Valid(code string) bool { return p[code] }

var now = time.Date(2021, 7, 20, 12, 0, 0, 0, venueapi.Local)

type fixture struct {
	mux      *http.ServeMux
	store    *pebblestore.Store
	codes    *qrsig.Keyring
	audited  []venueapi.VisitorsEntry
	auditErr error
	told     []venue.Venue
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	codes, err := qrsig.NewKeyring([]qrsig.Key{{Secret: bytes.Repeat([]byte{4}, 32)}}, time.Hour, time.Now)
	require.NoError(t, err)
	posters, err := poster.NewRenderer()
	require.NoError(t, err)
	inner := http.NewServeMux()
	f := &fixture{mux: openapitest.Mux(t, inner), store: s, codes: codes}
	venueapi.New(venueapi.Deps{
		Registry: s, Provinces: provinces{"01": true, "79": true}, Codes: codes, Posters: posters, Stays: s,
		Audit: func(_ context.Context, _ *http.Request, e venueapi.VisitorsEntry) error {
			f.audited = append(f.audited, e)
			return f.auditErr
		},
		Registered: func(vs []venue.Venue) { f.told = append(f.told, vs...) },
		Now:        func() time.Time { return now },
	}).Register(inner)
	return f
}

func (f *fixture) do(t *testing.T, method, path string, body any, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder, code int) T {
	t.Helper()
	require.Equal(t, code, rec.Code, "body: %s", rec.Body)
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	return v
}

type registered struct {
	VenueID uint32 `json:"venue_id"`
	QR      string `json:"qr"`
}

type problem struct {
	Error, Field, Reason string
	Index                *int
	VenueID              uint32 `json:"venue_id"`
}

func TestRegisterOneAndMany(t *testing.T) {
	f := newFixture(t)
	one := decode[registered](t, f.do(t, "POST", "/v1/venues", venuetest.Spec(1)), http.StatusCreated)
	require.Equal(t, uint32(1), one.VenueID)
	id, err := f.codes.Verify(one.QR)
	require.NoError(t, err)
	require.Equal(t, uint32(1), id)

	imp := venuetest.Spec(2)
	imp.ID = 72
	many := decode[[]registered](t, f.do(t, "POST", "/v1/venues", []venue.Spec{imp, venuetest.Spec(3)}), http.StatusCreated)
	require.Equal(t, []registered{{72, f.codes.Code(72)}, {73, f.codes.Code(73)}}, many)
	require.Len(t, f.told, 3, "the local ingest hears of each new venue")

	again := decode[[]registered](t, f.do(t, "POST", "/v1/venues", []venue.Spec{imp}), http.StatusCreated)
	require.Equal(t, many[:1], again, "the same venue again is a no-op")

	other := venuetest.Spec(9)
	other.ID = 72
	p := decode[problem](t, f.do(t, "POST", "/v1/venues", []venue.Spec{venuetest.Spec(4), other}), http.StatusConflict)
	require.Equal(t, 1, *p.Index)
	require.Equal(t, uint32(72), p.VenueID)
	p = decode[problem](t, f.do(t, "POST", "/v1/venues", other), http.StatusConflict)
	require.Equal(t, uint32(72), p.VenueID)

	got := decode[map[string]any](t, f.do(t, "GET", "/v1/venues/72", nil), http.StatusOK)
	require.Equal(t, imp.Name, got["name"], "Vietnamese kept as sent")
	require.Equal(t, f.codes.Code(72), got["qr"])
	require.InDelta(t, imp.Lat, got["lat"], 0)
	decode[problem](t, f.do(t, "GET", "/v1/venues/74", nil), http.StatusNotFound)
	decode[problem](t, f.do(t, "GET", "/v1/venues/0", nil), http.StatusBadRequest)
}

func TestRegisterRefusals(t *testing.T) {
	f := newFixture(t)
	bad := venuetest.Spec(1)
	bad.Kind = "karaoke"
	for _, tc := range []struct {
		name, body    string
		code          int
		field, reason string
		index         int // -1: none
	}{
		{"bad kind", mustJSON(t, bad), 400, "kind", "invalid_value", -1},
		{"bad kind in an array", mustJSON(t, []venue.Spec{venuetest.Spec(1), bad}), 400, "kind", "invalid_value", 1},
		{"lat as text", `{"name":"a","kind":"cafe","province":"01","address":"b","lat":"21.0","lon":105.8}`, 400, "lat", "invalid_value", -1},
		{"unknown field", `{"name":"a","kind":"cafe","province":"01","address":"b","lat":21,"lon":105.8,"colour":"red"}`, 400, "colour", "invalid_value", -1},
		{"outside Vietnam", `{"name":"a","kind":"cafe","province":"01","address":"b","lat":13.75,"lon":100.5}`, 400, "lon", "invalid_value", -1},
		{"unknown province", `{"name":"a","kind":"cafe","province":"99","address":"b","lat":21,"lon":105.8}`, 400, "province", "invalid_value", -1},
		{"empty array", `[]`, 400, "venues", "missing_field", -1},
		{"not JSON", `{"name":`, 400, "", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decode[problem](t, f.do(t, "POST", "/v1/venues", tc.body), tc.code)
			require.Equal(t, tc.field, p.Field)
			require.Equal(t, tc.reason, p.Reason)
			require.NotEmpty(t, p.Error)
			if tc.index < 0 {
				require.Nil(t, p.Index)
			} else {
				require.Equal(t, tc.index, *p.Index)
			}
		})
	}
	require.Empty(t, f.told, "nothing registered")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func seed(t *testing.T, f *fixture) {
	t.Helper()
	specs := []venue.Spec{venuetest.Spec(1), venuetest.Spec(2), venuetest.Spec(3)}
	specs[1].Province, specs[1].Kind, specs[1].Lat, specs[1].Lon = "01", venue.KindSchool, 21.0285, 105.8542
	specs[2].Kind = venue.KindSchool
	decode[[]registered](t, f.do(t, "POST", "/v1/venues", specs), http.StatusCreated)
}

func TestListJSONAndCSV(t *testing.T) {
	f := newFixture(t)
	seed(t, f)
	type list struct {
		Venues []struct {
			VenueID  uint32 `json:"venue_id"`
			Province string
			QR       string
		}
	}
	all := decode[list](t, f.do(t, "GET", "/v1/venues", nil), http.StatusOK)
	require.Len(t, all.Venues, 3)
	schools := decode[list](t, f.do(t, "GET", "/v1/venues?kind=school&province=79", nil), http.StatusOK)
	require.Len(t, schools.Venues, 1)
	require.Equal(t, uint32(3), schools.Venues[0].VenueID)
	none := f.do(t, "GET", "/v1/venues?province=01&kind=cafe", nil)
	require.JSONEq(t, `{"venues":[]}`, none.Body.String())
	p := decode[problem](t, f.do(t, "GET", "/v1/venues?kind=karaoke", nil), http.StatusBadRequest)
	require.Equal(t, "kind", p.Field)

	rec := f.do(t, "GET", "/v1/venues?province=79", nil, "Accept", "text/csv")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	rows, err := csv.NewReader(rec.Body).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"venue_id", "name", "kind", "province", "district", "commune", "address", "lat", "lon", "qr"}, rows[0])
	require.Len(t, rows, 3)
	require.Equal(t, venuetest.Spec(1).Name, rows[1][1])
	require.Equal(t, f.codes.Code(1), rows[1][9])
}

func TestGeoJSON(t *testing.T) {
	f := newFixture(t)
	seed(t, f)
	rec := f.do(t, "GET", "/v1/venues.geojson?province=01", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/geo+json", rec.Header().Get("Content-Type"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	require.Equal(t, "FeatureCollection", raw["type"])
	fc, err := geojson.UnmarshalFeatureCollection(rec.Body.Bytes())
	require.NoError(t, err)
	require.Len(t, fc.Features, 1)
	ft := fc.Features[0]
	pt, ok := ft.Geometry.(orb.Point)
	require.True(t, ok, "a Point")
	require.Equal(t, orb.Point{105.8542, 21.0285}, pt, "RFC 7946 order: longitude, latitude")
	require.Equal(t, "school", ft.Properties["kind"])
	require.InDelta(t, 2, ft.Properties["venue_id"], 0)
	// Every position of the whole registry lies in Vietnam's box, lon first.
	all, err := geojson.UnmarshalFeatureCollection(f.do(t, "GET", "/v1/venues.geojson", nil).Body.Bytes())
	require.NoError(t, err)
	require.Len(t, all.Features, 3)
	for _, ft := range all.Features {
		p := ft.Geometry.(orb.Point)
		require.True(t, p.Lon() >= venue.MinLon && p.Lon() <= venue.MaxLon && p.Lat() >= venue.MinLat && p.Lat() <= venue.MaxLat, "%v", p)
	}
}

func TestPosters(t *testing.T) {
	f := newFixture(t)
	seed(t, f)
	rec := f.do(t, "GET", "/v1/venues/2/poster.png", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "image/png", rec.Header().Get("Content-Type"))
	_, err := png.Decode(rec.Body)
	require.NoError(t, err)
	rec = f.do(t, "GET", "/v1/venues/2/poster.svg", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "image/svg+xml", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Body.String(), f.codes.Code(2))
	decode[problem](t, f.do(t, "GET", "/v1/venues/9/poster.png", nil), http.StatusNotFound)
}

func TestVisitors(t *testing.T) {
	f := newFixture(t)
	seed(t, f)
	t0 := time.Date(2021, 7, 20, 8, 0, 0, 0, venueapi.Local).Unix()
	p, err := processor.New(f.store.Layout(), f.store, nil)
	require.NoError(t, err)
	require.NoError(t, p.Process(t.Context(), &event.Batch{Visits: []event.Visit{
		{VisitID: "a", UserID: 11, VenueID: 2, Enter: t0, Exit: t0 + 1800},
		{VisitID: "b", UserID: 12, VenueID: 2, Enter: t0 + 600},           // no check-out
		{VisitID: "c", UserID: 13, VenueID: 3, Enter: t0, Exit: t0 + 600}, // elsewhere
	}}))
	const q = "/v1/venues/2/visitors?from=2021-07-20T00:00:00%2B07:00&to=2021-07-21T00:00:00%2B07:00&purpose=F0+1001+contact+tracing"
	type visit struct {
		UserID      uint32 `json:"user_id"`
		Enter, Exit string
		ExitImputed bool `json:"exit_imputed"`
	}
	got := decode[struct {
		VenueID  uint32 `json:"venue_id"`
		Visitors []visit
	}](t, f.do(t, "GET", q, nil), http.StatusOK)
	require.Equal(t, uint32(2), got.VenueID)
	require.Equal(t, []visit{
		{11, "2021-07-20T08:00:00+07:00", "2021-07-20T08:30:00+07:00", false},
		{12, "2021-07-20T08:10:00+07:00", "2021-07-20T09:10:00+07:00", true},
	}, got.Visitors)
	require.Len(t, f.audited, 1)
	require.Equal(t, venueapi.VisitorsEntry{Time: now, Venue: 2, Purpose: "F0 1001 contact tracing",
		From: time.Unix(t0-8*3600, 0), To: time.Unix(t0+16*3600, 0), Format: "json", Rows: 2, Status: 200}, normalise(f.audited[0]))

	rec := f.do(t, "GET", q+"&format=csv", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "user_id,enter,exit,exit_imputed\n11,2021-07-20T08:00:00+07:00,2021-07-20T08:30:00+07:00,false\n12,2021-07-20T08:10:00+07:00,2021-07-20T09:10:00+07:00,true\n", rec.Body.String())

	pr := decode[problem](t, f.do(t, "GET", "/v1/venues/2/visitors", nil), http.StatusBadRequest)
	require.Equal(t, "purpose", pr.Field)
	require.Equal(t, "missing_field", pr.Reason)
	pr = decode[problem](t, f.do(t, "GET", "/v1/venues/2/visitors?purpose=ab", nil), http.StatusBadRequest)
	require.Equal(t, "invalid_value", pr.Reason)
	pr = decode[problem](t, f.do(t, "GET", "/v1/venues/2/visitors?purpose=abc&from=yesterday", nil), http.StatusBadRequest)
	require.Equal(t, "from", pr.Field)
	decode[problem](t, f.do(t, "GET", "/v1/venues/9/visitors?purpose=abc", nil), http.StatusNotFound)

	f.auditErr = errors.New("disk full at /var/lib/truyvet")
	rec = f.do(t, "GET", q, nil)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "/var/lib", "a 500 names no internal detail")
	require.NotContains(t, rec.Body.String(), "user_id", "a list that cannot be audited is not sent")
}

func normalise(e venueapi.VisitorsEntry) venueapi.VisitorsEntry {
	e.From, e.To = time.Unix(e.From.Unix(), 0), time.Unix(e.To.Unix(), 0)
	return e
}
