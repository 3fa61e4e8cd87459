package cli

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// backend is a store as the distributed commands use it: the processor's
// sink, the engine's store, the audit trail, retention and status.
type backend interface {
	processor.Sink
	graph.Store
	audit.Trail
	RunRetention(ctx context.Context, retention, interval time.Duration, now func() time.Time)
	Close() error
	stored(ctx context.Context) (storedJSON, error)
	// shared reports whether several processes may use the store at once.
	shared() bool
}

// storeFlags choose and configure the store: ClickHouse when
// --clickhouse-addr is set, else the embedded store under --data-dir.
type storeFlags struct {
	chAddr, chDB, chUser, chPassword string
	chMigrate                        bool
	dataDir                          string
	cacheBytes                       int64
	bucketLen, dwell                 time.Duration
	embedded                         bool // the command may use the embedded store
}

func (f *storeFlags) register(fs *flag.FlagSet, embedded bool) {
	f.embedded = embedded
	fs.StringVar(&f.chAddr, "clickhouse-addr", "", "ClickHouse native-protocol address(es), comma-separated (e.g. 127.0.0.1:9000)")
	fs.StringVar(&f.chDB, "clickhouse-database", "truyvet", "ClickHouse database of this deployment")
	fs.StringVar(&f.chUser, "clickhouse-user", "default", "ClickHouse user")
	fs.StringVar(&f.chPassword, "clickhouse-password", "", "ClickHouse password")
	fs.BoolVar(&f.chMigrate, "clickhouse-migrate", true, "create or upgrade the ClickHouse schema on start")
	if embedded {
		fs.StringVar(&f.dataDir, "data-dir", "truyvet-process-data", "directory of the embedded store, used when --clickhouse-addr is not set")
		fs.Int64Var(&f.cacheBytes, "cache-bytes", 256<<20, "block cache of the embedded store, in bytes")
	}
	durationFlag(fs, &f.bucketLen, "bucket", bucket.DefaultBucket, "time bucket of the co-location index (divides 1h); fixed for a store's life")
	durationFlag(fs, &f.dwell, "dwell", bucket.DefaultDwell, "assumed stay of a check-in without check-out; fixed for a store's life")
}

// ErrNoStore is returned when a command has no store to use.
var ErrNoStore = errors.New("--clickhouse-addr is required")

func (f *storeFlags) layout() bucket.Layout {
	return bucket.Layout{BucketSeconds: int64(f.bucketLen / time.Second), DwellSeconds: int64(f.dwell / time.Second)}
}

func (f *storeFlags) validate() error {
	if f.chAddr == "" && !f.embedded {
		return ErrNoStore
	}
	return f.layout().Validate()
}

// open opens the chosen store. The embedded one waits while another replica
// holds it (see openStandby).
func (f *storeFlags) open(ctx context.Context, reg prometheus.Registerer, log *slog.Logger) (backend, error) {
	if f.chAddr != "" {
		opts := chstore.DefaultOptions()
		opts.Addr = splitList(f.chAddr)
		opts.Database, opts.Username, opts.Password = f.chDB, f.chUser, f.chPassword
		opts.Layout, opts.Migrate, opts.Logger, opts.Metrics = f.layout(), f.chMigrate, log, chstore.NewMetrics(reg)
		s, err := chstore.Open(ctx, opts)
		if err != nil {
			return nil, err
		}
		log.Info("using the ClickHouse store", "addr", opts.Addr, "database", opts.Database, "server", s.ServerVersion())
		return chBackend{s}, nil
	}
	s, err := openStandby(ctx, pebblestore.Options{Dir: f.dataDir, Layout: f.layout(), CacheBytes: f.cacheBytes, Logger: log, Registerer: reg}, log)
	if err != nil {
		return nil, err
	}
	return pebbleBackend{s}, nil
}

type chBackend struct{ *chstore.Store }

func (b chBackend) shared() bool { return true }

func (b chBackend) stored(ctx context.Context) (storedJSON, error) {
	c, err := b.Counts(ctx)
	return storedJSON{Visits: c.Visits, Encounters: c.Encounters, Days: dayStrings(c.Days)}, err
}

type pebbleBackend struct{ *pebblestore.Store }

func (b pebbleBackend) shared() bool { return false }

func (b pebbleBackend) stored(ctx context.Context) (storedJSON, error) {
	c, err := b.Counts(ctx)
	return storedJSON{Visits: c.Visits, Encounters: c.Encounters, Days: dayStrings(c.Days)}, err
}

func dayStrings(days []bucket.Day) []string {
	out := make([]string, 0, len(days))
	for _, d := range days {
		out = append(out, d.String())
	}
	return out
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
