package cli_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/graph/reference"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/storetest"
)

// TestDeclarationsTopologyReal posts health declarations through ingest,
// Kafka and two processors into ClickHouse (a resend among them), and reads
// them back from the query server: by subject, the daily summary, and
// joined to exposure graphs whose co-travel (the vehicle channel) is the
// reference's.
func TestDeclarationsTopologyReal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binaries; not in -short")
	}
	tp := newTopology(t, 2)
	base := time.Now().Unix() - 40*3600
	rng := rand.New(rand.NewPCG(51, 52))
	ds := storetest.RandomTrips(rng, 60, 120, base)
	fever, _ := event.ParseSymptom("fever")
	sick := storetest.Declaration("sick-1", 7, 99, event.DeclVoluntary, base+3600, "79", fever) // 7 declares for 99
	sick.Onset = bucket.DayOf(base).Start()
	ds = append(ds, sick)
	var body []byte
	for i := range ds {
		body = append(event.AppendDeclarationJSON(body, &ds[i]), '\n')
	}
	body = append(body, event.AppendDeclarationJSON(nil, &sick)...) // a resend
	body = append(body, '\n')
	body = append(body, `{"declaration_id":"bad","user_id":1,"kind":"tourist","declared_at":"2021-07-15T10:00:00Z","province":"79"}`+"\n"...)
	code, out := post(t, tp.ing.token, tp.ing.url("/v1/declarations"), body)
	require.Equal(t, http.StatusAccepted, code, out)
	require.EqualValues(t, len(ds)+1, out["accepted"])
	rejected := out["rejected"].([]any)
	require.Len(t, rejected, 1)
	require.Equal(t, "kind", rejected[0].(map[string]any)["field"])

	// Co-travel answers as the reference gives them, through ClickHouse.
	var queries []graph.Query
	for i := range 8 {
		queries = append(queries, graph.Query{Case: uint32(rng.IntN(60) + 1), Depth: 1 + i%2, MinSeconds: 900,
			Window: graph.Window{From: base - 12*3600, To: base + 40*3600}})
	}
	want := make([]api.GraphJSON, len(queries))
	vehicleEdges := 0
	for i, q := range queries {
		res := reference.ExposuresUnder(nil, nil, reference.Setting{Dwell: 3600, Declarations: ds}, q)
		b, err := json.Marshal(api.NewGraphJSON(res, 15, "default@1", 0))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &want[i]))
		want[i].Stats = api.StatsJSON{}
		for _, e := range res.Edges {
			if e.Channel == graph.ChannelVehicle {
				vehicleEdges++
			}
		}
	}
	require.Positive(t, vehicleEdges)
	strip := func(g api.GraphJSON) api.GraphJSON {
		for i := range g.Nodes {
			g.Nodes[i].Declaration = nil // compared below
		}
		return g
	}
	require.Eventually(t, func() bool {
		for i, q := range queries {
			g, err := fetchGraph(tp.query, q)
			if err != nil || !equalGraphs(want[i], strip(g)) {
				return false
			}
		}
		return true
	}, 2*time.Minute, 250*time.Millisecond, "co-travel answers")

	// The declaration by family, with its symptoms, by subject; audited.
	url := tp.query.url("/v1/declarations?subject_id=99&purpose=e2e+check&from=" + time.Unix(base-86400, 0).UTC().Format(time.RFC3339))
	code, got := get(t, tp.query.token, url, "")
	require.Equal(t, http.StatusOK, code, string(got))
	var bySubject struct {
		Declaration  *api.DeclarationJSON `json:"declaration"`
		Declarations []map[string]any     `json:"declarations"`
	}
	require.NoError(t, json.Unmarshal(got, &bySubject))
	require.True(t, bySubject.Declaration.Symptomatic)
	ids := []string{}
	for _, d := range bySubject.Declarations {
		ids = append(ids, d["declaration_id"].(string))
	}
	require.Contains(t, ids, "sick-1")
	require.Equal(t, 1, strings.Count(strings.Join(ids, ","), "sick-1"), "a resend is one declaration")

	// The summary counts each declaration once.
	wantTotal := map[string]int64{}
	seen := map[string]bool{}
	for _, d := range ds {
		if k := fmt.Sprint(d.SubjectID, d.DeclarationID, d.DeclaredAt); !seen[k] {
			seen[k] = true
			wantTotal[time.Unix(d.DeclaredAt, 0).In(api.Local).Format(time.DateOnly)]++
		}
	}
	gotTotal := map[string]int64{}
	require.Eventually(t, func() bool {
		code, got, err := fetch(tp.query.token, tp.query.url("/v1/declarations/summary?province=79&from="+
			time.Unix(base-86400, 0).In(api.Local).Format(time.DateOnly)), "")
		var sum api.SummaryJSON
		if err != nil || code != http.StatusOK || json.Unmarshal(got, &sum) != nil {
			return false
		}
		clear(gotTotal)
		for _, d := range sum.Days {
			if d.Total > 0 {
				gotTotal[d.Date] = d.Total
			}
		}
		return maps.Equal(wantTotal, gotTotal)
	}, time.Minute, 250*time.Millisecond, "summary")
	require.Equal(t, wantTotal, gotTotal)

	// A node carries its subject's declarations.
	q := graph.Query{Case: 99, Depth: 1, MinSeconds: 0, Window: graph.Window{From: base - 12*3600, To: base + 40*3600}}
	g, err := fetchGraph(tp.query, q)
	require.NoError(t, err)
	require.True(t, g.Nodes[0].Declaration.Symptomatic)
	require.Equal(t, []string{"fever"}, g.Nodes[0].Declaration.Symptoms)

	_, m := get(t, tp.ing.token, tp.ing.url("/metrics"), "")
	require.Contains(t, string(m), `truyvet_ingest_kafka_records_total{result="ok",topic="declarations"} `)
	stored := false
	for _, p := range tp.procs {
		_, m = get(t, p.token, p.url("/metrics"), "")
		stored = stored || strings.Contains(string(m), `truyvet_processor_kafka_records_total{result="stored",topic="declarations"}`)
	}
	require.True(t, stored)
}
