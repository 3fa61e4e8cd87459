package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// demoConfig is all-in-one's configuration plus the city to load.
type demoConfig struct {
	allInOneConfig
	People, Venues, Days int
	Seed                 uint64
}

// ErrDemoDirInUse protects existing data from the demo.
var ErrDemoDirInUse = errors.New("--data-dir already holds files; the demo loads its own city into an empty directory")

func runDemo(ctx context.Context, env Env) error {
	srv := newServer(env, "demo", "127.0.0.1:8080", "HTTP listen address")
	srv.mode = "all-in-one"
	var cfg demoConfig
	cfg.register(srv.fs)
	city := synth.Demo()
	srv.fs.IntVar(&cfg.People, "people", city.People, "population of the synthetic city")
	srv.fs.IntVar(&cfg.Venues, "venues", city.Venues, "QR venues in the city")
	srv.fs.IntVar(&cfg.Days, "days", city.Days, "days of activity, ending now")
	srv.fs.Uint64Var(&cfg.Seed, "seed", city.Seed, "seed of the city; the same seed gives the same city")
	cfg.DataDir = ""
	srv.fs.Lookup("data-dir").DefValue = ""
	srv.fs.Lookup("data-dir").Usage = "directory for the demo's store (default: a temporary directory, removed at exit)"
	d, err := srv.setup(env, func() error {
		if cfg.DataDir == "" {
			c := cfg.allInOneConfig
			c.DataDir = "(temporary)"
			return c.validate()
		}
		if entries, err := os.ReadDir(cfg.DataDir); err == nil && len(entries) > 0 {
			return fmt.Errorf("%w: %s", ErrDemoDirInUse, cfg.DataDir)
		}
		return cfg.validate()
	})
	if d == nil {
		return err
	}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "truyvet-demo-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		cfg.DataDir = dir
	}
	city.People, city.Venues, city.Days, city.Seed, city.End = cfg.People, cfg.Venues, cfg.Days, cfg.Seed, env.Now()
	c, err := synth.New(city)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	n, err := newNode(ctx, cfg.allInOneConfig, d, env.Now)
	if err != nil {
		return err
	}
	visits, encounters, took, err := loadCity(ctx, n, c)
	if err != nil {
		_ = n.store.Close()
		return err
	}
	from, to := c.Span()
	w := graph.Window{From: from.Unix(), To: to.Unix()}
	pick, err := pickDemoCase(ctx, n.engine, c, w)
	if err != nil {
		_ = n.store.Close()
		return err
	}
	return n.run(ctx, srv, func(addr string) {
		printDemo(env.Stdout, addr, c, visits, encounters, took, w, pick)
	})
}

// loadCity writes the city's records through the processor, as ingest would.
func loadCity(ctx context.Context, n *node, c *synth.City) (visits, encounters int, took time.Duration, err error) {
	t0 := time.Now()
	var b event.Batch
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := n.proc.Process(ctx, &b)
		b = event.Batch{}
		return err
	}
	for batch := range c.Batches() {
		visits += len(batch.Visits)
		encounters += len(batch.Encounters)
		b.Append(&batch)
		if b.Len() >= 20_000 {
			if err := flush(); err != nil {
				return 0, 0, 0, fmt.Errorf("load the demo city: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, 0, fmt.Errorf("load the demo city: %w", err)
	}
	return visits, encounters, time.Since(t0), nil
}

type demoPick struct {
	id     uint32
	f1, f2 int
}

// pickDemoCase looks for a case whose graph is worth looking at: a handful of
// F1 and some F2. It starts from the city's suggestion.
func pickDemoCase(ctx context.Context, e *graph.Engine, c *synth.City, w graph.Window) (demoPick, error) {
	rng := rand.New(rand.NewPCG(c.Config().Seed, 7))
	best := demoPick{id: c.BusyPerson()}
	for try := range 300 {
		id := best.id
		if try > 0 {
			id = uint32(rng.IntN(c.Config().People) + 1)
		}
		res, err := e.Exposures(ctx, graph.Query{Case: id, Window: w, Depth: 2, MinSeconds: 15 * 60})
		if err != nil {
			return best, fmt.Errorf("pick a demo case: %w", err)
		}
		p := demoPick{id: id}
		for _, n := range res.Nodes {
			switch n.Tier {
			case 1:
				p.f1++
			case 2:
				p.f2++
			}
		}
		if p.f1 >= 4 && p.f1 <= 25 && p.f2 >= 20 && p.f2 <= 600 {
			return p, nil
		}
		if try == 0 || (p.f1 > 0 && p.f2 > best.f2 && p.f2 <= 600) {
			best = p
		}
	}
	return best, nil
}

func printDemo(w io.Writer, addr string, c *synth.City, visits, encounters int, took time.Duration, win graph.Window, p demoPick) {
	cfg := c.Config()
	from, to := c.Span()
	base := "http://" + addr
	q := url.Values{}
	q.Set("from", time.Unix(win.From, 0).UTC().Format(time.RFC3339))
	q.Set("to", time.Unix(win.To, 0).UTC().Format(time.RFC3339))
	q.Set("depth", "2")
	who := ""
	if person, ok := c.Person(p.id); ok {
		who = " (" + person.Role.String()
		if person.Work != 0 {
			_, name := c.Venue(person.Work)
			who += ", " + name
		}
		who += ")"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\ntruyvet demo: a synthetic city of %d people and %d venues over %d day(s), %s → %s\n",
		cfg.People, cfg.Venues, cfg.Days, from.Format("2006-01-02 15:04"), to.Format("2006-01-02 15:04 -07:00"))
	fmt.Fprintf(&sb, "loaded %d check-in records and %d encounter records in %s\n\n", visits, encounters, took.Round(time.Millisecond))
	fmt.Fprintf(&sb, "Case %d%s has %d close contacts (F1) and %d contacts of contacts (F2). Try:\n\n", p.id, who, p.f1, p.f2)
	fmt.Fprintf(&sb, "  curl -s '%s/v1/cases/%d/exposures?%s'\n", base, p.id, q.Encode())
	q.Set("depth", "1")
	fmt.Fprintf(&sb, "  curl -s -H 'Accept: text/csv' '%s/v1/cases/%d/exposures?%s'\n", base, p.id, q.Encode())
	fmt.Fprintf(&sb, "  curl -s %s/v1/status\n", base)
	fmt.Fprintf(&sb, "  curl -s %s/metrics | grep ^truyvet_\n\n", base)
	fmt.Fprintf(&sb, "or open %s/#case=%d&depth=2 in a browser to see the graph. Ctrl-C stops the demo.\n", base, p.id)
	_, _ = io.WriteString(w, sb.String())
}
