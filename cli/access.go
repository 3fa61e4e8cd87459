package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/store/pgstore"
)

// accessState is a store of accounts, cases and the audit trail: the
// embedded store in all-in-one, PostgreSQL in distributed mode.
type accessState interface {
	access.Store
	cases.Registry
	audit.Log
}

// accessFlags configure who may call a serving command.
type accessFlags struct {
	adminTokenFile           string
	pgURL, pgSchema          string
	tokenCacheTTL            time.Duration // 0: no token cache
	ingestRate, publicRate   float64
	ingestBurst, publicBurst int
	reportRate               float64
	reportBurst              int
	oidc                     access.OIDCConfig
}

func (f *accessFlags) register(fs *flag.FlagSet, postgres, embedded bool) {
	def := "while no admin account exists, the token in this file (created, mode 0600, with a fresh random token if missing) is the first admin's"
	if embedded {
		def += " (default DATA_DIR/admin.token)"
	}
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", def)
	if postgres {
		f.registerPostgres(fs, embedded)
	}
	fs.StringVar(&f.oidc.Issuer, "oidc-issuer", "", "also accept JWT access tokens from this OpenID Connect issuer, verified against its JWKS, roles and provinces from the claims "+access.ClaimRoles+" and "+access.ClaimProvinces)
	fs.StringVar(&f.oidc.Audience, "oidc-audience", "truyvet", "the aud those tokens must carry (empty: not checked)")
	fs.Float64Var(&f.ingestRate, "rate-limit-ingest", 2000, "requests a second per token on the ingest routes (0: no limit)")
	fs.IntVar(&f.ingestBurst, "rate-limit-ingest-burst", 4000, "burst of requests per token on the ingest routes")
	fs.Float64Var(&f.publicRate, "rate-limit-public", 20, "requests a second per client address on the public routes (0: no limit)")
	fs.IntVar(&f.publicBurst, "rate-limit-public-burst", 40, "burst of requests per client address on the public routes")
	fs.Float64Var(&f.reportRate, "rate-limit-feedback", 0.05, "citizens' reports (POST /v1/venues/{id}/feedback) a second per client address, within the public limit (0: no limit of their own)")
	fs.IntVar(&f.reportBurst, "rate-limit-feedback-burst", 5, "burst of citizens' reports per client address")
}

func (f *accessFlags) registerPostgres(fs *flag.FlagSet, optional bool) {
	use := "PostgreSQL URL of the accounts, cases and audit trail shared by every replica (postgres://…)"
	if optional {
		use += "; without it, the embedded store under --data-dir keeps them"
	}
	secretFlag(fs, &f.pgURL, "postgres-url", use)
	fs.StringVar(&f.pgSchema, "postgres-schema", "truyvet", "PostgreSQL schema of this deployment")
	durationFlag(fs, &f.tokenCacheTTL, "token-cache", 0, "keep the accounts of tokens seen this long instead of asking PostgreSQL on every request (0: off); "+
		"a revocation then reaches the other processes through NOTIFY within milliseconds rather than at once")
}

// openPostgres opens the PostgreSQL state store.
func (f *accessFlags) openPostgres(ctx context.Context) (*pgstore.Store, error) {
	return pgstore.Open(ctx, pgstore.Options{URL: f.pgURL, Schema: f.pgSchema})
}

// guarded is a serving command's access layer: its state, the counted trail
// every writer shares, and the guard.
type guarded struct {
	venues access.Locate // ScopeVenue's provinces (the venue registry); nil: none known
	// sites is ScopeSite's (an exposure site's venue's province), set once
	// the site store is open (later than the guard); none until then.
	sites atomic.Pointer[access.Locate]
	state accessState
	trail audit.Log
	auth  *access.Authenticator
	flags *accessFlags
	log   *slog.Logger
	now   func() time.Time
	reg   prometheus.Registerer
}

// setupAccess reads (or writes) the bootstrap token file and prepares the
// guard over state. defaultTokenFile applies when --admin-token-file is not
// set ("" for none).
func (f *accessFlags) setup(ctx context.Context, state accessState, defaultTokenFile string, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) (*guarded, error) {
	path := f.adminTokenFile
	if path == "" {
		path = defaultTokenFile
	}
	var boot *access.TokenHash
	if path != "" {
		h, created, err := bootstrapToken(path)
		if err != nil {
			return nil, err
		}
		boot = &h
		has, err := state.HasAdmin(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case has:
			log.Info("admin accounts exist; the bootstrap token is not valid", "admin_token_file", path)
		case created:
			log.Info("wrote a bootstrap admin token; valid while no admin account exists", "admin_token_file", path)
		default:
			log.Info("bootstrap admin token valid while no admin account exists", "admin_token_file", path)
		}
	}
	auth := access.NewAuthenticator(state, boot)
	if f.oidc.Issuer != "" {
		o, err := access.NewOIDC(ctx, f.oidc)
		if err != nil {
			return nil, err
		}
		auth.WithOIDC(o)
		log.Info("accepting access tokens of an OpenID Connect provider", "issuer", f.oidc.Issuer, "audience", f.oidc.Audience)
	}
	return &guarded{state: state, trail: audit.NewCounted(state, reg), auth: auth,
		flags: f, log: log, now: now, reg: reg}, nil
}

// ErrBadTokenFile is returned for an admin token file that holds no token.
var ErrBadTokenFile = errors.New("admin token file does not hold a truyvet token")

// bootstrapToken returns the hash of the token in path, writing a fresh one
// there (mode 0600) when the file does not exist.
func bootstrapToken(path string) (access.TokenHash, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		h, err := access.ParseToken(strings.TrimSpace(string(b)))
		if err != nil {
			return h, false, fmt.Errorf("%w: %s", ErrBadTokenFile, path)
		}
		return h, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return access.TokenHash{}, false, fmt.Errorf("read admin token file: %w", err)
	}
	tok, h, err := access.NewToken()
	if err != nil {
		return h, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return h, false, fmt.Errorf("admin token file: %w", err)
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return h, false, fmt.Errorf("write admin token file: %w", err)
	}
	if _, err := fh.WriteString(tok + "\n"); err != nil {
		_ = fh.Close()
		return h, false, fmt.Errorf("write admin token file: %w", err)
	}
	if err := fh.Sync(); err != nil {
		_ = fh.Close()
		return h, false, fmt.Errorf("write admin token file: %w", err)
	}
	return h, true, fh.Close()
}

// accounts is the accounts handler over the state.
func (g *guarded) accounts() *access.Accounts {
	return &access.Accounts{Store: g.state, Trail: g.trail, Log: g.log, Now: g.now}
}

// guard returns the access guard as the server wraps the mux with it:
// every /v1 route checked against the one policy. withCases: the command
// serves case lookups, whose jurisdiction follows the registry.
func (g *guarded) guard(withCases bool) func(http.Handler) (http.Handler, error) {
	return func(next http.Handler) (http.Handler, error) {
		cfg := access.Config{
			Policy: access.DefaultPolicy(), Auth: g.auth, Audit: g.trail,
			Metrics: access.NewMetrics(g.reg), Log: g.log.With("component", "access"), Now: g.now,
		}
		if withCases {
			cfg.Cases = cases.Locate(g.state)
		}
		cfg.Venues = g.venues
		cfg.Sites = func(ctx context.Context, id uint32) (string, bool, error) {
			if l := g.sites.Load(); l != nil {
				return (*l)(ctx, id)
			}
			return "", false, nil
		}
		if g.flags.ingestRate > 0 {
			cfg.Limiter = access.NewLimiter(g.flags.ingestRate, g.flags.ingestBurst)
		}
		if g.flags.publicRate > 0 {
			cfg.PublicLimiter = access.NewLimiter(g.flags.publicRate, g.flags.publicBurst)
		}
		if g.flags.reportRate > 0 {
			cfg.ReportLimiter = access.NewLimiter(g.flags.reportRate, g.flags.reportBurst)
		}
		return access.NewGuard(cfg, next)
	}
}

// distributedState is the access state of a distributed command:
// PostgreSQL with --postgres-url, else embedded (nil when the command has no
// embedded store, which makes --postgres-url required). close releases it.
func (f *accessFlags) distributedState(ctx context.Context, embedded accessState) (st accessState, closeFn func(), err error) {
	if f.pgURL == "" {
		if embedded == nil {
			return nil, nil, fmt.Errorf("%w (accounts, cases and the audit trail live there)", pgstore.ErrNoURL)
		}
		return embedded, func() {}, nil
	}
	pg, err := f.openPostgres(ctx)
	if err != nil {
		return nil, nil, err
	}
	return pg, func() { _ = pg.Close() }, nil
}

// open is distributedState then setup: the access layer of a distributed
// command, and the closer of its state.
func (f *accessFlags) open(ctx context.Context, embedded accessState, tokenFile string, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) (*guarded, func(), error) {
	st, closeFn, err := f.distributedState(ctx, embedded)
	if err != nil {
		return nil, nil, err
	}
	g, err := f.setup(ctx, st, tokenFile, reg, log, now)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	if feed, ok := st.(access.RevocationFeed); ok && f.tokenCacheTTL > 0 {
		// Every request would otherwise ask PostgreSQL for its token; the
		// cache hears each revocation (NOTIFY) and is bypassed while it
		// cannot. Off by default: DESIGN's revocation holds at once, and a
		// notification takes a moment to arrive.
		cache := access.NewTokenCache(f.tokenCacheTTL, tokenCacheMax, now, reg)
		g.auth.WithCache(cache)
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			feed.WatchRevocations(wctx, cache)
		}()
		closeState := closeFn
		closeFn = func() {
			stop()
			<-done
			closeState()
		}
	}
	return g, closeFn, nil
}

// tokenCacheMax is the most tokens a --token-cache keeps.
const tokenCacheMax = 100_000
