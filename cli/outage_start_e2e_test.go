package cli_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/storetest"
)

// TestOutageStartWhileDown starts ingest, a processor and a query server
// while Kafka and ClickHouse are both down (killed): each stays up, answers
// /healthz, answers /readyz 503, and begins its work by itself once the
// services are back; with --start-timeout a command gives up instead. While
// ClickHouse alone is down later, /v1/status still answers, with the store
// marked unreachable, and readiness says so. It kills the local services,
// so it runs with the other outage tests (TRUYVET_IT_OUTAGES=1).
func TestOutageStartWhileDown(t *testing.T) {
	if os.Getenv("TRUYVET_IT_OUTAGES") != "1" {
		t.Skip("kills the local Kafka and ClickHouse; set TRUYVET_IT_OUTAGES=1 (scripts/test.sh does, after the other tests)")
	}
	brokers, chAddr := kafkatest.Real(t), chtest.Addr(t)
	tp := &topology{bin: buildBinary(t), prefix: kafkatest.Prefix(t)}
	tp.db = chtest.Database(t, chAddr)
	tp.kafka = []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", tp.prefix, "--kafka-partitions", "4"}
	tp.ch = []string{"--clickhouse-addr", strings.Join(chAddr, ","), "--clickhouse-database", tp.db}
	tp.pg = pgArgs(t) // PostgreSQL (accounts) stays up: only Kafka and ClickHouse are killed
	tp.token = account(t, tp.bin, tp.pg...)

	localService(t, "down.sh", "kafka", "clickhouse", "--kill")
	restored := false
	t.Cleanup(func() {
		if !restored {
			localService(t, "up.sh", "kafka", "clickhouse")
		}
	})

	// Fail-fast when asked.
	quick := startServing(t, tp.bin, append(append([]string{"query", "--listen", "127.0.0.1:0", "--start-timeout", "2s"}, tp.ch...), tp.pg...)...)
	exited := make(chan error, 1)
	go func() { exited <- quick.cmd.Wait() }()
	select {
	case err := <-exited:
		require.Error(t, err, "gave up with an error")
	case <-time.After(30 * time.Second):
		t.Fatalf("query with --start-timeout 2s still running: %s", quick.logs.String())
	}

	tp.ing = startServing(t, tp.bin, append(append([]string{"ingest", "--listen", "127.0.0.1:0", "--ingest-timeout", "3s"}, tp.kafka...), tp.pg...)...)
	tp.procs = []*proc{startServing(t, tp.bin, append(append(append([]string{"process", "--listen", "127.0.0.1:0", "--flush-interval", "200ms",
		"--batch-records", "300", "--kafka-group", tp.prefix + "processors"}, tp.kafka...), tp.ch...), tp.pg...)...)}
	tp.query = startServing(t, tp.bin, append(append([]string{"query", "--listen", "127.0.0.1:0"}, tp.ch...), tp.pg...)...)
	all := []*proc{tp.ing, tp.procs[0], tp.query}
	for _, p := range all {
		p.token = tp.token
	}
	time.Sleep(3 * time.Second)
	for _, p := range all {
		require.Nil(t, p.cmd.ProcessState, "exited while its dependencies were down: %s", p.logs.String())
		code, _ := get(t, p.token, p.url("/healthz"), "")
		require.Equal(t, http.StatusOK, code)
		code, body := get(t, p.token, p.url("/readyz"), "")
		require.Equal(t, http.StatusServiceUnavailable, code, string(body))
	}
	// The API answers 503 with Retry-After meanwhile, not 404.
	code, out := post(t, tp.token, tp.ing.url("/v1/checkins"), []byte("{}"))
	require.Equal(t, http.StatusServiceUnavailable, code, out)

	localService(t, "up.sh", "kafka", "clickhouse")
	restored = true
	for _, p := range all {
		require.Eventually(t, func() bool {
			code, _, err := fetch(p.token, p.url("/readyz"), "")
			return err == nil && code == http.StatusOK
		}, 2*time.Minute, 200*time.Millisecond, "not ready after the services returned: %s", p.logs.String())
	}
	base := time.Now().Unix() - 40*3600
	rng := rand.New(rand.NewPCG(61, 62))
	recs := storetest.RandomRecords(rng, 40, 5, 150, base)
	tp.send(t, recs)
	tp.waitAnswers(t, recs, randomQueries(rng, 40, base, 5), 2*time.Minute)

	// ClickHouse down again: status answers what it knows.
	localService(t, "down.sh", "clickhouse", "--kill")
	restored = false
	t.Cleanup(func() {
		if !restored {
			localService(t, "up.sh", "clickhouse")
		}
	})
	for _, p := range []*proc{tp.procs[0], tp.query} {
		require.Eventually(t, func() bool {
			code, _, err := fetch(p.token, p.url("/readyz"), "")
			return err == nil && code == http.StatusServiceUnavailable
		}, time.Minute, 200*time.Millisecond, "ready while ClickHouse is down")
		code, body := get(t, p.token, p.url("/v1/status"), "")
		require.Equal(t, http.StatusOK, code, string(body))
		var st map[string]any
		require.NoError(t, json.Unmarshal(body, &st))
		store, _ := st["store"].(map[string]any)
		require.Equal(t, false, store["reachable"], string(body))
		require.NotContains(t, string(body), "127.0.0.1")
	}
	_, body := get(t, tp.token, tp.procs[0].url("/v1/status"), "")
	require.Contains(t, string(body), `"processed"`)
	localService(t, "up.sh", "clickhouse")
	restored = true
}
