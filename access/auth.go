package access

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// BootstrapID is the account id the bootstrap token acts as.
const BootstrapID = "bootstrap"

// Authenticator turns a bearer token into an account.
type Authenticator struct {
	store     Store
	bootstrap *TokenHash
	oidc      *OIDC
	cache     *TokenCache
}

// NewAuthenticator checks tokens against store; bootstrap, if not nil, is
// the hash of the bootstrap token, which acts as a national admin while no
// active admin account exists.
func NewAuthenticator(store Store, bootstrap *TokenHash) *Authenticator {
	return &Authenticator{store: store, bootstrap: bootstrap}
}

// WithOIDC also accepts JWT access tokens verified by o.
func (a *Authenticator) WithOIDC(o *OIDC) *Authenticator {
	a.oidc = o
	return a
}

// WithCache keeps the accounts of recently seen tokens in c (TokenCache);
// the bootstrap token and OIDC tokens are not cached.
func (a *Authenticator) WithCache(c *TokenCache) *Authenticator {
	a.cache = c
	return a
}

// Authenticate returns the active account holding tok. ok is false for a
// malformed, unknown or revoked token; err is for a store that cannot answer.
func (a *Authenticator) Authenticate(ctx context.Context, tok string) (acct Account, ok bool, err error) {
	if a.oidc != nil && !strings.HasPrefix(tok, TokenPrefix) && looksLikeJWT(tok) {
		acct, ok = a.oidc.Account(ctx, tok)
		return acct, ok, nil
	}
	h, err := ParseToken(tok)
	if err != nil {
		return Account{}, false, nil
	}
	if a.bootstrap != nil && subtle.ConstantTimeCompare(h[:], a.bootstrap[:]) == 1 {
		has, err := a.store.HasAdmin(ctx)
		if err != nil {
			return Account{}, false, fmt.Errorf("look for an admin: %w", err)
		}
		if has {
			return Account{}, false, nil
		}
		return Account{ID: BootstrapID, Name: "bootstrap admin", Roles: []Role{RoleAdmin},
			Provinces: []string{National}, Venues: []uint32{}}, true, nil
	}
	var gen uint64
	if a.cache != nil {
		var hit bool
		if acct, hit, gen = a.cache.get(h); hit {
			return acct, true, nil
		}
	}
	acct, err = a.store.AccountByToken(ctx, h)
	switch {
	case errors.Is(err, ErrNotFound):
		return Account{}, false, nil
	case err != nil:
		return Account{}, false, fmt.Errorf("look up a token: %w", err)
	case !acct.Active():
		return Account{}, false, nil
	}
	if a.cache != nil {
		a.cache.put(h, acct, gen)
	}
	return acct, true, nil
}
