// Package lookup measures exposure-graph latency as an epidemiologist sees it:
// GET /v1/cases/{id}/exposures against a running truyvet (all-in-one or the
// query server), for random cases of a synthetic city, at depth 1 (F1) and 2
// (F2), one request at a time.
package lookup

import (
	"github.com/truyvet/truyvet/access"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// Config says what to ask.
type Config struct {
	URL        string // base URL, e.g. http://127.0.0.1:8080
	People     int    // cases are drawn from 1..People
	From, To   time.Time
	Cases      int // per depth
	Seed       uint64
	MinMinutes float64
	Timeout    time.Duration
	Token      string // bearer token of an epidemiologist account (national, to look up any case)
}

// Result holds the latencies, in milliseconds, per depth.
type Result struct {
	F1MS, F2MS       []float64
	F1Nodes, F2Nodes []int
}

// Run asks cfg.Cases random cases at depth 1, then at depth 2.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	if cfg.URL == "" || cfg.People < 1 || cfg.Cases < 1 || !cfg.From.Before(cfg.To) {
		return nil, errors.New("lookup: URL, people, cases and a window are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	c := &http.Client{Timeout: cfg.Timeout, Transport: access.Bearer{Token: cfg.Token}}
	res := &Result{}
	for _, depth := range []int{1, 2} {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(depth)))
		for i := range cfg.Cases {
			id := rng.IntN(cfg.People) + 1
			ms, nodes, err := ask(ctx, c, cfg, id, depth)
			if err != nil {
				return res, err
			}
			if depth == 1 {
				res.F1MS, res.F1Nodes = append(res.F1MS, ms), append(res.F1Nodes, nodes)
			} else {
				res.F2MS, res.F2Nodes = append(res.F2MS, ms), append(res.F2Nodes, nodes)
			}
			if progress != nil && (i+1)%10 == 0 {
				fmt.Fprintf(progress, "\rdepth %d: %d/%d cases", depth, i+1, cfg.Cases)
			}
		}
		if progress != nil {
			fmt.Fprintln(progress)
		}
	}
	return res, nil
}

func ask(ctx context.Context, c *http.Client, cfg Config, id, depth int) (float64, int, error) {
	q := url.Values{}
	q.Set("from", cfg.From.UTC().Format(time.RFC3339))
	q.Set("to", cfg.To.UTC().Format(time.RFC3339))
	q.Set("depth", fmt.Sprint(depth))
	q.Set("min_minutes", fmt.Sprint(cfg.MinMinutes))
	q.Set("purpose", "load test")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/cases/%d/exposures?%s", cfg.URL, id, q.Encode()), nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("X-Requested-By", "truyvet-bench")
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var g struct {
		Nodes []json.RawMessage `json:"nodes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		return 0, 0, fmt.Errorf("case %d: %w", id, err)
	}
	ms := float64(time.Since(t0).Microseconds()) / 1000
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("case %d: %s", id, resp.Status)
	}
	return ms, len(g.Nodes), nil
}
