package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testEnv(args ...string) (Env, *bytes.Buffer) {
	var errb bytes.Buffer
	return Env{Args: args, Stdout: &bytes.Buffer{}, Stderr: &errb,
		LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now}, &errb
}

// TestBadLimitNamesTheFlag: a bad ingest limit is reported by its flag.
func TestBadLimitNamesTheFlag(t *testing.T) {
	for _, args := range [][]string{
		{"all-in-one", "--retention=0d", "--data-dir", t.TempDir()},
		{"ingest", "--retention=0d", "--kafka-brokers", "127.0.0.1:1"},
	} {
		env, errb := testEnv(args...)
		require.Equal(t, 2, Main(t.Context(), env), errb.String())
		require.Contains(t, errb.String(), "--retention must be positive", args)
	}
	env, errb := testEnv("all-in-one", "--max-records=0", "--data-dir", t.TempDir())
	require.Equal(t, 2, Main(t.Context(), env))
	require.Contains(t, errb.String(), "--max-records must be positive")
}

// TestFailedStartLeavesNoDataDir: when the port is taken, all-in-one fails
// and removes the data directory it created; one that existed stays.
func TestFailedStartLeavesNoDataDir(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	dir := filepath.Join(t.TempDir(), "data")
	env, errb := testEnv("all-in-one", "--listen", ln.Addr().String(), "--data-dir", dir)
	require.Equal(t, 1, Main(ctx, env))
	require.Contains(t, errb.String(), "address already in use")
	require.NoDirExists(t, dir)

	existing := t.TempDir()
	env, _ = testEnv("all-in-one", "--listen", ln.Addr().String(), "--data-dir", existing)
	require.Equal(t, 1, Main(ctx, env))
	require.DirExists(t, existing)
	entries, err := os.ReadDir(existing)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "a directory the user made keeps the store it now holds")
}

// TestAllInOneRoutesAndStatus: the served mux answers wrong methods and
// unclean paths under /v1/ as JSON, and /v1/status says since when it counts.
func TestAllInOneRoutesAndStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := time.Now().Truncate(time.Second)
	base, token, stop := startNode(ctx, t, t.TempDir())
	defer func() { cancel(); stop() }()

	call := func(method, path string) (code int, hdr http.Header, body map[string]any) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), path)
		return resp.StatusCode, resp.Header, body
	}
	code, hdr, body := call(http.MethodGet, "/v1/checkins")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Equal(t, "POST", hdr.Get("Allow"))
	require.Contains(t, body["error"], "not allowed")
	code, hdr, _ = call(http.MethodPost, "/v1/status")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Equal(t, "GET, HEAD", hdr.Get("Allow"))
	code, _, body = call(http.MethodGet, "/v1/cases//exposures")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body["error"], "empty")

	code, _, body = call(http.MethodGet, "/v1/status")
	require.Equal(t, http.StatusOK, code)
	since, err := time.Parse(time.RFC3339, body["counts_since"].(string))
	require.NoError(t, err)
	require.False(t, since.Before(started.Add(-time.Second)), since)
	require.Contains(t, body, "unavailable")
}
