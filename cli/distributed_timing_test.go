package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/schemas/event"
)

// BenchmarkDistributedThroughput streams a synthetic city (200 000 people, one
// day; TRUYVET_BENCH_PEOPLE overrides) from 4 HTTP clients through `truyvet
// ingest`, the real broker and `truyvet process`, and reports sustained
// events/s from the first request until the processor has stored the last
// record, the 202 latency percentiles, and the largest lag seen.
// TRUYVET_BENCH_COMPRESSION sets --kafka-compression.
func BenchmarkDistributedThroughput(b *testing.B) {
	brokers := kafkatest.Real(b)
	cfg := synth.TierS()
	cfg.People, cfg.Venues = 200_000, 2_000
	if s := os.Getenv("TRUYVET_BENCH_PEOPLE"); s != "" {
		var n int
		_, err := fmt.Sscan(s, &n)
		require.NoError(b, err)
		cfg.People, cfg.Venues = n, max(20, n/100)
	}
	cfg.End = time.Now()
	cfg.BatchSize = 5000
	city, err := synth.New(cfg)
	require.NoError(b, err)
	var bodies []body
	total := 0
	for batch := range city.Batches() {
		v, e := ndjson(batch)
		if len(batch.Visits) > 0 {
			bodies = append(bodies, body{"/v1/checkins", v})
		}
		if len(batch.Encounters) > 0 {
			bodies = append(bodies, body{"/v1/proximity", e})
		}
		total += batch.Len()
	}
	runThroughput(b, brokers, bodies, total)
}

// BenchmarkDistributedDeclarations streams health declarations (400 000 by
// default, TRUYVET_BENCH_DECLARATIONS overrides; half with a trip, a fifth
// symptomatic, some for family) from 4 HTTP clients through `truyvet
// ingest`, the real broker and `truyvet process`, in bodies of 5 000, and
// reports as BenchmarkDistributedThroughput does.
func BenchmarkDistributedDeclarations(b *testing.B) {
	brokers := kafkatest.Real(b)
	n := 400_000
	if s := os.Getenv("TRUYVET_BENCH_DECLARATIONS"); s != "" {
		_, err := fmt.Sscan(s, &n)
		require.NoError(b, err)
	}
	now := time.Now().Unix()
	var bodies []body
	var buf []byte
	vehicles := []string{"VN123", "VJ456", "QH789", "79B-12345", "29B-54321"}
	for i := range n {
		at := now - 3600 - int64(i%(20*24*60))*60 // over the last 20 days
		d := event.Declaration{DeclarationID: fmt.Sprintf("bench-%d", i), UserID: uint32(i/3 + 1), SubjectID: uint32(i + 1),
			Kind: event.DeclKinds[i%3], DeclaredAt: at, Province: []string{"79", "01", "48", "24"}[i%4], Source: "ncovi"}
		if i%5 == 0 {
			d.Symptoms, d.Onset = 3, at-(at+7*3600)%86400-86400
		}
		if i%2 == 0 {
			d.HasTravel = true
			d.Travel = event.Travel{Vehicle: vehicles[i%len(vehicles)], Depart: at - 3*3600, Arrive: at - 3600, OriginCountry: "KR"}
		}
		buf = append(event.AppendDeclarationJSON(buf, &d), '\n')
		if (i+1)%5000 == 0 || i == n-1 {
			bodies = append(bodies, body{"/v1/declarations", buf})
			buf = nil
		}
	}
	runThroughput(b, brokers, bodies, n)
}

// body is one request of a throughput benchmark.
type body struct {
	path string
	data []byte
}

// runThroughput posts bodies (total records) from 4 clients through
// `truyvet ingest`, the broker and `truyvet process`, b.N times.
func runThroughput(b *testing.B, brokers []string, bodies []body, total int) {
	bin := buildBinary(b)
	for range b.N {
		prefix := kafkatest.Prefix(b)
		kafka := []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", prefix, "--kafka-partitions", "8"}
		if c := os.Getenv("TRUYVET_BENCH_COMPRESSION"); c != "" {
			kafka = append(kafka, "--kafka-compression", c)
		}
		profile := os.Getenv("TRUYVET_BENCH_PROFILE")
		if profile != "" {
			kafka = append(kafka, "--debug-listen", "127.0.0.1:0")
		}
		pg := pgArgs(b)
		tok := account(b, bin, pg...)
		kafka = append(kafka, pg...)
		ing := start(b, bin, append([]string{"ingest", "--listen", "127.0.0.1:0"}, kafka...)...)
		pr := start(b, bin, append([]string{"process", "--listen", "127.0.0.1:0", "--data-dir", b.TempDir(), "--kafka-group", prefix + "g"}, kafka...)...)

		processed := func() int64 {
			_, body, err := fetch(tok, pr.url("/v1/status"), "")
			if err != nil {
				return 0
			}
			var st struct {
				Processed int64 `json:"processed"`
			}
			_ = json.Unmarshal(body, &st)
			return st.Processed
		}
		var (
			mu        sync.Mutex
			latencies []time.Duration
			accepted  int64
			maxLag    int64
		)
		next := make(chan body)
		var wg sync.WaitGroup
		begin := time.Now()
		for range 4 {
			wg.Go(func() {
				for bd := range next {
					t0 := time.Now()
					resp, err := postRaw(tok, ing.url(bd.path), bd.data)
					if err != nil {
						b.Error(err)
						return
					}
					var out struct {
						Accepted int64 `json:"accepted"`
					}
					_ = json.NewDecoder(resp.Body).Decode(&out)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("%s: %s", bd.path, resp.Status)
					}
					mu.Lock()
					latencies = append(latencies, time.Since(t0))
					accepted += out.Accepted
					mu.Unlock()
				}
			})
		}
		if profile != "" {
			// 10 s CPU profiles of both stages, for finding their costs.
			for name, p := range map[string]*proc{"ingest": ing, "process": pr} {
				url := p.debugURL(b, "/debug/pprof/profile?seconds=10")
				go func() {
					resp, err := http.Get(url)
					if err != nil {
						return
					}
					defer func() { _ = resp.Body.Close() }()
					f, err := os.Create(profile + "." + name)
					if err != nil {
						return
					}
					defer func() { _ = f.Close() }()
					_, _ = io.Copy(f, resp.Body)
				}()
			}
		}
		stopLag := make(chan struct{})
		lagDone := make(chan struct{})
		go func() {
			defer close(lagDone)
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopLag:
					return
				case <-t.C:
					mu.Lock()
					a := accepted
					mu.Unlock()
					if lag := a - processed(); lag > maxLag {
						maxLag = lag
					}
				}
			}
		}()
		for _, bd := range bodies {
			next <- bd
		}
		close(next)
		wg.Wait()
		ingested := time.Since(begin)
		for processed() < int64(total) {
			time.Sleep(50 * time.Millisecond)
		}
		elapsed := time.Since(begin)
		if profile != "" {
			time.Sleep(time.Until(begin.Add(11 * time.Second))) // let the profiles finish
		}
		close(stopLag)
		<-lagDone
		slices.Sort(latencies)
		pct := func(p float64) float64 { return latencies[int(p*float64(len(latencies)-1))].Seconds() * 1000 }
		b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(total)/ingested.Seconds(), "ingest-events/s")
		b.ReportMetric(pct(0.5), "p50-ms/request")
		b.ReportMetric(pct(0.99), "p99-ms/request")
		b.ReportMetric(float64(maxLag), "max-lag-records")
		b.ReportMetric(float64(total), "events")
	}
}
