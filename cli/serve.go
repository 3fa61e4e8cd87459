package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
)

// server is what every serving command (all-in-one, demo, ingest, process,
// query) shares: the flags --listen, --debug-listen, --dry-run, --log-*, and
// the one set-up path: parse → validate → logger → dry-run → registry (setup),
// then ops routes → serve (serve).
type server struct {
	mode        string // in /v1/status and the logs
	fs          *flag.FlagSet
	listen      string
	debugListen string
	dryRun      bool
	log         logConfig
	now         func() time.Time
	started     time.Time
}

func newServer(env Env, command, listen, listenUsage string) *server {
	s := &server{mode: command, fs: flag.NewFlagSet(command, flag.ContinueOnError), now: env.Now}
	s.fs.SetOutput(env.Stderr)
	s.fs.StringVar(&s.listen, "listen", listen, listenUsage)
	s.fs.StringVar(&s.debugListen, "debug-listen", "", "address of a separate listener serving Go's profiles under /debug/pprof/; empty: none (keep it off public networks)")
	s.fs.BoolVar(&s.dryRun, "dry-run", false, "validate the configuration, print it (secrets redacted) and exit")
	s.log.register(s.fs)
	return s
}

// deps are what set-up gives a command to build its stages with.
type deps struct {
	log *slog.Logger
	reg *prometheus.Registry
}

// setup parses and validates the flags (validate may be nil), builds the
// logger and a registry with the Go and process collectors. With --dry-run
// it prints the configuration instead and returns nil deps.
func (s *server) setup(env Env, validate func() error) (*deps, error) {
	if err := parseFlags(s.fs, env.Args, env.LookupEnv); err != nil {
		return nil, err
	}
	if s.listen == "" {
		return nil, fmt.Errorf("%w: %w", errUsage, ErrMissingListen)
	}
	if validate != nil {
		if err := validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	log, err := s.log.logger(env.Stderr)
	if err != nil {
		return nil, err
	}
	if s.dryRun {
		fmt.Fprintln(env.Stdout, "configuration is valid:")
		s.fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(env.Stdout, "  --%s=%s\n", f.Name, f.Value) })
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.started = s.now()
	return &deps{log: log.With("component", s.mode), reg: reg}, nil
}

// ErrMissingListen is returned when --listen is empty.
var ErrMissingListen = errors.New("--listen is required")

// Status is the body of GET /v1/status in every mode. A mode leaves out what
// it does not know (ingest has no processed count, query no ingest counts).
type Status struct {
	Mode          string        `json:"mode"`
	Received      *int64        `json:"received,omitempty"`      // records in ingest requests
	Accepted      *int64        `json:"accepted,omitempty"`      // records ingest took
	Rejected      *int64        `json:"rejected,omitempty"`      // records ingest refused, each with a reason
	Processed     *int64        `json:"processed,omitempty"`     // records the processor stored
	DeadLettered  *int64        `json:"dead_lettered,omitempty"` // records the processor sent to the dead-letter topic
	Lag           *LagStatus    `json:"lag,omitempty"`
	Stored        *StoredStatus `json:"stored,omitempty"`
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

// LayoutStatus is the store's bucketing.
type LayoutStatus struct {
	BucketSeconds int64 `json:"bucket_seconds"`
	DwellSeconds  int64 `json:"dwell_seconds"`
}

func count(n int64) *int64 { return &n }

// storeStatus fills the store's part of a status.
func storeStatus(ctx context.Context, st *Status, s store.Backend) error {
	c, err := s.Counts(ctx)
	if err != nil {
		return err
	}
	st.Stored = &StoredStatus{Visits: c.Visits, Encounters: c.Encounters, Days: make([]string, 0, len(c.Days))}
	for _, d := range c.Days {
		st.Stored.Days = append(st.Stored.Days, d.String())
	}
	st.Layout = layoutStatus(s.Layout())
	return nil
}

func layoutStatus(l bucket.Layout) *LayoutStatus {
	return &LayoutStatus{BucketSeconds: l.BucketSeconds, DwellSeconds: l.DwellSeconds}
}

// ops are a command's answers on the ops routes.
type ops struct {
	status func(ctx context.Context) (Status, error) // the command's part of /v1/status
	ready  func(ctx context.Context) error           // a readiness check beyond serving; nil: none
}

// serve adds /metrics, /healthz, /readyz and /v1/status to mux and serves
// it on --listen (and Go's profiles on --debug-listen) until ctx ends, then
// shuts down gracefully. onListen, if not nil, gets the bound address once
// the server accepts requests.
func (s *server) serve(ctx context.Context, d *deps, mux *http.ServeMux, o ops, onListen func(addr string)) error {
	var ready atomic.Bool
	s.opsRoutes(mux, d.reg, &ready, o)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var debugErr error
	if s.debugListen != "" {
		ln, err := listen(ctx, s.debugListen)
		if err != nil {
			return err
		}
		wg.Go(func() {
			debugErr = serveOn(ctx, ln, pprofMux(), d.log, nil, func(addr string) {
				d.log.Info("debug listener up: Go profiles under /debug/pprof/", "debug_addr", addr)
			})
			cancel()
		})
	}
	ln, err := listen(ctx, s.listen)
	if err == nil {
		err = serveOn(ctx, ln, mux, d.log, &ready, func(addr string) {
			d.log.Info("serving", "addr", addr)
			if onListen != nil {
				onListen(addr)
			}
		})
	}
	cancel()
	wg.Wait()
	return errors.Join(err, debugErr)
}

func (s *server) opsRoutes(mux *http.ServeMux, reg *prometheus.Registry, ready *atomic.Bool, o ops) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if o.ready != nil {
			cctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := o.ready(cctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st, err := o.status(r.Context())
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		st.Mode, st.UptimeSeconds = s.mode, int64(s.now().Sub(s.started).Seconds())
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
