package cli_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/storetest"
)

func TestDistributedFake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	testDistributed(t, kafkatest.Fake(t))
}

func TestDistributedReal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	testDistributed(t, kafkatest.Real(t))
}

// testDistributed runs `truyvet ingest` and two `truyvet process` replicas
// (one active, one standing by on the same store) against brokers, kills the
// active one with SIGKILL mid-stream, and checks that after the takeover
// every record is stored and the answers are the reference's, as a
// fault-free all-in-one gives them.
func testDistributed(t *testing.T, brokers []string) {
	bin := buildBinary(t)
	prefix := kafkatest.Prefix(t)
	kafka := []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", prefix, "--kafka-partitions", "4"}
	pg := pgArgs(t)
	tok := account(t, bin, pg...)
	kafka = append(kafka, pg...)
	ing := start(t, bin, append([]string{"ingest", "--listen", "127.0.0.1:0"}, kafka...)...)
	ing.token = tok
	dir := t.TempDir()
	procArgs := append([]string{"process", "--listen", "127.0.0.1:0", "--data-dir", dir, "--flush-interval", "100ms",
		"--batch-records", "200", "--kafka-group", prefix + "processor"}, kafka...)
	pr := start(t, bin, procArgs...)
	pr.token = tok
	code, body := get(t, ing.token, ing.url("/readyz"), "")
	require.Equal(t, http.StatusOK, code, string(body))

	base := time.Now().Unix() - 40*3600
	rng := rand.New(rand.NewPCG(21, 22))
	all := storetest.RandomRecords(rng, 80, 6, 320, base)
	third := func(i int) event.Batch {
		nv, ne := len(all.Visits), len(all.Encounters)
		return event.Batch{Visits: all.Visits[i*nv/3 : (i+1)*nv/3], Encounters: all.Encounters[i*ne/3 : (i+1)*ne/3]}
	}
	send := func(b event.Batch) {
		v, e := ndjson(b)
		code, out := post(t, ing.token, ing.url("/v1/checkins"), v)
		require.Equal(t, http.StatusAccepted, code, out)
		require.EqualValues(t, len(b.Visits), out["accepted"])
		code, out = post(t, ing.token, ing.url("/v1/proximity"), e)
		require.Equal(t, http.StatusAccepted, code, out)
		require.EqualValues(t, len(b.Encounters), out["accepted"])
	}
	// A second replica on the same data directory stands by (it first
	// creates or finds the topics, so wait until it has found the store
	// taken: killing the first replica earlier would test nothing).
	standby, takeover := launch(t, bin, procArgs...)
	require.Eventually(t, func() bool { return strings.Contains(standby.logs.String(), "standing by") },
		time.Minute, 50*time.Millisecond, "the second replica never stood by")
	send(third(0))
	send(third(1))
	// SIGKILL the processor mid-stream; the standby takes over the store and
	// the partitions while records keep arriving.
	require.NoError(t, pr.cmd.Process.Signal(syscall.SIGKILL))
	_ = pr.cmd.Wait()
	send(third(2))
	takeover()
	pr = standby
	pr.token = tok
	require.Eventually(t, func() bool { return strings.Contains(pr.logs.String(), "taking over") },
		time.Minute, 50*time.Millisecond, "the standby never took over")

	queries := make([]graph.Query, 0, 12)
	for i := range 12 {
		queries = append(queries, graph.Query{Case: uint32(rng.IntN(80) + 1), Depth: 1 + i%2, MinSeconds: 900,
			Window: graph.Window{From: base - 12*3600, To: base + 40*3600}})
	}
	// Wait until the processor has caught up: every record stored, nothing
	// dead-lettered.
	var deadLettered atomic.Int64
	require.Eventually(t, func() bool {
		code, body, err := fetch(pr.token, pr.url("/v1/status"), "")
		var st struct {
			DeadLettered int64 `json:"dead_lettered"`
			Stored       struct {
				Visits, Encounters int64
			} `json:"stored"`
		}
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &st) != nil {
			return false
		}
		deadLettered.Store(st.DeadLettered)
		return st.DeadLettered > 0 || st.Stored.Visits >= int64(len(all.Visits)) && st.Stored.Encounters >= int64(len(all.Encounters))
	}, time.Minute, 100*time.Millisecond, "processor did not catch up: %s", pr.logs.String())
	require.Zero(t, deadLettered.Load())
	waitForAnswers(t, pr, all, queries, 30*time.Second, 200*time.Millisecond)
	// The processor's status says how far the group is behind: nothing, once
	// every record is stored and committed.
	var mode atomic.Value
	require.Eventually(t, func() bool {
		code, body, err := fetch(pr.token, pr.url("/v1/status"), "")
		var st struct {
			Mode string
			Lag  *struct{ Records int64 }
		}
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &st) != nil {
			return false
		}
		mode.Store(st.Mode)
		return st.Lag != nil && st.Lag.Records == 0
	}, 30*time.Second, 200*time.Millisecond, "process status lag")
	require.Equal(t, "process", mode.Load())

	_, body = get(t, ing.token, ing.url("/metrics"), "")
	require.Contains(t, string(body), `truyvet_ingest_kafka_records_total{result="ok",topic="checkins"} `)
	_, body = get(t, pr.token, pr.url("/metrics"), "")
	require.Contains(t, string(body), "truyvet_processor_kafka_lag_records")
	require.Contains(t, string(body), `truyvet_processor_kafka_records_total{result="stored",topic="checkins"}`)

	for _, p := range []*proc{ing, pr} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, p.cmd.Wait())
	}
}

func equalGraphs(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// TestOutageKafkaBrokerRestart restarts the real broker (deploy/local's)
// while records are being ingested. Clients retry on 503, as the apps do;
// in the end every record is stored once in the answers, nothing else.
// It stops the shared broker, so it runs alone: scripts/test.sh runs it after
// the other tests with TRUYVET_IT_OUTAGES=1.
func TestOutageKafkaBrokerRestart(t *testing.T) { testKafkaOutage(t, false) }

// TestOutageKafkaBrokerKill is the same with the broker killed (SIGKILL)
// with requests in flight, as in a crash: it writes no clean shutdown.
func TestOutageKafkaBrokerKill(t *testing.T) { testKafkaOutage(t, true) }

// localService runs deploy/local/up.sh or down.sh (with args) on the
// instance the TRUYVET_IT_* variables point at.
func localService(t *testing.T, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("deploy/local/"+script, args...)
	cmd.Dir, cmd.Stderr, cmd.Env = repoRoot(t), os.Stderr, itenv.LocalServiceEnv(t)
	require.NoError(t, cmd.Run(), "%s %v", script, args)
}

func testKafkaOutage(t *testing.T, kill bool) {
	if os.Getenv("TRUYVET_IT_OUTAGES") != "1" {
		t.Skip("restarts the shared local broker; set TRUYVET_IT_OUTAGES=1 (scripts/test.sh does, after the other tests)")
	}
	brokers := kafkatest.Real(t)
	bin := buildBinary(t)
	prefix := kafkatest.Prefix(t)
	kafka := []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", prefix, "--kafka-partitions", "4"}
	pg := pgArgs(t)
	tok := account(t, bin, pg...)
	kafka = append(kafka, pg...)
	ing := start(t, bin, append([]string{"ingest", "--listen", "127.0.0.1:0", "--ingest-timeout", "3s"}, kafka...)...)
	pr := start(t, bin, append([]string{"process", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--flush-interval", "100ms",
		"--batch-records", "200", "--kafka-group", prefix + "processor"}, kafka...)...)
	ing.token, pr.token = tok, tok

	base := time.Now().Unix() - 40*3600
	rng := rand.New(rand.NewPCG(31, 32))
	all := storetest.RandomRecords(rng, 80, 6, 400, base)
	const parts = 20
	var unavailable atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range parts {
			nv, ne := len(all.Visits), len(all.Encounters)
			v, e := ndjson(event.Batch{Visits: all.Visits[i*nv/parts : (i+1)*nv/parts], Encounters: all.Encounters[i*ne/parts : (i+1)*ne/parts]})
			for _, req := range []struct {
				path string
				body []byte
			}{{"/v1/checkins", v}, {"/v1/proximity", e}} {
				for deadline := time.Now().Add(2 * time.Minute); ; {
					resp, err := postRaw(ing.token, ing.url(req.path), req.body)
					if err == nil {
						_ = resp.Body.Close()
						if resp.StatusCode == http.StatusAccepted {
							break
						}
						if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
							t.Errorf("%s: %s", req.path, resp.Status)
							return
						}
						unavailable.Add(1)
					}
					if time.Now().After(deadline) {
						t.Errorf("%s: not accepted within 2 minutes", req.path)
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			time.Sleep(150 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)
	if kill {
		localService(t, "down.sh", "kafka", "--kill")
	} else {
		localService(t, "down.sh", "kafka")
	}
	time.Sleep(3 * time.Second)
	localService(t, "up.sh", "kafka")
	<-done
	t.Logf("answers of 503 while the broker was down: %d", unavailable.Load())
	require.Positive(t, unavailable.Load(), "the restart should have been seen")

	queries := make([]graph.Query, 0, 10)
	for i := range 10 {
		queries = append(queries, graph.Query{Case: uint32(rng.IntN(80) + 1), Depth: 1 + i%2, MinSeconds: 900,
			Window: graph.Window{From: base - 12*3600, To: base + 40*3600}})
	}
	waitForAnswers(t, pr, all, queries, 2*time.Minute, 500*time.Millisecond, "processor logs: %s", pr.logs.String())
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Dir(wd)
}
