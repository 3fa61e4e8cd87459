// Package pebblestore is the embedded store of the all-in-one mode: raw stays
// and encounters by (day, user) and co-location bitmaps by (day, venue,
// bucket) in one Pebble database under a data directory. Bitmaps are OR-ed by
// Pebble's merge operator, so writes never read. A write returns once Pebble
// has synced its write-ahead log: an acknowledged batch survives kill -9 and
// power loss. Retention deletes whole days with range deletions.
//
// Metrics (see Open):
//
//	truyvet_store_disk_bytes                          bytes on disk
//	truyvet_store_retention_dropped_days_total        local days deleted by retention
//	truyvet_store_retention_runs_total{result}        retention passes (ok, error)
package pebblestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/index/bitmap"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/retention"
	"github.com/truyvet/truyvet/summary"
)

// Compile-time check: the store keeps the whole store contract.
var _ store.Backend = (*Store)(nil)

// ErrLayoutMismatch means the data directory was indexed with another layout.
var ErrLayoutMismatch = errors.New("data directory was built with a different bucket layout")

// ErrLocked is returned by Open when another process has the data directory.
var ErrLocked = errors.New("data directory is in use by another process")

// Options configure a store.
type Options struct {
	Dir        string
	Layout     bucket.Layout
	CacheBytes int64
	NoSync     bool // for benchmarks that load data: acknowledged writes may be lost if the process or machine crashes
	// StoredLayout opens a store with the layout it was created with
	// (Layout only for a new one): for tools that read accounts or the
	// audit trail and do not care about the index.
	StoredLayout bool
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	db       *pebble.DB
	layout   bucket.Layout
	wo       *pebble.WriteOptions
	log      *slog.Logger
	cache    *pebble.Cache
	ret      *retention.Metrics
	reg      registry
	defMu    sync.Mutex // one definition add at a time: check, then write
	declMu   sync.Mutex // one declaration write at a time: check for a resend, then write
	venues   venueLock
	sites    siteLock
	feedback feedbackLock
}

// Open opens or creates the store in opts.Dir. A store created with one layout
// refuses to open with another.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Layout.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 256 << 20
	}
	log := opts.Logger.With("component", "store", "dir", opts.Dir)
	cache := pebble.NewCache(opts.CacheBytes)
	po := &pebble.Options{
		Cache:              cache,
		Merger:             merger,
		MemTableSize:       64 << 20,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{log},
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		cache.Unref()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			err = fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return nil, fmt.Errorf("open embedded store in %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, layout: opts.Layout, wo: pebble.Sync, log: log, cache: cache}
	if opts.NoSync {
		s.wo = pebble.NoSync
	}
	if err := s.checkLayout(opts.StoredLayout); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.ensureVisitorIndex(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.ensureVisitorHours(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.openRegistry(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.ret = retention.NewMetrics()
	if opts.Registerer != nil {
		disk := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "truyvet_store_disk_bytes", Help: "Bytes the embedded store uses on disk.",
		}, func() float64 { return float64(s.db.Metrics().DiskSpaceUsage()) })
		opts.Registerer.MustRegister(append(s.ret.Collectors(), disk)...)
	}
	return s, nil
}

func (s *Store) checkLayout(adopt bool) error {
	want, err := json.Marshal(s.layout)
	if err != nil {
		return err
	}
	got, closer, err := s.db.Get(metaKey("layout"))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return s.db.Set(metaKey("layout"), want, pebble.Sync)
	case err != nil:
		return fmt.Errorf("read layout: %w", err)
	}
	defer func() { _ = closer.Close() }()
	if adopt {
		return json.Unmarshal(got, &s.layout)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: stored %s, asked for %s", ErrLayoutMismatch, got, want)
	}
	return nil
}

// OpenStandby opens the store like Open, but while another process holds
// the directory (ErrLocked) it waits, polling, until that process exits or
// ctx ends: a second `truyvet process` on the same data directory is a hot
// standby that takes over when the first one dies. It logs when it starts
// waiting and when it takes over.
func OpenStandby(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logged := false
	for {
		s, err := Open(ctx, opts)
		if !errors.Is(err, ErrLocked) {
			if err == nil && logged {
				log.Info("store free; taking over", "data_dir", opts.Dir)
			}
			return s, err
		}
		if !logged {
			log.Info("store in use by another replica; standing by", "data_dir", opts.Dir)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	s.cache.Unref()
	return err
}

// Layout implements graph.Store.
func (s *Store) Layout() bucket.Layout { return s.layout }

// Write implements processor.Sink: one atomic, synced Pebble batch.
func (s *Store) Write(ctx context.Context, b *processor.Batch) error {
	return s.WriteCounted(ctx, b, nil)
}

// WriteCounted is Write with the summary's counts of the batch in the same
// atomic batch (summary.CountedSink): the counts are there exactly when the
// records are.
func (s *Store) WriteCounted(ctx context.Context, b *processor.Batch, counts []summary.Delta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wb := s.db.NewBatch()
	defer wb.Close()
	var key []byte
	days := map[bucket.Day]struct{}{}
	hours := visitorHours{layout: s.layout}
	for i := range b.Records.Visits {
		v := &b.Records.Visits[i]
		d := bucket.DayOf(v.Enter)
		days[d] = struct{}{}
		key = appendStayKey(key, d, v.UserID, v.Enter, v.VenueID, v.VisitID, v.Exit)
		if err := wb.Set(key, []byte(v.Source), nil); err != nil {
			return err
		}
		key = appendVisitorKey(key, d, v.VenueID, v.Enter, v.UserID, v.VisitID, v.Exit)
		if err := wb.Set(key, nil, nil); err != nil {
			return err
		}
		hours.add(d, v.VenueID, v.Enter, v.Exit)
	}
	if err := hours.merge(wb); err != nil {
		return err
	}
	for i := range b.Records.Encounters {
		e := &b.Records.Encounters[i]
		d := bucket.DayOf(e.Start)
		days[d] = struct{}{}
		val := []byte{0, 0}
		if e.HasRSSI {
			val = []byte{1, byte(e.RSSI)}
		}
		// Both directions, so each side's lookup finds the meeting.
		key = appendContactKey(key, d, e.UserID, e.Start, e.PeerID, e.DurationS, e.EncounterID)
		if err := wb.Set(key, val, nil); err != nil {
			return err
		}
		key = appendContactKey(key, d, e.PeerID, e.Start, e.UserID, e.DurationS, e.EncounterID)
		if err := wb.Set(key, val, nil); err != nil {
			return err
		}
	}
	if len(b.Records.Declarations) > 0 {
		s.declMu.Lock()
		defer s.declMu.Unlock()
		if err := s.writeDeclarations(wb, b.Records.Declarations, days); err != nil {
			return err
		}
	}
	for _, bm := range b.Bitmaps {
		d := s.layout.DayOfBucket(bm.Key.Bucket)
		days[d] = struct{}{}
		key = appendBitmapKey(key, d, bm.Key.Venue, bm.Key.Bucket)
		if err := wb.Merge(key, bm.Bytes, nil); err != nil {
			return err
		}
	}
	if err := writeAssessments(wb, b.Records.Assessments, days); err != nil {
		return err
	}
	for d := range days {
		if err := wb.Set(dayPrefix(spaceDay, d), nil, nil); err != nil {
			return err
		}
	}
	addCounter(wb, "visits", len(b.Records.Visits))
	addCounter(wb, "encounters", len(b.Records.Encounters))
	if err := mergeSummary(wb, counts); err != nil {
		return err
	}
	if err := wb.Commit(s.wo); err != nil {
		return fmt.Errorf("commit batch of %d records: %w", b.Records.Len(), err)
	}
	return nil
}

func addCounter(wb *pebble.Batch, name string, n int) {
	if n != 0 {
		_ = wb.Merge(counterKey(name), binary.LittleEndian.AppendUint64(nil, uint64(n)), nil)
	}
}

// Shared implements store.Backend: one process at a time holds the directory.
func (s *Store) Shared() bool { return false }

// Counts implements store.Counter: the records the store has been given over
// its life, resends included, and the days it holds.
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	for name, dst := range map[string]*int64{"visits": &c.Visits, "encounters": &c.Encounters, "declarations": &c.Declarations} {
		v, closer, err := s.db.Get(counterKey(name))
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return c, fmt.Errorf("read counter %s: %w", name, err)
		}
		if len(v) == 8 {
			*dst = int64(binary.LittleEndian.Uint64(v))
		}
		_ = closer.Close()
	}
	days, err := s.days(ctx)
	c.Days = days
	return c, err
}

func (s *Store) days(ctx context.Context) ([]bucket.Day, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceDay}, UpperBound: []byte{spaceDay + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var days []bucket.Day
	for ok := it.First(); ok; ok = it.Next() {
		d, err := decodeDayKey(it.Key())
		if err != nil {
			return nil, err
		}
		days = append(days, d)
	}
	return days, it.Error()
}

// dayRange lists the local days whose records may overlap w.
func dayRange(w graph.Window) []bucket.Day {
	return slices.Collect(bucket.DaysReaching(w.From, w.To))
}

// dayIters opens one iterator per day over one key space. Within a day, user
// prefixes are visited in ascending order, so each iterator only moves forward.
func (s *Store) dayIters(ctx context.Context, space byte, days []bucket.Day) ([]*pebble.Iterator, func(), error) {
	its := make([]*pebble.Iterator, 0, len(days))
	closeAll := func() {
		for _, it := range its {
			_ = it.Close()
		}
	}
	for _, d := range days {
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{
			LowerBound: dayPrefix(space, d), UpperBound: dayPrefix(space, d+1),
		})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		its = append(its, it)
	}
	return its, closeAll, nil
}

// Stays implements graph.Store.
func (s *Store) Stays(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserStays, error] {
	return s.stays(ctx, users, func(int) int64 { return w.From }, w)
}

// StaysSince implements graph.SinceStore.
func (s *Store) StaysSince(ctx context.Context, users []graph.Since, to int64) iter.Seq2[graph.UserStays, error] {
	ids, w := sinceUsers(users, to)
	return s.stays(ctx, ids, func(i int) int64 { return users[i].From }, w)
}

// ContactsSince implements graph.SinceStore.
func (s *Store) ContactsSince(ctx context.Context, users []graph.Since, to int64) iter.Seq2[graph.UserContacts, error] {
	ids, w := sinceUsers(users, to)
	return s.contacts(ctx, ids, func(i int) int64 { return users[i].From }, w)
}

// sinceUsers returns the ids of users and the widest of their windows.
func sinceUsers(users []graph.Since, to int64) ([]uint32, graph.Window) {
	ids := make([]uint32, len(users))
	w := graph.Window{From: to, To: to}
	for i, u := range users {
		ids[i] = u.User
		w.From = min(w.From, u.From)
	}
	return ids, w
}

// firstDay is the first of days a user asked from from needs.
func firstDay(days []bucket.Day, from int64) int {
	i, _ := slices.BinarySearch(days, bucket.FirstDayReaching(from))
	return i
}

// stays reads users[i] over [fromOf(i), w.To], within w.
func (s *Store) stays(ctx context.Context, users []uint32, fromOf func(int) int64, w graph.Window) iter.Seq2[graph.UserStays, error] {
	return func(yield func(graph.UserStays, error) bool) {
		if len(users) == 0 {
			return
		}
		days := dayRange(w)
		its, closeAll, err := s.dayIters(ctx, spaceStay, days)
		if err != nil {
			yield(graph.UserStays{}, err)
			return
		}
		defer closeAll()
		var (
			prefix []byte
			out    []graph.Stay
		)
		f := stayFolder{layout: s.layout}
		var from int64
		keep := func(st foldedStay, ok bool) {
			if ok && st.End > from && st.Start < w.To {
				out = append(out, graph.Stay{Venue: st.venue, Imputed: st.imputed, Interval: st.Interval})
			}
		}
		for i, u := range users {
			if i%1024 == 1023 && ctx.Err() != nil {
				yield(graph.UserStays{}, ctx.Err())
				return
			}
			out = out[:0]
			from = fromOf(i)
			for di := firstDay(days, from); di < len(days); di++ {
				it, d := its[di], days[di]
				prefix = userPrefix(prefix, spaceStay, d, u)
				for ok := it.SeekGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
					k, err := decodeStayKey(it.Key())
					if err != nil {
						yield(graph.UserStays{}, err)
						return
					}
					keep(f.add(k))
				}
				if err := it.Error(); err != nil {
					yield(graph.UserStays{}, fmt.Errorf("scan stays of user %d on %s: %w", u, d, err))
					return
				}
				keep(f.flush())
			}
			if len(out) > 0 {
				slices.SortFunc(out, func(a, b graph.Stay) int { return cmp.Compare(a.Start, b.Start) })
				if !yield(graph.UserStays{User: u, Stays: out}, nil) {
					return
				}
			}
		}
	}
}

// Contacts implements graph.Store.
func (s *Store) Contacts(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserContacts, error] {
	return s.contacts(ctx, users, func(int) int64 { return w.From }, w)
}

// contacts reads users[i] over [fromOf(i), w.To], within w.
func (s *Store) contacts(ctx context.Context, users []uint32, fromOf func(int) int64, w graph.Window) iter.Seq2[graph.UserContacts, error] {
	return func(yield func(graph.UserContacts, error) bool) {
		if len(users) == 0 {
			return
		}
		days := dayRange(w)
		its, closeAll, err := s.dayIters(ctx, spaceContact, days)
		if err != nil {
			yield(graph.UserContacts{}, err)
			return
		}
		defer closeAll()
		var prefix []byte
		var out []graph.Contact
		for i, u := range users {
			if i%1024 == 1023 && ctx.Err() != nil {
				yield(graph.UserContacts{}, ctx.Err())
				return
			}
			out = out[:0]
			from := fromOf(i)
			for di := firstDay(days, from); di < len(days); di++ {
				it, d := its[di], days[di]
				prefix = userPrefix(prefix, spaceContact, d, u)
				for ok := it.SeekGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
					k, err := decodeContactKey(it.Key())
					if err != nil {
						yield(graph.UserContacts{}, err)
						return
					}
					c := graph.Contact{Peer: k.peer, Interval: graph.Interval{Start: k.start, End: k.start + int64(k.dur)}}
					if c.End <= from || c.Start >= w.To {
						continue
					}
					v, err := it.ValueAndErr()
					if err != nil {
						yield(graph.UserContacts{}, fmt.Errorf("read encounter of user %d on %s: %w", u, d, err))
						return
					}
					if len(v) == 2 && v[0] == 1 {
						c.RSSI, c.HasRSSI = int8(v[1]), true
					}
					// The same meeting under several ids (resends, both phones) adds nothing.
					out = graph.AppendContact(out, c)
				}
				if err := it.Error(); err != nil {
					yield(graph.UserContacts{}, fmt.Errorf("scan encounters of user %d on %s: %w", u, d, err))
					return
				}
			}
			if len(out) > 0 {
				if !yield(graph.UserContacts{User: u, Contacts: out}, nil) {
					return
				}
			}
		}
	}
}

// Present implements graph.Store.
func (s *Store) Present(ctx context.Context, ranges []bucket.Range) (*roaring.Bitmap, error) {
	parts := make([]*roaring.Bitmap, 0, len(ranges))
	if err := s.scanBitmaps(ctx, ranges, func(_ bucket.Key, bm *roaring.Bitmap) { parts = append(parts, bm) }); err != nil {
		return nil, err
	}
	if len(parts) >= parallelOrMin {
		return roaring.ParOr(runtime.GOMAXPROCS(0), parts...), nil
	}
	return roaring.FastOr(parts...), nil
}

// Crowds implements graph.CrowdStore: each key's bitmap is one value (the
// merge operator folds a key's batches), so its cardinality is the count.
func (s *Store) Crowds(ctx context.Context, ranges []bucket.Range) (map[bucket.Key]int, error) {
	out := map[bucket.Key]int{}
	err := s.scanBitmaps(ctx, ranges, func(k bucket.Key, bm *roaring.Bitmap) { out[k] += int(bm.GetCardinality()) })
	return out, err
}

// scanBitmaps calls fn with every co-location bitmap of ranges, in key order.
func (s *Store) scanBitmaps(ctx context.Context, ranges []bucket.Range, fn func(bucket.Key, *roaring.Bitmap)) error {
	// Split ranges at local midnight and visit them in key order.
	type seg struct {
		day         bucket.Day
		venue       uint32
		first, last uint32
	}
	var segs []seg
	for _, r := range ranges {
		for b := r.First; b <= r.Last; {
			d := s.layout.DayOfBucket(b)
			end := min(s.layout.Of((d+1).Start())-1, r.Last)
			segs = append(segs, seg{day: d, venue: r.Venue, first: b, last: end})
			if end == r.Last {
				break
			}
			b = end + 1
		}
	}
	slices.SortFunc(segs, func(a, b seg) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.venue, b.venue), cmp.Compare(a.first, b.first))
	})
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceBitmap}, UpperBound: []byte{spaceBitmap + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var lo, hi []byte
	for _, sg := range segs {
		lo = appendBitmapKey(lo, sg.day, sg.venue, sg.first)
		hi = appendBitmapKey(hi, sg.day, sg.venue, sg.last)
		for ok := it.SeekGE(lo); ok && bytes.Compare(it.Key(), hi) <= 0; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("read bitmap: %w", err)
			}
			bm, err := bitmap.Decode(v)
			if err != nil {
				return err
			}
			k := it.Key()
			fn(bucket.Key{Venue: sg.venue, Bucket: binary.BigEndian.Uint32(k[len(k)-4:])}, bm)
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("scan bitmaps: %w", err)
		}
	}
	return nil
}

// parallelOrMin is the fewest bitmaps worth a parallel union.
const parallelOrMin = 256

// pebbleLogger adapts Pebble's logger to slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf("BUG: pebble fatal: "+format, args...))
}

// Compact flattens the whole key space, as background compactions of a
// running store eventually do; for benchmarks that bulk-load and then query.
func (s *Store) Compact(ctx context.Context) error {
	return s.db.Compact(ctx, []byte{0}, []byte{0xff}, true)
}

// DiskUsage implements store.Sizer: the whole store as one table, its files'
// bytes on disk (Pebble does not count rows).
func (s *Store) DiskUsage(context.Context) ([]store.TableUsage, error) {
	return []store.TableUsage{{Table: "pebble", Bytes: int64(s.db.Metrics().DiskSpaceUsage())}}, nil
}
