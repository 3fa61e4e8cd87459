package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// --dry-run prints the effective configuration, never a secret, whether it
// came from a flag or from the environment.
func TestDryRunRedactsSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"query flag", []string{"query", "--clickhouse-addr", "127.0.0.1:1", "--clickhouse-password", "hunter2",
			"--postgres-url", "postgres://truyvet:hunter2@127.0.0.1:1/truyvet", "--dry-run"}, nil},
		{"process env", []string{"process", "--kafka-brokers", "127.0.0.1:1", "--clickhouse-addr", "127.0.0.1:1", "--dry-run"},
			map[string]string{"TRUYVET_CLICKHOUSE_PASSWORD": "hunter2", "TRUYVET_POSTGRES_URL": "postgres://truyvet:hunter2@127.0.0.1:1/truyvet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := Main(t.Context(), Env{Args: tc.args, Stdout: &out, Stderr: &errs, LookupEnv: envOf(tc.env), Now: time.Now})
			require.Equal(t, 0, code, errs.String())
			require.Contains(t, out.String(), "configuration is valid")
			require.Contains(t, out.String(), "--clickhouse-password=<redacted>\n")
			require.Contains(t, out.String(), "--postgres-url=<redacted>\n")
			require.NotContains(t, out.String()+errs.String(), "hunter2")
		})
	}
	var out bytes.Buffer
	require.Equal(t, 0, Main(t.Context(), Env{Args: []string{"query", "--clickhouse-addr", "x:1", "--postgres-url", "postgres://x:1/db", "--dry-run"}, Stdout: &out, Stderr: io.Discard,
		LookupEnv: envOf(nil), Now: time.Now}))
	require.Contains(t, out.String(), "--clickhouse-password=\n", "an unset secret shows as empty")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func getStatus(t *testing.T, url string) int { return getStatusAs(t, url, "") }

// getStatusAs is getStatus with a bearer token.
func getStatusAs(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// Go's profiles are served only on the opt-in --debug-listen listener, never
// beside the public routes (ingest is public).
func TestPprofOnlyOnDebugListener(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	url, _, stop := startNode(ctx, t, t.TempDir())
	require.Equal(t, http.StatusNotFound, getStatus(t, url+"/debug/pprof/"))
	require.Equal(t, http.StatusNotFound, getStatus(t, url+"/debug/pprof/cmdline"))
	cancel()
	stop()

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	debug := freeAddr(t)
	url, _, stop = startNode(ctx, t, t.TempDir(), "--debug-listen", debug)
	defer func() { cancel(); stop() }()
	require.Equal(t, http.StatusNotFound, getStatus(t, url+"/debug/pprof/"))
	// The debug listener is not the API: its answers are not the OpenAPI document's.
	debugStatus := func(path string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+debug+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, debugStatus("/debug/pprof/"))
	require.Equal(t, http.StatusOK, debugStatus("/debug/pprof/cmdline"))
	require.Equal(t, http.StatusNotFound, debugStatus("/v1/status"), "the debug listener serves profiles only")
	require.Equal(t, http.StatusOK, getStatus(t, url+"/readyz"))
}

// All-in-one's status has every part DESIGN lists: counts, lag, the store.
func TestAllInOneStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	url, token, stop := startNode(ctx, t, t.TempDir())
	defer func() { cancel(); stop() }()
	require.Equal(t, http.StatusUnauthorized, getStatus(t, url+"/v1/status"), "the status needs a token")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/status", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var st map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	for _, k := range []string{"mode", "received", "accepted", "rejected", "processed", "dead_lettered", "lag", "stored", "layout", "uptime_seconds"} {
		require.Contains(t, st, k)
	}
	require.Equal(t, "all-in-one", st["mode"])
	require.Equal(t, map[string]any{"records": 0.0}, st["lag"])
	require.Equal(t, map[string]any{"visits": 0.0, "encounters": 0.0, "days": []any{}}, st["stored"])
	require.Equal(t, map[string]any{"bucket_seconds": 900.0, "dwell_seconds": 3600.0}, st["layout"])
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The demo loads its city, prints queries that work, and stops cleanly.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, Env{Args: []string{"demo", "--listen", "127.0.0.1:0", "--people", "400", "--venues", "20", "--days", "1"},
			Stdout: &out, Stderr: io.Discard, LookupEnv: envOf(nil), Now: time.Now})
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Ctrl-C stops the demo") }, time.Minute, 20*time.Millisecond)
	m := regexp.MustCompile(`curl -s -H "Authorization: Bearer \$TOKEN" '(http://[^']+/exposures\?[^']+)'`).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	tok := regexp.MustCompile(`TOKEN=(tvk_\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, tok, out.String())
	require.Equal(t, http.StatusUnauthorized, getStatus(t, m[1]), "no token, no contacts")
	require.Equal(t, http.StatusOK, getStatusAs(t, m[1], tok[1]))
	base := strings.SplitN(m[1], "/v1/", 2)[0]
	require.Equal(t, http.StatusOK, getStatusAs(t, base+"/v1/status", tok[1]))
	cancel()
	require.Equal(t, 0, <-code)

	var errs bytes.Buffer
	require.Equal(t, 2, Main(t.Context(), Env{Args: []string{"demo", "--data-dir", t.TempDir() + "/../"}, Stdout: io.Discard, Stderr: &errs,
		LookupEnv: envOf(nil), Now: time.Now}), "a data directory holding files is refused")
	require.Contains(t, errs.String(), "already holds files")
}
