package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/query/audit"
)

// startNode runs an all-in-one node on a free port over dir until ctx ends,
// with a national account holding every role but admin (token); stop waits
// for it to shut down cleanly.
func startNode(ctx context.Context, tb testing.TB, dir string, args ...string) (url, token string, stop func()) {
	tb.Helper()
	_, url, token, stop = runNode(ctx, tb, dir, args...)
	return url, token, stop
}

// runNode is startNode, also returning the node.
func runNode(ctx context.Context, tb testing.TB, dir string, args ...string) (n *node, url, token string, stop func()) {
	tb.Helper()
	env := Env{Args: append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir}, args...), Stdout: io.Discard, Stderr: io.Discard,
		LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now}
	srv := newServeCmd(env, "all-in-one", "", "")
	var cfg allInOneConfig
	cfg.register(srv.fs)
	d, err := srv.setup(env, cfg.validate)
	require.NoError(tb, err)
	n, err = newNode(ctx, cfg, d, time.Now)
	require.NoError(tb, err)
	acct, err := n.access.accounts().Create(ctx, access.Spec{Name: "tests", Roles: []access.Role{access.RoleApp, access.RoleEpidemiologist, access.RoleAuditor, access.RoleViewer},
		Provinces: []string{access.National}}, audit.Actor{ID: "test", Roles: []string{}}, "")
	require.NoError(tb, err)
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- n.run(ctx, srv, func(a string) { addrc <- a }) }()
	return n, "http://" + <-addrc, acct.Token, func() { require.NoError(tb, <-done) }
}

// TestBenchCommands runs bench generate, replay and query on a small city
// against an all-in-one node, and checks what they write.
func TestBenchCommands(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	url, token, stop := startNode(ctx, t, t.TempDir())
	defer func() { cancel(); stop() }()

	// The deployment's variables are exported, as the README tells users to
	// do for the serving commands, and point nowhere: bench commands must not
	// take them (replay would go to Kafka, peers to ClickHouse and PostgreSQL).
	deployment := envOf(map[string]string{"TRUYVET_KAFKA_BROKERS": "127.0.0.1:1", "TRUYVET_CLICKHOUSE_ADDR": "127.0.0.1:1",
		"TRUYVET_POSTGRES_URL": "postgres://nobody@127.0.0.1:1/none",
		"TRUYVET_TOKEN":        token}) // the token does reach them: it says who they are, not where they go
	run := func(args ...string) string {
		var out bytes.Buffer
		env := Env{Args: args, Stdout: &out, Stderr: io.Discard, LookupEnv: deployment, Now: time.Now}
		require.NoError(t, runBench(ctx, env), args)
		return out.String()
	}
	city := []string{"--tier", "demo", "--people", "300", "--venues", "20", "--days", "1"}
	dir := t.TempDir()

	run(append([]string{"generate", "--out", filepath.Join(dir, "ds")}, city...)...)
	var ds map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "ds", "dataset.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ds))
	require.Positive(t, ds["checkin_records"])
	require.FileExists(t, filepath.Join(dir, "ds", "checkins.ndjson.gz"))

	run(append([]string{"replay", "--url", url, "--out", filepath.Join(dir, "replay")}, city...)...)
	var rep struct {
		Dataset map[string]any
		Figures []struct {
			Name  string
			Value float64
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "replay", "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Equal(t, "http-ingest", rep.Dataset["path"], "the report says which way the records went")
	figs := map[string]float64{}
	for _, f := range rep.Figures {
		figs[f.Name] = f.Value
	}
	require.InDelta(t, ds["checkin_records"].(float64)+ds["encounter_records"].(float64), figs["records accepted"], 0)
	require.Zero(t, figs["records rejected"])
	require.Positive(t, figs["sustained throughput"])
	require.FileExists(t, filepath.Join(dir, "replay", "report.md"))
	require.FileExists(t, filepath.Join(dir, "replay", "request-latency.hgrm"))

	// Paced: latency is also measured from the schedule, into HDR histograms.
	run(append([]string{"replay", "--url", url, "--rate", "20000", "--out", filepath.Join(dir, "paced")}, city...)...)
	var paced struct {
		Distributions map[string]struct {
			N   int
			P99 float64
			HDR string
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "paced", "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &paced))
	for _, name := range []string{"request latency", "latency from schedule"} {
		d := paced.Distributions[name]
		require.Positive(t, d.N, name)
		require.Positive(t, d.P99, name)
		require.NotEmpty(t, d.HDR, name)
	}
	require.GreaterOrEqual(t, paced.Distributions["latency from schedule"].P99, paced.Distributions["request latency"].P99*0.99)

	out := run(append([]string{"query", "--url", url, "--cases", "10", "--out", filepath.Join(dir, "query")}, city...)...)
	require.Contains(t, out, "F2 p50")
	var q struct {
		Systems []struct {
			Name   string
			F1     map[string]float64 `json:"f1_ms"`
			Agrees *bool              `json:"agrees_with_reference"`
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "query", "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &q))
	require.Len(t, q.Systems, 1)
	require.Positive(t, q.Systems[0].F1["p50"])
	require.Nil(t, q.Systems[0].Agrees, "bench query does not check answers, so it claims no agreement")

	// Peers: truyvet and the peers available here agree on every case.
	args := append([]string{"peers", "--cases", "10", "--out", filepath.Join(dir, "peers")}, city...)
	if u := os.Getenv("TRUYVET_IT_POSTGRES_URL"); u != "" {
		args = append(args, "--postgres-url", u)
	}
	if a := os.Getenv("TRUYVET_IT_CLICKHOUSE_ADDR"); a != "" {
		args = append(args, "--clickhouse-addr", a)
	}
	run(args...)
	var pr struct {
		Systems []struct {
			Name   string
			Agrees bool `json:"agrees_with_reference"`
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "peers", "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pr))
	require.GreaterOrEqual(t, len(pr.Systems), 3)
	require.Equal(t, "truyvet", pr.Systems[0].Name)
	require.Equal(t, "truyvet (full graph)", pr.Systems[1].Name)
	for _, s := range pr.Systems {
		require.True(t, s.Agrees, s.Name)
	}

	// Scale: three sizes, a fitted model with predictions for tiers M and L.
	run(append([]string{"scale", "--sizes", "0.5,1,1.5", "--cases", "5", "--out", filepath.Join(dir, "scale")}, city...)...)
	var sc struct {
		Tables []struct {
			Title  string
			Header []string
			Rows   [][]string
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "scale", "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sc))
	require.Len(t, sc.Tables, 2)
	require.Len(t, sc.Tables[0].Rows, 3)
	require.Equal(t, []string{"150", "20"}, sc.Tables[0].Rows[0][:2], "venues never fewer than synth.MinVenues")
	require.Equal(t, "ingest cost per record (µs)", sc.Tables[1].Rows[0][0])
	require.Len(t, sc.Tables[1].Rows[0], 5, "exponent, residual and two predictions")
	var bad bytes.Buffer
	err = runBench(ctx, Env{Args: []string{"scale", "--sizes", "1"}, Stdout: &bad, Stderr: &bad, LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now})
	require.ErrorIs(t, err, errUsage)

	var usage bytes.Buffer
	err = runBench(ctx, Env{Args: []string{"nope"}, Stdout: &usage, Stderr: &usage, LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now})
	require.ErrorIs(t, err, errUsage)
}

// bench load writes the embedded store under --data-dir (the deployment's
// ClickHouse variable, exported, is not taken) and reports what it loaded.
func TestBenchLoad(t *testing.T) {
	deployment := envOf(map[string]string{"TRUYVET_CLICKHOUSE_ADDR": "127.0.0.1:1"})
	dir := t.TempDir()
	city := []string{"--tier", "demo", "--people", "300", "--venues", "20", "--days", "1", "--data-dir", filepath.Join(dir, "data")}
	var out bytes.Buffer
	env := Env{Args: append([]string{"load", "--cases", "3", "--out", filepath.Join(dir, "load")}, city...), Stdout: &out, Stderr: io.Discard, LookupEnv: deployment, Now: time.Now}
	require.NoError(t, runBench(t.Context(), env))
	require.Contains(t, out.String(), "records loaded")
	require.Contains(t, out.String(), "F2 p99")
	require.FileExists(t, filepath.Join(dir, "load", "report.md"))

	for _, bad := range [][]string{{"--depths", "1,x"}, {"--depths", "3"}, {"--writers", "65"}} {
		env.Args = append(append([]string{"load"}, city...), bad...)
		require.ErrorIs(t, runBench(t.Context(), env), errUsage, bad)
	}
}
