package chstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/truyvet/truyvet/index/bitmap"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// usersPerQuery bounds the ids in one IN list, keeping queries well under
// ClickHouse's max_query_size (256 KiB).
const usersPerQuery = 20_000

// windowDays are the local days whose records may overlap w.
func windowDays(w graph.Window) []bucket.Day {
	return slices.Collect(bucket.DaysReaching(w.From, w.To))
}

// idList is the SQL list of ids (users, venues, days); they are numbers, so
// nothing to escape.
func idList[T ~uint32](ids []T) string {
	b := make([]byte, 0, 8*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(id), 10)
	}
	return string(b)
}

// stayFolder combines one user's visit records, given in (enter, venue,
// visit_id, exit) order, into stays by the visit rule, keeping those that
// may overlap w.
type stayFolder struct {
	layout  bucket.Layout
	w       graph.Window
	cur     graph.Stay
	curID   string
	curExit int64
	open    bool
	out     []graph.Stay
}

func (f *stayFolder) add(enter int64, venue uint32, visitID string, exit int64) {
	if f.open && enter == f.cur.Start && venue == f.cur.Venue && visitID == f.curID {
		f.curExit = max(f.curExit, exit)
		return
	}
	f.flush()
	f.cur, f.curID, f.curExit, f.open = graph.Stay{Venue: venue, Interval: graph.Interval{Start: enter}}, visitID, exit, true
}

func (f *stayFolder) flush() {
	if !f.open {
		return
	}
	f.cur.End, f.cur.Imputed = f.layout.StayEnd(f.cur.Start, f.curExit), f.curExit == 0
	if f.cur.End > f.w.From && f.cur.Start < f.w.To && f.cur.End > f.cur.Start {
		f.out = append(f.out, f.cur)
	}
	f.open = false
}

// take ends the user's records and returns their stays sorted by Start,
// valid until the next add.
func (f *stayFolder) take() []graph.Stay {
	f.flush()
	out := f.out
	slices.SortFunc(out, func(a, b graph.Stay) int { return cmp.Compare(a.Start, b.Start) })
	f.out = f.out[:0]
	return out
}

// userQuery is one read of some users' records, sorted by user: its SQL,
// and the start of each user's window.
type userQuery struct {
	sql  string
	from func(user uint32) int64
}

// windowQueries are the reads of users' records in table over w: a chunk
// of users a query, every day of w, from the day table and its weekly copy
// (personSources).
func (s *Store) windowQueries(table, columns, order, where string, users []uint32, w graph.Window) iter.Seq[userQuery] {
	return func(yield func(userQuery) bool) {
		srcs := s.personSources(table, windowDays(w))
		from := func(uint32) int64 { return w.From }
		for chunk := range slices.Chunk(users, usersPerQuery/max(1, len(srcs))) {
			ids := idList(chunk)
			branches := make([]string, len(srcs))
			for i, src := range srcs {
				branches[i] = "SELECT " + columns + " FROM " + src.table + " WHERE " + src.days + " AND user IN (" + ids + ")" + where
			}
			q := branches[0]
			if len(branches) > 1 {
				q = "SELECT " + columns + " FROM (" + strings.Join(branches, " UNION ALL ") + ")"
			}
			if !yield(userQuery{sql: q + " ORDER BY " + order, from: from}) {
				return
			}
		}
	}
}

const (
	staysColumns    = "user, enter, venue, visit_id, exit"
	contactsColumns = "user, start, peer, duration, rssi"
	contactsOrder   = "user, start, peer, duration"
)

// contactsWhere keeps the encounters that may overlap [from, to].
func contactsWhere(from, to int64) string {
	return " AND start < " + strconv.FormatInt(to, 10) + " AND start + duration > " + strconv.FormatInt(from, 10)
}

// Stays implements graph.Store.
func (s *Store) Stays(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserStays, error] {
	return s.readStays(ctx, s.windowQueries("stays", staysColumns, staysColumns, "", users, w), w.To)
}

// StaysSince implements graph.SinceStore.
func (s *Store) StaysSince(ctx context.Context, users []graph.Since, to int64) iter.Seq2[graph.UserStays, error] {
	return s.readStays(ctx, s.sinceQueries("stays", staysColumns, staysColumns, nil, users, to), to)
}

// Contacts implements graph.Store.
func (s *Store) Contacts(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserContacts, error] {
	return s.readContacts(ctx, s.windowQueries("contacts", contactsColumns, contactsOrder, contactsWhere(w.From, w.To), users, w), w.To)
}

// ContactsSince implements graph.SinceStore.
func (s *Store) ContactsSince(ctx context.Context, users []graph.Since, to int64) iter.Seq2[graph.UserContacts, error] {
	return s.readContacts(ctx, s.sinceQueries("contacts", contactsColumns, contactsOrder, contactsWhere, users, to), to)
}

// readStays runs queries (of staysColumns, in that order) and yields each
// user's stays that overlap [from(user), to].
func (s *Store) readStays(ctx context.Context, queries iter.Seq[userQuery], to int64) iter.Seq2[graph.UserStays, error] {
	return func(yield func(graph.UserStays, error) bool) {
		f := stayFolder{layout: s.layout}
		for uq := range queries {
			start := time.Now()
			rows, err := s.conn.Query(ctx, uq.sql)
			if err != nil {
				s.m.errors.WithLabelValues("stays").Inc()
				yield(graph.UserStays{}, unavailable("read stays", err))
				return
			}
			var (
				curUser     uint32
				has         bool
				user, venue uint32
				enter, exit int64
				visitID     string
			)
			emit := func() bool {
				out := f.take()
				return len(out) == 0 || yield(graph.UserStays{User: curUser, Stays: out}, nil)
			}
			for rows.Next() {
				if err := rows.Scan(&user, &enter, &venue, &visitID, &exit); err != nil {
					_ = rows.Close()
					yield(graph.UserStays{}, err)
					return
				}
				if !has || user != curUser {
					if has && !emit() {
						_ = rows.Close()
						return
					}
					curUser, has = user, true
					f.w = graph.Window{From: uq.from(user), To: to}
				}
				f.add(enter, venue, visitID, exit)
			}
			err = rows.Err()
			_ = rows.Close()
			s.m.query.WithLabelValues("stays").Observe(time.Since(start).Seconds())
			if err != nil {
				yield(graph.UserStays{}, unavailable("read stays", err))
				return
			}
			if has && !emit() {
				return
			}
		}
	}
}

// readContacts runs queries (of contactsColumns, in contactsOrder) and
// yields each user's encounters that overlap [from(user), to].
func (s *Store) readContacts(ctx context.Context, queries iter.Seq[userQuery], to int64) iter.Seq2[graph.UserContacts, error] {
	return func(yield func(graph.UserContacts, error) bool) {
		var out []graph.Contact
		for uq := range queries {
			start := time.Now()
			rows, err := s.conn.Query(ctx, uq.sql)
			if err != nil {
				s.m.errors.WithLabelValues("contacts").Inc()
				yield(graph.UserContacts{}, unavailable("read contacts", err))
				return
			}
			var (
				curUser, user, peer uint32
				has                 bool
				st, from            int64
				dur                 uint32
				rssi                int16
			)
			for rows.Next() {
				if err := rows.Scan(&user, &st, &peer, &dur, &rssi); err != nil {
					_ = rows.Close()
					yield(graph.UserContacts{}, err)
					return
				}
				if !has || user != curUser {
					if len(out) > 0 {
						if !yield(graph.UserContacts{User: curUser, Contacts: out}, nil) {
							_ = rows.Close()
							return
						}
						out = out[:0]
					}
					curUser, has, from = user, true, uq.from(user)
				}
				c := graph.Contact{Peer: peer, Interval: graph.Interval{Start: st, End: st + int64(dur)}}
				if c.End <= from || c.Start >= to {
					continue
				}
				if rssi >= event.MinRSSI && rssi <= event.MaxRSSI { // -1000: none
					c.RSSI, c.HasRSSI = int8(rssi), true
				}
				// The same meeting under several ids (resends, both phones) adds nothing.
				out = graph.AppendContact(out, c)
			}
			err = rows.Err()
			_ = rows.Close()
			s.m.query.WithLabelValues("contacts").Observe(time.Since(start).Seconds())
			if err != nil {
				yield(graph.UserContacts{}, unavailable("read contacts", err))
				return
			}
			if len(out) > 0 {
				if !yield(graph.UserContacts{User: curUser, Contacts: out}, nil) {
					return
				}
				out = out[:0]
			}
		}
	}
}

// Present implements graph.Store: the OR of every bitmap row of the ranges.
// It asks for the ranges' venues on their days (the primary key's prefix) and
// keeps the rows whose bucket falls in a range: one cheap indexed read rather
// than a condition with a term per range, which ClickHouse would evaluate on
// every row.
func (s *Store) Present(ctx context.Context, ranges []bucket.Range) (*roaring.Bitmap, error) {
	if len(ranges) == 0 {
		return roaring.New(), nil
	}
	var parts []*roaring.Bitmap
	if err := s.scanBitmaps(ctx, ranges, func(_ bucket.Key, bm *roaring.Bitmap) { parts = append(parts, bm) }); err != nil {
		return nil, err
	}
	return roaring.FastOr(parts...), nil
}

// Crowds implements graph.CrowdStore: the cardinality of the OR of each
// key's rows (a key has one row per batch that wrote it).
func (s *Store) Crowds(ctx context.Context, ranges []bucket.Range) (map[bucket.Key]int, error) {
	by := map[bucket.Key]*roaring.Bitmap{}
	err := s.scanBitmaps(ctx, ranges, func(k bucket.Key, bm *roaring.Bitmap) {
		if o := by[k]; o != nil {
			o.Or(bm)
			return
		}
		by[k] = bm
	})
	if err != nil {
		return nil, err
	}
	out := make(map[bucket.Key]int, len(by))
	for k, bm := range by {
		out[k] = int(bm.GetCardinality())
	}
	return out, nil
}

// scanBitmaps calls fn with every bitmap row of ranges.
func (s *Store) scanBitmaps(ctx context.Context, ranges []bucket.Range, fn func(bucket.Key, *roaring.Bitmap)) error {
	if len(ranges) == 0 {
		return nil
	}
	start := time.Now()
	byVenue := map[uint32][]bucket.Range{}
	days := map[bucket.Day]bool{}
	for _, r := range ranges {
		byVenue[r.Venue] = append(byVenue[r.Venue], r)
		for d := s.layout.DayOfBucket(r.First); d <= s.layout.DayOfBucket(r.Last); d++ {
			days[d] = true
		}
	}
	venues := make([]uint32, 0, len(byVenue))
	for v, rs := range byVenue {
		venues = append(venues, v)
		byVenue[v] = mergeRanges(rs)
	}
	slices.Sort(venues)
	dl := make([]uint32, 0, len(days))
	for d := range days {
		dl = append(dl, uint32(d))
	}
	slices.Sort(dl)
	for chunk := range slices.Chunk(venues, usersPerQuery) {
		rows, err := s.conn.Query(ctx, "SELECT venue, bucket, bitmap FROM "+s.db+".bitmaps WHERE day IN ("+idList(dl)+
			") AND venue IN ("+idList(chunk)+")")
		if err != nil {
			s.m.errors.WithLabelValues("bitmaps").Inc()
			return unavailable("read bitmaps", err)
		}
		var (
			venue, bkt uint32
			raw        string
		)
		for rows.Next() {
			if err := rows.Scan(&venue, &bkt, &raw); err != nil {
				_ = rows.Close()
				return err
			}
			if !inRanges(byVenue[venue], bkt) {
				continue
			}
			bm, err := bitmap.Decode([]byte(raw))
			if err != nil {
				_ = rows.Close()
				return err
			}
			fn(bucket.Key{Venue: venue, Bucket: bkt}, bm)
		}
		err = rows.Err()
		_ = rows.Close()
		if err != nil {
			return unavailable("read bitmaps", err)
		}
	}
	s.m.query.WithLabelValues("bitmaps").Observe(time.Since(start).Seconds())
	return nil
}

// mergeRanges sorts ranges of one venue and merges those that overlap or touch.
func mergeRanges(rs []bucket.Range) []bucket.Range {
	slices.SortFunc(rs, func(a, b bucket.Range) int { return cmp.Compare(a.First, b.First) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.First <= last.Last+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// inRanges reports whether b falls in one of the sorted, disjoint ranges.
func inRanges(rs []bucket.Range, b uint32) bool {
	i, _ := slices.BinarySearchFunc(rs, b, func(r bucket.Range, b uint32) int {
		switch {
		case r.Last < b:
			return -1
		case r.First > b:
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i].First <= b && b <= rs[i].Last
}

// RecordIDs calls yield with each distinct record id stored for kind on day
// (visit_id, encounter_id, declaration_id or assessment_id), for
// reconciliation (processor/reconcile.Store).
func (s *Store) RecordIDs(ctx context.Context, kind event.Kind, day bucket.Day, yield func(id string)) error {
	var q string
	switch kind {
	case event.KindVisit:
		q = "SELECT DISTINCT visit_id FROM " + s.db + ".stays WHERE day = ?"
	case event.KindEncounter:
		q = "SELECT DISTINCT encounter_id FROM " + s.db + ".contacts WHERE day = ?"
	case event.KindDeclaration:
		q = "SELECT DISTINCT declaration_id FROM " + s.db + ".declarations WHERE day = ?"
	case event.KindAssessment:
		q = "SELECT DISTINCT assessment_id FROM " + s.db + ".assessments WHERE day = ?"
	default:
		return fmt.Errorf("record ids of kind %d: %w", kind, errors.ErrUnsupported)
	}
	rows, err := s.conn.Query(ctx, q, uint32(day))
	if err != nil {
		return unavailable("read record ids", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		yield(id)
	}
	return unavailable("read record ids", rows.Err())
}

var _ graph.PersonStore = (*Store)(nil)

// Person implements graph.PersonStore: the user's visit records and
// encounters in one query (UNION ALL of the two tables, the columns cast
// alike), folded as Stays and Contacts fold them.
func (s *Store) Person(ctx context.Context, user uint32, w graph.Window) ([]graph.Stay, []graph.Contact, error) {
	days := windowDays(w)
	u := strconv.FormatUint(uint64(user), 10)
	var branches []string
	for _, src := range s.personSources("stays", days) {
		branches = append(branches, "SELECT toUInt8(0) AS kind, enter AS t, venue AS other, visit_id AS id, exit AS x, toInt16(0) AS r FROM "+src.table+" WHERE "+src.days+" AND user = "+u)
	}
	for _, src := range s.personSources("contacts", days) {
		branches = append(branches, "SELECT toUInt8(1), start, peer, '', toInt64(duration), rssi FROM "+src.table+" WHERE "+src.days+" AND user = "+u+
			" AND start < "+strconv.FormatInt(w.To, 10)+" AND start + duration > "+strconv.FormatInt(w.From, 10))
	}
	q := strings.Join(branches, " UNION ALL ")
	start := time.Now()
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		s.m.errors.WithLabelValues("person").Inc()
		return nil, nil, unavailable("read stays and contacts", err)
	}
	type visit struct {
		enter, exit int64
		venue       uint32
		id          string
	}
	var (
		visits   []visit
		contacts []graph.Contact
		kind     uint8
		t, x     int64
		other    uint32
		id       string
		rssi     int16
	)
	for rows.Next() {
		if err := rows.Scan(&kind, &t, &other, &id, &x, &rssi); err != nil {
			_ = rows.Close()
			return nil, nil, err
		}
		if kind == 0 {
			visits = append(visits, visit{enter: t, exit: x, venue: other, id: id})
			continue
		}
		c := graph.Contact{Peer: other, Interval: graph.Interval{Start: t, End: t + x}}
		if rssi >= event.MinRSSI && rssi <= event.MaxRSSI { // -1000: none
			c.RSSI, c.HasRSSI = int8(rssi), true
		}
		contacts = append(contacts, c)
	}
	err = rows.Err()
	_ = rows.Close()
	s.m.query.WithLabelValues("person").Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, nil, unavailable("read stays and contacts", err)
	}
	slices.SortFunc(visits, func(a, b visit) int {
		return cmp.Or(cmp.Compare(a.enter, b.enter), cmp.Compare(a.venue, b.venue), strings.Compare(a.id, b.id), cmp.Compare(a.exit, b.exit))
	})
	f := stayFolder{layout: s.layout, w: w}
	for _, v := range visits {
		f.add(v.enter, v.venue, v.id, v.exit)
	}
	stays := slices.Clone(f.take())
	slices.SortFunc(contacts, func(a, b graph.Contact) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.End, b.End))
	})
	var folded []graph.Contact
	for _, c := range contacts {
		// The same meeting under several ids (resends, both phones) adds nothing.
		folded = graph.AppendContact(folded, c)
	}
	return stays, folded, nil
}
