package access_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
)

// countingStore counts token lookups.
type countingStore struct {
	*memStore
	lookups atomic.Int64
	during  func() // called inside each lookup, before it reads
}

func (c *countingStore) AccountByToken(ctx context.Context, h access.TokenHash) (access.Account, error) {
	c.lookups.Add(1)
	if c.during != nil {
		c.during()
	}
	return c.memStore.AccountByToken(ctx, h)
}

func newCached(t *testing.T, now func() time.Time) (*access.Authenticator, *countingStore, *access.TokenCache, string, string) {
	t.Helper()
	st := &countingStore{memStore: newMemStore()}
	tok, h, err := access.NewToken()
	require.NoError(t, err)
	require.NoError(t, st.CreateAccount(t.Context(), access.Account{ID: "a1", Roles: []access.Role{access.RoleApp}, Provinces: []string{access.National}}, h))
	cache := access.NewTokenCache(time.Minute, 100, now, nil)
	return access.NewAuthenticator(st, nil).WithCache(cache), st, cache, tok, "a1"
}

func TestTokenCacheServesOnlyWhileListening(t *testing.T) {
	ctx := t.Context()
	auth, st, cache, tok, _ := newCached(t, time.Now)
	for range 3 {
		_, ok, err := auth.Authenticate(ctx, tok)
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.EqualValues(t, 3, st.lookups.Load(), "not listening: every request asks the store")

	cache.Listening(true)
	for range 3 {
		a, ok, err := auth.Authenticate(ctx, tok)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "a1", a.ID)
	}
	require.EqualValues(t, 4, st.lookups.Load(), "listening: one lookup, then the cache")

	cache.Listening(false)
	_, _, _ = auth.Authenticate(ctx, tok)
	require.EqualValues(t, 5, st.lookups.Load(), "the feed lost: the cache is bypassed")
}

func TestTokenCacheForgetsAtEachChange(t *testing.T) {
	ctx := t.Context()
	auth, st, cache, tok, id := newCached(t, time.Now)
	cache.Listening(true)
	_, ok, _ := auth.Authenticate(ctx, tok)
	require.True(t, ok)
	require.NoError(t, st.RevokeAccount(ctx, id, time.Now()))
	_, ok, _ = auth.Authenticate(ctx, tok)
	require.True(t, ok, "without the feed's word the cache still serves (the store's feed is what makes a revocation hold)")
	cache.Changed()
	_, ok, err := auth.Authenticate(ctx, tok)
	require.NoError(t, err)
	require.False(t, ok, "revoked, and the change heard")
	_, ok, _ = auth.Authenticate(ctx, tok)
	require.False(t, ok, "a revoked account is never cached")
}

// A lookup that read the account before a revocation, and finishes after
// the feed reported it, must not put the stale account in the cache.
func TestTokenCacheLookupRacingAChange(t *testing.T) {
	ctx := t.Context()
	auth, st, cache, tok, id := newCached(t, time.Now)
	cache.Listening(true)
	st.during = func() {
		st.during = nil
		cache.Changed() // the change is heard while the lookup is under way
	}
	_, ok, _ := auth.Authenticate(ctx, tok)
	require.True(t, ok, "read before the revocation")
	require.NoError(t, st.RevokeAccount(ctx, id, time.Now()))
	_, ok, _ = auth.Authenticate(ctx, tok)
	require.False(t, ok, "the racing lookup's account was not kept")
	require.EqualValues(t, 2, st.lookups.Load())
}

func TestTokenCacheExpiresAndKeepsNoMisses(t *testing.T) {
	ctx := t.Context()
	var now atomic.Int64
	now.Store(time.Date(2021, 7, 15, 8, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	auth, st, cache, tok, _ := newCached(t, clock)
	cache.Listening(true)
	_, _, _ = auth.Authenticate(ctx, tok)
	_, _, _ = auth.Authenticate(ctx, tok)
	require.EqualValues(t, 1, st.lookups.Load())
	now.Add(int64(time.Minute))
	_, ok, _ := auth.Authenticate(ctx, tok)
	require.True(t, ok)
	require.EqualValues(t, 2, st.lookups.Load(), "expired after the TTL")

	fresh, h, err := access.NewToken()
	require.NoError(t, err)
	_, ok, _ = auth.Authenticate(ctx, fresh)
	require.False(t, ok, "unknown")
	require.NoError(t, st.CreateAccount(ctx, access.Account{ID: "a2", Roles: []access.Role{access.RoleApp}, Provinces: []string{access.National}}, h))
	_, ok, _ = auth.Authenticate(ctx, fresh)
	require.True(t, ok, "a miss is not kept: a new account works at once")
}
