package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/query/audit/audittest"
)

// jur is the jurisdiction a request of the table exercises.
type jur int

const (
	jurNone       jur = iota
	jurIn01           // a case, venue or province of Hà Nội (01)
	jurNational       // an unregistered case, or no province given: national accounts only
	jurOwnVenue       // venue 500 (in 01), administered by the venue admin of the table
	jurOtherVenue     // venue 700, province unknown, not the venue admin's
)

// spec is the contract, written out by hand from DESIGN "Access" rather than
// derived from the policy: pattern → an example request, the roles that may
// use it (nil: public; all: any role) and its jurisdiction.
type spec struct {
	pattern, method, path, body string
	roles                       []access.Role
	public                      bool
	jur                         jur
}

var all = access.Roles()

func r(rs ...access.Role) []access.Role { return rs }

const (
	admin, app, epi, approver = access.RoleAdmin, access.RoleApp, access.RoleEpidemiologist, access.RoleApprover
	venueAdmin, viewer, aud   = access.RoleVenueAdmin, access.RoleViewer, access.RoleAuditor
)

func contract() []spec {
	return []spec{
		{pattern: "/", method: "GET", path: "/healthz", public: true},
		{pattern: "GET /v1/schemas", method: "GET", path: "/v1/schemas", public: true},
		{pattern: "GET /v1/schemas/", method: "GET", path: "/v1/schemas/visit", public: true},
		{pattern: "GET /v1/openapi.json", method: "GET", path: "/v1/openapi.json", public: true},
		{pattern: "GET /v1/checklists/", method: "GET", path: "/v1/checklists/school", public: true},
		{pattern: "GET /v1/exposure-sites", method: "GET", path: "/v1/exposure-sites", public: true},
		{pattern: "GET /v1/exposure-sites/", method: "GET", path: "/v1/exposure-sites/12", public: true},
		{pattern: "GET /v1/exposure-sites.geojson", method: "GET", path: "/v1/exposure-sites.geojson", public: true},
		{pattern: "GET /v1/safety-map", method: "GET", path: "/v1/safety-map", public: true},
		{pattern: "GET /v1/safety-map/", method: "GET", path: "/v1/safety-map/x", public: true},
		{pattern: "GET /v1/safety-map.geojson", method: "GET", path: "/v1/safety-map.geojson?province=01", public: true},
		{pattern: "POST /v1/venues/{id}/feedback", method: "POST", path: "/v1/venues/500/feedback", public: true},
		{pattern: "/v1/", method: "POST", path: "/v1/status", roles: all},
		{pattern: "GET /v1/status", method: "GET", path: "/v1/status", roles: all},
		{pattern: "POST /v1/accounts", method: "POST", path: "/v1/accounts", roles: r(admin)},
		{pattern: "GET /v1/accounts", method: "GET", path: "/v1/accounts", roles: r(admin)},
		{pattern: "DELETE /v1/accounts/{id}", method: "DELETE", path: "/v1/accounts/acc_1", roles: r(admin)},
		{pattern: "GET /v1/audit", method: "GET", path: "/v1/audit?case=7", roles: r(aud)},
		{pattern: "POST /v1/checkins", method: "POST", path: "/v1/checkins", roles: r(app)},
		{pattern: "POST /v1/proximity", method: "POST", path: "/v1/proximity", roles: r(app)},
		{pattern: "POST /v1/declarations", method: "POST", path: "/v1/declarations", roles: r(app)},
		{pattern: "GET /v1/alerts", method: "GET", path: "/v1/alerts?after=0", roles: r(app)},
		{pattern: "POST /v1/cases", method: "POST", path: "/v1/cases", body: `{"user_id":7,"province":"01"}`, roles: r(epi), jur: jurIn01},
		{pattern: "POST /v1/cases", method: "POST", path: "/v1/cases", body: `{"user_id":7,"province":7}`, roles: r(epi), jur: jurNational},
		{pattern: "GET /v1/cases/{id}", method: "GET", path: "/v1/cases/7", roles: r(epi), jur: jurIn01},
		{pattern: "GET /v1/cases/{id}", method: "GET", path: "/v1/cases/8", roles: r(epi), jur: jurNational},
		{pattern: "GET /v1/cases/{id}/exposures", method: "GET", path: "/v1/cases/7/exposures?purpose=trace", roles: r(epi), jur: jurIn01},
		{pattern: "GET /v1/cases/{id}/exposures", method: "GET", path: "/v1/cases/8/exposures?purpose=trace", roles: r(epi), jur: jurNational},
		{pattern: "GET /v1/cases/{id}/exposures/diff", method: "GET", path: "/v1/cases/7/exposures/diff?purpose=trace&a=default&b=moh-2021", roles: r(epi), jur: jurIn01},
		{pattern: "GET /v1/declarations", method: "GET", path: "/v1/declarations?subject_id=3&province=01", roles: r(epi), jur: jurIn01},
		{pattern: "GET /v1/declarations/summary", method: "GET", path: "/v1/declarations/summary", roles: r(epi, viewer), jur: jurNational},
		{pattern: "GET /v1/summary", method: "GET", path: "/v1/summary?province=01", roles: r(epi, viewer), jur: jurIn01},
		{pattern: "POST /v1/exposure-sites", method: "POST", path: "/v1/exposure-sites", body: `{"venue_id":500,"from":"…"}`, roles: r(epi), jur: jurIn01},
		{pattern: "POST /v1/exposure-sites", method: "POST", path: "/v1/exposure-sites", body: `{"venue_id":700}`, roles: r(epi), jur: jurNational},
		{pattern: "POST /v1/exposure-sites", method: "POST", path: "/v1/exposure-sites", body: `{"venue_id":"500"}`, roles: r(epi), jur: jurNational},
		{pattern: "GET /v1/definitions", method: "GET", path: "/v1/definitions", roles: r(epi)},
		{pattern: "POST /v1/definitions", method: "POST", path: "/v1/definitions", roles: r(epi)},
		{pattern: "POST /v1/exposure-sites/{id}/approve", method: "POST", path: "/v1/exposure-sites/3/approve", roles: r(approver), jur: jurIn01},
		{pattern: "POST /v1/exposure-sites/{id}/approve", method: "POST", path: "/v1/exposure-sites/4/approve", roles: r(approver), jur: jurNational},
		{pattern: "POST /v1/exposure-sites/{id}/retract", method: "POST", path: "/v1/exposure-sites/3/retract", roles: r(approver), jur: jurIn01},
		{pattern: "POST /v1/venues", method: "POST", path: "/v1/venues", body: `[{"province":"01"},{"province":"01"}]`, roles: r(app, epi), jur: jurIn01},
		{pattern: "GET /v1/venues", method: "GET", path: "/v1/venues?province=79", roles: r(app, epi, viewer)},
		{pattern: "GET /v1/venues.geojson", method: "GET", path: "/v1/venues.geojson", roles: r(app, epi, viewer)},
		{pattern: "GET /v1/venues/{id}", method: "GET", path: "/v1/venues/500", roles: r(app, epi, venueAdmin), jur: jurOwnVenue},
		{pattern: "GET /v1/venues/{id}/poster.png", method: "GET", path: "/v1/venues/700/poster.png", roles: r(app, epi, venueAdmin), jur: jurOtherVenue},
		{pattern: "GET /v1/venues/{id}/poster.svg", method: "GET", path: "/v1/venues/500/poster.svg", roles: r(app, epi, venueAdmin), jur: jurOwnVenue},
		{pattern: "GET /v1/venues/{id}/visitors", method: "GET", path: "/v1/venues/500/visitors?purpose=trace", roles: r(epi, venueAdmin), jur: jurOwnVenue},
		{pattern: "GET /v1/venues/{id}/visitors", method: "GET", path: "/v1/venues/700/visitors?purpose=trace", roles: r(epi, venueAdmin), jur: jurOtherVenue},
		{pattern: "POST /v1/venues/{id}/assessments", method: "POST", path: "/v1/venues/500/assessments", roles: r(venueAdmin), jur: jurOwnVenue},
		{pattern: "GET /v1/feedback", method: "GET", path: "/v1/feedback?status=open", roles: r(viewer)},
		{pattern: "POST /v1/feedback/{id}/resolve", method: "POST", path: "/v1/feedback/9/resolve", roles: r(viewer)},
	}
}

// expect is the contract's answer for an account with one role and scope
// ("*", "01" or "79"); role "" is a request without a token.
func (s spec) expect(role access.Role, scope string) (int, string) {
	switch {
	case s.public:
		return http.StatusOK, ""
	case role == "":
		return http.StatusUnauthorized, "no_token"
	case !slices.Contains(s.roles, role):
		return http.StatusForbidden, "forbidden_role"
	}
	ok := true
	switch s.jur {
	case jurNone:
	case jurIn01:
		ok = scope == "*" || scope == "01"
	case jurNational:
		ok = scope == "*"
	case jurOwnVenue:
		ok = role == venueAdmin || scope == "*" || scope == "01"
	case jurOtherVenue:
		ok = role != venueAdmin && scope == "*"
	}
	if !ok {
		return http.StatusForbidden, "out_of_jurisdiction"
	}
	return http.StatusOK, ""
}

type fixture struct {
	guard  *access.Guard
	store  *memStore
	tokens map[string]string // role/scope → token
	audit  *audittest.Memory
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: newMemStore(), tokens: map[string]string{}, audit: &audittest.Memory{}}
	for _, role := range access.Roles() {
		for _, scope := range []string{"*", "01", "79"} {
			s := access.Spec{Name: string(role) + " " + scope, Roles: []access.Role{role}, Provinces: []string{scope}}
			if role == venueAdmin {
				s.Venues = []uint32{500}
			}
			a, tok, h, err := access.NewAccount(s, "test", time.Now())
			require.NoError(t, err)
			require.NoError(t, f.store.CreateAccount(context.Background(), a, h))
			f.tokens[string(role)+"/"+scope] = tok
		}
	}
	cases := func(_ context.Context, id uint32) (string, bool, error) {
		if id == 7 {
			return "01", true, nil
		}
		return "", false, nil
	}
	venues := func(_ context.Context, id uint32) (string, bool, error) {
		switch id {
		case 500:
			return "01", true, nil
		case 600:
			return "79", true, nil
		}
		return "", false, nil
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "feedback") && !strings.HasPrefix(r.URL.Path, "/v1/schemas") &&
			strings.HasPrefix(r.URL.Path, "/v1/") && !strings.Contains(r.URL.Path, "sites") &&
			!strings.Contains(r.URL.Path, "safety-map") && !strings.Contains(r.URL.Path, "openapi") &&
			!strings.Contains(r.URL.Path, "checklists") {
			if _, ok := access.AccountFrom(r.Context()); !ok {
				http.Error(w, "no account in context", http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
	g, err := access.NewGuard(access.Config{
		Policy: access.DefaultPolicy(), Auth: access.NewAuthenticator(f.store, nil),
		Cases: cases, Venues: venues, Audit: f.audit,
		Sites: func(_ context.Context, id uint32) (string, bool, error) { return "01", id == 3, nil },
	}, next)
	require.NoError(t, err)
	f.guard = g
	return f
}

func (f *fixture) do(method, path, body, tok string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	f.guard.ServeHTTP(w, req)
	return w
}

// TestPolicyTable runs every route of the contract × every role × every
// scope (national, the target's province, another) through the guard.
func TestPolicyTable(t *testing.T) {
	f := newFixture(t)
	covered := map[string]bool{}
	for _, s := range contract() {
		covered[s.pattern] = true
		cases := []struct{ role, scope string }{{"", ""}}
		for _, role := range access.Roles() {
			for _, scope := range []string{"*", "01", "79"} {
				cases = append(cases, struct{ role, scope string }{string(role), scope})
			}
		}
		for _, c := range cases {
			name := fmt.Sprintf("%s %s as %s/%s", s.method, s.path, c.role, c.scope)
			t.Run(name, func(t *testing.T) {
				w := f.do(s.method, s.path, s.body, f.tokens[c.role+"/"+c.scope])
				code, reason := s.expect(access.Role(c.role), c.scope)
				require.Equal(t, code, w.Code, w.Body.String())
				if reason != "" {
					var body map[string]string
					require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
					require.Equal(t, reason, body["reason"])
					require.NotEmpty(t, body["error"])
				}
				if code == http.StatusUnauthorized {
					require.Equal(t, "Bearer", w.Header().Get("WWW-Authenticate"))
				}
			})
		}
	}
	for _, rule := range access.DefaultPolicy() {
		require.True(t, covered[rule.Pattern], "policy rule %q has no row in the contract table", rule.Pattern)
	}
}

func TestBadAndRevokedTokens(t *testing.T) {
	f := newFixture(t)
	tok := f.tokens["epidemiologist/*"]
	require.Equal(t, http.StatusOK, f.do("GET", "/v1/cases/8", "", tok).Code)
	for _, bad := range []string{"x", tok + "x", strings.Replace(tok, "tvk_", "tvx_", 1), "Basic abc"} {
		w := f.do("GET", "/v1/cases/8", "", bad)
		require.Equal(t, http.StatusUnauthorized, w.Code, bad)
		require.Equal(t, "Bearer", w.Header().Get("WWW-Authenticate"))
		require.Contains(t, w.Body.String(), `"reason":"bad_token"`)
	}
	unknown, _, err := access.NewToken()
	require.NoError(t, err)
	require.Contains(t, f.do("GET", "/v1/cases/8", "", unknown).Body.String(), `"reason":"bad_token"`)

	a, err := f.store.AccountByToken(context.Background(), access.HashToken(tok))
	require.NoError(t, err)
	require.NoError(t, f.store.RevokeAccount(context.Background(), a.ID, time.Now()))
	w := f.do("GET", "/v1/cases/8", "", tok)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, w.Body.String(), `"reason":"bad_token"`)
}

func TestRefusedLookupsAreAudited(t *testing.T) {
	f := newFixture(t)
	f.do("GET", "/v1/cases/7/exposures?purpose=trace", "", "")
	f.do("GET", "/v1/cases/7/exposures?purpose="+strings.Repeat("p", 5000), "", f.tokens["epidemiologist/79"])
	f.do("GET", "/v1/cases/7/exposures?purpose=trace", "", f.tokens["epidemiologist/01"]) // allowed: the handler audits it
	f.do("GET", "/v1/venues/700/visitors?purpose=x", "", f.tokens["venue_admin/01"])
	es := f.audit.Snapshot()
	require.Len(t, es, 3)
	require.Equal(t, "exposures", es[0].Action)
	require.Equal(t, uint32(7), es[0].Case)
	require.Equal(t, http.StatusUnauthorized, es[0].Status)
	require.Equal(t, "no_token", es[0].Reason)
	require.Equal(t, http.StatusForbidden, es[1].Status)
	require.Equal(t, "out_of_jurisdiction", es[1].Reason)
	require.Equal(t, "epidemiologist 79", es[1].Account.Name)
	require.Equal(t, []string{"epidemiologist"}, es[1].Account.Roles)
	require.LessOrEqual(t, len(es[1].Purpose), 800)
	require.Equal(t, "visitors", es[2].Action)
	require.Equal(t, uint32(700), es[2].Venue)
}

func TestBootstrap(t *testing.T) {
	store := newMemStore()
	tok, h, err := access.NewToken()
	require.NoError(t, err)
	auth := access.NewAuthenticator(store, &h)
	a, ok, err := auth.Authenticate(context.Background(), tok)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, access.BootstrapID, a.ID)
	require.True(t, a.HasRole(access.RoleAdmin))

	admin, _, ah, err := access.NewAccount(access.Spec{Name: "ops", Roles: []access.Role{access.RoleAdmin}, Provinces: []string{"*"}}, a.ID, time.Now())
	require.NoError(t, err)
	require.NoError(t, store.CreateAccount(context.Background(), admin, ah))
	_, ok, err = auth.Authenticate(context.Background(), tok)
	require.NoError(t, err)
	require.False(t, ok, "the bootstrap token stops working once an admin exists")

	require.NoError(t, store.RevokeAccount(context.Background(), admin.ID, time.Now()))
	_, ok, err = auth.Authenticate(context.Background(), tok)
	require.NoError(t, err)
	require.True(t, ok, "and works again when no active admin is left")
}

func TestRateLimit(t *testing.T) {
	store := newMemStore()
	a, tok, h, err := access.NewAccount(access.Spec{Name: "app", Roles: []access.Role{access.RoleApp}, Provinces: []string{"*"}}, "t", time.Now())
	require.NoError(t, err)
	require.NoError(t, store.CreateAccount(context.Background(), a, h))
	now := time.Unix(1_800_000_000, 0)
	g, err := access.NewGuard(access.Config{
		Policy: access.DefaultPolicy(), Auth: access.NewAuthenticator(store, nil),
		Limiter: access.NewLimiter(1, 2), PublicLimiter: access.NewLimiter(1, 2), Now: func() time.Time { return now },
	}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	require.NoError(t, err)
	do := func(path, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w
	}
	require.Equal(t, http.StatusAccepted, do("/v1/checkins", tok).Code)
	require.Equal(t, http.StatusAccepted, do("/v1/checkins", tok).Code)
	w := do("/v1/checkins", tok)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.Contains(t, w.Body.String(), `"reason":"rate_limited"`)
	now = now.Add(time.Second)
	require.Equal(t, http.StatusAccepted, do("/v1/checkins", tok).Code)
	// public routes: per client address
	require.Equal(t, http.StatusAccepted, do("/v1/venues/1/feedback", "").Code)
	require.Equal(t, http.StatusAccepted, do("/v1/venues/1/feedback", "").Code)
	require.Equal(t, http.StatusTooManyRequests, do("/v1/venues/1/feedback", "").Code)
}

func TestTokens(t *testing.T) {
	tok, h, err := access.NewToken()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tok, access.TokenPrefix))
	got, err := access.ParseToken(tok)
	require.NoError(t, err)
	require.Equal(t, h, got)
	other, _, err := access.NewToken()
	require.NoError(t, err)
	require.NotEqual(t, tok, other)
	require.Equal(t, tok, access.BearerToken("bearer "+tok))
	require.Empty(t, access.BearerToken(tok))
}

func TestSpecValidate(t *testing.T) {
	good := access.Spec{Name: "Đội truy vết Hà Nội", Roles: []access.Role{epi}, Provinces: []string{"01"}}
	require.NoError(t, good.Validate(provinces()))
	for field, s := range map[string]access.Spec{
		"name":      {Roles: []access.Role{epi}, Provinces: []string{"01"}},
		"roles":     {Name: "x", Roles: []access.Role{"root"}, Provinces: []string{"01"}},
		"provinces": {Name: "x", Roles: []access.Role{epi}, Provinces: []string{"03"}},
		"venues":    {Name: "x", Roles: []access.Role{venueAdmin}, Provinces: []string{"01"}},
	} {
		err := s.Validate(provinces())
		var fe *access.FieldError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, field, fe.Field)
	}
}
