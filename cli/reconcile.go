package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/truyvet/truyvet/processor/reconcile"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// ErrUnreconciled is returned when accepted records are neither stored nor
// dead-lettered.
var ErrUnreconciled = errors.New("accepted records are missing from the store and the dead-letter topic")

// runReconcile is `truyvet reconcile`: distinct record ids per day on the
// record topics against the store and the dead-letter topic (package
// processor/reconcile), for every record kind. The store is ClickHouse, or
// without --clickhouse-addr the embedded store a `truyvet process` wrote
// under --data-dir (once that process has stopped: it holds the store's
// lock). It prints the report as JSON and exits 1 when anything is missing.
func runReconcile(ctx context.Context, env Env) error {
	var (
		kf   kafkaFlags
		sf   storeFlags
		logc logConfig
	)
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	kf.register(fs)
	sf.register(fs, true)
	logc.register(fs)
	if err := parseFlags(fs, env.Args, env.LookupEnv); err != nil {
		return err
	}
	kcfg, err := kf.config()
	if err == nil {
		err = sf.validate()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	log, err := logc.logger(env.Stderr)
	if err != nil {
		return err
	}
	topics, err := event.TopicsFor(kcfg.TopicPrefix)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	store, err := sf.openReconciled(ctx, log)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	rep, err := reconcile.Run(ctx, reconcile.Config{Brokers: kcfg.Brokers, Topics: topics, Log: log}, store)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("%w: %d", ErrUnreconciled, rep.Missing)
	}
	return nil
}

// reconciledStore is a store reconcile reads.
type reconciledStore interface {
	reconcile.Store
	Close() error
}

// openReconciled opens the store the processors wrote: ClickHouse without
// migrating, or an existing embedded store with the layout it was made with.
func (f *storeFlags) openReconciled(ctx context.Context, log *slog.Logger) (reconciledStore, error) {
	if f.chAddr == "" {
		if ents, err := os.ReadDir(f.dataDir); err != nil || len(ents) == 0 {
			return nil, fmt.Errorf("%w: no embedded store in --data-dir %s (or pass --clickhouse-addr)", errUsage, f.dataDir)
		}
		s, err := pebblestore.Open(ctx, pebblestore.Options{Dir: f.dataDir, Layout: f.layout(), StoredLayout: true, Logger: log})
		if errors.Is(err, pebblestore.ErrLocked) {
			return nil, fmt.Errorf("%w (stop the process that writes it first)", err)
		}
		return s, err
	}
	opts := chstore.DefaultOptions()
	opts.Addr = splitList(f.chAddr)
	opts.Database, opts.Username, opts.Password, opts.Layout, opts.Migrate, opts.Logger = f.chDB, f.chUser, f.chPassword, f.layout(), false, log
	opts.Cluster = f.chCluster
	return chstore.Open(ctx, opts)
}
