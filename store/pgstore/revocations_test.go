package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/store/pgstore"
)

// Two processes on one schema: one caches tokens and listens, the other
// revokes. The revocation holds on the first within moments, and again
// after the first's listening connection is killed (it bypasses its cache
// until it listens again).
func TestRevocationReachesTheOtherProcessCache(t *testing.T) {
	url := itenv.Require(t, "TRUYVET_IT_POSTGRES_URL", "PostgreSQL")
	ctx := t.Context()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "truyvet_test_" + hex.EncodeToString(b[:])
	cacher, err := pgstore.Open(ctx, pgstore.Options{URL: url, Schema: schema})
	require.NoError(t, err)
	revoker, err := pgstore.Open(ctx, pgstore.Options{URL: url, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, revoker.DropSchema(context.Background()))
		require.NoError(t, revoker.Close())
	})

	reg := prometheus.NewRegistry()
	cache := access.NewTokenCache(time.Minute, 100, time.Now, reg)
	auth := access.NewAuthenticator(cacher, nil).WithCache(cache)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { cacher.WatchRevocations(wctx, cache) })
	t.Cleanup(func() {
		stop()
		wg.Wait()
		require.NoError(t, cacher.Close())
	})
	listening := func() float64 {
		return value(t, reg, "truyvet_auth_token_cache_listening", "")
	}
	require.Eventually(t, func() bool { return listening() == 1 }, 10*time.Second, 10*time.Millisecond)

	newAccount := func(id string) string {
		tok, h, err := access.NewToken()
		require.NoError(t, err)
		require.NoError(t, revoker.CreateAccount(ctx, access.Account{ID: id, Name: id, Roles: []access.Role{access.RoleApp},
			Provinces: []string{access.National}, Venues: []uint32{}, CreatedAt: time.Now()}, h))
		return tok
	}
	valid := func(tok string) bool {
		_, ok, err := auth.Authenticate(ctx, tok)
		require.NoError(t, err)
		return ok
	}

	tok := newAccount("app-1")
	require.True(t, valid(tok))
	require.True(t, valid(tok))
	require.Positive(t, value(t, reg, "truyvet_auth_token_cache_lookups_total", "hit"), "served from the cache")
	require.NoError(t, revoker.RevokeAccount(ctx, "app-1", time.Now()))
	require.Eventually(t, func() bool { return !valid(tok) }, 2*time.Second, 5*time.Millisecond, "revoked on the other process")

	// Kill the listening connection: the cache is bypassed, then listens again.
	tok2 := newAccount("app-2")
	require.True(t, valid(tok2))
	require.True(t, valid(tok2))
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	var killed int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN %truyvet_accounts_%' AND pid <> pg_backend_pid()`).Scan(&killed))
	require.Positive(t, killed)
	require.NoError(t, revoker.RevokeAccount(ctx, "app-2", time.Now()))
	require.Eventually(t, func() bool { return !valid(tok2) }, 10*time.Second, 5*time.Millisecond, "revoked while the feed was down")
	require.Eventually(t, func() bool { return listening() == 1 }, 10*time.Second, 10*time.Millisecond, "listening again")

	// Past a liveness check (5 s without a notification), still heard.
	tok3 := newAccount("app-3")
	require.True(t, valid(tok3))
	time.Sleep(6 * time.Second)
	require.True(t, valid(tok3))
	require.NoError(t, revoker.RevokeAccount(ctx, "app-3", time.Now()))
	require.Eventually(t, func() bool { return !valid(tok3) }, 2*time.Second, 5*time.Millisecond)
}

// value is the value of one series of reg: name, with result as its one
// label's value ("" for a series without labels).
func value(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result == "" || len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == result {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s %s", name, result)
	return 0
}
