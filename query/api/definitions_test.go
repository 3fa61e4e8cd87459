package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/query/api"
)

func post(mux *http.ServeMux, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func TestDefinitionsListAddAndRefuse(t *testing.T) {
	mux, _ := server(t)
	rec := do(mux, "/v1/definitions")
	require.Equal(t, http.StatusOK, rec.Code)
	var list api.DefinitionsJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Equal(t, "default@1", list.Default)
	require.Len(t, list.Definitions, 3)

	rec = post(mux, "/v1/definitions", `{"name":"long","channels":{"venue":{"min_minutes":45,"kinds":["nightclub"]}}}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	var bad map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &bad))
	require.Equal(t, "channels.venue.kinds[0]", bad["field"])
	require.Equal(t, "invalid_value", bad["reason"])

	for want := 1; want <= 2; want++ {
		rec = post(mux, "/v1/definitions", `{"name":"long","channels":{"venue":{"min_minutes":45}},"casual":true}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		require.Contains(t, rec.Body.String(), `"version":`+string(rune('0'+want)))
	}
	rec = do(mux, "/v1/definitions")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Definitions, 5)
}

func TestLookupUnderADefinition(t *testing.T) {
	mux, tr := server(t)
	require.Equal(t, http.StatusCreated, post(mux, "/v1/definitions", `{"name":"long","channels":{"venue":{"min_minutes":45}},"casual":true}`).Code)

	// Without the parameter: today's answer, naming default@1.
	rec := do(mux, "/v1/cases/1/exposures?purpose=trace&depth=2")
	var g api.GraphJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	require.Equal(t, "default@1", g.Definition)
	require.Len(t, g.Nodes, 3)

	// 30 minutes at venue 10 is casual under a 45-minute venue rule, and
	// casual people are not traced: user 3 (F2 through user 2) is gone.
	rec = do(mux, "/v1/cases/1/exposures?purpose=trace&depth=2&definition=long@1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &g))
	require.Equal(t, "long@1", g.Definition)
	require.Len(t, g.Nodes, 2)
	require.Equal(t, uint32(2), g.Nodes[1].UserID)
	require.Equal(t, int(api.TierCasual), g.Nodes[1].Tier)
	require.Contains(t, rec.Body.String(), `"tier":"casual"`)
	require.Contains(t, rec.Body.String(), `"venues":[10]`)
	require.Equal(t, 1, g.Stats.Casual)

	rec = do(mux, "/v1/cases/1/exposures?purpose=trace&depth=2&definition=long&format=csv")
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	require.Len(t, lines, 2)
	require.True(t, strings.HasPrefix(lines[1], "2,casual,2026-11-20T08:30:00+07:00,1800,30.0,venue,1,10"), lines[1])

	require.Equal(t, "default@1", tr.Snapshot()[0].Definition)
	require.Equal(t, "long@1", tr.Snapshot()[1].Definition)
	require.Equal(t, 1, tr.Snapshot()[1].Casual)
	require.Equal(t, "long@1", tr.Snapshot()[2].Definition, "name alone is the newest version")

	for path, field := range map[string]string{
		"/v1/cases/1/exposures?purpose=trace&definition=nope":        "definition",
		"/v1/cases/1/exposures?purpose=trace&definition=long@9":      "definition",
		"/v1/cases/1/exposures?purpose=trace&definition=Long":        "definition",
		"/v1/cases/1/exposures/diff?purpose=trace&a=default":         "b",
		"/v1/cases/1/exposures/diff?purpose=trace&a=x@0&b=default@1": "a",
	} {
		rec := do(mux, path)
		require.Equal(t, http.StatusBadRequest, rec.Code, path)
		require.Contains(t, rec.Body.String(), field, path)
	}
}

func TestDiffNamesPeopleAddedRemovedAndChanged(t *testing.T) {
	mux, tr := server(t)
	require.Equal(t, http.StatusCreated, post(mux, "/v1/definitions", `{"name":"long","channels":{"venue":{"min_minutes":45}},"casual":true}`).Code)
	rec := do(mux, "/v1/cases/1/exposures/diff?purpose=trace&depth=2&a=default&b=long")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var d api.DiffJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d))
	require.Equal(t, "default@1", d.A)
	require.Equal(t, "long@1", d.B)
	require.Empty(t, d.Added)
	require.Len(t, d.Removed, 1)
	require.Equal(t, uint32(3), d.Removed[0].UserID)
	require.Equal(t, []api.TierChange{{UserID: 2, ATier: 1, BTier: api.TierCasual}}, d.Changed)
	require.Equal(t, map[string]int{"1": 1, "2": 1, "casual": 0}, d.Counts.A)
	require.Equal(t, map[string]int{"1": 0, "2": 0, "casual": 1}, d.Counts.B)
	require.Len(t, tr.Snapshot(), 2, "both lookups are audited")
	require.Equal(t, "diff", tr.Snapshot()[1].Format)
}
