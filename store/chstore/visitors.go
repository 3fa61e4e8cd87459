package chstore

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/truyvet/truyvet/query/graph"
)

var _ graph.VenueStore = (*Store)(nil)

// visitorsQueryBytes bounds the literals of one visitors query (venue ids
// twice, their positions and their spans), well under ClickHouse's
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
// empty when none of them has a span. ClickHouse keeps the stays that overlap
// their venue's whole window (first span start to last span end): transform
// looks a venue's bounds up in a hash table built once per block, while a
// per-venue array of spans would be copied for every row by older servers.
// The caller keeps those that overlap a span.
func (s *Store) visitorsQuery(venues []graph.VenueSpans) (string, int) {
	var ids, froms, tos []byte
	w := graph.Window{From: 1<<63 - 1, To: -1 << 63}
	n, k := 0, 0
	for ; n < len(venues) && 2*len(ids)+len(froms)+len(tos) < visitorsQueryBytes; n++ {
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
		w.From, w.To = min(w.From, first), max(w.To, last)
	}
	if k == 0 {
		return "", n
	}
	return fmt.Sprintf(`SELECT venue, enter, user, stay_end FROM (
	SELECT venue, enter, user, visit_id, max(exit) AS last_exit, if(last_exit = 0, enter + %d, last_exit) AS stay_end
	FROM %s.visitors
	WHERE day IN (%s) AND venue IN (%s) AND enter < %d
	GROUP BY venue, enter, user, visit_id
)
WHERE stay_end > enter AND stay_end > transform(venue, [%[4]s], [%[6]s], 0) AND enter < transform(venue, [%[4]s], [%[7]s], 0)
ORDER BY venue, enter, user, visit_id`,
		s.layout.DwellSeconds, s.db, dayList(w), ids, w.To, froms, tos), n
}
