package faults_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/faults"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

// TestFaultInjection runs the fault-injection scenarios on the instance the
// TRUYVET_IT_* variables point at, which it kills and restarts: only with
// TRUYVET_IT_FAULTS=1, and never on the shared services. TRUYVET_FAULTS_OUT
// (default a temporary directory) receives report.json, report.md and the
// processes' logs; TRUYVET_FAULTS_STAYS sizes the population (default 20000
// stays, about 60 000 records), TRUYVET_FAULTS_SCENARIOS picks scenarios
// (comma-separated; the first is the reference and should be baseline).
func TestFaultInjection(t *testing.T) {
	if os.Getenv("TRUYVET_IT_FAULTS") != "1" {
		t.Skip("kills and restarts the local Kafka and ClickHouse; set TRUYVET_IT_FAULTS=1 with TRUYVET_IT_* pointing at an instance of your own")
	}
	brokers, ch := kafkatest.Real(t), chtest.Addr(t)
	env := itenv.LocalServiceEnv(t)
	wd, err := os.Getwd()
	require.NoError(t, err)
	root := filepath.Dir(filepath.Dir(wd))
	out := os.Getenv("TRUYVET_FAULTS_OUT")
	if out == "" {
		out = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(out, 0o755))
	bin := filepath.Join(out, "truyvet")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Stderr = root, os.Stderr
	require.NoError(t, build.Run())
	stays := 20_000
	if s := os.Getenv("TRUYVET_FAULTS_STAYS"); s != "" {
		stays, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	var scenarios []string
	if s := os.Getenv("TRUYVET_FAULTS_SCENARIOS"); s != "" {
		scenarios = strings.Split(s, ",")
	}
	cfg := faults.Config{Binary: bin, RepoRoot: root, ScriptEnv: env, Brokers: brokers, ClickHouse: ch,
		Stays: stays, People: max(20, stays/4), Venues: max(10, stays/50), Cases: 20, Outage: 10 * time.Second,
		Scenarios: scenarios, Out: out, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	rs, err := faults.Run(t.Context(), cfg)
	md := faults.Markdown(rs)
	t.Log("\n" + md)
	js, jerr := json.MarshalIndent(rs, "", "  ")
	require.NoError(t, jerr)
	require.NoError(t, os.WriteFile(filepath.Join(out, "report.json"), js, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "report.md"), []byte(md), 0o644))
	require.NoError(t, err)
	for _, r := range rs {
		require.Zero(t, r.Missing, "%s: accepted records neither stored nor dead-lettered", r.Scenario)
		require.True(t, r.AnswersEqual, "%s: answers differ from the baseline", r.Scenario)
		require.Equal(t, r.AcceptedDistinct, r.StoredDistinct+r.DeadLettered, r.Scenario)
	}
}
