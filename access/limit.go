package access

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per key (a token's account, a client address),
// holding at most maxKeys buckets: when full, buckets idle for a minute are
// dropped, and if none are, the new key shares one overflow bucket.
type Limiter struct {
	perSec  rate.Limit
	burst   int
	mu      sync.Mutex
	buckets map[string]*bucket
	over    *rate.Limiter
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const maxKeys = 100_000

// NewLimiter allows perSec requests a second per key, with bursts of burst.
func NewLimiter(perSec float64, burst int) *Limiter {
	return &Limiter{perSec: rate.Limit(perSec), burst: burst, buckets: map[string]*bucket{},
		over: rate.NewLimiter(rate.Limit(perSec), burst)}
}

// Allow takes one request for key at now; when refused, it says how long to
// wait.
func (l *Limiter) Allow(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxKeys {
			for k, old := range l.buckets {
				if now.Sub(old.seen) > time.Minute {
					delete(l.buckets, k)
				}
			}
		}
		if len(l.buckets) >= maxKeys {
			b = &bucket{lim: l.over}
		} else {
			b = &bucket{lim: rate.NewLimiter(l.perSec, l.burst)}
			l.buckets[key] = b
		}
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}
