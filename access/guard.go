package access

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/truyvet/truyvet/query/audit"
)

// Locate finds the province of a case or venue: known is false when it is
// not registered.
type Locate func(ctx context.Context, id uint32) (province string, known bool, err error)

// Config configures a Guard.
type Config struct {
	Policy        Policy
	Auth          *Authenticator
	Cases         Locate    // for ScopeCase; nil: no case is registered
	Venues        Locate    // for ScopeVenue and ScopeBodyVenue; nil: no venue's province is known
	Sites         Locate    // for ScopeSite (an exposure site's venue's province); nil: none known
	Audit         audit.Log // refused requests on audited routes are written here; nil: not audited
	Limiter       *Limiter  // per token on LimitToken routes; nil: no limit
	PublicLimiter *Limiter  // per client address on LimitClient and LimitReport routes; nil: no limit
	ReportLimiter *Limiter  // per client address on LimitReport routes (citizens' reports), after PublicLimiter; nil: no limit
	Metrics       *Metrics
	Log           *slog.Logger
	Now           func() time.Time
}

// Guard is the one authorisation middleware: it finds the request's rule in
// the policy, authenticates the bearer token, resolves the jurisdiction,
// decides with Decide and either refuses (401, 403, 429) or passes the
// request on with the account in its context. Handlers never check roles.
type Guard struct {
	cfg  Config
	mux  *http.ServeMux
	next http.Handler
}

// maxScopeBody is how much of a body ScopeBodyProvince reads to find
// provinces; a longer body is only for national accounts.
const maxScopeBody = 1 << 20

// NewGuard returns the guard in front of next. It fails on a policy whose
// patterns net/http cannot tell apart.
func NewGuard(cfg Config, next http.Handler) (g *Guard, err error) {
	if cfg.Auth == nil {
		return nil, errors.New("access guard: no authenticator")
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g = &Guard{cfg: cfg, mux: http.NewServeMux(), next: next}
	defer func() {
		if p := recover(); p != nil { // ServeMux panics on conflicting patterns
			g, err = nil, fmt.Errorf("access policy: %v", p)
		}
	}()
	for _, rule := range cfg.Policy {
		g.mux.Handle(rule.Pattern, g.guard(rule))
	}
	return g, nil
}

func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

type ctxKey struct{}

// WithAccount returns ctx carrying the account a request runs as.
func WithAccount(ctx context.Context, a Account) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// AccountFrom returns the account of a request the guard let through (false
// on public routes).
func AccountFrom(ctx context.Context) (Account, bool) {
	a, ok := ctx.Value(ctxKey{}).(Account)
	return a, ok
}

// Actor returns the audit view of a (the zero Actor for nil).
func Actor(a *Account) audit.Actor {
	if a == nil {
		return audit.Actor{Roles: []string{}}
	}
	return audit.Actor{ID: a.ID, Name: a.Name, Roles: a.RoleNames()}
}

func (g *Guard) guard(rule Rule) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rule.Public {
			if (rule.Limit == LimitClient || rule.Limit == LimitReport) && !g.allow(w, g.cfg.PublicLimiter, clientKey(r)) {
				return
			}
			if rule.Limit == LimitReport && !g.allow(w, g.cfg.ReportLimiter, clientKey(r)) {
				return
			}
			g.next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		tok := BearerToken(r.Header.Get("Authorization"))
		var acct *Account
		res := ResultNoToken
		if tok != "" {
			a, ok, err := g.cfg.Auth.Authenticate(ctx, tok)
			if err != nil {
				g.cfg.Log.Error("cannot check a token", "path", r.URL.Path, "err", err)
				writeError(w, http.StatusServiceUnavailable, "cannot check the token now", "unavailable")
				return
			}
			res = ResultBadToken
			if ok {
				acct = &a
			}
		}
		if acct != nil {
			t, err := g.target(ctx, rule, r)
			if err != nil {
				g.cfg.Log.Error("cannot resolve the jurisdiction", "path", r.URL.Path, "err", err)
				writeError(w, http.StatusServiceUnavailable, "cannot check the jurisdiction now", "unavailable")
				return
			}
			res = Decide(rule, acct, t)
		}
		g.cfg.Metrics.requests.WithLabelValues(string(res)).Inc()
		if res != ResultOK {
			g.refuse(w, r, rule, acct, res)
			return
		}
		if rule.Limit == LimitToken && !g.allow(w, g.cfg.Limiter, acct.ID) {
			return
		}
		g.next.ServeHTTP(w, r.WithContext(WithAccount(ctx, *acct)))
	})
}

func (g *Guard) allow(w http.ResponseWriter, lim *Limiter, key string) bool {
	if lim == nil {
		return true
	}
	wait, ok := lim.Allow(key, g.cfg.Now())
	if ok {
		return true
	}
	g.cfg.Metrics.limited.Inc()
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(wait.Seconds(), 1)))))
	writeError(w, http.StatusTooManyRequests, "too many requests", "rate_limited")
	return false
}

// clientKey is the client's address without its port.
func clientKey(r *http.Request) string {
	host := r.RemoteAddr
	if i := lastColon(host); i >= 0 {
		host = host[:i]
	}
	return host
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ':':
			return i
		case ']':
			return -1
		}
	}
	return -1
}

var messages = map[Result]string{
	ResultNoToken:           "this route needs Authorization: Bearer <token>",
	ResultBadToken:          "the token is not valid (unknown, revoked or malformed)",
	ResultForbiddenRole:     "the token's account does not have a role this route needs",
	ResultOutOfJurisdiction: "the case or venue is outside the token's account's provinces",
}

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, rule Rule, acct *Account, res Result) {
	code := http.StatusForbidden
	if res == ResultNoToken || res == ResultBadToken {
		code = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if rule.Audit != "" && g.cfg.Audit != nil {
		e := audit.Entry{
			Time: g.cfg.Now(), Action: rule.Audit, Account: Actor(acct), Purpose: r.URL.Query().Get("purpose"),
			Requester: r.Header.Get("X-Requested-By"), Remote: r.RemoteAddr, Status: code, Reason: string(res),
		}
		if id, ok := pathID(r, rule.Param); ok {
			if rule.Scope == ScopeVenue {
				e.Venue = id
			} else {
				e.Case = id
			}
		}
		if _, err := g.cfg.Audit.Append(context.WithoutCancel(r.Context()), e); err != nil {
			g.cfg.Log.Error("cannot audit a refused request", "action", rule.Audit, "err", err)
		}
	}
	writeError(w, code, messages[res], string(res))
}

func writeError(w http.ResponseWriter, code int, msg, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "reason": reason})
}

func pathID(r *http.Request, param string) (uint32, bool) {
	if param == "" {
		return 0, false
	}
	id, err := strconv.ParseUint(r.PathValue(param), 10, 32)
	return uint32(id), err == nil && id > 0
}

// target resolves what the request touches for rule's scope.
func (g *Guard) target(ctx context.Context, rule Rule, r *http.Request) (Target, error) {
	var t Target
	switch rule.Scope {
	case ScopeNone:
	case ScopeCase, ScopeVenue, ScopeSite, ScopeBodyVenue:
		var id uint32
		var ok bool
		if rule.Scope == ScopeBodyVenue {
			id, ok = bodyVenue(r)
		} else {
			id, ok = pathID(r, rule.Param)
		}
		if !ok {
			return t, nil // a bad id: unregistered, national only; the handler answers 400
		}
		t.Venue = id
		locate := g.cfg.Cases
		switch rule.Scope {
		case ScopeVenue, ScopeBodyVenue:
			locate = g.cfg.Venues
		case ScopeSite:
			locate = g.cfg.Sites
		}
		if locate == nil {
			return t, nil
		}
		var err error
		t.Province, t.Known, err = locate(ctx, id)
		if err != nil {
			return t, fmt.Errorf("locate %d: %w", id, err)
		}
	case ScopeQueryProvince:
		t.Provinces = r.URL.Query()["province"]
	case ScopeBodyProvince:
		b, err := io.ReadAll(io.LimitReader(r.Body, maxScopeBody+1))
		if err != nil {
			return t, nil // the handler will meet the same broken body
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
		if len(b) > maxScopeBody {
			t.Provinces = []string{""} // national accounts only
			return t, nil
		}
		t.Provinces = BodyProvinces(b)
	}
	return t, nil
}

// bodyVenue reads the "venue_id" of a JSON object body, leaving the body
// for the handler; ok is false when there is none to read.
func bodyVenue(r *http.Request) (uint32, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxScopeBody+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil || len(b) > maxScopeBody {
		return 0, false
	}
	var o struct {
		VenueID json.RawMessage `json:"venue_id"`
	}
	if json.Unmarshal(b, &o) != nil {
		return 0, false
	}
	id, err := strconv.ParseUint(string(o.VenueID), 10, 32)
	return uint32(id), err == nil && id > 0
}

// BodyProvinces returns the "province" of a JSON object, or of each object of
// a JSON array. A province that is present but not a string is returned as
// "", which only national accounts cover; a body that is not JSON yields
// none (the handler refuses it).
func BodyProvinces(b []byte) []string {
	type one struct {
		Province json.RawMessage `json:"province"`
	}
	var many []one
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if json.Unmarshal(b, &many) != nil {
			return nil
		}
	} else {
		var o one
		if json.Unmarshal(b, &o) != nil {
			return nil
		}
		many = []one{o}
	}
	var out []string
	for _, o := range many {
		if o.Province == nil {
			continue
		}
		var s string
		if json.Unmarshal(o.Province, &s) != nil {
			s = ""
		}
		out = append(out, s)
	}
	return out
}
