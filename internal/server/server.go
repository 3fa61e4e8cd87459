// Package server runs a truyvet process's HTTP: the public listener, with
// the ops routes every mode has (/metrics, /healthz, /readyz, /v1/status,
// /v1/openapi.json) beside the mode's own, and an opt-in private debug
// listener with Go's profiles; both shut down gracefully when the context
// ends.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/route"
	"github.com/truyvet/truyvet/openapi"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
)

// Status is the body of GET /v1/status in every mode. A mode leaves out what
// it does not know (ingest has no processed count, query no ingest counts).
type Status struct {
	Mode          string        `json:"mode"`
	Received      *int64        `json:"received,omitempty"`      // records in ingest requests
	Accepted      *int64        `json:"accepted,omitempty"`      // records ingest took
	Rejected      *int64        `json:"rejected,omitempty"`      // records ingest refused, each with a reason
	Unavailable   *int64        `json:"unavailable,omitempty"`   // valid records answered 503: not acknowledged, to be resent (ingest.Counts)
	CountsSince   *string       `json:"counts_since,omitempty"`  // when ingest's counters started (they start from 0 at each start)
	Processed     *int64        `json:"processed,omitempty"`     // records the processor stored
	DeadLettered  *int64        `json:"dead_lettered,omitempty"` // records the processor sent to the dead-letter topic
	Lag           *LagStatus    `json:"lag,omitempty"`
	Stored        *StoredStatus `json:"stored,omitempty"`
	Store         *StoreReach   `json:"store,omitempty"` // whether the store answered this status
	Layout        *LayoutStatus `json:"layout,omitempty"`
	Topics        *event.Topics `json:"topics,omitempty"`
	UptimeSeconds int64         `json:"uptime_seconds"`
}

// LagStatus is how far processing is behind: all-in-one, records accepted
// and not yet processed; process, records in the topics the processor group
// has not committed, over all its partitions (not this replica's share).
type LagStatus struct {
	Records int64 `json:"records"`
}

// StoredStatus is what the store holds (store.Counts).
type StoredStatus struct {
	Visits     int64    `json:"visits"`
	Encounters int64    `json:"encounters"`
	Days       []string `json:"days"`
}

// StoreReach says whether the store could be read. When it cannot (an
// outage), the status still answers, with what the process knows.
type StoreReach struct {
	Reachable bool `json:"reachable"`
}

// LayoutStatus is the store's bucketing.
type LayoutStatus struct {
	BucketSeconds int64 `json:"bucket_seconds"`
	DwellSeconds  int64 `json:"dwell_seconds"`
}

// Count is a count for Status.
func Count(n int64) *int64 { return &n }

// StoreStatus fills the store's part of st: what it holds and its layout.
// A store that cannot be reached (graph.ErrStoreUnavailable) is marked so,
// and the rest of the status stands: the counts an operator needs during an
// outage do not vanish with the store.
func StoreStatus(ctx context.Context, st *Status, s store.Backend) error {
	st.Layout = layoutStatus(s.Layout())
	c, err := s.Counts(ctx)
	if errors.Is(err, graph.ErrStoreUnavailable) {
		st.Store = &StoreReach{Reachable: false}
		return nil
	}
	if err != nil {
		return err
	}
	st.Store = &StoreReach{Reachable: true}
	st.Stored = &StoredStatus{Visits: c.Visits, Encounters: c.Encounters, Days: make([]string, 0, len(c.Days))}
	for _, d := range c.Days {
		st.Stored.Days = append(st.Stored.Days, d.String())
	}
	return nil
}

func layoutStatus(l bucket.Layout) *LayoutStatus {
	return &LayoutStatus{BucketSeconds: l.BucketSeconds, DwellSeconds: l.DwellSeconds}
}

// Config says where to serve and as what.
type Config struct {
	Mode        string // all-in-one, ingest, process or query: in /v1/status
	Listen      string // the public listener: the mode's routes and the ops routes
	DebugListen string // a private listener for Go's profiles; empty: none
	// Status is the mode's part of /v1/status (Serve adds the mode and the uptime).
	Status func(ctx context.Context) (Status, error)
	// Ready is a readiness check beyond serving; nil: none.
	Ready func(ctx context.Context) error
	// OnListen, if not nil, gets the public address once it accepts requests.
	OnListen func(addr string)
	Now      func() time.Time // the clock of the uptime; nil: time.Now
	// Guard, if not nil, wraps the whole mux, ops routes included (the
	// access guard: /v1/status needs a token, /metrics and the probes not).
	Guard func(http.Handler) (http.Handler, error)
}

// Serve adds /metrics (reg), /healthz, /readyz, /v1/status and
// /v1/openapi.json to mux and serves it on cfg.Listen (and Go's profiles on
// cfg.DebugListen) until ctx ends, then shuts down gracefully. log gets a line per listener: "serving"
// with addr, and the debug listener's with debug_addr.
func Serve(ctx context.Context, cfg Config, mux *http.ServeMux, reg *prometheus.Registry, log *slog.Logger) error {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var ready atomic.Bool
	opsRoutes(mux, reg, &ready, cfg, cfg.Now())
	// route.Strict: wrong methods, unclean paths and unknown routes under
	// /v1/ answer JSON like the API's other errors (behind the guard, so a
	// request without a token learns nothing of the routes).
	h := route.Strict(mux)
	if cfg.Guard != nil {
		var err error
		if h, err = cfg.Guard(h); err != nil {
			return err
		}
		h = route.CleanPaths(h)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var debugErr error
	if cfg.DebugListen != "" {
		ln, err := listen(ctx, cfg.DebugListen)
		if err != nil {
			return err
		}
		wg.Go(func() {
			debugErr = serveOn(ctx, ln, pprofMux(), log, nil, func(addr string) {
				log.Info("debug listener up: Go profiles under /debug/pprof/", "debug_addr", addr)
			})
			cancel()
		})
	}
	ln, err := listen(ctx, cfg.Listen)
	if err == nil {
		err = serveOn(ctx, ln, h, log, &ready, func(addr string) {
			log.Info("serving", "addr", addr)
			if cfg.OnListen != nil {
				cfg.OnListen(addr)
			}
		})
	}
	cancel()
	wg.Wait()
	return errors.Join(err, debugErr)
}

func opsRoutes(mux *http.ServeMux, reg *prometheus.Registry, ready *atomic.Bool, cfg Config, started time.Time) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if cfg.Ready != nil {
			cctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := cfg.Ready(cctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	openapi.Register(mux)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st, err := cfg.Status(r.Context())
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		st.Mode, st.UptimeSeconds = cfg.Mode, int64(cfg.Now().Sub(started).Seconds())
		_ = json.NewEncoder(w).Encode(st)
	})
}

// pprofMux serves Go's profiles, for operators finding where a stage spends
// its time; only on --debug-listen, never beside the public routes.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

func listen(ctx context.Context, addr string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serveOn serves h on ln until ctx ends, then shuts it down gracefully.
// ready, if not nil, is set while it accepts requests; announce is called
// with the address once it does.
func serveOn(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, ready *atomic.Bool, announce func(addr string)) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	if ready != nil {
		ready.Store(true)
	}
	announce(ln.Addr().String())
	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
	}
	if ready != nil {
		ready.Store(false)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if e := srv.Shutdown(shutCtx); e != nil && err == nil {
		err = e
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
