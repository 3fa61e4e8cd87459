package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/truyvet/truyvet/internal/server"
)

// serveCmd is what every serving command (all-in-one, demo, ingest, process,
// query) shares: the flags --listen, --debug-listen, --dry-run, --log-*, and
// the one set-up path: parse → validate → logger → dry-run → registry (setup),
// then ops routes → serve (serve).
type serveCmd struct {
	mode        string // in /v1/status and the logs
	fs          *flag.FlagSet
	listen      string
	debugListen string
	dryRun      bool
	log         logConfig
	now         func() time.Time
}

func newServeCmd(env Env, command, listen, listenUsage string) *serveCmd {
	s := &serveCmd{mode: command, fs: flag.NewFlagSet(command, flag.ContinueOnError), now: env.Now}
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
func (s *serveCmd) setup(env Env, validate func() error) (*deps, error) {
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
	return &deps{log: log.With("component", s.mode), reg: reg}, nil
}

// serve serves mux with the ops routes, on --listen and --debug-listen,
// until ctx ends (internal/server).
func (s *serveCmd) serve(ctx context.Context, d *deps, mux *http.ServeMux, o ops, onListen func(addr string)) error {
	return server.Serve(ctx, server.Config{Mode: s.mode, Listen: s.listen, DebugListen: s.debugListen,
		Status: o.status, Ready: o.ready, OnListen: onListen, Now: s.now, Guard: o.guard}, mux, d.reg, d.log)
}

// ops are a command's answers on the ops routes.
type ops struct {
	status func(ctx context.Context) (server.Status, error) // the command's part of /v1/status
	ready  func(ctx context.Context) error                  // a readiness check beyond serving; nil: none
	guard  func(http.Handler) (http.Handler, error)         // the access guard around everything (guarded.guard)
}

// ErrMissingListen is returned when --listen is empty.
var ErrMissingListen = errors.New("--listen is required")
