package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// storeFlags choose and configure the store: ClickHouse when
// --clickhouse-addr is set, else the embedded store under --data-dir.
type storeFlags struct {
	chAddr, chDB, chUser, chPassword string
	chCluster                        string
	chMigrate                        bool
	chReadTimeout                    time.Duration
	dataDir                          string
	cacheBytes                       int64
	bucketLen, dwell                 time.Duration
	embedded                         bool // the command may use the embedded store
	// retention is the process stage's --retention (ClickHouse's weekly
	// tables lose a week once its first day passes it); 0: the default.
	retention time.Duration
}

func (f *storeFlags) register(fs *flag.FlagSet, embedded bool) {
	f.embedded = embedded
	fs.StringVar(&f.chAddr, "clickhouse-addr", "", "ClickHouse native-protocol address(es), comma-separated (e.g. 127.0.0.1:9000)")
	fs.StringVar(&f.chDB, "clickhouse-database", "truyvet", "ClickHouse database of this deployment")
	fs.StringVar(&f.chCluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers) holding the database: Distributed tables over replicated ones, created ON CLUSTER; empty: one server")
	fs.StringVar(&f.chUser, "clickhouse-user", "default", "ClickHouse user")
	secretFlag(fs, &f.chPassword, "clickhouse-password", "ClickHouse password (never printed)")
	fs.BoolVar(&f.chMigrate, "clickhouse-migrate", true, "create or upgrade the ClickHouse schema on start")
	durationFlag(fs, &f.chReadTimeout, "clickhouse-read-timeout", chstore.DefaultOptions().QueryTimeout,
		"longest the store waits for one ClickHouse answer (a cold read over many days of a large province may need more than the default)")
	if embedded {
		fs.StringVar(&f.dataDir, "data-dir", "truyvet-process-data", "directory of the embedded store, used when --clickhouse-addr is not set")
		fs.Int64Var(&f.cacheBytes, "cache-bytes", 256<<20, "block cache of the embedded store, in bytes")
	}
	layoutFlags(fs, &f.bucketLen, &f.dwell, "a store's")
}

// layoutFlags add --bucket and --dwell, fixed for the life of what (a store's, a data directory's).
func layoutFlags(fs *flag.FlagSet, bucketLen, dwell *time.Duration, what string) {
	durationFlag(fs, bucketLen, "bucket", bucket.DefaultBucket, "time bucket of the co-location index (divides 1h); fixed for "+what+" life")
	durationFlag(fs, dwell, "dwell", bucket.DefaultDwell, "assumed stay of a check-in without check-out; fixed for "+what+" life")
}

func layoutOf(bucketLen, dwell time.Duration) bucket.Layout {
	return bucket.Layout{BucketSeconds: int64(bucketLen / time.Second), DwellSeconds: int64(dwell / time.Second)}
}

// ErrNoStore is returned when a command has no store to use.
var ErrNoStore = errors.New("--clickhouse-addr is required")

func (f *storeFlags) layout() bucket.Layout { return layoutOf(f.bucketLen, f.dwell) }

func (f *storeFlags) validate() error {
	if f.chAddr == "" && !f.embedded {
		return ErrNoStore
	}
	if f.chReadTimeout <= 0 {
		return fmt.Errorf("--clickhouse-read-timeout: must be positive, got %s", f.chReadTimeout)
	}
	return f.layout().Validate()
}

// open opens the chosen store. ClickHouse it waits for with backoff while
// it is unreachable, as start says; the embedded one it waits for while
// another replica holds it (pebblestore.OpenStandby).
func (f *storeFlags) open(ctx context.Context, start *startup, reg prometheus.Registerer, log *slog.Logger) (store.Backend, error) {
	if f.chAddr != "" {
		opts := chstore.DefaultOptions()
		opts.Addr = splitList(f.chAddr)
		opts.Database, opts.Username, opts.Password, opts.Cluster = f.chDB, f.chUser, f.chPassword, f.chCluster
		opts.Layout, opts.Migrate, opts.Logger, opts.Metrics = f.layout(), f.chMigrate, log, chstore.NewMetrics(reg)
		opts.QueryTimeout = f.chReadTimeout
		if f.retention > 0 {
			opts.Retention = f.retention
		}
		s, err := awaitDep(ctx, start, "clickhouse", func(ctx context.Context) (*chstore.Store, error) { return chstore.Open(ctx, opts) })
		if err != nil {
			return nil, err
		}
		log.Info("using the ClickHouse store", "addr", opts.Addr, "database", opts.Database, "cluster", opts.Cluster, "server", s.ServerVersion())
		return s, nil
	}
	s, err := pebblestore.OpenStandby(ctx, pebblestore.Options{Dir: f.dataDir, Layout: f.layout(), CacheBytes: f.cacheBytes, Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	return s, nil
}
