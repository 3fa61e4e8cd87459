package chstore

import (
	"context"
	"fmt"
	"iter"
	"strconv"
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
// its own spans may reach — a (day, venue) pair per day, from the day a stay
// ending in the span's first second could have begun (bucket.MaxSpan
// earlier) to the span's last — which the primary key (day, venue, …)
// answers as one range per pair: over a 14-day window a case's market,
// visited once, costs its day and the day before, not 15 days of its
// visitors. ClickHouse keeps the stays that overlap their venue's whole
// window (first span start to last span end): transform looks a venue's
// bounds up in a hash table built once per block, while a per-venue array of
// spans would be copied for every row by older servers. The caller keeps
// those that overlap a span.
func (s *Store) visitorsQuery(venues []graph.VenueSpans) (string, int) {
	var ids, froms, tos, keys []byte
	w := graph.Window{From: 1<<63 - 1, To: -1 << 63}
	n, k := 0, 0
	for ; n < len(venues) && len(ids)+len(froms)+len(tos)+len(keys) < visitorsQueryBytes; n++ {
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
		keys = appendDayKeys(keys, v)
		w.From, w.To = min(w.From, first), max(w.To, last)
	}
	if k == 0 {
		return "", n
	}
	return fmt.Sprintf(`SELECT venue, enter, user, stay_end FROM (
	SELECT venue, enter, user, visit_id, max(exit) AS last_exit, if(last_exit = 0, enter + %d, last_exit) AS stay_end
	FROM %s.visitors
	WHERE (day, venue) IN (%s) AND enter < %d
	GROUP BY venue, enter, user, visit_id
)
WHERE stay_end > enter AND stay_end > transform(venue, [%s], [%s], 0) AND enter < transform(venue, [%[5]s], [%[7]s], 0)
ORDER BY venue, enter, user, visit_id`,
		s.layout.DwellSeconds, s.db, keys, w.To, ids, froms, tos), n
}

// appendDayKeys appends to b, comma-separated, the (day, venue) pairs of the
// days v's spans may reach. Spans are sorted and disjoint, so each day is
// written once.
func appendDayKeys(b []byte, v graph.VenueSpans) []byte {
	next := bucket.Day(0) // the first day not yet written
	for _, sp := range v.Spans {
		lo, hi := bucket.DayOf(sp.Start-bucket.MaxSpan), bucket.DayOf(sp.End)
		for d := max(lo, next); d <= hi; d++ {
			if len(b) > 0 && b[len(b)-1] != ',' {
				b = append(b, ',')
			}
			b = append(b, '(')
			b = strconv.AppendUint(b, uint64(d), 10)
			b = append(b, ',')
			b = strconv.AppendUint(b, uint64(v.Venue), 10)
			b = append(b, ')')
			next = d + 1
		}
	}
	return b
}
