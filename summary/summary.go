// Package summary keeps the epidemic picture a dashboard polls, GET
// /v1/summary: per local day and province, records in by kind, rejections
// by reason, cases registered, contacts found, exposure sites published,
// alerts sent and venues by safety level. Each is a counter added to as
// things happen (Counters.AddCounts), never a scan of the records, so an
// answer reads a few hundred counter rows whatever the data's size.
//
// Where the counts come from:
//
//   - records_in{kind}: the processor, once a batch is durable (Sink wraps
//     its sink). A check-in counts in its venue's province (Provinces, from
//     the venue registry); an encounter, which has no place, and a check-in
//     at a venue of unknown province count under Unknown.
//   - rejections{reason}: ingest, per rejected record (Tally), under
//     Unknown: a refused record's venue is not trusted.
//   - cases_registered: the case registry, per new case, in the case's
//     province (Cases wraps it).
//   - lookups, contacts_found: answered exposure lookups and the people they
//     found (F1 + F2), in the case's province, from their audit entries
//     (Audit wraps the trail).
//   - sites_published, alerts_sent: the exposure-site store, per approval
//     that succeeds and per alert stored (not a duplicate), in the province
//     of the site's venue (Sites wraps it; Tally).
//   - venues_by_level{level}: the processor (Sink, with Assessments set),
//     per day assessed and in the venue's province. A venue's level is a
//     gauge kept as counts: the level of a venue's day is that of its
//     latest assessment (the Safety Map's rule, safety.Moves), and a batch
//     that changes it adds 1 to the new level and -1 to the old, computed
//     against what the store held for the batch's (venue, day)s before it
//     was written, so replays move nothing. not_assessed is not counted: an
//     answer sets it to the registered venues (Handler.Venues) less those
//     at a level (Answer.NotAssessed).
//
// Days are local days (Asia/Ho_Chi_Minh) of when the count happened at the
// server (records: when processed), not of the records' own times: the
// summary is a dashboard of the pipeline's day. venues_by_level is the
// exception: it counts on the day assessed, so it agrees with the Safety
// Map's summary of that day. The embedded store writes a
// batch's counts in the batch's own atomic write (CountedSink), so
// all-in-one's records_in is exact; through Kafka delivery is at least
// once, and a batch replayed after a processor crash between its write and
// its commit is counted again: the counts are then a gauge of work done, as
// /v1/status is. The exposure answers themselves are exact either way. The
// level moves of such a replay are none (its records are stored); a
// processor killed between a batch's write and its AddCounts loses the
// batch's moves (a failed AddCounts keeps them for the retry).
//
// Both stores implement Counters: the embedded store in key space 'n' with
// Pebble's merge operator adding, ClickHouse in a SummingMergeTree
// partitioned by day; retention drops their days with the data's.
//
// Metrics: see NewMetrics.
package summary

import (
	"context"
	"slices"
	"sort"

	"github.com/truyvet/truyvet/index/bucket"
)

// Metric names, the counters' first key.
const (
	RecordsIn       = "records_in"       // key: record kind (visit, encounter, …)
	Rejections      = "rejections"       // key: reason
	CasesRegistered = "cases_registered" // key: ""
	Lookups         = "lookups"          // key: ""
	ContactsFound   = "contacts_found"   // key: ""
	SitesPublished  = "sites_published"  // key: ""; fed by Sites
	AlertsSent      = "alerts_sent"      // key: ""; fed by Sites
	VenuesByLevel   = "venues_by_level"  // key: level; fed by self-assessments
)

// Unknown is the province of counts whose province is not known: they are
// in the national summary, in no province's.
const Unknown = "unknown"

// Levels are the venue safety levels (checklist.Levels), every one in an
// answer.
var Levels = []string{"green", "yellow", "orange", "red", "not_assessed"}

// Kinds are the record kinds every answer lists.
var Kinds = []string{"visit", "encounter", "declaration", "assessment"}

// Delta is one addition to a counter.
type Delta struct {
	Day      bucket.Day
	Province string // a province code, or Unknown
	Metric   string
	Key      string
	N        int64
}

// Query selects counters: the local days [From, To], in Province ("": every
// province, Unknown included).
type Query struct {
	From, To bucket.Day
	Province string
}

// Count is a counter's value over a query's provinces.
type Count struct {
	Day    bucket.Day
	Metric string
	Key    string
	N      int64
}

// Counters is a counter store. AddCounts is durable when it returns nil
// and atomic (all deltas or none); counters only add, so deltas commute.
// SummaryCounts returns the sums over the query's provinces, in any order,
// zero rows optional. Safe for concurrent use.
type Counters interface {
	AddCounts(ctx context.Context, ds []Delta) error
	SummaryCounts(ctx context.Context, q Query) ([]Count, error)
}

// Fold adds ds into sums keyed by (day, province, metric, key), dropping
// zero deltas: what a store's write folds a batch into.
func Fold(ds []Delta) []Delta {
	type k struct {
		day                   bucket.Day
		province, metric, key string
	}
	m := make(map[k]int64, len(ds))
	for _, d := range ds {
		m[k{d.Day, d.Province, d.Metric, d.Key}] += d.N
	}
	out := make([]Delta, 0, len(m))
	for key, n := range m {
		if n != 0 {
			out = append(out, Delta{Day: key.day, Province: key.province, Metric: key.metric, Key: key.key, N: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Day < b.Day || a.Day == b.Day && (a.Province < b.Province || a.Province == b.Province &&
			(a.Metric < b.Metric || a.Metric == b.Metric && a.Key < b.Key))
	})
	return out
}

// Sorted sorts counts by day, metric and key, dropping zeros: the
// canonical form tests compare.
func Sorted(cs []Count) []Count {
	out := slices.DeleteFunc(slices.Clone(cs), func(c Count) bool { return c.N == 0 })
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(a, b Count) int {
		switch {
		case a.Day != b.Day:
			return int(a.Day) - int(b.Day)
		case a.Metric != b.Metric:
			if a.Metric < b.Metric {
				return -1
			}
			return 1
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}
