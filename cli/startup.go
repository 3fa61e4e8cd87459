package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/truyvet/truyvet/internal/await"
	"github.com/truyvet/truyvet/internal/server"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/chstore"
)

// startup is what a distributed command waits for before it works: it
// serves /healthz and /readyz from the start, and /readyz says what it
// waits for, so a replica started during an outage stays up, not ready,
// and begins when the service returns.
type startup struct {
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	waiting error // what the command waits for; nil once started
}

// ErrStarting is wrapped by readiness errors while a command waits.
var ErrStarting = errors.New("starting")

func (s *startup) register(fs *flag.FlagSet) {
	durationFlag(fs, &s.timeout, "start-timeout", 0,
		"give up when Kafka or ClickHouse is still unreachable this long after start (0: wait, retrying with backoff, until they are there)")
	s.waiting = fmt.Errorf("%w: dependencies not checked yet", ErrStarting)
}

// await runs connect until it succeeds, reporting in readiness what it
// waits for; errors of a wrong configuration end it at once.
func awaitDep[T any](ctx context.Context, s *startup, name string, connect func(context.Context) (T, error)) (T, error) {
	s.set(fmt.Errorf("%w: waiting for %s", ErrStarting, name))
	return await.Do(ctx, await.Options{Name: name, MaxWait: s.timeout, Log: s.log, MaxBackoff: 5 * time.Second,
		Permanent: func(err error) bool {
			return errors.Is(err, chstore.ErrLayoutMismatch) || errors.Is(err, chstore.ErrBadDatabase) || errors.Is(err, chstore.ErrNotMigrated)
		},
		OnRetry: func(err error, _ time.Duration) {
			s.set(fmt.Errorf("%w: waiting for %s (unreachable)", ErrStarting, name))
		},
	}, connect)
}

func (s *startup) set(err error) {
	s.mu.Lock()
	s.waiting = err
	s.mu.Unlock()
}

// gate answers the API's routes while the command waits: 503 with
// Retry-After, as when Kafka is down later, rather than 404. Once started,
// the real routes (more specific patterns) answer; what reaches the gate
// then is an unknown path.
func (s *startup) gate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		err := s.waiting
		s.mu.Unlock()
		if err == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	})
}

// started marks the dependencies there.
func (s *startup) started() { s.set(nil) }

// ready is nil once started and check (if any) passes.
func (s *startup) ready(check func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		s.mu.Lock()
		err := s.waiting
		s.mu.Unlock()
		if err != nil || check == nil {
			return err
		}
		return check(ctx)
	}
}

// early is a command serving before its dependencies are there: the ops
// routes answer at once, the API's routes 503 (gate) until the command
// registers them on mux and calls started.
type early struct {
	mux    *http.ServeMux
	cancel context.CancelFunc // of the command's context, also called when the server stops
	served func() error       // waits for the server to end
}

// serveEarly starts serving with o, whose status and readiness count only
// once started, until ctx ends; cancel is ctx's.
func (s *startup) serveEarly(ctx context.Context, cancel context.CancelFunc, srv *serveCmd, d *deps, o ops) *early {
	e := &early{mux: http.NewServeMux(), cancel: cancel}
	e.mux.Handle("/v1/", s.gate())
	o.status, o.ready = s.status(o.status), s.ready(o.ready)
	done := make(chan error, 1)
	go func() {
		err := srv.serve(ctx, d, e.mux, o, nil)
		cancel()
		done <- err
	}()
	e.served = func() error { return <-done }
	return e
}

// fail stops serving and returns err with the server's own error.
func (e *early) fail(err error) error {
	e.cancel()
	return errors.Join(err, e.served())
}

// status is f once started; before, the bare status (mode and uptime).
func (s *startup) status(f func(ctx context.Context) (server.Status, error)) func(ctx context.Context) (server.Status, error) {
	return func(ctx context.Context) (server.Status, error) {
		s.mu.Lock()
		waiting := s.waiting
		s.mu.Unlock()
		if waiting != nil {
			return server.Status{}, nil
		}
		return f(ctx)
	}
}

// storeReady checks a shared store answers, without naming its address.
func storeReady(ctx context.Context, st store.Backend) error {
	p, ok := st.(interface{ Ping(context.Context) error })
	if !ok || !st.Shared() {
		return nil
	}
	if p.Ping(ctx) != nil {
		return errors.New("store unreachable")
	}
	return nil
}

// lateGuard is the access guard of a command that starts serving before
// its account store is open: until set, /v1/ answers as the start-up gate
// does (503, Retry-After) and only the ops routes outside /v1/ are served;
// from then on every request goes through the guard.
type lateGuard struct {
	gate http.Handler

	mu    sync.Mutex
	next  http.Handler                             // the served mux, from wrap
	guard func(http.Handler) (http.Handler, error) // from set
	h     atomic.Pointer[http.Handler]             // guard(next) once both are known
	err   error
}

// guardLater returns a lateGuard answering, until set, with s's gate.
func (s *startup) guardLater() *lateGuard { return &lateGuard{gate: s.gate()} }

// wrap is ops.guard: the server hands it the mux it serves.
func (l *lateGuard) wrap(next http.Handler) (http.Handler, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = next
	return l, l.build()
}

// set installs the guard; it fails on a policy the guard refuses.
func (l *lateGuard) set(guard func(http.Handler) (http.Handler, error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.guard = guard
	return l.build()
}

// build makes the guarded handler once both halves are known (l.mu held).
func (l *lateGuard) build() error {
	if l.next == nil || l.guard == nil || l.h.Load() != nil || l.err != nil {
		return l.err
	}
	h, err := l.guard(l.next)
	if err != nil {
		l.err = err
		return err
	}
	l.h.Store(&h)
	return nil
}

func (l *lateGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		l.gate.ServeHTTP(w, r)
		return
	}
	l.mu.Lock()
	next := l.next
	l.mu.Unlock()
	next.ServeHTTP(w, r)
}
