package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/venueapi"
	"github.com/truyvet/truyvet/store/pgvenue"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/cache"
	"github.com/truyvet/truyvet/venue/poster"
	"github.com/truyvet/truyvet/venue/qrsig"
)

// venueFlags configure the venue side: the QR secret and the registry check.
type venueFlags struct {
	secretFile string
	grace      time.Duration
	require    bool
	refresh    time.Duration
}

func (f *venueFlags) register(fs *flag.FlagSet, secretDefault string) {
	fs.StringVar(&f.secretFile, "venue-secret-file", secretDefault, "file of the keys that sign venues' QR codes (first key signs; created with a fresh key if missing)")
	durationFlag(fs, &f.grace, "venue-secret-grace", 90*24*time.Hour, "how long codes signed with a retired key stay valid (truyvet venues rotate-secret)")
	fs.BoolVar(&f.require, "require-registered-venues", true, "refuse check-ins at venues the registry does not have (venue_id, unknown_venue)")
	durationFlag(fs, &f.refresh, "venue-refresh", cache.DefaultRefresh, "how often ingest's copy of the venue registry catches up with it")
}

// ErrMissingVenueSecret is returned when --venue-secret-file is empty.
var ErrMissingVenueSecret = errors.New("--venue-secret-file is required")

func (f *venueFlags) validate() error {
	if f.secretFile == "" {
		return ErrMissingVenueSecret
	}
	if f.grace < 0 || f.refresh <= 0 {
		return errors.New("--venue-secret-grace must not be negative, --venue-refresh must be positive")
	}
	return nil
}

// venueSide is a process's venue machinery: the registry, the keyring that
// signs and verifies codes, ingest's copy of the registry's ids, posters.
type venueSide struct {
	flags   venueFlags
	reg     venue.Registry
	codes   *qrsig.Keyring
	known   *cache.Cache
	posters *poster.Renderer
}

// openVenues loads (creating it first if create) the secret file and fills
// the cache from reg.
func openVenues(ctx context.Context, f venueFlags, reg venue.Registry, create bool, d *deps, now func() time.Time) (*venueSide, error) {
	if create {
		made, err := qrsig.EnsureFile(f.secretFile)
		if err != nil {
			return nil, err
		}
		if made {
			d.log.Info("created the venue QR secret", "file", f.secretFile)
		}
	}
	codes, err := qrsig.LoadFile(f.secretFile, f.grace, now)
	if err != nil {
		return nil, err
	}
	posters, err := poster.NewRenderer()
	if err != nil {
		return nil, err
	}
	known := cache.New(reg, cache.Options{Refresh: f.refresh, Logger: d.log, Registerer: d.reg, Now: now})
	if err := known.Load(ctx); err != nil {
		return nil, err
	}
	return &venueSide{flags: f, reg: reg, codes: codes, known: known, posters: posters}, nil
}

// checker is what ingest checks check-ins with.
type checker struct {
	*qrsig.Keyring
	*cache.Cache
}

func (v *venueSide) ingestOption() ingest.Option {
	return ingest.WithVenues(checker{v.codes, v.known}, v.flags.require)
}

// routes adds the venue routes; visitor lists read stays and are audited
// to trail.
func (v *venueSide) routes(mux *http.ServeMux, stays graph.VenueStore, trail audit.Log, d *deps, now func() time.Time) {
	venueapi.New(venueapi.Deps{
		Registry: v.reg, Provinces: province.Default(), Codes: v.codes, Posters: v.posters, Stays: stays,
		Audit: func(ctx context.Context, r *http.Request, e venueapi.VisitorsEntry) error {
			entry := audit.Entry{Time: e.Time, Action: audit.ActionVisitors, Account: access.Actor(nil), Purpose: e.Purpose,
				Requester: r.Header.Get("X-Requested-By"), Remote: r.RemoteAddr, Venue: e.Venue,
				From: e.From.In(venueapi.Local), To: e.To.In(venueapi.Local), Format: e.Format, Rows: e.Rows, Status: e.Status}
			if acct, ok := access.AccountFrom(ctx); ok { // ctx keeps the request's values
				entry.Account = access.Actor(&acct)
			}
			_, err := trail.Append(ctx, entry)
			return err
		},
		Registered: v.known.Add, Logger: d.log, Now: now,
	}).Register(mux)
}

// defaultSecretFile is the all-in-one secret's place in the data directory.
func defaultSecretFile(dataDir string) string { return filepath.Join(dataDir, "venue.secret") }

// locate finds a venue's province for the access policy (ScopeVenue).
func (v *venueSide) locate() access.Locate {
	return func(ctx context.Context, id uint32) (string, bool, error) {
		ven, err := v.reg.Venue(ctx, id)
		switch {
		case errors.Is(err, venue.ErrNotFound):
			return "", false, nil
		case err != nil:
			return "", false, err
		}
		return ven.Province, true, nil
	}
}

// openDistributedVenues opens the PostgreSQL registry and the shared
// secret, and keeps ingest's copy fresh until ctx ends. Without
// --postgres-url or --venue-secret-file it returns nil: no registry, ids on
// faith, no codes.
func openDistributedVenues(ctx context.Context, pgURL, pgSchema string, vf venueFlags, d *deps, now func() time.Time) (*venueSide, func(), error) {
	if pgURL == "" || vf.secretFile == "" {
		d.log.Warn("no --postgres-url or --venue-secret-file: no venue registry; venue ids are taken on faith and venue codes refused")
		return nil, func() {}, nil
	}
	if err := vf.validate(); err != nil {
		return nil, nil, err
	}
	reg, err := pgvenue.Open(ctx, pgvenue.Options{URL: pgURL, Schema: pgSchema})
	if err != nil {
		return nil, nil, err
	}
	v, err := openVenues(ctx, vf, reg, false, d, now)
	if err != nil {
		_ = reg.Close()
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); v.known.Run(runCtx) }()
	return v, func() { cancel(); <-done; _ = reg.Close() }, nil
}

// ingestOptions are ingest's options for v, none without a registry.
func (v *venueSide) ingestOptions() []ingest.Option {
	if v == nil {
		return nil
	}
	return []ingest.Option{v.ingestOption()}
}

// runVenues is `truyvet venues rotate-secret`: a fresh key signs new codes;
// codes of the retired key keep verifying for --venue-secret-grace. A
// missing file is created with one key.
// Restart ingest and query (every replica, with the new file) to use it.
func runVenues(_ context.Context, env Env) error {
	if len(env.Args) == 0 || env.Args[0] != "rotate-secret" {
		return fmt.Errorf("%w: truyvet venues rotate-secret --venue-secret-file PATH", errUsage)
	}
	fs := flag.NewFlagSet("venues rotate-secret", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var vf venueFlags
	vf.register(fs, "truyvet-data/venue.secret")
	if err := parseFlags(fs, env.Args[1:], env.LookupEnv); err != nil {
		return err
	}
	created, err := qrsig.EnsureFile(vf.secretFile)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(env.Stdout, "created %s with a fresh key\n", vf.secretFile)
		return nil
	}
	if err := qrsig.RotateFile(vf.secretFile, env.Now(), vf.grace); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "rotated %s: new posters carry the new key; old codes verify until %s\n",
		vf.secretFile, env.Now().Add(vf.grace).UTC().Format(time.RFC3339))
	return nil
}
