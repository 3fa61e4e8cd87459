package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/faultproxy"
	"github.com/truyvet/truyvet/openapi/openapitest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/audit/audittest"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

// With ClickHouse unreachable (every connection to it cut), an exposure
// lookup answers 503 with Retry-After and a message that names no internal
// address, instead of 500 with the dial error; once the server is back the
// same lookup answers again, audited.
func TestLookupStoreUnreachable(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	proxy, err := faultproxy.Start(t.Context(), addr[0])
	require.NoError(t, err)
	defer proxy.Close()
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.DialTimeout = []string{proxy.Addr()}, db, time.Second
	store, err := chstore.Open(t.Context(), opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	proc, err := processor.New(bucket.DefaultLayout(), store, nil)
	require.NoError(t, err)
	require.NoError(t, proc.Process(t.Context(), &event.Batch{Visits: []event.Visit{
		{VisitID: "a", UserID: 1, VenueID: 10, Enter: t0, Exit: t0 + 3600, Source: "test"},
		{VisitID: "b", UserID: 2, VenueID: 10, Enter: t0 + 1800, Exit: t0 + 5400, Source: "test"},
	}}))
	now := func() time.Time { return time.Unix(t0+86400, 0) }
	trail := &audittest.Memory{} // the trail lives in PostgreSQL or the embedded store, not in ClickHouse
	a := api.New(api.DefaultConfig(), graph.NewEngine(store), trail, nil, nil, api.NewMetrics(prometheus.NewRegistry()), nil, now)
	inner := http.NewServeMux()
	a.Register(inner)
	mux := openapitest.Mux(t, inner)
	const path = "/v1/cases/1/exposures?depth=1&purpose=outage+test"

	rec := do(mux, path)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	proxy.Cut()
	require.Error(t, store.Ping(t.Context()))
	require.ErrorIs(t, store.Ping(t.Context()), graph.ErrStoreUnavailable)
	rec = do(mux, path)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, api.RetryAfter, rec.Header().Get("Retry-After"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.NotEmpty(t, body["error"])
	for _, internal := range []string{"127.0.0.1", proxy.Addr(), "dial", "tcp"} {
		require.NotContains(t, rec.Body.String(), internal)
	}
	// The failed lookup is audited, with its status.
	rec = do(mux, "/v1/audit?limit=5")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"status":503`)

	require.NoError(t, proxy.Restore(t.Context()))
	require.Eventually(t, func() bool { return do(mux, path).Code == http.StatusOK }, 30*time.Second, 100*time.Millisecond)
	rec = do(mux, "/v1/audit?limit=10")
	require.Equal(t, http.StatusOK, rec.Code)
	require.GreaterOrEqual(t, strings.Count(rec.Body.String(), `"status":200`), 2, rec.Body.String())
}
