// Package store is the contract every truyvet store keeps: what the
// processor writes through, what the query engine reads, how old days go, and what the status page counts. The embedded
// store (pebblestore, all-in-one) and the ClickHouse store (chstore,
// distributed) implement Backend; the command line opens one and hands it to
// each stage, and the conformance suite (storetest) checks both against the
// same records and answers.
//
// The contract is the sum of small interfaces, each owned by the stage that
// consumes it, so a stage depends only on what it uses:
//
//   - processor.Sink: Write returns nil only once the whole batch is durable
//     (embedded: Pebble's write-ahead log synced; ClickHouse: the inserts
//     acknowledged). It is idempotent: replaying a batch changes no answer,
//     because stays and encounters carry their ids and bitmaps are unions.
//     The store does not keep the batch or anything it points to.
//   - graph.Store and graph.VenueStore: reads for the engine. Iterators are
//     single-use; a yielded slice is valid only until the next iteration, so
//     the caller copies what it keeps. Present's bitmap belongs to the caller.
//     Reads are safe for concurrent use. graph.CrowdStore counts who was
//     indexed per (venue, bucket), for contact definitions' crowd caps.
//   - declapi.Store: health declarations by subject, and their counts per
//     day, province, kind and symptomatic, kept as they arrive.
//   - definitions.Store: added contact definitions, each name@version
//     written once (a second add of it is definitions.ErrExists) and never
//     dropped by retention.
//   - safety.AssessmentStore: venues' daily self-assessments (the Safety
//     Map's), written with the batch like the other records, every one
//     kept, dropped by day like them (safety/safetytest is their suite).
//   - summary.Counters: the dashboard's counters (GET /v1/summary), added
//     to as records stream in and dropped with their days by retention.
//   - Retention, Counter: below.
//
// The audit trail is not part of it: a hash chain needs one writer at a
// time, so it lives with accounts and cases (access.Store, cases.Registry,
// audit.Log) in the embedded store in all-in-one and in PostgreSQL
// (store/pgstore) in distributed mode; store/statetest is their suite.
//
// New kinds of records add their own small interfaces beside these (a writer
// the processor uses, a reader the API uses) and join Backend, rather than a
// second private copy of it somewhere else.
package store

import (
	"context"
	"io"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/summary"
)

// Counts are what a store holds, for GET /v1/status. They are a gauge of
// what arrived, not of answers: a resent record may be counted again until
// the store folds it (the embedded store counts every record it was given;
// ClickHouse counts rows before its merges fold replays).
type Counts struct {
	Visits       int64        // visit records
	Encounters   int64        // encounter records, each once (not once per direction)
	Declarations int64        // health declaration records
	Days         []bucket.Day // local days holding data, ascending, no duplicates
}

// Counter reports what a store holds. Counts belong to the caller.
type Counter interface {
	Counts(ctx context.Context) (Counts, error)
}

// TableUsage is what one table takes on disk: for ClickHouse one copy (a
// replica of each shard), in its active parts; the embedded store reports
// itself as one table without a row count.
type TableUsage struct {
	Table string
	Rows  int64 // rows before merges fold replays; 0 when the store does not know
	Bytes int64 // compressed, on disk
}

// Sizer reports what a store takes on disk, largest table first.
type Sizer interface {
	DiskUsage(ctx context.Context) ([]TableUsage, error)
}

// Retention drops whole local days older than keep: once at start and then
// every interval, until ctx ends. Dropping is idempotent, and an error in one
// pass is logged and counted by the store (truyvet_store_retention_runs_total)
// and retried at the next; RunRetention returns only when ctx ends.
type Retention interface {
	RunRetention(ctx context.Context, keep, interval time.Duration, now func() time.Time)
}

// Backend is a whole store as a truyvet process uses it. Implementations are
// safe for concurrent use. Close releases it; nothing may be called after.
type Backend interface {
	processor.Sink
	graph.VenueStore
	graph.CrowdStore
	definitions.Store
	declapi.Store
	safety.AssessmentStore
	summary.Counters
	Retention
	Counter
	io.Closer

	// Shared reports whether several processes may use the store at once
	// (ClickHouse: any number of processors and query servers; the embedded
	// store: one process, which must then also serve the queries).
	Shared() bool
}
