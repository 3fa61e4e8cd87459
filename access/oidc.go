package access

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/truyvet/truyvet/province"
)

// OIDCConfig says which identity provider's access tokens to accept.
type OIDCConfig struct {
	Issuer   string // the provider's issuer URL; its discovery document names the JWKS
	Audience string // the aud the tokens must carry; empty: not checked
}

// The claims an access token from the provider carries for truyvet: roles,
// provinces (codes, or "*") and, for venue admins, venues. A provider sets
// them per client or user (Hydra: the token's ext claims; Dex and Keycloak:
// claim mappers).
const (
	ClaimRoles     = "truyvet_roles"
	ClaimProvinces = "truyvet_provinces"
	ClaimVenues    = "truyvet_venues"
)

// OIDC verifies JWT access tokens against the provider's JWKS (signature,
// issuer, audience, expiry) with go-oidc, and reads the account from their
// claims. Unknown roles and province codes in the claims are dropped.
type OIDC struct {
	v      *oidc.IDTokenVerifier
	issuer string
	pl     *province.List
}

// NewOIDC discovers the provider at cfg.Issuer. ctx bounds discovery and
// every later fetch of the provider's keys, so it lives as long as the
// server.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc provider %s: %w", cfg.Issuer, err)
	}
	v := p.VerifierContext(ctx, &oidc.Config{ClientID: cfg.Audience, SkipClientIDCheck: cfg.Audience == ""})
	return &OIDC{v: v, issuer: cfg.Issuer, pl: province.Default()}, nil
}

// looksLikeJWT reports whether tok has a JWT's three dot-separated parts.
func looksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 && len(tok) < 16<<10 }

// Account returns the account a valid token names; ok is false for a token
// that does not verify (bad signature, foreign issuer or audience, expired).
func (o *OIDC) Account(ctx context.Context, raw string) (Account, bool) {
	tok, err := o.v.Verify(ctx, raw)
	if err != nil {
		return Account{}, false
	}
	var c struct {
		Name      string   `json:"name"`
		ClientID  string   `json:"client_id"`
		Roles     []string `json:"truyvet_roles"`
		Provinces []string `json:"truyvet_provinces"`
		Venues    []uint32 `json:"truyvet_venues"`
	}
	if err := tok.Claims(&c); err != nil {
		return Account{}, false
	}
	a := Account{ID: "oidc:" + tok.Subject, Name: c.Name, Roles: []Role{}, Provinces: []string{}, Venues: c.Venues}
	if a.Name == "" {
		a.Name = c.ClientID
	}
	for _, r := range c.Roles {
		if slices.Contains(Roles(), Role(r)) {
			a.Roles = append(a.Roles, Role(r))
		}
	}
	for _, p := range c.Provinces {
		if p == National || o.pl.Valid(p) {
			a.Provinces = append(a.Provinces, p)
		}
	}
	if a.Venues == nil {
		a.Venues = []uint32{}
	}
	return a, true
}
