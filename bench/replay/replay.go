// Package replay streams a synthetic city's uploads to a truyvet HTTP ingest
// (all-in-one or distributed) or straight to Kafka, at a target rate or as
// fast as it goes, and measures what a load tester wants to know: sustained
// throughput, request latency, the pipeline's lag, and freshness — the time
// from a record's 202 (or Kafka's acknowledgement) until the processor has
// it, read from GET /v1/status of the nodes that process (ingest itself in
// all-in-one).
package replay

import (
	"github.com/truyvet/truyvet/access"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/truyvet/truyvet/bench/report"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/schemas/event"
)

// Producer writes records straight to Kafka, as ingest does after
// validating them (kafkaproducer.Producer).
type Producer interface {
	Produce(ctx context.Context, b *event.Batch) error
}

// Config says where to send and how fast.
type Config struct {
	IngestURL  string        // base URL of ingest, e.g. http://127.0.0.1:8080; unused with Kafka
	Kafka      Producer      // when set, batches go straight to Kafka instead of HTTP ingest
	StatusURLs []string      // base URLs whose /v1/status report "processed" (summed); none: no lag or freshness
	VenuesURL  string        // base URL of the venue registry to import the city's venues into first; "": none
	Clients    int           // concurrent HTTP clients
	Rate       float64       // target events/s; 0: as fast as it goes
	Sample     time.Duration // how often throughput and lag are sampled
	Timeout    time.Duration // per request
	Token      string        // bearer token of an account with the app role (and any role for /v1/status)
	// Prepare builds every request (the city's records and their JSON
	// bodies) before the clock starts, so the load generator spends the
	// timed run only sending: on a machine it shares with the servers, its
	// generating and encoding would otherwise take their CPU.
	Prepare bool
}

// DefaultConfig returns 4 clients, no rate limit, 1 s samples.
func DefaultConfig() Config {
	return Config{Clients: 4, Sample: time.Second, Timeout: time.Minute}
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("replay: invalid config")

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.IngestURL == "" && c.Kafka == nil:
		return fmt.Errorf("%w: an ingest URL or a Kafka producer is required", ErrConfig)
	case c.Clients < 1:
		return fmt.Errorf("%w: clients must be at least 1", ErrConfig)
	case c.Rate < 0:
		return fmt.Errorf("%w: rate must not be negative", ErrConfig)
	case c.Sample <= 0 || c.Timeout <= 0:
		return fmt.Errorf("%w: sample and timeout must be positive", ErrConfig)
	}
	return nil
}

// Sample is one point of the time series, Seconds after the start.
type Sample struct {
	Seconds     float64 `json:"seconds"`
	Accepted    int64   `json:"accepted"`     // records acknowledged so far
	EventsPerS  float64 `json:"events_per_s"` // over the last interval
	Processed   int64   `json:"processed"`    // -1 when unknown
	LagRecords  int64   `json:"lag_records"`  // accepted by us, not yet processed; -1 when unknown
	Unavailable int64   `json:"unavailable"`  // 503 answers so far
}

// Result is what a replay measured.
type Result struct {
	Events      int64         `json:"events"`
	Requests    int64         `json:"requests"`
	Rejected    int64         `json:"rejected"`    // records the server refused (should be 0)
	Unavailable int64         `json:"unavailable"` // 503 answers, retried
	Sent        time.Duration `json:"sent_ns"`     // first request to last 202
	Drained     time.Duration `json:"drained_ns"`  // first request to everything processed (0: unknown)
	// Latency is each request's time from being sent to its 202. Behind is,
	// with a target rate, each request's time from when the schedule meant
	// to send it to its 202: what a client at that rate would have waited,
	// queueing included, free of coordinated omission (nil without a rate).
	Latency   *report.Distribution `json:"-"`
	Behind    *report.Distribution `json:"-"`
	Freshness *report.Distribution `json:"-"` // 202 → processed, sampled
	Series    []Sample             `json:"series"`
}

// request is one body to post.
type request struct {
	path   string
	body   []byte
	events int
	batch  event.Batch // the records themselves, for Kafka
	due    time.Time   // when the schedule meant to send it; zero without a rate
}

// Run replays city's uploads in order. progress, if not nil, gets a live
// progress line about once a second.
func Run(ctx context.Context, city *synth.City, cfg Config, progress io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: cfg.Timeout, Transport: access.Bearer{Token: cfg.Token, Base: &http.Transport{MaxIdleConnsPerHost: cfg.Clients * 2}}}
	if cfg.VenuesURL != "" {
		err := RegisterVenues(ctx, client, cfg.VenuesURL, city.VenueSpecs())
		switch {
		case errors.Is(err, ErrNoVenueRoutes):
			if progress != nil {
				fmt.Fprintf(progress, "%v: venues not registered\n", err)
			}
		case err != nil:
			return nil, err
		}
	}
	res := &Result{Latency: report.NewDistribution()}
	if cfg.Rate > 0 {
		res.Behind = report.NewDistribution()
	}
	var (
		accepted, unavailable, rejected atomic.Int64
		requests                        atomic.Int64
		mu                              sync.Mutex
		acks                            []ack // (time, cumulative accepted) for freshness
	)
	// Count first, so progress can show how far along the replay is.
	total := int64(0)
	var prepared [][]request
	for _, b := range city.Uploads() {
		total += int64(b.Len())
		if cfg.Prepare {
			prepared = append(prepared, toRequests(&b, cfg.Kafka != nil))
		}
	}
	if cfg.Prepare && progress != nil {
		fmt.Fprintf(progress, "prepared %d records in %d uploads\n", total, len(prepared))
	}
	uploads := func(yield func([]request) bool) {
		if cfg.Prepare {
			for _, reqs := range prepared {
				if !yield(reqs) {
					return
				}
			}
			return
		}
		for _, b := range city.Uploads() {
			if !yield(toRequests(&b, cfg.Kafka != nil)) {
				return
			}
		}
	}
	queue := make(chan request, cfg.Clients*2)
	start := time.Now()
	errc := make(chan error, cfg.Clients)
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Go(func() {
			for req := range queue {
				var (
					lat            time.Duration
					acc, rej, n503 int64
					err            error
				)
				if cfg.Kafka != nil {
					lat, n503, err = produce(ctx, cfg.Kafka, &req.batch)
					acc = int64(req.events)
				} else {
					lat, acc, rej, n503, err = post(ctx, client, cfg.IngestURL+req.path, req.body)
				}
				if err != nil {
					errc <- err
					return
				}
				unavailable.Add(n503)
				rejected.Add(rej)
				a := accepted.Add(acc)
				res.Latency.Record(lat)
				if !req.due.IsZero() {
					res.Behind.Record(time.Since(req.due))
				}
				requests.Add(1)
				mu.Lock()
				acks = append(acks, ack{at: time.Now(), accepted: a})
				mu.Unlock()
			}
		})
	}

	// Sampling: throughput, lag, progress.
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	var processedAt []ack // (time, processed) observations
	go func() {
		defer close(sampled)
		// Poll the processed count often, for freshness; record a series
		// sample every cfg.Sample.
		t := time.NewTicker(min(cfg.Sample, 50*time.Millisecond))
		defer t.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-stopSampling:
				return
			case now := <-t.C:
				p := int64(-1)
				if len(cfg.StatusURLs) > 0 {
					if n, err := processedSum(ctx, client, cfg.StatusURLs); err == nil {
						p = n
						processedAt = append(processedAt, ack{at: now, accepted: n})
					}
				}
				if now.Sub(lastAt) < cfg.Sample {
					continue
				}
				a := accepted.Load()
				s := Sample{Seconds: now.Sub(start).Seconds(), Accepted: a, EventsPerS: float64(a-last) / now.Sub(lastAt).Seconds(),
					Processed: p, LagRecords: -1, Unavailable: unavailable.Load()}
				if p >= 0 {
					s.LagRecords = max(0, a-p)
				}
				last, lastAt = a, now
				res.Series = append(res.Series, s)
				if progress != nil {
					fmt.Fprintf(progress, "\r%6.0fs  %s  %9d records  %8.0f/s  lag %s  503s %d   ",
						s.Seconds, bar(float64(a)/float64(max(1, total))), a, s.EventsPerS, lagText(s.LagRecords), s.Unavailable)
				}
			}
		}
	}()

	// Produce the requests, paced to the rate.
	sent := int64(0)
	var feedErr error
feed:
	for reqs := range uploads {
		for _, req := range reqs {
			if cfg.Rate > 0 {
				due := start.Add(time.Duration(float64(sent) / cfg.Rate * float64(time.Second)))
				req.due = due
				if d := time.Until(due); d > 0 {
					select {
					case <-ctx.Done():
						feedErr = ctx.Err()
						break feed
					case <-time.After(d):
					}
				}
			}
			select {
			case queue <- req:
				sent += int64(req.events)
			case err := <-errc:
				feedErr = err
				break feed
			case <-ctx.Done():
				feedErr = ctx.Err()
				break feed
			}
		}
	}
	close(queue)
	wg.Wait()
	res.Sent = time.Since(start)
	select {
	case err := <-errc:
		feedErr = errors.Join(feedErr, err)
	default:
	}
	// Wait for the pipeline to drain (bounded), then stop sampling.
	if feedErr == nil && len(cfg.StatusURLs) > 0 {
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			p, err := processedSum(ctx, client, cfg.StatusURLs)
			if err == nil && p >= accepted.Load() {
				res.Drained = time.Since(start)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	close(stopSampling)
	<-sampled
	if progress != nil {
		fmt.Fprintln(progress)
	}
	res.Events, res.Requests = accepted.Load(), requests.Load()
	res.Rejected, res.Unavailable = rejected.Load(), unavailable.Load()
	res.Freshness = freshness(acks, processedAt)
	return res, feedErr
}

type ack struct {
	at       time.Time
	accepted int64
}

// freshness pairs each acknowledgement with the first status observation at
// which the processor had caught up to it: an upper bound of the time from
// 202 to processed, with the polling interval (50 ms) as its resolution.
func freshness(acks, seen []ack) *report.Distribution {
	slices.SortFunc(acks, func(a, b ack) int { return a.at.Compare(b.at) })
	out := report.NewDistribution()
	j := 0
	for _, a := range acks {
		for j < len(seen) && (seen[j].accepted < a.accepted || seen[j].at.Before(a.at)) {
			j++
		}
		if j == len(seen) {
			break
		}
		out.Record(seen[j].at.Sub(a.at))
	}
	return out
}

// toRequests turns one upload into what is sent: the batch itself for Kafka
// (copied: the city's iterator may reuse b's memory), or its bodies.
func toRequests(b *event.Batch, kafka bool) []request {
	if kafka {
		var own event.Batch
		own.Append(b)
		return []request{{batch: own, events: own.Len()}}
	}
	return bodies(b)
}

// bodies turns a batch into NDJSON request bodies, one per kind.
func bodies(b *event.Batch) []request {
	var out []request
	if len(b.Visits) > 0 {
		var buf []byte
		for i := range b.Visits {
			buf = append(event.AppendVisitJSON(buf, &b.Visits[i]), '\n')
		}
		out = append(out, request{path: "/v1/checkins", body: buf, events: len(b.Visits)})
	}
	if len(b.Encounters) > 0 {
		var buf []byte
		for i := range b.Encounters {
			buf = append(event.AppendEncounterJSON(buf, &b.Encounters[i]), '\n')
		}
		out = append(out, request{path: "/v1/proximity", body: buf, events: len(b.Encounters)})
	}
	if len(b.Declarations) > 0 {
		var buf []byte
		for i := range b.Declarations {
			buf = append(event.AppendDeclarationJSON(buf, &b.Declarations[i]), '\n')
		}
		out = append(out, request{path: "/v1/declarations", body: buf, events: len(b.Declarations)})
	}
	return out
}

// post sends one body, retrying 503s as the apps do, and returns the latency
// of the accepted attempt.
func post(ctx context.Context, c *http.Client, url string, body []byte) (lat time.Duration, accepted, rejected, unavailable int64, err error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, 0, 0, unavailable, err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, 0, unavailable, fmt.Errorf("post %s: %w", url, err)
		}
		var out struct {
			Accepted int64             `json:"accepted"`
			Rejected []json.RawMessage `json:"rejected"`
		}
		decErr := json.NewDecoder(resp.Body).Decode(&out)
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusAccepted && decErr == nil:
			return time.Since(t0), out.Accepted, int64(len(out.Rejected)), unavailable, nil
		case resp.StatusCode == http.StatusServiceUnavailable && attempt < 600:
			unavailable++
			select {
			case <-ctx.Done():
				return 0, 0, 0, unavailable, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		default:
			return 0, 0, 0, unavailable, fmt.Errorf("post %s: %s", url, resp.Status)
		}
	}
}

// produce writes one batch to Kafka, retrying while Kafka is unavailable (as
// ingest's clients retry its 503s), and returns the latency of the write
// that succeeded and the failed attempts.
func produce(ctx context.Context, p Producer, b *event.Batch) (lat time.Duration, failed int64, err error) {
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		err := p.Produce(ctx, b)
		if err == nil {
			return time.Since(t0), failed, nil
		}
		if attempt >= 600 || ctx.Err() != nil {
			return 0, failed, fmt.Errorf("produce %d records: %w", b.Len(), err)
		}
		failed++
		select {
		case <-ctx.Done():
			return 0, failed, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// processedSum adds up "processed" over several nodes' /v1/status.
func processedSum(ctx context.Context, c *http.Client, bases []string) (int64, error) {
	var sum int64
	for _, b := range bases {
		n, err := processed(ctx, c, b)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// processed reads "processed" from GET /v1/status.
func processed(ctx context.Context, c *http.Client, base string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/status", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var st struct {
		Processed *int64 `json:"processed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	if st.Processed == nil {
		return 0, errors.New("status has no processed count")
	}
	return *st.Processed, nil
}

func bar(frac float64) string {
	const width = 24
	n := int(min(1, max(0, frac)) * width)
	return "[" + string(bytes.Repeat([]byte("#"), n)) + string(bytes.Repeat([]byte("."), width-n)) + "]"
}

func lagText(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
