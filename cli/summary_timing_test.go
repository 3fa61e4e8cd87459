package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/summary/summarytest"
)

// BenchmarkSummaryPolling asks an all-in-one node holding a synthetic city
// (20 000 people, 300 venues, 2 days) and tier-M-sized summary counters for
// F1 lookups of random people, in rounds of three phases: no dashboard, a
// dashboard polling GET /v1/summary (national, 14 days) every 10 s, and
// one polling every 100 ms (100 times the rate, a bound). It reports each
// phase's lookup p50 and p99 over all rounds, and the summary's own p50.
func BenchmarkSummaryPolling(b *testing.B) {
	ctx, cancel := context.WithCancel(b.Context())
	n, url, token, stop := runNode(ctx, b, b.TempDir())
	defer func() { cancel(); stop() }()
	city := []string{"--tier", "demo", "--people", "20000", "--venues", "300", "--days", "2"}
	env := Env{Args: append([]string{"replay", "--url", url, "--out", filepath.Join(b.TempDir(), "replay")}, city...), Stdout: io.Discard, Stderr: io.Discard,
		LookupEnv: envOf(map[string]string{"TRUYVET_TOKEN": token}), Now: time.Now}
	if err := runBench(ctx, env); err != nil {
		b.Fatal(err)
	}
	if err := (summarytest.TierM{Days: 14, Operands: 30}).Fill(ctx, n.store, bucket.DayOf(time.Now().Unix())); err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{}
	get := func(path string) (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s: %d", path, resp.StatusCode)
		}
		return time.Since(t0), nil
	}
	rng := rand.New(rand.NewPCG(7, 7))
	phases := []struct {
		name  string
		every time.Duration
	}{{"none", 0}, {"10s", 10 * time.Second}, {"100ms", 100 * time.Millisecond}}
	lookups := map[string][]time.Duration{}
	var polls []time.Duration
	var mu sync.Mutex
	for range b.N {
		for round := range 3 {
			for _, ph := range phases {
				pctx, pstop := context.WithCancel(ctx)
				var wg sync.WaitGroup
				if ph.every > 0 {
					wg.Go(func() {
						t := time.NewTicker(ph.every)
						defer t.Stop()
						for {
							if d, err := get("/v1/summary"); err == nil {
								mu.Lock()
								polls = append(polls, d)
								mu.Unlock()
							}
							select {
							case <-pctx.Done():
								return
							case <-t.C:
							}
						}
					})
				}
				for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
					d, err := get(fmt.Sprintf("/v1/cases/%d/exposures?purpose=benchmark&depth=1", 1+rng.IntN(20000)))
					if err != nil {
						b.Fatal(err)
					}
					lookups[ph.name] = append(lookups[ph.name], d)
				}
				pstop()
				wg.Wait()
				b.Logf("round %d phase %s: %d lookups so far", round, ph.name, len(lookups[ph.name]))
			}
		}
	}
	pct := func(ds []time.Duration, p int) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)*p/100].Microseconds()) / 1000
	}
	for _, ph := range phases {
		b.ReportMetric(pct(lookups[ph.name], 50), "f1-p50-ms-poll-"+ph.name)
		b.ReportMetric(pct(lookups[ph.name], 99), "f1-p99-ms-poll-"+ph.name)
	}
	b.ReportMetric(pct(polls, 50), "summary-p50-ms")
	b.ReportMetric(pct(polls, 99), "summary-p99-ms")
}
