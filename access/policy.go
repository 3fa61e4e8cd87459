package access

import "slices"

// Scope says how a route's jurisdiction is found.
type Scope int

// The scopes.
const (
	// ScopeNone: the role is enough.
	ScopeNone Scope = iota
	// ScopeCase: the case in the path parameter; a registered case's
	// province, an unregistered id national accounts only.
	ScopeCase
	// ScopeBodyProvince: every "province" in the JSON body (an object or an
	// array of objects); a body without one is left to the handler to refuse.
	ScopeBodyProvince
	// ScopeQueryProvince: the "province" query parameter; without one,
	// national accounts only.
	ScopeQueryProvince
	// ScopeVenue: the venue in the path parameter; a venue admin of that
	// venue, or another role scoped to its province (national when the
	// venue's province is not known).
	ScopeVenue
	// ScopeBodyVenue: as ScopeVenue, for the "venue_id" of the JSON body
	// (an exposure site's draft).
	ScopeBodyVenue
	// ScopeSite: the exposure site in the path parameter, by its venue's
	// province (national when the site or its venue is not known).
	ScopeSite
)

// Rule is what a route needs.
type Rule struct {
	Pattern string // a net/http ServeMux pattern
	Public  bool   // no token needed
	Roles   []Role // any one of these; none means any role
	Scope   Scope
	Param   string // the path parameter ScopeCase and ScopeVenue read
	Audit   string // audit action of the route: refused requests are audited too
	Limit   Limit  // rate limit class
}

// Limit is a rate-limit class.
type Limit int

// The rate-limit classes.
const (
	LimitNone   Limit = iota
	LimitToken        // per token (ingest)
	LimitClient       // per client address (public routes)
	LimitReport       // per client address, as LimitClient and then the stricter limit of citizens' reports
)

// Result is the outcome of an authorisation, the label of
// truyvet_auth_requests_total.
type Result string

// The results.
const (
	ResultOK                Result = "ok"
	ResultNoToken           Result = "no_token"
	ResultBadToken          Result = "bad_token"
	ResultForbiddenRole     Result = "forbidden_role"
	ResultOutOfJurisdiction Result = "out_of_jurisdiction"
)

// Target is what a request touches, as far as jurisdiction goes.
type Target struct {
	Known     bool     // the case or venue is registered (its Province is known)
	Province  string   // ScopeCase, ScopeVenue: its province
	Provinces []string // ScopeBodyProvince, ScopeQueryProvince
	Venue     uint32   // ScopeVenue
}

// Decide is the one authorisation decision: may account a (nil: no token)
// do what rule r guards, on target t?
func Decide(r Rule, a *Account, t Target) Result {
	if r.Public {
		return ResultOK
	}
	if a == nil {
		return ResultNoToken
	}
	var held []Role
	for _, role := range a.Roles {
		if len(r.Roles) == 0 || slices.Contains(r.Roles, role) {
			held = append(held, role)
		}
	}
	if len(held) == 0 {
		return ResultForbiddenRole
	}
	for _, role := range held {
		if inScope(r.Scope, role, a, t) {
			return ResultOK
		}
	}
	return ResultOutOfJurisdiction
}

func inScope(s Scope, role Role, a *Account, t Target) bool {
	switch s {
	case ScopeNone:
		return true
	case ScopeCase, ScopeSite:
		if !t.Known {
			return a.IsNational()
		}
		return a.InProvince(t.Province)
	case ScopeBodyProvince:
		for _, p := range t.Provinces {
			if !a.InProvince(p) {
				return false
			}
		}
		return true
	case ScopeQueryProvince:
		if len(t.Provinces) == 0 {
			return a.IsNational()
		}
		for _, p := range t.Provinces {
			if !a.InProvince(p) {
				return false
			}
		}
		return true
	case ScopeVenue, ScopeBodyVenue:
		if role == RoleVenueAdmin {
			return a.HasVenue(t.Venue)
		}
		if !t.Known {
			return a.IsNational()
		}
		return a.InProvince(t.Province)
	}
	return false
}

// Policy is the route table, most specific patterns winning as in
// net/http's ServeMux.
type Policy []Rule

// DefaultPolicy is truyvet's route table (DESIGN "Access"): every /v1 route,
// including those of the record kinds still to come, so a new handler is
// guarded the day it is registered. Routes not in it follow "/v1/" (any
// role) or "/" (the pages, health and metrics: open).
func DefaultPolicy() Policy {
	epi := []Role{RoleEpidemiologist}
	return Policy{
		// Open.
		{Pattern: "/", Public: true},
		{Pattern: "GET /v1/schemas", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/schemas/", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/openapi.json", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/checklists/", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/exposure-sites", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/exposure-sites/", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/exposure-sites.geojson", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/safety-map", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/safety-map/", Public: true, Limit: LimitClient},
		{Pattern: "GET /v1/safety-map.geojson", Public: true, Limit: LimitClient},
		{Pattern: "POST /v1/venues/{id}/feedback", Public: true, Limit: LimitReport},
		// Any account.
		{Pattern: "/v1/"},
		{Pattern: "GET /v1/status"},
		// admin
		{Pattern: "POST /v1/accounts", Roles: []Role{RoleAdmin}},
		{Pattern: "GET /v1/accounts", Roles: []Role{RoleAdmin}},
		{Pattern: "DELETE /v1/accounts/{id}", Roles: []Role{RoleAdmin}},
		// auditor
		{Pattern: "GET /v1/audit", Roles: []Role{RoleAuditor}},
		// app
		{Pattern: "POST /v1/checkins", Roles: []Role{RoleApp}, Limit: LimitToken},
		{Pattern: "POST /v1/proximity", Roles: []Role{RoleApp}, Limit: LimitToken},
		{Pattern: "POST /v1/declarations", Roles: []Role{RoleApp}, Limit: LimitToken},
		{Pattern: "GET /v1/alerts", Roles: []Role{RoleApp}},
		// epidemiologist
		{Pattern: "POST /v1/cases", Roles: epi, Scope: ScopeBodyProvince},
		{Pattern: "GET /v1/cases/{id}", Roles: epi, Scope: ScopeCase, Param: "id"},
		{Pattern: "GET /v1/cases/{id}/exposures", Roles: epi, Scope: ScopeCase, Param: "id", Audit: "exposures"},
		{Pattern: "GET /v1/cases/{id}/exposures/diff", Roles: epi, Scope: ScopeCase, Param: "id", Audit: "exposures"},
		{Pattern: "GET /v1/declarations", Roles: epi, Scope: ScopeQueryProvince, Audit: "declarations"},
		{Pattern: "GET /v1/declarations/summary", Roles: []Role{RoleEpidemiologist, RoleViewer}, Scope: ScopeQueryProvince},
		{Pattern: "GET /v1/summary", Roles: []Role{RoleEpidemiologist, RoleViewer}, Scope: ScopeQueryProvince},
		{Pattern: "POST /v1/exposure-sites", Roles: epi, Scope: ScopeBodyVenue},
		{Pattern: "GET /v1/definitions", Roles: epi},
		{Pattern: "POST /v1/definitions", Roles: epi},
		// approver
		{Pattern: "POST /v1/exposure-sites/{id}/approve", Roles: []Role{RoleApprover}, Scope: ScopeSite, Param: "id"},
		{Pattern: "POST /v1/exposure-sites/{id}/retract", Roles: []Role{RoleApprover}, Scope: ScopeSite, Param: "id"},
		// venues
		{Pattern: "POST /v1/venues", Roles: []Role{RoleApp, RoleEpidemiologist}, Scope: ScopeBodyProvince},
		{Pattern: "GET /v1/venues", Roles: []Role{RoleApp, RoleEpidemiologist, RoleViewer}},
		{Pattern: "GET /v1/venues.geojson", Roles: []Role{RoleApp, RoleEpidemiologist, RoleViewer}},
		{Pattern: "GET /v1/venues/{id}", Roles: []Role{RoleApp, RoleEpidemiologist, RoleVenueAdmin}, Scope: ScopeVenue, Param: "id"},
		{Pattern: "GET /v1/venues/{id}/poster.png", Roles: []Role{RoleApp, RoleEpidemiologist, RoleVenueAdmin}, Scope: ScopeVenue, Param: "id"},
		{Pattern: "GET /v1/venues/{id}/poster.svg", Roles: []Role{RoleApp, RoleEpidemiologist, RoleVenueAdmin}, Scope: ScopeVenue, Param: "id"},
		{Pattern: "GET /v1/venues/{id}/visitors", Roles: []Role{RoleEpidemiologist, RoleVenueAdmin}, Scope: ScopeVenue, Param: "id", Audit: "visitors"},
		{Pattern: "POST /v1/venues/{id}/assessments", Roles: []Role{RoleVenueAdmin}, Scope: ScopeVenue, Param: "id"},
		// viewer
		{Pattern: "GET /v1/feedback", Roles: []Role{RoleViewer}},
		{Pattern: "POST /v1/feedback/{id}/resolve", Roles: []Role{RoleViewer}},
	}
}
