package chstore

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/truyvet/truyvet/processor/bitmap"
	"github.com/truyvet/truyvet/processor/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

// usersPerQuery bounds the ids in one IN list, keeping queries well under
// ClickHouse's max_query_size (256 KiB).
const usersPerQuery = 20_000

// dayList is the SQL list of local days whose records may overlap w: records
// last at most bucket.MaxSpan, so look back that far.
func dayList(w graph.Window) string {
	var b strings.Builder
	for d := bucket.DayOf(w.From - bucket.MaxSpan); d <= bucket.DayOf(w.To); d++ {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(d), 10))
	}
	return b.String()
}

// idList is the SQL list of ids; they are numbers, so nothing to escape.
func idList(ids []uint32) string {
	b := make([]byte, 0, 8*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(id), 10)
	}
	return string(b)
}

// Stays implements graph.Store.
func (s *Store) Stays(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserStays, error] {
	return func(yield func(graph.UserStays, error) bool) {
		days := dayList(w)
		var out []graph.Stay
		for chunk := range slices.Chunk(users, usersPerQuery) {
			start := time.Now()
			rows, err := s.conn.Query(ctx, "SELECT user, enter, venue, visit_id, exit FROM "+s.db+".stays WHERE day IN ("+days+
				") AND user IN ("+idList(chunk)+") ORDER BY user, enter, venue, visit_id, exit")
			if err != nil {
				s.m.errors.WithLabelValues("stays").Inc()
				yield(graph.UserStays{}, fmt.Errorf("read stays: %w", err))
				return
			}
			var (
				cur         graph.Stay
				curUser     uint32
				curID       string
				curExit     int64
				open, has   bool
				user, venue uint32
				enter, exit int64
				visitID     string
			)
			flush := func() {
				if !open {
					return
				}
				cur.End = cur.Start + s.layout.DwellSeconds
				if curExit != 0 {
					cur.End = curExit
				}
				if cur.End > w.From && cur.Start < w.To && cur.End > cur.Start {
					out = append(out, cur)
				}
				open = false
			}
			emit := func() bool {
				flush()
				if len(out) == 0 {
					return true
				}
				slices.SortFunc(out, func(a, b graph.Stay) int { return cmp.Compare(a.Start, b.Start) })
				ok := yield(graph.UserStays{User: curUser, Stays: out}, nil)
				out = out[:0]
				return ok
			}
			for rows.Next() {
				if err := rows.Scan(&user, &enter, &venue, &visitID, &exit); err != nil {
					_ = rows.Close()
					yield(graph.UserStays{}, err)
					return
				}
				if has && user != curUser {
					if !emit() {
						_ = rows.Close()
						return
					}
				}
				if open && user == curUser && enter == cur.Start && venue == cur.Venue && visitID == curID {
					curExit = max(curExit, exit)
					continue
				}
				flush()
				curUser, has = user, true
				cur, curID, curExit, open = graph.Stay{Venue: venue, Interval: graph.Interval{Start: enter}}, visitID, exit, true
			}
			err = rows.Err()
			_ = rows.Close()
			s.m.query.WithLabelValues("stays").Observe(time.Since(start).Seconds())
			if err != nil {
				yield(graph.UserStays{}, fmt.Errorf("read stays: %w", err))
				return
			}
			if has && !emit() {
				return
			}
		}
	}
}

// Contacts implements graph.Store.
func (s *Store) Contacts(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserContacts, error] {
	return func(yield func(graph.UserContacts, error) bool) {
		days := dayList(w)
		var out []graph.Contact
		for chunk := range slices.Chunk(users, usersPerQuery) {
			start := time.Now()
			rows, err := s.conn.Query(ctx, "SELECT user, start, peer, duration FROM "+s.db+".contacts WHERE day IN ("+days+
				") AND user IN ("+idList(chunk)+") AND start < ? AND start + duration > ? ORDER BY user, start, peer, duration", w.To, w.From)
			if err != nil {
				s.m.errors.WithLabelValues("contacts").Inc()
				yield(graph.UserContacts{}, fmt.Errorf("read contacts: %w", err))
				return
			}
			var (
				curUser, user, peer uint32
				has                 bool
				st                  int64
				dur                 uint32
			)
			for rows.Next() {
				if err := rows.Scan(&user, &st, &peer, &dur); err != nil {
					_ = rows.Close()
					yield(graph.UserContacts{}, err)
					return
				}
				if has && user != curUser && len(out) > 0 {
					if !yield(graph.UserContacts{User: curUser, Contacts: out}, nil) {
						_ = rows.Close()
						return
					}
					out = out[:0]
				}
				curUser, has = user, true
				c := graph.Contact{Peer: peer, Interval: graph.Interval{Start: st, End: st + int64(dur)}}
				// The same meeting under several ids (resends, both phones) adds nothing.
				if n := len(out); n > 0 && out[n-1] == c {
					continue
				}
				out = append(out, c)
			}
			err = rows.Err()
			_ = rows.Close()
			s.m.query.WithLabelValues("contacts").Observe(time.Since(start).Seconds())
			if err != nil {
				yield(graph.UserContacts{}, fmt.Errorf("read contacts: %w", err))
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
func (s *Store) Present(ctx context.Context, ranges []bucket.Range) (*roaring.Bitmap, error) {
	if len(ranges) == 0 {
		return roaring.New(), nil
	}
	start := time.Now()
	days := map[bucket.Day]bool{}
	var cond strings.Builder
	for i, r := range ranges {
		if i > 0 {
			cond.WriteString(" OR ")
		}
		fmt.Fprintf(&cond, "(venue = %d AND bucket BETWEEN %d AND %d)", r.Venue, r.First, r.Last)
		for d := s.layout.DayOfBucket(r.First); d <= s.layout.DayOfBucket(r.Last); d++ {
			days[d] = true
		}
	}
	dl := make([]uint32, 0, len(days))
	for d := range days {
		dl = append(dl, uint32(d))
	}
	slices.Sort(dl)
	rows, err := s.conn.Query(ctx, "SELECT bitmap FROM "+s.db+".bitmaps WHERE day IN ("+idList(dl)+") AND ("+cond.String()+")")
	if err != nil {
		s.m.errors.WithLabelValues("bitmaps").Inc()
		return nil, fmt.Errorf("read bitmaps: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var parts []*roaring.Bitmap
	var raw string
	for rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		bm, err := bitmap.Decode([]byte(raw))
		if err != nil {
			return nil, err
		}
		parts = append(parts, bm)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read bitmaps: %w", err)
	}
	s.m.query.WithLabelValues("bitmaps").Observe(time.Since(start).Seconds())
	return roaring.FastOr(parts...), nil
}
