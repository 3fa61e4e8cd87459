// Package demo is the city `truyvet demo` serves: it writes a small
// synthetic city through the processor, picks a case whose graph is worth
// looking at (a handful of F1, some F2), and prints queries a newcomer can
// paste.
package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Loaded is a city loaded into a store, with the case to show.
type Loaded struct {
	City               *synth.City
	Visits, Encounters int           // records written
	Took               time.Duration // writing them
	Window             graph.Window  // the city's span
	Case               Pick
}

// Pick is a case and the size of its graph.
type Pick struct {
	ID     uint32
	F1, F2 int
}

// Load writes city's records through proc, as ingest would, and picks a case
// worth looking at by asking engine (which reads what proc wrote).
func Load(ctx context.Context, city *synth.City, proc *processor.Processor, engine *graph.Engine) (*Loaded, error) {
	visits, encounters, took, err := load(ctx, proc, city)
	if err != nil {
		return nil, err
	}
	from, to := city.Span()
	l := &Loaded{City: city, Visits: visits, Encounters: encounters, Took: took, Window: graph.Window{From: from.Unix(), To: to.Unix()}}
	l.Case, err = pickCase(ctx, engine, city, l.Window)
	return l, err
}

func load(ctx context.Context, proc *processor.Processor, c *synth.City) (visits, encounters int, took time.Duration, err error) {
	t0 := time.Now()
	var b event.Batch
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := proc.Process(ctx, &b)
		b = event.Batch{}
		return err
	}
	for batch := range c.Batches() {
		visits += len(batch.Visits)
		encounters += len(batch.Encounters)
		b.Append(&batch)
		if b.Len() >= 20_000 {
			if err := flush(); err != nil {
				return 0, 0, 0, fmt.Errorf("load the demo city: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, 0, fmt.Errorf("load the demo city: %w", err)
	}
	return visits, encounters, time.Since(t0), nil
}

// pickCase looks for a case whose graph is worth looking at: a handful of
// F1 and some F2. It starts from the city's suggestion.
func pickCase(ctx context.Context, e *graph.Engine, c *synth.City, w graph.Window) (Pick, error) {
	rng := rand.New(rand.NewPCG(c.Config().Seed, 7))
	best := Pick{ID: c.BusyPerson()}
	for try := range 300 {
		id := best.ID
		if try > 0 {
			id = uint32(rng.IntN(c.Config().People) + 1)
		}
		res, err := e.Exposures(ctx, graph.Query{Case: id, Window: w, Depth: 2, MinSeconds: 15 * 60})
		if err != nil {
			return best, fmt.Errorf("pick a demo case: %w", err)
		}
		p := Pick{ID: id}
		for _, n := range res.Nodes {
			switch n.Tier {
			case 1:
				p.F1++
			case 2:
				p.F2++
			}
		}
		if p.F1 >= 4 && p.F1 <= 25 && p.F2 >= 20 && p.F2 <= 600 {
			return p, nil
		}
		if try == 0 || (p.F1 > 0 && p.F2 > best.F2 && p.F2 <= 600) {
			best = p
		}
	}
	return best, nil
}

// Print welcomes a newcomer to the demo served at addr, with queries to
// paste carrying token.
func (l *Loaded) Print(w io.Writer, addr, token string) {
	c, visits, encounters, took, win, p := l.City, l.Visits, l.Encounters, l.Took, l.Window, l.Case
	cfg := c.Config()
	from, to := c.Span()
	base := "http://" + addr
	q := url.Values{}
	q.Set("from", time.Unix(win.From, 0).UTC().Format(time.RFC3339))
	q.Set("to", time.Unix(win.To, 0).UTC().Format(time.RFC3339))
	q.Set("depth", "2")
	q.Set("purpose", "demo")
	who := ""
	if person, ok := c.Person(p.ID); ok {
		who = " (" + person.Role.String()
		if person.Work != 0 {
			_, name := c.Venue(person.Work)
			who += ", " + name
		}
		who += ")"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\ntruyvet demo: a synthetic city of %d people and %d venues over %d day(s), %s → %s\n",
		cfg.People, cfg.Venues, cfg.Days, from.Format("2006-01-02 15:04"), to.Format("2006-01-02 15:04 -07:00"))
	fmt.Fprintf(&sb, "loaded %d check-in records and %d encounter records in %s\n\n", visits, encounters, took.Round(time.Millisecond))
	fmt.Fprintf(&sb, "Case %d%s has %d close contacts (F1) and %d contacts of contacts (F2). Try:\n\n", p.ID, who, p.F1, p.F2)
	fmt.Fprintf(&sb, "  TOKEN=%s\n", token)
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/cases/%d/exposures?%s'\n", base, p.ID, q.Encode())
	q.Set("depth", "1")
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Accept: text/csv' '%s/v1/cases/%d/exposures?%s'\n", base, p.ID, q.Encode())
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/audit?case=%d'\n", base, p.ID)
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/v1/status\n", base)
	fmt.Fprintf(&sb, "  curl -s %s/metrics | grep ^truyvet_\n\n", base)
	fmt.Fprintf(&sb, "or open %s/#case=%d&depth=2 in a browser to see the graph (it asks for the token once). Ctrl-C stops the demo.\n", base, p.ID)
	_, _ = io.WriteString(w, sb.String())
}
