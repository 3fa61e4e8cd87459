package summary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/safety"
)

// Provinces finds the province of venues: ProvincesOf sets dst[i] to the
// province of ids[i], or "" when not known. venue/cache.Cache is one.
type Provinces interface {
	ProvincesOf(ids []uint32, dst []string)
}

// Loader is a Provinces that can catch up with the registry (venue/cache.Cache):
// the Sink has it catch up once when an assessed venue is not known, so a
// venue assessed right after it was registered elsewhere counts in its
// province, and all its level moves in the same one.
type Loader interface {
	Load(ctx context.Context) error
}

// CountedSink is a sink that stores a batch's counts with the batch, in one
// atomic write (the embedded store): the counts are then exact.
type CountedSink interface {
	WriteCounted(ctx context.Context, b *processor.Batch, counts []Delta) error
}

// Sink counts records_in of each batch its next sink made durable, in the
// same call: with a CountedSink in the same write, else by AddCounts right
// after it. A batch whose counts cannot be added fails, and is retried
// whole, as a failed write is.
//
// With Assessments set, it also keeps venues_by_level: before a batch of
// assessments is written, it reads what the store holds for the batch's
// (venue, day)s and adds the batch's level moves (safety.Moves: -1 to the
// level a venue leaves, +1 to the one it takes, on the day assessed, in
// the venue's province). A replay finds its records stored and moves
// nothing. Moves whose AddCounts failed after their batch was stored are
// kept and added with the next batch (the retry finds the batch stored).
type Sink struct {
	Next        processor.Sink
	Counters    Counters
	Provinces   Provinces          // nil: every check-in under Unknown
	Assessments safety.PriorReader // the store Next writes to; nil: venues_by_level not kept
	Now         func() time.Time

	// mu makes one batch at a time read the levels and write: a batch's
	// moves are computed against what the store holds before it.
	mu    sync.Mutex
	carry []Delta // moves of stored batches not added yet
}

var _ processor.Sink = (*Sink)(nil)

// Write implements processor.Sink.
func (s *Sink) Write(ctx context.Context, b *processor.Batch) error {
	ds := s.counts(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	var moves []Delta
	if as := b.Records.Assessments; len(as) > 0 && s.Assessments != nil {
		prior, err := s.Assessments.VenueDayAssessments(ctx, safety.Keys(as))
		if err != nil {
			return fmt.Errorf("read the venues' levels before the batch: %w", err)
		}
		moves = s.levelDeltas(ctx, safety.Moves(prior, as))
	}
	moves = append(moves, s.carry...)
	ds = append(ds, moves...)
	if cs, ok := s.Next.(CountedSink); ok {
		if err := cs.WriteCounted(ctx, b, ds); err != nil {
			return err
		}
		s.carry = nil
		return nil
	}
	if err := s.Next.Write(ctx, b); err != nil {
		return err
	}
	if len(ds) == 0 {
		return nil
	}
	if err := s.Counters.AddCounts(ctx, ds); err != nil {
		s.carry = moves
		return fmt.Errorf("count the batch for the summary: %w", err)
	}
	s.carry = nil
	return nil
}

// levelDeltas are the venues_by_level deltas of moves, in each venue's
// province.
func (s *Sink) levelDeltas(ctx context.Context, moves []safety.Move) []Delta {
	if len(moves) == 0 {
		return nil
	}
	provs := make([]string, len(moves))
	if s.Provinces != nil {
		ids := make([]uint32, len(moves))
		for i := range moves {
			ids[i] = moves[i].Venue
		}
		s.Provinces.ProvincesOf(ids, provs)
		if l, ok := s.Provinces.(Loader); ok && slices.Contains(provs, "") && l.Load(ctx) == nil {
			s.Provinces.ProvincesOf(ids, provs)
		}
	}
	ds := make([]Delta, 0, 2*len(moves))
	for i, m := range moves {
		p := provs[i]
		if p == "" {
			p = Unknown
		}
		if m.From != "" {
			ds = append(ds, Delta{Day: m.Day, Province: p, Metric: VenuesByLevel, Key: string(m.From), N: -1})
		}
		ds = append(ds, Delta{Day: m.Day, Province: p, Metric: VenuesByLevel, Key: string(m.To), N: 1})
	}
	return ds
}

// counts are b's records_in, today.
func (s *Sink) counts(b *processor.Batch) []Delta {
	day := bucket.DayOf(s.Now().Unix())
	var ds []Delta
	if vs := b.Records.Visits; len(vs) > 0 {
		ids := make([]uint32, len(vs))
		for i := range vs {
			ids[i] = vs[i].VenueID
		}
		ds = s.byVenueProvince(ds, day, "visit", ids)
	}
	if n := len(b.Records.Encounters); n > 0 {
		ds = append(ds, Delta{Day: day, Province: Unknown, Metric: RecordsIn, Key: "encounter", N: int64(n)})
	}
	if decls := b.Records.Declarations; len(decls) > 0 {
		byProvince := map[string]int64{}
		for i := range decls {
			byProvince[decls[i].Province]++ // validated: a code of the list
		}
		for p, n := range byProvince {
			ds = append(ds, Delta{Day: day, Province: p, Metric: RecordsIn, Key: "declaration", N: n})
		}
	}
	if as := b.Records.Assessments; len(as) > 0 {
		ids := make([]uint32, len(as))
		for i := range as {
			ids[i] = as[i].VenueID
		}
		ds = s.byVenueProvince(ds, day, "assessment", ids)
	}
	return ds
}

// byVenueProvince appends the records_in of kind for records at venues, in
// each venue's province (Unknown when not known).
func (s *Sink) byVenueProvince(ds []Delta, day bucket.Day, kind string, venues []uint32) []Delta {
	byProvince := map[string]int64{}
	if s.Provinces == nil {
		byProvince[Unknown] = int64(len(venues))
	} else {
		provs := make([]string, len(venues))
		s.Provinces.ProvincesOf(venues, provs)
		for _, p := range provs {
			if p == "" {
				p = Unknown
			}
			byProvince[p]++
		}
	}
	for p, n := range byProvince {
		ds = append(ds, Delta{Day: day, Province: p, Metric: RecordsIn, Key: kind, N: n})
	}
	return ds
}

// Tally gathers counts in memory and adds them to Counters every interval
// (Run), for counts made on a request's path (rejections, lookups, cases),
// which must not wait on the store. A flush that fails keeps its counts for
// the next; what is pending when Run ends is flushed once more. Pending
// counts are bounded by their keys (days × provinces × metrics × keys),
// not by traffic. Safe for concurrent use.
type Tally struct {
	counters Counters
	now      func() time.Time
	log      *slog.Logger
	m        *Metrics

	mu      sync.Mutex
	pending map[tallyKey]int64
}

type tallyKey struct {
	day                   bucket.Day
	province, metric, key string
}

// NewTally returns a tally adding into c (m nil: metrics not registered).
func NewTally(c Counters, now func() time.Time, log *slog.Logger, m *Metrics) *Tally {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Tally{counters: c, now: now, log: log.With("component", "summary"), m: m, pending: map[tallyKey]int64{}}
}

// Add counts n of metric/key in province, today.
func (t *Tally) Add(province, metric, key string, n int64) {
	if n == 0 {
		return
	}
	if province == "" {
		province = Unknown
	}
	k := tallyKey{bucket.DayOf(t.now().Unix()), province, metric, key}
	t.mu.Lock()
	t.pending[k] += n
	t.m.pending.Set(float64(len(t.pending)))
	t.mu.Unlock()
}

// Rejected counts one rejected record by reason (ingest's hook).
func (t *Tally) Rejected(reason string) { t.Add(Unknown, Rejections, reason, 1) }

// Flush adds what is pending; on failure it stays pending.
func (t *Tally) Flush(ctx context.Context) error {
	t.mu.Lock()
	if len(t.pending) == 0 {
		t.mu.Unlock()
		return nil
	}
	taken := t.pending
	t.pending = map[tallyKey]int64{}
	t.mu.Unlock()
	ds := make([]Delta, 0, len(taken))
	for k, n := range taken {
		ds = append(ds, Delta{Day: k.day, Province: k.province, Metric: k.metric, Key: k.key, N: n})
	}
	if err := t.counters.AddCounts(ctx, ds); err != nil {
		t.mu.Lock()
		for k, n := range taken {
			t.pending[k] += n
		}
		t.m.pending.Set(float64(len(t.pending)))
		t.mu.Unlock()
		t.m.flushes.WithLabelValues("error").Inc()
		return err
	}
	t.mu.Lock()
	t.m.pending.Set(float64(len(t.pending)))
	t.mu.Unlock()
	t.m.flushes.WithLabelValues("ok").Inc()
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (t *Tally) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := t.Flush(fctx); err != nil {
				t.log.Warn("cannot add the last summary counts", "err", err)
			}
			cancel()
			return
		case <-tick.C:
			if err := t.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.log.Warn("cannot add summary counts; kept for the next flush", "err", err)
			}
		}
	}
}

// Cases wraps a case registry: each newly registered case is counted in its
// province.
type Cases struct {
	cases.Registry
	Tally *Tally
}

// RegisterCase implements cases.Registry.
func (c Cases) RegisterCase(ctx context.Context, k cases.Case) (bool, error) {
	created, err := c.Registry.RegisterCase(ctx, k)
	if err == nil && created {
		c.Tally.Add(k.Province, CasesRegistered, "", 1)
	}
	return created, err
}

// Audit wraps the audit trail: each answered exposure lookup (JSON or CSV;
// not the two of a definitions diff) is counted, with the people it found
// (F1 + F2), in its case's province (Unknown for an unregistered case).
type Audit struct {
	audit.Log
	Cases cases.Registry // nil: every lookup under Unknown
	Tally *Tally
}

// Append implements audit.Log.
func (a Audit) Append(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	out, err := a.Log.Append(ctx, e)
	// A definitions diff runs two lookups of one case: a comparison, not
	// contacts found.
	if err != nil || e.Action != audit.ActionExposures || e.Status != 200 || e.Format == "diff" {
		return out, err
	}
	province := Unknown
	if a.Cases != nil {
		if c, cerr := a.Cases.Case(ctx, e.Case); cerr == nil {
			province = c.Province
		}
	}
	a.Tally.Add(province, Lookups, "", 1)
	a.Tally.Add(province, ContactsFound, "", int64(e.F1+e.F2))
	return out, nil
}
