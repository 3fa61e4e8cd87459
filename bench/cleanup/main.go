// Command cleanup deletes what one benchmark run created on the shared
// local services: its Kafka topics (by prefix), its ClickHouse database
// (on every server of a cluster) and its PostgreSQL schema. bench/peak.sh
// runs it on exit, so runs leave no topics for the broker to recover and no
// parts for ClickHouse to go on merging under the next run.
//
//	go run ./bench/cleanup --kafka-brokers 127.0.0.1:19092 --topic-prefix peak1_ \
//	  --clickhouse-addr 127.0.0.1:19000 --clickhouse-database peak1 \
//	  --postgres-url postgres://… --postgres-schema peak1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/truyvet/truyvet/ingest/kafkaproducer"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		os.Exit(1)
	}
}

// runName is what a run's names may be: bench/peak.sh's are peak<unix time>.
var runName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	brokers := fs.String("kafka-brokers", "", "Kafka bootstrap brokers, comma-separated; empty: no topics deleted")
	prefix := fs.String("topic-prefix", "", "delete the topics whose names start with this")
	chAddr := fs.String("clickhouse-addr", "", "ClickHouse server(s), comma-separated; empty: no database dropped")
	chDB := fs.String("clickhouse-database", "", "the database to drop")
	pgURL := fs.String("postgres-url", "", "PostgreSQL URL; empty: no schema dropped")
	pgSchema := fs.String("postgres-schema", "", "the schema to drop")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for name, v := range map[string]string{"topic-prefix": strings.TrimRight(*prefix, "._-"), "clickhouse-database": *chDB, "postgres-schema": *pgSchema} {
		if v != "" && !runName.MatchString(v) {
			return fmt.Errorf("--%s %q: a run's names are letters, digits and underscores", name, v)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var errs []error
	if *brokers != "" && *prefix != "" {
		if err := kafkaproducer.DeleteTopics(ctx, kafkaproducer.SplitBrokers(*brokers), *prefix); err != nil {
			errs = append(errs, err)
		}
	}
	if *chAddr != "" && *chDB != "" {
		for _, addr := range strings.Split(*chAddr, ",") {
			if err := dropDatabase(ctx, addr, *chDB); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if *pgURL != "" && *pgSchema != "" {
		if err := dropSchema(ctx, *pgURL, *pgSchema); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dropDatabase drops db on one server (each server of a cluster holds its
// own local tables).
func dropDatabase(ctx context.Context, addr, db string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return fmt.Errorf("clickhouse %s: %w", addr, err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		return fmt.Errorf("drop database %s on %s: %w", db, addr, err)
	}
	return nil
}

func dropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}
