// Package chstore is the ClickHouse store of the distributed mode: processors
// write stays, encounters and co-location bitmaps to it (processor.Sink), and
// query servers read them (graph.Store): the whole store.Backend.
// Any number of each share one database. The schema is schemas/clickhouse, applied on Open; the
// decisions behind it are in schemas/README.md.
//
// It runs on ClickHouse 18.16 (Debian's package) and current releases: inserts
// name their columns, set operations on bitmaps happen here in Go, and days
// are UInt32 partitions dropped whole by retention. With Options.Cluster it
// keeps the same tables on a ClickHouse cluster, Distributed over replicated
// shards (cluster.go; schemas/README.md, section 5a).
//
// Metrics (see NewMetrics):
//
//	truyvet_store_clickhouse_rows_written_total{table}        rows inserted
//	truyvet_store_clickhouse_bytes_written_total{table}       approximate uncompressed bytes inserted
//	truyvet_store_clickhouse_insert_duration_seconds{table}   time per insert
//	truyvet_store_clickhouse_errors_total{op}                 failed inserts and queries
//	truyvet_store_clickhouse_query_duration_seconds{op}       time per read (stays, visitors, contacts, bitmaps, person)
//	truyvet_store_clickhouse_compacted_partitions_total{table} day partitions merged into one part (compact.go)
//	truyvet_store_clickhouse_compaction_duration_seconds      time per partition merged
//	truyvet_store_retention_dropped_days_total                days dropped by retention
//	truyvet_store_retention_runs_total{result}                retention passes
package chstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
)

// Compile-time check: the store keeps the whole store contract.
var _ store.Backend = (*Store)(nil)

// Options configure a store.
type Options struct {
	Addr     []string // host:port of the native protocol
	Database string
	Username string
	Password string
	Layout   bucket.Layout
	Migrate  bool // apply the embedded schema on Open (default true via DefaultOptions)
	// Cluster, when set, is the name of a ClickHouse cluster (remote_servers)
	// that holds the database: tables are Distributed over replicated local
	// tables, created ON CLUSTER (see cluster.go). Empty: one server.
	Cluster string
	// ClusterDDLTimeout bounds how long the servers of a cluster get to run
	// an ON CLUSTER statement (distributed_ddl_task_timeout); the store waits
	// only for the servers that are up.
	ClusterDDLTimeout time.Duration
	DialTimeout       time.Duration
	QueryTimeout      time.Duration
	Logger            *slog.Logger
	Metrics           *Metrics

	// Retention is how long records are kept (the --retention of every
	// process on the database): the weekly tables lose a week once its
	// first day passes it, so readers take the days of the oldest weeks from
	// the day tables (weekly.go). Now is the clock it is measured on
	// (time.Now when nil).
	Retention time.Duration
	Now       func() time.Time

	// CountersOnly opens the store for the summary's counters alone
	// (AddCounts, from a process that keeps no records, such as ingest):
	// the layout is not checked.
	CountersOnly bool
}

// DefaultOptions returns options for a local server.
func DefaultOptions() Options {
	return Options{
		Addr:         []string{"127.0.0.1:9000"},
		Database:     "truyvet",
		Username:     "default",
		Layout:       bucket.DefaultLayout(),
		Migrate:      true,
		DialTimeout:  5 * time.Second,
		QueryTimeout: 60 * time.Second,
		Retention:    event.DefaultRetention,

		ClusterDDLTimeout: 180 * time.Second,
	}
}

// Errors.
var (
	ErrBadDatabase    = errors.New("database name may hold only ASCII letters, digits and '_' (at most 64)")
	ErrLayoutMismatch = errors.New("database was built with a different bucket layout")
	ErrNotMigrated    = errors.New("database has no truyvet schema; run once with migrations on")
)

// ClickHouse error codes the store tells apart.
const (
	codeUnknownTable       = 60
	codeTableAlreadyExists = 57
)

var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Store is the ClickHouse store. It is safe for concurrent use.
type Store struct {
	conn    driver.Conn
	db      string
	layout  bucket.Layout
	log     *slog.Logger
	m       *Metrics
	version string

	cluster     string // empty: one server
	ddlTimeout  time.Duration
	dialTimeout time.Duration
	auth        clickhouse.Auth // for connections to one server (eachShard)
	addr        []string        // the servers of Options.Addr
	readTimeout time.Duration

	weekly weeklyState // what the weekly tables hold (weekly.go)
}

// Open connects, applies the schema if asked, and checks the layout.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if !dbName.MatchString(opts.Database) {
		return nil, fmt.Errorf("%q: %w", opts.Database, ErrBadDatabase)
	}
	if opts.Cluster != "" && !dbName.MatchString(opts.Cluster) {
		return nil, fmt.Errorf("cluster %q: %w", opts.Cluster, ErrBadDatabase)
	}
	if err := opts.Layout.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := opts.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	var settings clickhouse.Settings
	if opts.Cluster != "" {
		settings = clusterSettings()
	}
	auth := clickhouse.Auth{Database: "default", Username: opts.Username, Password: opts.Password}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Settings:         settings,
		Addr:             opts.Addr,
		Auth:             auth,
		DialTimeout:      opts.DialTimeout,
		ReadTimeout:      opts.QueryTimeout,
		MaxOpenConns:     8,
		MaxIdleConns:     4,
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse %v: %w", opts.Addr, err)
	}
	s := &Store{conn: conn, db: opts.Database, layout: opts.Layout, log: log.With("component", "chstore"), m: m,
		cluster: opts.Cluster, ddlTimeout: max(opts.ClusterDDLTimeout, time.Second), dialTimeout: opts.DialTimeout,
		auth: auth, readTimeout: opts.QueryTimeout, addr: opts.Addr,
		weekly: newWeeklyState(opts.Retention, opts.Now)}
	if err := s.init(ctx, opts.Migrate, !opts.CountersOnly); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context, migrate, layout bool) error {
	v, err := s.conn.ServerVersion()
	if err != nil {
		return fmt.Errorf("clickhouse server version: %w", err)
	}
	s.version = fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch)
	if s.cluster != "" {
		if err := s.checkLoadBalancing(ctx); err != nil {
			return err
		}
	}
	if migrate {
		if err := s.migrate(ctx); err != nil {
			return err
		}
	}
	if !layout {
		return nil
	}
	s.checkBlockSize(ctx)
	return s.checkLayout(ctx)
}

// ServerVersion is the ClickHouse server's version, e.g. "18.16.1".
func (s *Store) ServerVersion() string { return s.version }

// migrate creates the database and applies the migrations not yet recorded.
// Statements are idempotent (IF NOT EXISTS), so processes starting together
// may both apply one.
func (s *Store) migrate(ctx context.Context) error {
	createDB := "CREATE DATABASE IF NOT EXISTS " + s.db
	if s.cluster != "" {
		createDB += " ON CLUSTER " + s.cluster
	}
	if err := s.ddl(ctx, createDB); err != nil {
		return fmt.Errorf("create database %s: %w", s.db, err)
	}
	bookkeeping, err := s.statements(schemas.Migration{
		Name:       "schema_migrations",
		Statements: []string{"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, applied Int64) ENGINE = MergeTree ORDER BY version"},
		ShardKeys:  []string{"version"},
	})
	if err != nil {
		return err
	}
	if err := s.ddlAll(ctx, s.withDB(bookkeeping)); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[uint32]bool{}
	rows, err := s.conn.Query(ctx, "SELECT version FROM "+s.db+".schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close()
			return err
		}
		applied[v] = true
	}
	_ = rows.Close()
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[uint32(m.Version)] {
			continue
		}
		sts, err := s.statements(m)
		if err != nil {
			return err
		}
		if err := s.ddlAll(ctx, s.withDB(sts)); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		if err := s.insertRow(ctx, "schema_migrations", "version, name, applied", uint32(m.Version), m.Name, time.Now().Unix()); err != nil {
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		s.log.Info("applied schema migration", "version", m.Version, "name", m.Name, "database", s.db)
	}
	return nil
}

// withDB puts the database's name in statements for {db}.
func (s *Store) withDB(sts []string) []string {
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = strings.ReplaceAll(st, "{db}", s.db)
	}
	return out
}

// Layout implements graph.Store.
func (s *Store) Layout() bucket.Layout { return s.layout }

// Ping checks the server answers; its error wraps graph.ErrStoreUnavailable
// when it cannot be reached.
func (s *Store) Ping(ctx context.Context) error {
	return unavailable("ping clickhouse", s.conn.Ping(ctx))
}

// unavailable wraps err, from op, with graph.ErrStoreUnavailable when the
// server was not reached or the connection broke (anything but an exception
// the server raised, or the caller's context ending).
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	if ex := (*clickhouse.Exception)(nil); errors.As(err, &ex) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, graph.ErrStoreUnavailable, err)
}

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }

// Shared implements store.Backend: any number of processes share one database.
func (s *Store) Shared() bool { return true }

// Counts implements store.Counter: rows, before merges fold replays, and the
// days with data.
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.db+".stays").Scan(&n); err != nil {
		return c, unavailable("count stays", err)
	}
	c.Visits = int64(n)
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.db+".contacts").Scan(&n); err != nil {
		return c, unavailable("count contacts", err)
	}
	c.Encounters = int64(n) / 2 // stored once per direction
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.db+".declarations").Scan(&n); err != nil {
		return c, unavailable("count declarations", err)
	}
	c.Declarations = int64(n)
	days, err := s.Days(ctx)
	c.Days = days
	return c, err
}

// DiskUsage implements store.Sizer from the active parts of every table of
// the database (on a cluster, one replica of each shard: one copy).
func (s *Store) DiskUsage(ctx context.Context) ([]store.TableUsage, error) {
	parts := "system.parts"
	if s.cluster != "" {
		parts = "cluster('" + s.cluster + "', system.parts)"
	}
	rows, err := s.conn.Query(ctx, "SELECT table, sum(rows), sum(bytes_on_disk) AS b FROM "+parts+" WHERE database = ? AND active GROUP BY table ORDER BY b DESC, table", s.db)
	if err != nil {
		return nil, unavailable("read parts", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.TableUsage
	for rows.Next() {
		var (
			t    string
			n, b uint64
		)
		if err := rows.Scan(&t, &n, &b); err != nil {
			return nil, unavailable("read parts", err)
		}
		out = append(out, store.TableUsage{Table: strings.TrimSuffix(t, "_local"), Rows: int64(n), Bytes: int64(b)})
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read parts", err)
	}
	return out, nil
}

// Days lists the local days with data, from the tables' partitions.
func (s *Store) Days(ctx context.Context) ([]bucket.Day, error) {
	parts := "system.parts"
	if s.cluster != "" {
		parts = "cluster('" + s.cluster + "', system.parts)" // a replica of each shard
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition FROM "+parts+" WHERE database = ? AND table IN (?, ?, ?, ?, ?, ?) AND active ORDER BY partition",
		s.db, s.table("stays"), s.table("contacts"), s.table("bitmaps"), s.table("declarations"), s.table("declaration_trips"), s.table("assessments"))
	if err != nil {
		return nil, unavailable("list partitions", err)
	}
	defer func() { _ = rows.Close() }()
	var days []bucket.Day
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		d, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("partition %q is not a day: %w", p, err)
		}
		days = append(days, bucket.Day(d))
	}
	return sortDays(days), rows.Err()
}

// sortDays sorts and deduplicates days.
func sortDays(days []bucket.Day) []bucket.Day {
	slices.Sort(days)
	return slices.Compact(days)
}
