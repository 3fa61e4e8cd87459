package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/bench/demo"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/query/audit"
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
	srv := newServeCmd(env, "demo", "127.0.0.1:8080", "HTTP listen address")
	srv.mode = "all-in-one"
	var cfg demoConfig
	cfg.register(srv.fs)
	city := synth.Demo()
	city.Declarations = true
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
	if err := n.registerVenues(ctx, c.VenueSpecs()); err != nil {
		_ = n.store.Close()
		return err
	}
	loaded, err := demo.Load(ctx, c, n.proc, n.engine)
	if err == nil {
		err = loaded.LoadSafety(ctx, n.proc, n.store)
	}
	if err != nil {
		_ = n.store.Close()
		return err
	}
	// A national tracing account for the newcomer: lookups, the audit
	// trail, posting records. The bootstrap admin token stays valid.
	acct, err := n.access.accounts().Create(ctx, access.Spec{
		Name:  "demo tracing team",
		Roles: []access.Role{access.RoleEpidemiologist, access.RoleAuditor, access.RoleViewer, access.RoleApp}, Provinces: []string{access.National},
	}, audit.Actor{ID: "demo", Name: "truyvet demo", Roles: []string{}}, "")
	if err != nil {
		_ = n.store.Close()
		return err
	}
	return n.run(ctx, srv, func(addr string) { loaded.Print(env.Stdout, addr, acct.Token) })
}
