package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// Serve answers the ops routes from the mode's parts, reports failures as
// such, and shuts both listeners down when the context ends.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var failStatus, failReady atomic.Bool
	started := time.Unix(1_790_000_000, 0)
	var uptime atomic.Int64
	addrc, done := make(chan string, 1), make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mine", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "mine") })
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "truyvet_test_things_total", Help: "things"}))
	cfg := Config{
		Mode: "query", Listen: "127.0.0.1:0", DebugListen: "127.0.0.1:0",
		Status: func(context.Context) (Status, error) {
			if failStatus.Load() {
				return Status{}, errors.New("store down")
			}
			return Status{Processed: Count(0), Lag: &LagStatus{Records: 3}}, nil
		},
		Ready: func(context.Context) error {
			if failReady.Load() {
				return errors.New("kafka down")
			}
			return nil
		},
		OnListen: func(a string) { addrc <- a },
		Now:      func() time.Time { return started.Add(time.Duration(uptime.Load())) },
	}
	go func() { done <- Serve(ctx, cfg, mux, reg, slog.New(slog.DiscardHandler)) }()
	base := "http://" + <-addrc
	uptime.Store(int64(90 * time.Second))

	code, body := get(t, base+"/mine")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "mine", body)
	code, body = get(t, base+"/v1/status")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"mode":"query","processed":0,"lag":{"records":3},"uptime_seconds":90}`, body)
	code, body = get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "truyvet_test_things_total 0")
	code, _ = get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, base+"/readyz")
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, base+"/debug/pprof/")
	require.Equal(t, http.StatusNotFound, code, "profiles are not on the public listener")

	failStatus.Store(true)
	failReady.Store(true)
	code, body = get(t, base+"/v1/status")
	require.Equal(t, http.StatusInternalServerError, code)
	require.JSONEq(t, `{"error":"store down"}`, body)
	code, body = get(t, base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "kafka down")

	cancel()
	require.NoError(t, <-done)
}

// A listener that cannot be bound fails Serve before it serves anything.
func TestServeBadListen(t *testing.T) {
	for _, cfg := range []Config{{Listen: "256.0.0.1:1"}, {Listen: "127.0.0.1:0", DebugListen: "256.0.0.1:1"}} {
		err := Serve(t.Context(), cfg, http.NewServeMux(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		require.ErrorContains(t, err, "listen on 256.0.0.1:1")
	}
}
