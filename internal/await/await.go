// Package await waits for a dependency at start: it retries a connect
// function with exponential backoff until it succeeds, the context ends, an
// error is permanent, or an optional bound passes. Commands use it so that a
// replica started while Kafka or ClickHouse is down stays up, reports
// not-ready, and begins work when the service returns; a bound gives scripts
// that want it a fail-fast start.
package await

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options say what is awaited and for how long.
type Options struct {
	Name       string        // the dependency, for logs and errors ("kafka", "clickhouse")
	MaxWait    time.Duration // give up after this long; 0 waits until ctx ends
	MinBackoff time.Duration // first wait between tries (default 250 ms)
	MaxBackoff time.Duration // longest wait between tries (default 10 s)
	// Permanent tells errors that no retry can cure (a wrong layout, a bad
	// name); they end the wait at once. Nil: every error is retried.
	Permanent func(error) bool
	// OnRetry, when set, is told of each failed try before the wait (e.g.
	// to show in /readyz what the process waits for).
	OnRetry func(err error, next time.Duration)
	Log     *slog.Logger
}

// ErrGaveUp is wrapped by the error of a wait that reached MaxWait.
var ErrGaveUp = errors.New("gave up waiting")

// Do calls connect until it succeeds and returns its result.
func Do[T any](ctx context.Context, o Options, connect func(context.Context) (T, error)) (T, error) {
	minB, maxB := o.MinBackoff, o.MaxBackoff
	if minB <= 0 {
		minB = 250 * time.Millisecond
	}
	if maxB < minB {
		maxB = max(minB, 10*time.Second)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	wait := minB
	for try := 1; ; try++ {
		v, err := connect(ctx)
		if err == nil {
			if try > 1 {
				log.Info("dependency available", "dependency", o.Name, "tries", try, "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return v, nil
		}
		var zero T
		if ctx.Err() != nil {
			return zero, fmt.Errorf("waiting for %s: %w", o.Name, ctx.Err())
		}
		if o.Permanent != nil && o.Permanent(err) {
			return zero, err
		}
		if o.MaxWait > 0 && time.Since(start)+wait > o.MaxWait {
			return zero, fmt.Errorf("%s: %w after %s (%d tries): %w", o.Name, ErrGaveUp, time.Since(start).Round(time.Millisecond), try, err)
		}
		if o.OnRetry != nil {
			o.OnRetry(err, wait)
		}
		log.Warn("dependency not available; retrying", "dependency", o.Name, "try", try, "backoff", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, fmt.Errorf("waiting for %s: %w", o.Name, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, maxB)
	}
}
