package chstore

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

var _ graph.VenueStore = (*Store)(nil)

// visitorsQueryBytes bounds the literals of one visitors query (the (day,
// venue) pairs, the venue ids and their windows), well under ClickHouse's
// max_query_size (256 KiB).
const visitorsQueryBytes = 160 << 10

// Visitors implements graph.VenueStore. Each query covers a chunk of the
// venues: a primary-key range per venue on the days the chunk's spans may
// reach. ClickHouse folds each stay's records (the latest exit; with none,
// the default dwell) and sends, by venue and then enter, the stays that
// overlap their venue's window; those that overlap one of its spans are kept.
func (s *Store) Visitors(ctx context.Context, venues []graph.VenueSpans) iter.Seq2[graph.VenueVisitors, error] {
	return func(yield func(graph.VenueVisitors, error) bool) {
		var out []graph.Visitor
		for len(venues) > 0 {
			q, n := s.visitorsQuery(venues)
			chunk := venues[:n]
			venues = venues[n:]
			if q == "" {
				continue
			}
			spans := make(map[uint32]graph.VenueSpans, n)
			for _, v := range chunk {
				spans[v.Venue] = v
			}
			start := time.Now()
			rows, err := s.conn.Query(ctx, q)
			if err != nil {
				s.m.errors.WithLabelValues("visitors").Inc()
				yield(graph.VenueVisitors{}, unavailable("read visitors", err))
				return
			}
			var (
				venue, cur uint32
				v          graph.Visitor
				asked      graph.VenueSpans
			)
			for rows.Next() {
				if err := rows.Scan(&venue, &v.Start, &v.User, &v.End); err != nil {
					_ = rows.Close()
					yield(graph.VenueVisitors{}, unavailable("read visitors", err))
					return
				}
				if len(out) > 0 && venue != cur {
					if !yield(graph.VenueVisitors{Venue: cur, Visitors: out}, nil) {
						_ = rows.Close()
						return
					}
					out = out[:0]
				}
				if venue != asked.Venue || len(asked.Spans) == 0 {
					asked = spans[venue]
				}
				cur = venue
				if asked.Overlaps(v.Interval) {
					out = append(out, v)
				}
			}
			err = rows.Err()
			_ = rows.Close()
			s.m.query.WithLabelValues("visitors").Observe(time.Since(start).Seconds())
			if err != nil {
				s.m.errors.WithLabelValues("visitors").Inc()
				yield(graph.VenueVisitors{}, unavailable("read visitors", err))
				return
			}
			if len(out) > 0 {
				if !yield(graph.VenueVisitors{Venue: cur, Visitors: out}, nil) {
					return
				}
				out = out[:0]
			}
		}
	}
}

// visitorsQuery builds the query for as many of venues (at least one) as fit
// in visitorsQueryBytes, and returns it with how many it took; the query is
// empty when none of them has a span. Each venue is read only on the days
// its own spans may reach (venueDays): one branch of a UNION ALL per day,
// `day = d AND venue IN (…)`, so that ClickHouse, whose day is the
// partition and not part of the primary key (venue, …), reads in each day's
// part the ranges of that day's venues alone. A (day, venue) IN (…) filter
// over all the days read every venue's range in every day's part, four
// times the rows at tier M over 14 days (bench/README.md). Over a 14-day
// window a case's market, visited once, costs its day and the day before,
// not 15 days of its visitors. ClickHouse folds each stay's records (they
// share its day) and keeps the stays that overlap their venue's whole
// window (first span start to last span end): transform looks a venue's
// bounds up in a hash table built once per block, while a per-venue array
// of spans would be copied for every row by older servers. The caller keeps
// those that overlap a span.
func (s *Store) visitorsQuery(venues []graph.VenueSpans) (string, int) {
	var ids, froms, tos []byte
	perDay := map[bucket.Day][]byte{} // day → its venues, comma-separated
	branch := len(visitorsBranch) + len(s.db) + 40
	size := 0
	w := graph.Window{From: 1<<63 - 1, To: -1 << 63}
	n, k := 0, 0
	for ; n < len(venues) && len(ids)+len(froms)+len(tos)+size < visitorsQueryBytes; n++ {
		v := venues[n]
		if len(v.Spans) == 0 {
			continue
		}
		if k > 0 {
			ids, froms, tos = append(ids, ','), append(froms, ','), append(tos, ',')
		}
		k++
		first, last := v.Spans[0].Start, v.Spans[len(v.Spans)-1].End
		ids = strconv.AppendUint(ids, uint64(v.Venue), 10)
		froms = strconv.AppendInt(froms, first, 10)
		tos = strconv.AppendInt(tos, last, 10)
		for d := range venueDays(v) {
			l := perDay[d]
			if len(l) == 0 {
				size += branch
			} else {
				l = append(l, ',')
			}
			before := len(l)
			l = strconv.AppendUint(l, uint64(v.Venue), 10)
			size += len(l) - before + 1
			perDay[d] = l
		}
		w.From, w.To = min(w.From, first), max(w.To, last)
	}
	if k == 0 {
		return "", n
	}
	days := slices.Sorted(maps.Keys(perDay))
	var branches strings.Builder
	for i, d := range days {
		if i > 0 {
			branches.WriteString("\n\t\tUNION ALL\n")
		}
		fmt.Fprintf(&branches, visitorsBranch, s.db, d, perDay[d], w.To)
	}
	return fmt.Sprintf(`SELECT venue, enter, user, stay_end FROM (
	SELECT venue, enter, user, visit_id, max(exit) AS last_exit, if(last_exit = 0, enter + %d, last_exit) AS stay_end
	FROM (
%s
	)
	GROUP BY venue, enter, user, visit_id
)
WHERE stay_end > enter AND stay_end > transform(venue, [%s], [%s], 0) AND enter < transform(venue, [%[3]s], [%[5]s], 0)
ORDER BY venue, enter, user, visit_id`,
		s.layout.DwellSeconds, branches.String(), ids, froms, tos), n
}

// visitorsBranch reads one day's records of some venues: database, day,
// venue ids, the end of the window.
const visitorsBranch = "\t\tSELECT venue, enter, user, visit_id, exit FROM %s.visitors WHERE day = %d AND venue IN (%s) AND enter < %d"

// venueDays yields, in order and each once, the days v's spans may reach:
// from the day a stay ending in a span's first second could have begun
// (bucket.MaxSpan earlier) to the span's last day. Spans are sorted and
// disjoint.
func venueDays(v graph.VenueSpans) iter.Seq[bucket.Day] {
	return func(yield func(bucket.Day) bool) {
		next := bucket.Day(0) // the first day not yet yielded
		for _, sp := range v.Spans {
			lo, hi := bucket.FirstDayReaching(sp.Start), bucket.DayOf(sp.End)
			for d := max(lo, next); d <= hi; d++ {
				if !yield(d) {
					return
				}
				next = d + 1
			}
		}
	}
}
