package sites

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/truyvet/truyvet/query/graph"
)

// Publisher hands alerts on (distributed mode: the Kafka topic
// <prefix>alerts, keyed by user). Nil only once they are durable there.
// Alerts are handed on before they are stored, so one whose store write
// fails is handed on again when retried: the topic carries each alert at
// least once, always under its one alert_id, and consumers keep the first.
type Publisher interface {
	PublishAlerts(ctx context.Context, as []Alert) error
}

// FanoutConfig shapes the sweeps.
type FanoutConfig struct {
	// Wave is how many alerts one write stores and hands on.
	Wave int
	// Rate bounds the alerts a sweep sends per second (0: no bound).
	Rate float64
	// Grace is how long after a publication or retraction a sweep must
	// begin to be the last: the longest a Matcher elsewhere may act on an
	// older copy of the active sites (all-in-one, where the matcher is told
	// at once: 0).
	Grace time.Duration
	// Interval is how often Run looks for sites still to sweep.
	Interval time.Duration
}

// DefaultFanoutConfig sends waves of 1 000 alerts at up to 20 000 a second.
func DefaultFanoutConfig() FanoutConfig {
	return FanoutConfig{Wave: 1000, Rate: 20_000, Interval: 5 * time.Second}
}

// Fanout sends the alerts of published and retracted sites: one sweep of a
// published site stores an exposure alert for each person it reaches, one
// of a retracted site a retraction for each person alerted. A sweep is
// idempotent (the Alerts store keeps each id once), so a sweep interrupted
// by a crash is simply run again by Run, in this process or another.
type Fanout struct {
	cfg    FanoutConfig
	reg    Registry
	alerts Alerts
	stays  graph.VenueStore
	pub    Publisher // nil: none
	m      *Metrics
	log    *slog.Logger
	now    func() time.Time

	holder   string // this fanout's name in sweep leases
	mu       sync.Mutex
	inFlight map[uint64]bool
	kick     chan Site
}

// LeaseFor is how long a sweep holds its site before another process may
// take it over (a crashed sweeper's site waits this long).
const LeaseFor = 2 * time.Minute

// NewFanout returns a fanout reading stays from vs; pub may be nil.
func NewFanout(cfg FanoutConfig, st Store, vs graph.VenueStore, pub Publisher, m *Metrics, log *slog.Logger, now func() time.Time) *Fanout {
	if cfg.Wave <= 0 {
		cfg.Wave = DefaultFanoutConfig().Wave
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultFanoutConfig().Interval
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fanout{cfg: cfg, reg: st, alerts: st, stays: vs, pub: pub, m: m, log: log.With("component", "fanout"), now: now, inFlight: map[uint64]bool{}, kick: make(chan Site, 64), holder: holderName()}
}

// Due reports whether s still needs a sweep: published or retracted, and no
// finished sweep began Grace or more after that.
func (f *Fanout) Due(s Site) bool {
	switch s.Status {
	case StatusPublished:
		return s.Swept.Before(s.PublishedAt.Add(f.cfg.Grace))
	case StatusRetracted:
		return !s.PublishedAt.IsZero() && s.Swept.Before(s.RetractedAt.Add(f.cfg.Grace))
	}
	return false
}

// errBusy: the site is being swept by this process already.
var errBusy = errors.New("sweep in progress")

// Sweep sends s's alerts (s as the registry has it now) and returns how
// many were new.
func (f *Fanout) Sweep(ctx context.Context, s Site) (int, error) {
	f.mu.Lock()
	if f.inFlight[s.ID] {
		f.mu.Unlock()
		return 0, errBusy
	}
	f.inFlight[s.ID] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.inFlight, s.ID)
		f.mu.Unlock()
	}()
	began := f.now()
	ok, err := f.reg.Lease(ctx, s.ID, f.holder, began, began.Add(LeaseFor))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errBusy
	}
	t0 := time.Now()
	var as []Alert
	switch s.Status {
	case StatusPublished:
		as, err = f.exposures(ctx, s, began)
	case StatusRetracted:
		as, err = f.retractions(ctx, s, began)
	default:
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := f.send(ctx, as, f.limiter())
	if err != nil {
		return n, fmt.Errorf("sweep site %d: %w", s.ID, err)
	}
	if err := f.reg.MarkSwept(ctx, s.ID, began); err != nil {
		return n, err
	}
	f.m.sweepSeconds.WithLabelValues(string(s.Status)).Observe(time.Since(t0).Seconds())
	f.log.Info("swept exposure site", "site", s.ID, "status", s.Status, "alerts", len(as), "new", n)
	return n, nil
}

func (f *Fanout) limiter() *rate.Limiter {
	if f.cfg.Rate <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(f.cfg.Rate), max(f.cfg.Wave, int(f.cfg.Rate)))
}

// exposures are the alerts of everyone s reaches.
func (f *Fanout) exposures(ctx context.Context, s Site, at time.Time) ([]Alert, error) {
	from, to := s.Window()
	es, err := Reach(ctx, f.stays, s.VenueID, from, to)
	if err != nil {
		return nil, err
	}
	as := make([]Alert, len(es))
	for i, e := range es {
		as[i] = ExposureAlert(s, e, at)
	}
	return as, nil
}

// ExposureAlert is the alert of e about s, created at.
func ExposureAlert(s Site, e Exposed, at time.Time) Alert {
	return Alert{ID: AlertID(TypeExposure, s.ID, e.User), Type: TypeExposure, UserID: e.User, SiteID: s.ID, VenueID: s.VenueID,
		OverlapFrom: time.Unix(e.From, 0).UTC(), OverlapTo: time.Unix(e.To, 0).UTC(), Severity: s.Severity, Advice: s.Advice, CreatedAt: at.UTC().Truncate(time.Second)}
}

// retractions are the retractions of every exposure alert sent about s.
func (f *Fanout) retractions(ctx context.Context, s Site, at time.Time) ([]Alert, error) {
	sent, err := f.alerts.Of(ctx, s.ID, TypeExposure)
	if err != nil {
		return nil, err
	}
	as := make([]Alert, len(sent))
	for i, a := range sent {
		a.ID, a.Type, a.CreatedAt, a.Seq = AlertID(TypeRetraction, s.ID, a.UserID), TypeRetraction, at.UTC().Truncate(time.Second), 0
		a.Advice = s.RetractReason
		as[i] = a
	}
	return as, nil
}

// send stores as in waves, waiting on lim between them, and hands each
// wave's new alerts to the publisher.
func (f *Fanout) send(ctx context.Context, as []Alert, lim *rate.Limiter) (int, error) {
	n := 0
	for len(as) > 0 {
		w := as[:min(len(as), f.cfg.Wave)]
		as = as[len(w):]
		if lim != nil {
			if err := lim.WaitN(ctx, len(w)); err != nil {
				return n, err
			}
		}
		stored, err := f.Store(ctx, w)
		n += len(stored)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Store puts as into the Alerts store and hands the new ones on; what
// Matcher and the sweeps share.
func (f *Fanout) Store(ctx context.Context, as []Alert) ([]Alert, error) {
	return storeAlerts(ctx, f.alerts, f.pub, f.m, as)
}

func storeAlerts(ctx context.Context, st Alerts, pub Publisher, m *Metrics, as []Alert) ([]Alert, error) {
	if len(as) == 0 {
		return nil, nil
	}
	if pub != nil {
		// Hand on what is not stored yet, before storing it: a crash in
		// between hands it on again, never not at all.
		ids := make([]string, len(as))
		for i, a := range as {
			ids[i] = a.ID
		}
		has, err := st.Has(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("look up %d alerts: %w", len(as), err)
		}
		var fresh []Alert
		for _, a := range as {
			if !has[a.ID] {
				fresh = append(fresh, a)
			}
		}
		if len(fresh) == 0 {
			return nil, nil
		}
		if err := pub.PublishAlerts(ctx, fresh); err != nil {
			return nil, fmt.Errorf("publish %d alerts: %w", len(fresh), err)
		}
		as = fresh
	}
	stored, err := st.Put(ctx, as)
	if err != nil {
		return nil, fmt.Errorf("store %d alerts: %w", len(as), err)
	}
	for _, a := range stored {
		m.produced.WithLabelValues(string(a.Type)).Inc()
	}
	return stored, nil
}

// Run sweeps every site that is due, then again every Interval, and keeps
// the sites-by-status gauge, until ctx ends.
func (f *Fanout) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		f.pass(ctx)
		// Until the next pass, sweep what the routes ask for at once.
		for next := false; !next; {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				next = true
			case s := <-f.kick:
				wg.Go(func() { f.sweepLogged(ctx, s) })
			}
		}
	}
}

func (f *Fanout) sweepLogged(ctx context.Context, s Site) {
	if _, err := f.Sweep(ctx, s); err != nil && !errors.Is(err, errBusy) && ctx.Err() == nil {
		f.log.Warn("sweep failed; retried at the next pass", "site", s.ID, "err", err)
	}
}

func (f *Fanout) pass(ctx context.Context) {
	counts := map[Status]int{}
	var due []Site
	for s, err := range f.reg.Sites(ctx) {
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("cannot list exposure sites", "err", err)
			}
			return
		}
		counts[s.Status]++
		if f.Due(s) && (!f.now().Before(sweepAt(s, f.cfg.Grace)) || s.Swept.Before(sweepAt(s, 0))) {
			due = append(due, s)
		}
	}
	for _, st := range Statuses() {
		f.m.sites.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	for _, s := range due {
		f.sweepLogged(ctx, s)
	}
}

// sweepAt is when a due site's last sweep may begin. Its first sweep
// starts at once, for speed, and is repeated once then.
func sweepAt(s Site, grace time.Duration) time.Time {
	if s.Status == StatusRetracted {
		return s.RetractedAt.Add(grace)
	}
	return s.PublishedAt.Add(grace)
}

// Start asks Run to sweep s at once (the approve and retract routes call
// it so alerts go out without waiting for a pass); Run repeats the sweep
// after Grace when one is needed. It never blocks: when Run is busy, the
// next pass sweeps s.
func (f *Fanout) Start(s Site) {
	select {
	case f.kick <- s:
	default:
	}
}

// holderName names a fanout in leases: random, so every process (and
// every restart) is another holder.
func holderName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
