package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/truyvet/truyvet/processor/reconcile"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
)

// ErrUnreconciled is returned when accepted records are neither stored nor
// dead-lettered.
var ErrUnreconciled = errors.New("accepted records are missing from the store and the dead-letter topic")

// runReconcile is `truyvet reconcile`: distinct record ids per day on the
// record topics against the store and the dead-letter topic (package
// processor/reconcile). It prints the report as JSON and exits 1 when
// anything is missing.
func runReconcile(ctx context.Context, env Env) error {
	var (
		kf   kafkaFlags
		sf   storeFlags
		logc logConfig
	)
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	kf.register(fs)
	sf.register(fs, false)
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
	opts := chstore.DefaultOptions()
	opts.Addr = splitList(sf.chAddr)
	opts.Database, opts.Username, opts.Password, opts.Layout, opts.Migrate, opts.Logger = sf.chDB, sf.chUser, sf.chPassword, sf.layout(), false, log
	opts.Cluster = sf.chCluster
	store, err := chstore.Open(ctx, opts)
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
