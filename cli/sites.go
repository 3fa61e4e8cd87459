package cli

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"sync"
	"time"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/siteapi"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/store/pgsites"
	"github.com/truyvet/truyvet/venue"
)

// siteFlags shape the alerts of exposure sites.
type siteFlags struct {
	rate     float64
	wave     int
	refresh  time.Duration
	interval time.Duration
}

func (f *siteFlags) register(fs *flag.FlagSet) {
	d := sites.DefaultFanoutConfig()
	fs.Float64Var(&f.rate, "alert-rate", d.Rate, "most alerts a site's fan-out sends per second (0: no bound)")
	fs.IntVar(&f.wave, "alert-wave", d.Wave, "alerts stored and sent in one wave of a fan-out")
	durationFlag(fs, &f.refresh, "sites-refresh", 2*time.Second, "how often processors reload the published exposure sites they match new stays against")
	durationFlag(fs, &f.interval, "sites-sweep-interval", d.Interval, "how often a server looks for exposure sites whose alerts are still to send")
}

func (f *siteFlags) validate() error {
	if f.rate < 0 || f.wave <= 0 || f.refresh <= 0 || f.interval <= 0 {
		return errors.New("--alert-rate must not be negative; --alert-wave, --sites-refresh and --sites-sweep-interval must be positive")
	}
	return nil
}

// grace is how long after a publication a sweep must begin to be the last
// (sites.FanoutConfig.Grace): processors elsewhere reload their copy every
// refresh, so two refreshes and a margin for clocks and slow reloads.
func (f *siteFlags) grace() time.Duration { return 2*f.refresh + 5*time.Second }

func (f *siteFlags) fanout(grace time.Duration) sites.FanoutConfig {
	return sites.FanoutConfig{Wave: f.wave, Rate: f.rate, Grace: grace, Interval: f.interval}
}

// contactsOf counts already_contacts with the engine: the F1 of a case
// under the default definition.
func contactsOf(e *graph.Engine) siteapi.Contacts {
	return func(ctx context.Context, c uint32, from, to int64) (map[uint32]bool, error) {
		res, err := e.Exposures(ctx, graph.Query{Case: c, Window: graph.Window{From: from, To: to}, Depth: 1, MinSeconds: 15 * 60, ContactsOnly: true})
		if err != nil {
			return nil, err
		}
		out := map[uint32]bool{}
		for _, n := range res.Nodes {
			if n.Tier == 1 {
				out[n.UserID] = true
			}
		}
		return out, nil
	}
}

// siteSide is a server's exposure-site machinery: the routes and the
// fan-out that sends their alerts (nil on a query server of the
// distributed mode: the processors send them).
type siteSide struct {
	st  sites.Store
	fan *sites.Fanout
	m   *sites.Metrics
}

func newSiteSide(f siteFlags, grace time.Duration, st sites.Store, stays graph.VenueStore, pub sites.Publisher, m *sites.Metrics, d *deps, now func() time.Time) *siteSide {
	return &siteSide{st: st, m: m, fan: sites.NewFanout(f.fanout(grace), st, stays, pub, m, d.log, now)}
}

// routes adds the exposure-site routes, auditing to trail. changed (may be
// nil) is told of a publication or retraction before its sweep.
func (s *siteSide) routes(mux *http.ServeMux, venues siteapi.Venues, stays graph.VenueStore, e *graph.Engine, trail audit.Log, changed func(context.Context), d *deps, now func() time.Time) {
	siteapi.New(siteapi.Deps{
		Store: s.st, Venues: venues, Stays: stays, Contacts: contactsOf(e), Fanout: s.fan, Changed: changed,
		Audit: func(ctx context.Context, e audit.Entry) error {
			_, err := trail.Append(ctx, e)
			return err
		},
		Metrics: s.m, Logger: d.log, Now: now,
	}).Register(mux)
}

// run sweeps until ctx ends; wg waits for it.
func (s *siteSide) run(ctx context.Context, wg *sync.WaitGroup) { wg.Go(func() { s.fan.Run(ctx) }) }

// openSiteStore is the site store of a processor writing st: the embedded
// store itself, or PostgreSQL beside ClickHouse (nil without --postgres-url:
// no sites, nothing to match).
func openSiteStore(ctx context.Context, st any, af accessFlags) (sites.Store, func(), error) {
	if pb, ok := st.(*pebblestore.Store); ok {
		return pb, func() {}, nil
	}
	if af.pgURL == "" {
		return nil, func() {}, nil
	}
	ss, err := pgsites.Open(ctx, pgsites.Options{URL: af.pgURL, Schema: af.pgSchema})
	if err != nil {
		return nil, nil, err
	}
	return ss, func() { _ = ss.Close() }, nil
}

// locateSites finds an exposure site's province for the access policy
// (ScopeSite): its venue's, from venues.
func locateSites(reg sites.Registry, venues siteapi.Venues) access.Locate {
	return func(ctx context.Context, id uint32) (string, bool, error) {
		s, err := reg.Site(ctx, uint64(id))
		if errors.Is(err, sites.ErrNotFound) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		v, err := venues.Venue(ctx, s.VenueID)
		if errors.Is(err, venue.ErrNotFound) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return v.Province, true, nil
	}
}
