// Package cli is the truyvet command: one binary whose subcommands are the
// stages. It parses flags (with TRUYVET_* environment fallbacks), builds each
// stage's dependencies, and runs until SIGINT or SIGTERM.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"
)

// Env is what the command takes from its process, injectable for tests.
type Env struct {
	Args      []string // without the program name
	Stdout    io.Writer
	Stderr    io.Writer
	LookupEnv func(string) (string, bool)
	Now       func() time.Time
}

// OSEnv returns the Env of the running process.
func OSEnv() Env {
	return Env{Args: os.Args[1:], Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now}
}

type command struct {
	summary string
	run     func(ctx context.Context, env Env) error
}

func commands() map[string]command {
	return map[string]command{
		"all-in-one": {"ingest, processing, embedded store and query in one process", runAllInOne},
		"accounts":   {"accounts create|list|revoke: who may call the API, with which roles and provinces", runAccounts},
		"audit":      {"audit verify: check the audit trail's hash chain", runAudit},
		"demo":       {"all-in-one with a small synthetic city loaded, printing queries to try", runDemo},
		"bench":      {"load tests: bench generate (dataset files), bench replay (stream to ingest), bench query (F1/F2 latency), bench peers (side by side with PostgreSQL, ClickHouse joins, plain loops)", runBench},
		"ingest":     {"HTTP ingest that validates records and produces them to Kafka", runIngest},
		"process":    {"a processor replica: consumes Kafka, builds the index, writes the store", runProcess},
		"query":      {"the query API and UI over the ClickHouse store", runQuery},
		"reconcile":  {"check that every record Kafka holds is stored or dead-lettered, by distinct id per day", runReconcile},
		"venues":     {"venues rotate-secret: a new key for venues' QR codes, the old one valid for a grace period", runVenues},
		"version":    {"print the version", runVersion},
	}
}

// Version is set at build time with -ldflags "-X github.com/truyvet/truyvet/cli.Version=…".
var Version = "dev"

func runVersion(_ context.Context, env Env) error {
	_, err := fmt.Fprintln(env.Stdout, "truyvet", Version)
	return err
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "truyvet: contact-tracing analytics (F0 → F1/F2 exposure graphs)")
	fmt.Fprintln(w, "\nUsage: truyvet <command> [flags]   (every flag can also be set as TRUYVET_<FLAG>)")
	fmt.Fprintln(w, "\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'truyvet <command> -h' for its flags.")
}

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, env Env) int {
	if len(env.Args) == 0 || env.Args[0] == "-h" || env.Args[0] == "--help" || env.Args[0] == "help" {
		usage(env.Stdout)
		if len(env.Args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[env.Args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "truyvet: unknown command %q\n\n", env.Args[0])
		usage(env.Stderr)
		return 2
	}
	sub := env
	sub.Args = env.Args[1:]
	err := cmd.run(ctx, sub)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.Stderr, "truyvet %s: %v\n", env.Args[0], err)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "truyvet %s: %v\n", env.Args[0], err)
		return 1
	}
}

// logConfig is shared by every long-running command.
type logConfig struct {
	level  string
	format string
}

func (c *logConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.format, "log-format", "text", "log format: text or json")
}

func (c *logConfig) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: %w", errUsage, c.level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(c.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: --log-format must be text or json, not %q", errUsage, c.format)
	}
}
