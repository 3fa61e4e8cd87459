package access

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RevocationFeed tells a TokenCache when accounts change in a store that
// other processes share. Watch runs until ctx ends: it calls c.Listening
// (true) once it hears every change, c.Changed after each, and
// c.Listening(false) whenever it may miss one (a lost connection), so the
// cache serves nothing it could not vouch for.
type RevocationFeed interface {
	WatchRevocations(ctx context.Context, c *TokenCache)
}

// TokenCache keeps the active accounts of recently seen tokens, so a busy
// route does not ask the store for the same token on every request. A
// revocation holds at once everywhere only if every process hears of it:
// the cache serves accounts only while its RevocationFeed is listening, and
// forgets every entry at each change the feed reports. A lookup that was
// under way when a change arrived does not store what it read (generation),
// and entries expire after a TTL in any case. Misses (unknown tokens) are
// never kept, so a new account works at once. It is safe for concurrent use.
type TokenCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu        sync.Mutex
	listening bool
	gen       uint64 // bumped by every change and every change of listening
	entries   map[TokenHash]cachedAccount

	m *tokenCacheMetrics
}

type cachedAccount struct {
	acct Account
	at   time.Time
}

// NewTokenCache returns a cache keeping up to max tokens for ttl each, not
// serving until its feed listens. reg may be nil.
func NewTokenCache(ttl time.Duration, max int, now func() time.Time, reg prometheus.Registerer) *TokenCache {
	return &TokenCache{ttl: ttl, max: max, now: now, entries: map[TokenHash]cachedAccount{}, m: newTokenCacheMetrics(reg)}
}

// Listening says whether the feed now hears every change. Either way the
// cache starts empty: what it held may predate a change it missed.
func (c *TokenCache) Listening(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listening = on
	c.gen++
	clear(c.entries)
	if on {
		c.m.listening.Set(1)
	} else {
		c.m.listening.Set(0)
	}
}

// Changed forgets every entry: an account changed somewhere.
func (c *TokenCache) Changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.m.flushes.Inc()
}

// get returns the cached account of h and, on a miss, the generation a
// lookup must hand to put.
func (c *TokenCache) get(h TokenHash) (Account, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listening {
		c.m.results.WithLabelValues("bypass").Inc()
		return Account{}, false, c.gen
	}
	e, ok := c.entries[h]
	if ok && c.now().Sub(e.at) < c.ttl {
		c.m.results.WithLabelValues("hit").Inc()
		return e.acct, true, c.gen
	}
	c.m.results.WithLabelValues("miss").Inc()
	return Account{}, false, c.gen
}

// put keeps the active account a lookup read, unless a change came since
// the lookup began (gen) or the feed is not listening.
func (c *TokenCache) put(h TokenHash, a Account, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listening || gen != c.gen || !a.Active() {
		return
	}
	if len(c.entries) >= c.max {
		clear(c.entries) // rare: more live tokens than max; start again
	}
	c.entries[h] = cachedAccount{acct: a, at: c.now()}
}

// tokenCacheMetrics:
//
//	truyvet_auth_token_cache_lookups_total{result}  hit, miss, bypass (the feed is not listening)
//	truyvet_auth_token_cache_flushes_total          changes heard
//	truyvet_auth_token_cache_listening              1 while the feed hears every change
type tokenCacheMetrics struct {
	results   *prometheus.CounterVec
	flushes   prometheus.Counter
	listening prometheus.Gauge
}

func newTokenCacheMetrics(reg prometheus.Registerer) *tokenCacheMetrics {
	m := &tokenCacheMetrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_auth_token_cache_lookups_total", Help: "Token lookups by the cache's answer: hit, miss, or bypass while the revocation feed is not listening.",
		}, []string{"result"}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_auth_token_cache_flushes_total", Help: "Account changes heard from the revocation feed, each emptying the token cache.",
		}),
		listening: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "truyvet_auth_token_cache_listening", Help: "1 while the token cache's revocation feed hears every account change, 0 while the cache is bypassed.",
		}),
	}
	for _, r := range []string{"hit", "miss", "bypass"} {
		m.results.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.results, m.flushes, m.listening)
	}
	return m
}
