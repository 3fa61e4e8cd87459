package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// stateFlags locate the accounts and the audit trail for the operator
// commands: the embedded store (--data-dir, while no server holds it),
// PostgreSQL (--postgres-url), or a running server (--url with --token).
type stateFlags struct {
	dataDir string
	af      accessFlags
	url     string
	token   string
}

func (f *stateFlags) register(fs *flag.FlagSet, http bool) {
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory of an all-in-one (or embedded process) store that no server holds open")
	f.af.registerPostgres(fs, false)
	if http {
		fs.StringVar(&f.url, "url", "", "or a running truyvet's base URL (e.g. http://127.0.0.1:8080), with --token")
		secretFlag(fs, &f.token, "token", "an admin token, for --url (TRUYVET_TOKEN)")
	}
}

var errNoState = errors.New("one of --data-dir, --postgres-url or --url is required")

// open returns the state store and its closer.
func (f *stateFlags) open(ctx context.Context) (accessState, func(), error) {
	switch {
	case f.pgURL() != "":
		return f.af.distributedState(ctx, nil)
	case f.dataDir != "":
		s, err := pebblestore.Open(ctx, pebblestore.Options{Dir: f.dataDir, Layout: bucket.DefaultLayout(), StoredLayout: true})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	}
	return nil, nil, fmt.Errorf("%w: %w", errUsage, errNoState)
}

func (f *stateFlags) pgURL() string { return f.af.pgURL }

// operator is the actor of changes made on the command line.
func operator() audit.Actor {
	return audit.Actor{ID: "operator", Name: "command line", Roles: []string{string(access.RoleAdmin)}}
}

func runAccounts(ctx context.Context, env Env) error {
	if len(env.Args) == 0 {
		return fmt.Errorf("%w: truyvet accounts create|list|revoke [flags]", errUsage)
	}
	sub, args := env.Args[0], env.Args[1:]
	fs := flag.NewFlagSet("accounts "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var sf stateFlags
	sf.register(fs, true)
	var spec access.Spec
	var roles, provinces, venues, id string
	switch sub {
	case "create":
		fs.StringVar(&spec.Name, "name", "", "who holds the account (a team, an app backend)")
		fs.StringVar(&roles, "roles", "", "comma-separated roles: admin, app, epidemiologist, approver, venue_admin, viewer, auditor")
		fs.StringVar(&provinces, "provinces", "", `comma-separated province codes (e.g. 01,79), or "*" for national scope`)
		fs.StringVar(&venues, "venues", "", "comma-separated venue ids, for venue admins")
	case "list":
	case "revoke":
		fs.StringVar(&id, "id", "", "the account to revoke")
	default:
		return fmt.Errorf("%w: unknown accounts command %q (create, list, revoke)", errUsage, sub)
	}
	if err := parseFlags(fs, args, env.LookupEnv); err != nil {
		return err
	}
	if sub == "create" {
		spec.Roles = []access.Role{}
		for _, r := range splitList(roles) {
			spec.Roles = append(spec.Roles, access.Role(r))
		}
		spec.Provinces = splitList(provinces)
		for _, v := range splitList(venues) {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("%w: --venues: %q is not a venue id", errUsage, v)
			}
			spec.Venues = append(spec.Venues, uint32(n))
		}
	}
	if sub == "revoke" && id == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	var out any
	var err error
	if sf.url != "" {
		out, err = accountsOverHTTP(ctx, sf, sub, spec, id)
	} else {
		out, err = accountsInStore(ctx, sf, env, sub, spec, id)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func accountsInStore(ctx context.Context, sf stateFlags, env Env, sub string, spec access.Spec, id string) (any, error) {
	st, closeFn, err := sf.open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	h := &access.Accounts{Store: st, Trail: st, Now: env.Now}
	switch sub {
	case "create":
		c, err := h.Create(ctx, spec, operator(), "")
		var fe *access.FieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		return c, err
	case "list":
		as, err := st.Accounts(ctx)
		return map[string]any{"accounts": as}, err
	default:
		return h.Revoke(ctx, id, operator(), "")
	}
}

func accountsOverHTTP(ctx context.Context, sf stateFlags, sub string, spec access.Spec, id string) (any, error) {
	base := strings.TrimRight(sf.url, "/")
	method, url := http.MethodGet, base+"/v1/accounts"
	var body io.Reader
	switch sub {
	case "create":
		b, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		method, body = http.MethodPost, bytes.NewReader(b)
	case "revoke":
		method, url = http.MethodDelete, url+"/"+id
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+sf.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(b))
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

// runAudit is `truyvet audit verify`: check the trail's hash chain.
func runAudit(ctx context.Context, env Env) error {
	if len(env.Args) == 0 || env.Args[0] != "verify" {
		return fmt.Errorf("%w: truyvet audit verify (--data-dir DIR | --postgres-url URL)", errUsage)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var sf stateFlags
	sf.register(fs, false)
	if err := parseFlags(fs, env.Args[1:], env.LookupEnv); err != nil {
		return err
	}
	st, closeFn, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	n, last, err := audit.Verify(ctx, st)
	if err != nil {
		return fmt.Errorf("audit trail: %d entries verified before: %w", n, err)
	}
	_, err = fmt.Fprintf(env.Stdout, "audit trail ok: %d entries, last hash %s\n", n, last)
	return err
}
