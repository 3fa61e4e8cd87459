package cli

import (
	"github.com/truyvet/truyvet/access"

	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/replay"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/schemas/event"
)

// BenchmarkIngestAllInOne posts the demo city as NDJSON bodies of about 1000
// records from 4 clients to a running all-in-one node (real HTTP on
// loopback, synced writes to the embedded store): the events/s a tracing
// app's backend sees, from request to durable 202.
func BenchmarkIngestAllInOne(b *testing.B) {
	cfg := synth.Demo()
	cfg.End = time.Now()
	cfg.BatchSize = 1000
	city, err := synth.New(cfg)
	require.NoError(b, err)
	type body struct {
		path string
		data []byte
		n    int
	}
	var bodies []body
	events := 0
	for batch := range city.Batches() {
		var v, e []byte
		for i := range batch.Visits {
			v = append(event.AppendVisitJSON(v, &batch.Visits[i]), '\n')
		}
		for i := range batch.Encounters {
			e = append(event.AppendEncounterJSON(e, &batch.Encounters[i]), '\n')
		}
		if len(v) > 0 {
			bodies = append(bodies, body{"/v1/checkins", v, len(batch.Visits)})
		}
		if len(e) > 0 {
			bodies = append(bodies, body{"/v1/proximity", e, len(batch.Encounters)})
		}
		events += batch.Len()
	}

	ctx, cancel := context.WithCancel(b.Context())
	base, token, stop := startNode(ctx, b, b.TempDir())
	defer func() { cancel(); stop() }()
	require.NoError(b, replay.RegisterVenues(ctx, http.DefaultClient, base, city.VenueSpecs()))

	client := &http.Client{Transport: access.Bearer{Token: token, Base: &http.Transport{MaxIdleConnsPerHost: 8}}}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var wg sync.WaitGroup
		next := make(chan body)
		for range 4 {
			wg.Go(func() {
				for bd := range next {
					req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+bd.path, bytes.NewReader(bd.data))
					if err != nil {
						b.Error(err)
						return
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("%s: %s", bd.path, resp.Status)
					}
				}
			})
		}
		for _, bd := range bodies {
			next <- bd
		}
		close(next)
		wg.Wait()
	}
	b.ReportMetric(float64(events*b.N)/time.Since(start).Seconds(), "events/s")
}
