package cli

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix prefixes the environment variable that can set each flag:
// --data-dir is also TRUYVET_DATA_DIR. A flag given on the command line wins.
const EnvPrefix = "TRUYVET_"

// EnvName returns the environment variable for a flag name (deploy/ checks
// its manifests with it).
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// errUsage marks an error in how the command was called (exit status 2).
var errUsage = errors.New("usage")

// parseFlags parses args, rejects leftover arguments, then fills every flag
// not given on the command line from its environment variable.
func parseFlags(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := EnvName(f.Name)
		if v, ok := lookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%w: %s=%q: %w", errUsage, name, v, e)
			}
		}
	})
	return err
}

// days is a time.Duration flag that also accepts a whole number of days ("28d").
type days struct{ d *time.Duration }

func (v days) String() string {
	if v.d == nil {
		return ""
	}
	if *v.d%(24*time.Hour) == 0 && *v.d != 0 {
		return strconv.FormatInt(int64(*v.d/(24*time.Hour)), 10) + "d"
	}
	return v.d.String()
}

func (v days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 {
			return fmt.Errorf("not a number of days: %q", s)
		}
		*v.d = time.Duration(i) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func durationFlag(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(days{p}, name, usage)
}

// secret is a string flag whose value is never printed: --dry-run and -h
// show that it is set, not what it is. Every flag holding a password or a
// token is one.
type secret struct{ s *string }

func (v secret) String() string {
	if v.s == nil || *v.s == "" {
		return ""
	}
	return "<redacted>"
}

func (v secret) Set(s string) error { *v.s = s; return nil }

func secretFlag(fs *flag.FlagSet, p *string, name, usage string) {
	fs.Var(secret{p}, name, usage)
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
