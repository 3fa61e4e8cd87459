package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/bench/replay"
	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/graph/reference"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pgstore"
	"github.com/truyvet/truyvet/store/storetest"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/venuetest"
)

// buildBinary builds truyvet once per test binary run.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "truyvet")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/truyvet/truyvet")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run(), "go build")
	return bin
}

type proc struct {
	cmd   *exec.Cmd
	addr  string
	logs  *logBuffer
	token string // bearer token the test calls it with
}

// logBuffer collects a process's log lines; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenRE = regexp.MustCompile(`addr=(\S+)`)

// start runs the binary and waits until it logs its listen address.
// start runs the binary and returns once it answers /readyz with 200
// (the distributed commands serve before their dependencies are there).
func start(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	p := startServing(t, bin, args...)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, _, err := fetch("", p.url("/readyz"), "")
		if err == nil && code == http.StatusOK {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("truyvet %s not ready within 2 minutes: %s", args[0], p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startServing runs the binary and returns once it listens, ready or not.
func startServing(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	p, wait := launch(t, bin, args...)
	wait()
	return p
}

// launch runs the binary; wait blocks until it logs its listen address.
func launch(t testing.TB, bin string, args ...string) (p *proc, wait func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p = &proc{cmd: cmd, logs: &logBuffer{}}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.WriteString(line + "\n")
			if m := listenRE.FindStringSubmatch(line); m != nil && strings.Contains(line, "serving") {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	return p, func() {
		t.Helper()
		select {
		case p.addr = <-addr:
		case <-time.After(60 * time.Second):
			t.Fatalf("truyvet did not start: %s", p.logs.String())
		}
	}
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

var debugRE = regexp.MustCompile(`debug_addr=(\S+)`)

// debugURL is path on the process's --debug-listen listener.
func (p *proc) debugURL(t testing.TB, path string) string {
	t.Helper()
	m := debugRE.FindStringSubmatch(p.logs.String())
	require.NotNil(t, m, "no debug listener: %s", p.logs.String())
	return "http://" + m[1] + path
}

// postRaw posts an NDJSON body with the token.
func postRaw(token, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return client.Do(req)
}

func post(t testing.TB, token, url string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := postRaw(token, url, body)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func get(t testing.TB, token, url string, accept string) (int, []byte) {
	t.Helper()
	code, b, err := fetch(token, url, accept)
	require.NoError(t, err)
	return code, b
}

// fetch is get for conditions polled off the test goroutine: it fails
// nothing and returns the error.
func fetch(token, url string, accept string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// account creates, with `truyvet accounts create` on the store named by
// where, a national account with every role but admin, and returns its token.
func account(t testing.TB, bin string, where ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"accounts", "create", "--name", "e2e tests",
		"--roles", "app,epidemiologist,auditor,viewer", "--provinces", "*"}, where...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var c struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(out, &c))
	require.NotEmpty(t, c.Token)
	return c.Token
}

// pgArgs returns the flags naming a fresh PostgreSQL schema on the real
// server, dropped after the test.
func pgArgs(t testing.TB) []string {
	t.Helper()
	url := itenv.Require(t, "TRUYVET_IT_POSTGRES_URL", "PostgreSQL")
	schema := fmt.Sprintf("e2e_%d_%d", time.Now().UnixNano(), rand.Uint32())
	t.Cleanup(func() {
		s, err := pgstore.Open(context.Background(), pgstore.Options{URL: url, Schema: schema})
		if err == nil {
			_ = s.DropSchema(context.Background())
			_ = s.Close()
		}
	})
	return []string{"--postgres-url", url, "--postgres-schema", schema}
}

func ndjson(recs event.Batch) (visits, encounters []byte) {
	for i := range recs.Visits {
		visits = append(event.AppendVisitJSON(visits, &recs.Visits[i]), '\n')
	}
	for i := range recs.Encounters {
		encounters = append(event.AppendEncounterJSON(encounters, &recs.Encounters[i]), '\n')
	}
	return visits, encounters
}

// graphOf fetches an exposure graph and drops the stats, which vary run to run.
func graphOf(t *testing.T, p *proc, q graph.Query) api.GraphJSON {
	t.Helper()
	g, err := fetchGraph(p, q)
	require.NoError(t, err)
	return g
}

// fetchGraph is graphOf returning its error.
func fetchGraph(p *proc, q graph.Query) (api.GraphJSON, error) {
	url := p.url(fmt.Sprintf("/v1/cases/%d/exposures?purpose=e2e+check&from=%s&to=%s&depth=%d&min_minutes=%g", q.Case,
		time.Unix(q.Window.From, 0).UTC().Format(time.RFC3339), time.Unix(q.Window.To, 0).UTC().Format(time.RFC3339),
		q.Depth, float64(q.MinSeconds)/60))
	var g api.GraphJSON
	code, body, err := fetch(p.token, url, "")
	if err != nil {
		return g, err
	}
	if code != http.StatusOK {
		return g, fmt.Errorf("%s: %d %s", url, code, body)
	}
	if err := json.Unmarshal(body, &g); err != nil {
		return g, fmt.Errorf("%s: %w", url, err)
	}
	g.Stats = api.StatsJSON{}
	return g, nil
}

// waitForAnswers polls p until it answers every query as the reference
// does over recs (the polled condition runs off the test goroutine, so it
// asserts nothing), then checks each answer once more.
func waitForAnswers(t *testing.T, p *proc, recs event.Batch, queries []graph.Query, within, every time.Duration, msgAndArgs ...any) {
	t.Helper()
	want := make([]api.GraphJSON, len(queries))
	for i, q := range queries {
		want[i] = wantGraph(t, recs, q)
	}
	require.Eventually(t, func() bool {
		for i, q := range queries {
			if g, err := fetchGraph(p, q); err != nil || !equalGraphs(want[i], g) {
				return false
			}
		}
		return true
	}, within, every, msgAndArgs...)
	for i, q := range queries {
		require.Equal(t, want[i], graphOf(t, p, q), "case %d depth %d", q.Case, q.Depth)
	}
}

// wantGraph renders the reference answer the way the API does, naming the
// exposure sites that are among registered.
func wantGraph(t *testing.T, recs event.Batch, q graph.Query, registered ...venue.Spec) api.GraphJSON {
	t.Helper()
	res := reference.Exposures(recs.Visits, recs.Encounters, 3600, q)
	b, err := json.Marshal(api.NewGraphJSON(res, float64(q.MinSeconds)/60, "default@1", 0))
	require.NoError(t, err)
	var g api.GraphJSON
	require.NoError(t, json.Unmarshal(b, &g))
	g.Stats = api.StatsJSON{}
	for i := range g.Venues {
		for _, v := range registered {
			if v.ID == g.Venues[i].VenueID {
				g.Venues[i].Name, g.Venues[i].Kind, g.Venues[i].Province = v.Name, string(v.Kind), v.Province
			}
		}
	}
	return g
}

func TestAllInOneEndToEndSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	tok := account(t, bin, "--data-dir", dir)
	p := start(t, bin, "all-in-one", "--listen", "127.0.0.1:0", "--data-dir", dir)
	p.token = tok

	code, body := get(t, p.token, p.url("/readyz"), "")
	require.Equal(t, http.StatusOK, code, string(body))
	venues := venuetest.Specs(6)
	require.NoError(t, replay.RegisterVenues(t.Context(), &http.Client{Transport: access.Bearer{Token: p.token, Base: client.Transport}}, p.url(""), venues))

	now := time.Now().Unix()
	base := now - 40*3600
	rng := rand.New(rand.NewPCG(11, 12))
	all := storetest.RandomRecords(rng, 80, 6, 320, base)
	half := event.Batch{Visits: all.Visits[:len(all.Visits)/2], Encounters: all.Encounters[:len(all.Encounters)/2]}
	rest := event.Batch{Visits: all.Visits[len(all.Visits)/2:], Encounters: all.Encounters[len(all.Encounters)/2:]}

	// The first half as NDJSON with one bad line each; every good one is taken.
	v, e := ndjson(half)
	v = append(v, []byte(`{"visit_id":"bad","user_id":0,"venue_id":1,"enter":"2021-01-01T00:00:00Z"}`+"\n")...)
	enter := time.Unix(base, 0).UTC().Format(time.RFC3339)
	v = append(v, []byte(`{"visit_id":"nowhere","user_id":3,"venue_id":999,"enter":"`+enter+`"}`+"\n")...)
	v = append(v, []byte(`{"visit_id":"forged","user_id":3,"venue_code":"TV1.1.AAAAAAAAAAAAAAAA","enter":"`+enter+`"}`+"\n")...)
	code, out := post(t, p.token, p.url("/v1/checkins"), v)
	require.Equal(t, http.StatusAccepted, code)
	require.EqualValues(t, len(half.Visits), out["accepted"])
	require.Len(t, out["rejected"], 3)
	rej := out["rejected"].([]any)
	require.Equal(t, "unknown_venue", rej[1].(map[string]any)["reason"], "unregistered venues are refused by default")
	require.Equal(t, "invalid_signature", rej[2].(map[string]any)["reason"])
	code, out = post(t, p.token, p.url("/v1/proximity"), e)
	require.Equal(t, http.StatusAccepted, code)
	require.EqualValues(t, len(half.Encounters), out["accepted"])

	queries := make([]graph.Query, 0, 12)
	for i := range 12 {
		queries = append(queries, graph.Query{
			Case: uint32(rng.IntN(80) + 1), Depth: 1 + i%2, MinSeconds: 900,
			Window: graph.Window{From: base - 12*3600, To: base + 40*3600},
		})
	}
	named := 0
	for _, q := range queries {
		got := graphOf(t, p, q)
		require.Equal(t, wantGraph(t, half, q, venues...), got, "case %d depth %d", q.Case, q.Depth)
		for _, s := range got.Venues {
			if s.Name != "" {
				named++
			}
		}
	}
	require.Positive(t, named, "exposure sites are named from the registry")

	// The rest as JSON arrays; kill -9 as soon as the last 202 arrives.
	arr := func(lines []byte) []byte {
		return append(append([]byte("["), bytes.ReplaceAll(bytes.TrimSpace(lines), []byte("\n"), []byte(","))...), ']')
	}
	v, e = ndjson(rest)
	code, out = post(t, p.token, p.url("/v1/proximity"), arr(e))
	require.Equal(t, http.StatusAccepted, code)
	require.EqualValues(t, len(rest.Encounters), out["accepted"])
	code, out = post(t, p.token, p.url("/v1/checkins"), arr(v))
	require.Equal(t, http.StatusAccepted, code)
	require.EqualValues(t, len(rest.Visits), out["accepted"])
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()

	// Restarted, the node is ready and holds every acknowledged record before
	// any answer is compared: a shortfall here is a lost write, a wrong
	// answer over a full store a read-path fault.
	p = start(t, bin, "all-in-one", "--listen", "127.0.0.1:0", "--data-dir", dir)
	p.token = tok
	code, body = get(t, p.token, p.url("/readyz"), "")
	require.Equal(t, http.StatusOK, code, "after restart: %s", body)
	code, body = get(t, p.token, p.url("/v1/status"), "")
	require.Equal(t, http.StatusOK, code)
	var st map[string]any
	require.NoError(t, json.Unmarshal(body, &st))
	stored := st["stored"].(map[string]any)
	require.EqualValues(t, len(all.Visits), stored["visits"], "after restart: visits stored, of %d acknowledged", len(all.Visits))
	require.EqualValues(t, len(all.Encounters), stored["encounters"], "after restart: encounters stored, of %d acknowledged", len(all.Encounters))
	var wrong []string
	for _, q := range queries {
		if want, got := wantGraph(t, all, q, venues...), graphOf(t, p, q); !equalGraphs(want, got) {
			wrong = append(wrong, fmt.Sprintf("case %d depth %d: %d nodes, want %d", q.Case, q.Depth, len(got.Nodes), len(want.Nodes)))
		}
	}
	for _, q := range queries {
		require.Equal(t, wantGraph(t, all, q, venues...), graphOf(t, p, q), "after restart: case %d depth %d (all that differ: %v)", q.Case, q.Depth, wrong)
	}

	// CSV for field teams: a header and one row per contact.
	q := queries[1]
	code, body = get(t, p.token, p.url(fmt.Sprintf("/v1/cases/%d/exposures?purpose=e2e+check&depth=2&from=%s&to=%s", q.Case,
		time.Unix(q.Window.From, 0).UTC().Format(time.RFC3339), time.Unix(q.Window.To, 0).UTC().Format(time.RFC3339))), "text/csv")
	require.Equal(t, http.StatusOK, code)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	require.Equal(t, strings.Join(api.CSVHeader, ","), lines[0])
	require.Len(t, lines, len(wantGraph(t, all, q).Nodes), "header + every node but the case")

	// Metrics follow Prometheus conventions and count what happened.
	code, body = get(t, p.token, p.url("/metrics"), "")
	require.Equal(t, http.StatusOK, code)
	for _, name := range []string{
		"truyvet_ingest_events_accepted_total", "truyvet_processor_records_total",
		"truyvet_query_duration_seconds_bucket", "truyvet_store_disk_bytes",
	} {
		require.Contains(t, string(body), name)
	}

	// A clean stop on SIGTERM.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.cmd.Wait())
}
