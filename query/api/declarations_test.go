package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/audit/audittest"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// declStore is an in-memory declapi.Store.
type declStore struct {
	ds     []event.Declaration
	counts []declapi.Count
}

func (s *declStore) Declarations(_ context.Context, subjects []uint32, from, to int64) ([]event.Declaration, error) {
	var out []event.Declaration
	for _, d := range s.ds {
		if slices.Contains(subjects, d.SubjectID) && d.DeclaredAt >= from && d.DeclaredAt <= to {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b event.Declaration) int { return int(a.SubjectID) - int(b.SubjectID) })
	return out, nil
}

func (s *declStore) DeclarationCounts(_ context.Context, provinces []string, from, to bucket.Day) ([]declapi.Count, error) {
	var out []declapi.Count
	for _, c := range s.counts {
		if c.Day >= from && c.Day <= to && (provinces == nil || slices.Contains(provinces, c.Province)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func declServer(t *testing.T, s *declStore) (*http.ServeMux, *audittest.Memory) {
	tr := &audittest.Memory{}
	reg := &registry{}
	now := func() time.Time { return time.Unix(t0+86400, 0) }
	a := api.New(api.DefaultConfig(), graph.NewEngine(world{}), tr, reg, definitions.New(&definitions.Memory{}),
		api.NewMetrics(prometheus.NewRegistry()), nil, now, api.WithDeclarations(s))
	mux := http.NewServeMux()
	a.Register(mux)
	return mux, tr
}

func TestExposuresCarryDeclarations(t *testing.T) {
	fever, _ := event.ParseSymptom("fever")
	cough, _ := event.ParseSymptom("cough")
	onset := bucket.DayOf(t0).Start() - 86400
	s := &declStore{ds: []event.Declaration{
		{DeclarationID: "a", UserID: 2, SubjectID: 2, Kind: event.DeclVoluntary, DeclaredAt: t0 - 28*86400, Province: "79", Symptoms: fever}, // too early
		{DeclarationID: "b", UserID: 2, SubjectID: 2, Kind: event.DeclDomestic, DeclaredAt: t0, Province: "79"},
		{DeclarationID: "c", UserID: 2, SubjectID: 3, Kind: event.DeclEntry, DeclaredAt: t0 - 86400, Province: "79", Symptoms: cough},
		{DeclarationID: "d", UserID: 3, SubjectID: 3, Kind: event.DeclVoluntary, DeclaredAt: t0, Province: "79", Symptoms: fever, Onset: onset},
	}}
	mux, _ := declServer(t, s)
	rec := do(mux, "/v1/cases/1/exposures?purpose=test&depth=2")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var g api.GraphJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	byID := map[uint32]*api.DeclarationJSON{}
	for _, n := range g.Nodes {
		byID[n.UserID] = n.Declaration
	}
	require.Nil(t, byID[1])
	require.Equal(t, &api.DeclarationJSON{Symptoms: []string{}, Kind: "domestic"}, byID[2])
	on := time.Unix(onset, 0).In(api.Local).Format(time.DateOnly)
	require.Equal(t, &api.DeclarationJSON{Symptomatic: true, Symptoms: []string{"fever", "cough"}, Onset: &on, Kind: "voluntary"}, byID[3])
	require.Contains(t, rec.Body.String(), `"declaration":null`)

	// order=priority: the case, then the symptomatic, then the rest.
	rec = do(mux, "/v1/cases/1/exposures?purpose=test&depth=2&order=priority")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	var order []uint32
	for _, n := range g.Nodes {
		order = append(order, n.UserID)
	}
	require.Equal(t, []uint32{1, 3, 2}, order)
	require.Equal(t, http.StatusBadRequest, do(mux, "/v1/cases/1/exposures?purpose=test&order=alphabetical").Code)

	rec = do(mux, "/v1/cases/1/exposures?purpose=test&depth=2&order=priority&format=csv")
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	require.True(t, strings.HasSuffix(lines[0], ",symptomatic,onset"), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "3,") && strings.HasSuffix(lines[1], ",true,"+on), lines[1])
	require.True(t, strings.HasPrefix(lines[2], "2,") && strings.HasSuffix(lines[2], ",false,"), lines[2])
}

func TestDeclarationsBySubject(t *testing.T) {
	s := &declStore{ds: []event.Declaration{
		{DeclarationID: "d", UserID: 3, SubjectID: 3, Kind: event.DeclVoluntary, DeclaredAt: t0, Province: "79", Symptoms: 1, Source: "ncovi"},
	}}
	mux, tr := declServer(t, s)
	rec := do(mux, "/v1/declarations?subject_id=3&purpose=household%20follow-up")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out struct {
		SubjectID    uint32              `json:"subject_id"`
		Declaration  api.DeclarationJSON `json:"declaration"`
		Declarations []map[string]any    `json:"declarations"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Equal(t, uint32(3), out.SubjectID)
	require.True(t, out.Declaration.Symptomatic)
	require.Len(t, out.Declarations, 1)
	require.Equal(t, "d", out.Declarations[0]["declaration_id"])
	require.Equal(t, []any{"fever"}, out.Declarations[0]["symptoms"])

	// With a province, the declarations filed there.
	rec = do(mux, "/v1/declarations?subject_id=3&province=01&purpose=household%20follow-up")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `{"subject_id":3,"declaration":null,"declarations":[]}`, stripWindow(t, rec.Body.Bytes()))
	require.Equal(t, http.StatusBadRequest, do(mux, "/v1/declarations?subject_id=3&province=00&purpose=check").Code)

	// Purpose and subject are required; refusals are audited too.
	require.Equal(t, http.StatusBadRequest, do(mux, "/v1/declarations?subject_id=3").Code)
	require.Equal(t, http.StatusBadRequest, do(mux, "/v1/declarations?subject_id=0&purpose=check").Code)
	es := tr.Snapshot()
	require.Len(t, es, 5)
	require.Equal(t, audit.ActionDeclarations, es[0].Action)
	require.Equal(t, uint32(3), es[0].Case)
	require.Equal(t, 1, es[0].Rows)
	require.Equal(t, "household follow-up", es[0].Purpose)
	require.Equal(t, http.StatusBadRequest, es[2].Status)
}

// stripWindow drops from and to from a JSON object.
func stripWindow(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	delete(m, "from")
	delete(m, "to")
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return string(out)
}

func TestDeclarationSummary(t *testing.T) {
	d := bucket.DayOf(t0)
	s := &declStore{counts: []declapi.Count{
		{Day: d, Province: "79", Kind: event.DeclEntry, Symptomatic: true, N: 3},
		{Day: d, Province: "79", Kind: event.DeclEntry, N: 4},
		{Day: d, Province: "01", Kind: event.DeclVoluntary, N: 5},
		{Day: d - 1, Province: "79", Kind: event.DeclDomestic, Symptomatic: true, N: 1},
	}}
	mux, _ := declServer(t, s)
	day := func(x bucket.Day) string { return time.Unix(x.Start(), 0).In(api.Local).Format(time.DateOnly) }
	rec := do(mux, "/v1/declarations/summary?province=79&from="+day(d-2)+"&to="+day(d))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out api.SummaryJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Equal(t, "79", *out.Province)
	require.Len(t, out.Days, 3)
	require.Equal(t, api.DaySummaryJSON{Date: day(d - 2), Kinds: map[string]int64{"entry": 0, "domestic": 0, "voluntary": 0},
		KindsSymptomatic: map[string]int64{"entry": 0, "domestic": 0, "voluntary": 0}}, out.Days[0])
	require.Equal(t, int64(1), out.Days[1].Symptomatic)
	require.Equal(t, api.DaySummaryJSON{Date: day(d), Total: 7, Symptomatic: 3, Kinds: map[string]int64{"entry": 7, "domestic": 0, "voluntary": 0},
		KindsSymptomatic: map[string]int64{"entry": 3, "domestic": 0, "voluntary": 0}}, out.Days[2])

	// The whole country; the last 14 days by default.
	rec = do(mux, "/v1/declarations/summary")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Nil(t, out.Province)
	require.Len(t, out.Days, 14)
	require.Equal(t, int64(12), out.Days[12].Total)

	for _, bad := range []string{"province=99", "from=yesterday", "from=2026-11-21&to=2026-11-20", "from=2026-01-01&to=2026-11-20"} {
		require.Equal(t, http.StatusBadRequest, do(mux, "/v1/declarations/summary?"+bad).Code, bad)
	}
}

// TestDeclarationSummaryCache: within Config.SummaryCache, one province and
// days are read once; other days are read afresh.
func TestDeclarationSummaryCache(t *testing.T) {
	d := bucket.DayOf(t0)
	s := &declStore{counts: []declapi.Count{{Day: d, Province: "79", Kind: event.DeclEntry, N: 3}}}
	mux, _ := declServer(t, s)
	day := time.Unix(d.Start(), 0).In(api.Local).Format(time.DateOnly)
	total := func(q string) int64 {
		var out api.SummaryJSON
		require.NoError(t, json.Unmarshal(do(mux, "/v1/declarations/summary?"+q).Body.Bytes(), &out))
		n := int64(0)
		for _, x := range out.Days {
			n += x.Total
		}
		return n
	}
	require.Equal(t, int64(3), total("province=79&from="+day+"&to="+day))
	s.counts[0].N = 5
	require.Equal(t, int64(3), total("province=79&from="+day+"&to="+day), "read once within the cache's time")
	require.Equal(t, int64(5), total("province=79&to="+day), "other days are another read")
}
