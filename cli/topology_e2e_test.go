package cli_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/storetest"
)

// topology is a distributed deployment under test: ingest, processors and a
// query server on the real Kafka and ClickHouse.
type topology struct {
	bin, prefix, db string
	token           string
	kafka, ch, pg   []string
	ing, query      *proc
	procs           []*proc
}

func newTopology(t *testing.T, processors int) *topology {
	chAddr := chtest.Addr(t)
	db := chtest.Database(t, chAddr)
	return newTopologyOn(t, processors, db, "--clickhouse-addr", strings.Join(chAddr, ","), "--clickhouse-database", db)
}

// newTopologyOn is newTopology on the ClickHouse database db that the
// flags ch name.
func newTopologyOn(t *testing.T, processors int, db string, ch ...string) *topology {
	brokers := kafkatest.Real(t)
	tp := &topology{bin: buildBinary(t), prefix: kafkatest.Prefix(t), db: db, ch: ch}
	tp.kafka = []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", tp.prefix, "--kafka-partitions", "4"}
	tp.pg = pgArgs(t)
	tp.token = account(t, tp.bin, tp.pg...)
	// ingest's --clickhouse-addr: its rejections reach the summary's counters.
	tp.ing = start(t, tp.bin, append(append(append([]string{"ingest", "--listen", "127.0.0.1:0", "--ingest-timeout", "3s"}, tp.kafka...), tp.pg...), tp.ch...)...)
	tp.ing.token = tp.token
	for range processors {
		tp.procs = append(tp.procs, tp.startProcessor(t))
	}
	tp.query = start(t, tp.bin, append(append([]string{"query", "--listen", "127.0.0.1:0"}, tp.ch...), tp.pg...)...)
	tp.query.token = tp.token
	return tp
}

func (tp *topology) startProcessor(t *testing.T) *proc {
	args := append([]string{"process", "--listen", "127.0.0.1:0", "--flush-interval", "200ms", "--batch-records", "300",
		"--kafka-group", tp.prefix + "processors"}, tp.kafka...)
	p := start(t, tp.bin, append(append(args, tp.ch...), tp.pg...)...)
	p.token = tp.token
	return p
}

// send posts b to ingest, retrying on 503 as the apps do, until accepted.
func (tp *topology) send(t *testing.T, b event.Batch) (unavailable int) {
	v, e := ndjson(b)
	for _, req := range []struct {
		path string
		body []byte
	}{{"/v1/checkins", v}, {"/v1/proximity", e}} {
		for deadline := time.Now().Add(2 * time.Minute); ; {
			code, out := post(t, tp.ing.token, tp.ing.url(req.path), req.body)
			if code == http.StatusAccepted {
				break
			}
			require.Equal(t, http.StatusServiceUnavailable, code, out)
			unavailable++
			require.True(t, time.Now().Before(deadline), "%s not accepted within 2 minutes", req.path)
			time.Sleep(200 * time.Millisecond)
		}
	}
	return unavailable
}

// waitAnswers waits until the query server answers every query as the
// reference does over all, then checks them once more.
func (tp *topology) waitAnswers(t *testing.T, all event.Batch, queries []graph.Query, within time.Duration) {
	t.Helper()
	waitForAnswers(t, tp.query, all, queries, within, 250*time.Millisecond)
}

func randomQueries(rng *rand.Rand, people int, base int64, n int) []graph.Query {
	qs := make([]graph.Query, 0, n)
	for i := range n {
		qs = append(qs, graph.Query{Case: uint32(rng.IntN(people) + 1), Depth: 1 + i%2, MinSeconds: 900,
			Window: graph.Window{From: base - 12*3600, To: base + 40*3600}})
	}
	return qs
}

func slice(all event.Batch, i, parts int) event.Batch {
	nv, ne := len(all.Visits), len(all.Encounters)
	return event.Batch{Visits: all.Visits[i*nv/parts : (i+1)*nv/parts], Encounters: all.Encounters[i*ne/parts : (i+1)*ne/parts]}
}

// TestTopologyReal runs the whole distributed topology on the real Kafka and
// ClickHouse: ingest, two processors and a query server. One processor is
// killed with SIGKILL mid-stream; the other takes its partitions. The answers
// are the reference's, which are all-in-one's (TestAllInOneEndToEndSurvivesKill9).
func TestTopologyReal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binaries; not in -short")
	}
	testTopologyKill(t, newTopology(t, 2))
}

// TestTopologyCluster is TestTopologyReal on the ClickHouse cluster of
// deploy/local/cluster-up.sh (2 shards x 2 replicas, --clickhouse-cluster).
func TestTopologyCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binaries; not in -short")
	}
	addr, cluster := chtest.Cluster(t)
	db := chtest.ClusterDatabase(t, addr, cluster)
	testTopologyKill(t, newTopologyOn(t, 2, db, "--clickhouse-addr", strings.Join(addr, ","), "--clickhouse-cluster", cluster, "--clickhouse-database", db))
}

// TestTopologyClusterReplicaDown is TestTopologyCluster with shard 2's first
// replica stopped from the start: the processors and the query server start,
// migrate, write and read through the other replica.
func TestTopologyClusterReplicaDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binaries; not in -short")
	}
	addr, cluster := chtest.Cluster(t)
	chtest.StopReplica(t, "s2r1")
	db := chtest.ClusterDatabase(t, addr, cluster)
	testTopologyKill(t, newTopologyOn(t, 2, db, "--clickhouse-addr", strings.Join(addr, ","), "--clickhouse-cluster", cluster, "--clickhouse-database", db))
}

func testTopologyKill(t *testing.T, tp *topology) {
	base := time.Now().Unix() - 40*3600
	rng := rand.New(rand.NewPCG(41, 42))
	all := storetest.RandomRecords(rng, 80, 6, 400, base)
	const parts = 6
	for i := range parts {
		tp.send(t, slice(all, i, parts))
		if i == 2 {
			require.NoError(t, tp.procs[0].cmd.Process.Signal(syscall.SIGKILL))
			_ = tp.procs[0].cmd.Wait()
		}
	}
	tp.waitAnswers(t, all, randomQueries(rng, 80, base, 12), 90*time.Second)

	// The summary counts what the processors stored (a replayed batch of the
	// killed one may count twice: at least once) and ingest's rejections.
	code, rejected := post(t, tp.ing.token, tp.ing.url("/v1/checkins"), []byte(`{"visit_id":"no-user","venue_id":1,"enter":"2021-07-15T08:00:00Z"}`+"\n"))
	require.Equal(t, http.StatusAccepted, code, rejected)
	require.Eventually(t, func() bool {
		code, b, err := fetch(tp.query.token, tp.query.url("/v1/summary"), "")
		if err != nil || code != http.StatusOK {
			return false
		}
		var a struct {
			Days []struct {
				RecordsIn  map[string]int `json:"records_in"`
				Rejections map[string]int `json:"rejections"`
			} `json:"days"`
		}
		if json.Unmarshal(b, &a) != nil {
			return false
		}
		today := a.Days[len(a.Days)-1]
		return today.RecordsIn["visit"] >= len(all.Visits) && today.RecordsIn["encounter"] >= len(all.Encounters) &&
			today.Rejections["missing_field"] == 1
	}, 30*time.Second, 200*time.Millisecond, "the summary counts the records stored and ingest's rejection")

	// Nothing was dead-lettered, and the survivor stored records.
	code, body := get(t, tp.procs[1].token, tp.procs[1].url("/v1/status"), "")
	require.Equal(t, http.StatusOK, code)
	var st struct {
		Processed    int64 `json:"processed"`
		DeadLettered int64 `json:"dead_lettered"`
	}
	require.NoError(t, json.Unmarshal(body, &st))
	require.Zero(t, st.DeadLettered)
	require.Positive(t, st.Processed)
	_, body = get(t, tp.procs[1].token, tp.procs[1].url("/metrics"), "")
	require.Contains(t, string(body), `truyvet_store_clickhouse_rows_written_total{table="bitmaps"}`)
	_, body = get(t, tp.query.token, tp.query.url("/metrics"), "")
	require.Contains(t, string(body), `truyvet_store_clickhouse_query_duration_seconds_bucket{op="stays"`)
	for _, p := range []*proc{tp.ing, tp.procs[1], tp.query} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, p.cmd.Wait())
	}

	// The reconciliation agrees: every distinct id stored, nothing missing,
	// though a processor was killed mid-batch (replays).
	out, err := exec.Command(tp.bin, append(append([]string{"reconcile"}, tp.kafka...), tp.ch...)...).Output()
	require.NoError(t, err, string(out))
	var rep struct {
		OK                        bool
		Accepted, Stored, Missing int
	}
	require.NoError(t, json.Unmarshal(out, &rep))
	require.True(t, rep.OK, string(out))
	require.Positive(t, rep.Accepted)
	require.Equal(t, rep.Accepted, rep.Stored)
}

// TestOutageClickHouse stops the local ClickHouse while records keep
// arriving: ingest keeps accepting (Kafka holds them), the processors' lag
// grows, and when ClickHouse is back they catch up by themselves, losing
// nothing. It stops the shared server, so scripts/test.sh runs it alone with
// TRUYVET_IT_OUTAGES=1; TRUYVET_IT_OUTAGE_SECONDS sets the outage (default 60).
func TestOutageClickHouse(t *testing.T) { testClickHouseOutage(t, false) }

// TestOutageClickHouseKill kills the server (SIGKILL) instead, while the
// processors insert.
func TestOutageClickHouseKill(t *testing.T) { testClickHouseOutage(t, true) }

func testClickHouseOutage(t *testing.T, kill bool) {
	if os.Getenv("TRUYVET_IT_OUTAGES") != "1" {
		t.Skip("stops the shared local ClickHouse; set TRUYVET_IT_OUTAGES=1 (scripts/test.sh does, after the other tests)")
	}
	outage := 60 * time.Second
	if s := os.Getenv("TRUYVET_IT_OUTAGE_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		require.NoError(t, err)
		outage = d
	}
	tp := newTopology(t, 2)
	base := time.Now().Unix() - 40*3600
	rng := rand.New(rand.NewPCG(51, 52))
	all := storetest.RandomRecords(rng, 80, 6, 400, base)
	const parts = 6
	tp.send(t, slice(all, 0, parts))

	if kill {
		localService(t, "down.sh", "clickhouse", "--kill")
	} else {
		localService(t, "down.sh", "clickhouse")
	}
	stopped := time.Now()
	for i := 1; i < parts; i++ {
		require.Zero(t, tp.send(t, slice(all, i, parts)), "ingest must not depend on ClickHouse")
	}
	time.Sleep(time.Until(stopped.Add(outage)))
	localService(t, "up.sh", "clickhouse")
	t.Logf("ClickHouse was down for %s", time.Since(stopped).Round(time.Second))

	tp.waitAnswers(t, all, randomQueries(rng, 80, base, 10), 2*time.Minute)
	retried := false
	for _, p := range tp.procs {
		_, body := get(t, p.token, p.url("/metrics"), "")
		retried = retried || strings.Contains(string(body), `truyvet_processor_flush_retries_total{stage="store"}`)
	}
	require.True(t, retried, "the outage was seen and retried")
}
