// Package demo is the city `truyvet demo` serves: it writes a small
// synthetic city through the processor, picks a case whose story the data
// tells (stays at their school or workplace, family met by Bluetooth), and
// prints it, with venue names, and queries a newcomer can paste.
package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
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
	Declarations       int           // health declarations written
	Took               time.Duration // writing them
	Window             graph.Window  // the city's span
	Case               Pick
	// The Safety Map's assessments and citizen reports (LoadSafety).
	Assessments, Feedback int
}

// Pick is a case, the size of its graph and its story.
type Pick struct {
	ID     uint32
	F1, F2 int
	Story  Story
}

// Story is what the data says of a demo case: their stays at their school
// or workplace, the household members their phone met, and the venues where
// they exposed people.
type Story struct {
	WorkStays int
	Family    []uint32 // household members among the F1, met by Bluetooth
	Sites     []uint32 // venues where the case exposed people (tier-0 sites), first first
	// Symptomatic are the F1 who declared symptoms (NCOVI), with their
	// symptoms.
	Symptomatic []Declared
}

// Declared is a person who declared symptoms.
type Declared struct {
	ID       uint32
	Symptoms []string
	Onset    string
}

// Load writes city's records through proc, as ingest would, and picks a case
// worth looking at by asking engine (which reads what proc wrote).
func Load(ctx context.Context, city *synth.City, proc *processor.Processor, engine *graph.Engine) (*Loaded, error) {
	visits, encounters, sick, took, err := load(ctx, proc, city)
	if err != nil {
		return nil, err
	}
	from, to := city.Span()
	l := &Loaded{City: city, Visits: visits, Encounters: encounters, Took: took, Window: graph.Window{From: from.Unix(), To: to.Unix()}}
	l.Declarations = sick.n
	l.Case, err = pickCase(ctx, engine, city, l.Window, sick.by)
	return l, err
}

// declared is what the city's declarations say of symptoms.
type declared struct {
	n  int                 // declarations
	by map[uint32]Declared // who declared symptoms
}

func load(ctx context.Context, proc *processor.Processor, c *synth.City) (visits, encounters int, sick declared, took time.Duration, err error) {
	t0 := time.Now()
	sick.by = map[uint32]Declared{}
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
		sick.n += len(batch.Declarations)
		for i := range batch.Declarations {
			if d := &batch.Declarations[i]; d.Symptomatic() {
				sick.by[d.SubjectID] = Declared{ID: d.SubjectID, Symptoms: d.Symptoms.Names(), Onset: d.OnsetDate()}
			}
		}
		b.Append(&batch)
		if b.Len() >= 20_000 {
			if err := flush(); err != nil {
				return 0, 0, sick, 0, fmt.Errorf("load the demo city: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, sick, 0, fmt.Errorf("load the demo city: %w", err)
	}
	return visits, encounters, sick, time.Since(t0), nil
}

// pickCase looks for a case whose story the data tells: someone who scans
// QR codes and runs Bluezone, with stays at their school or workplace in the
// window and household members among their F1 by Bluetooth; the more
// family, stays and exposure sites, and the fewer F1, the better. Students
// come first (a school is the classic cluster), then workers; it starts from
// the city's suggestion. Without such a person it falls back to the case
// with the largest graph of at most 600 F2.
func pickCase(ctx context.Context, e *graph.Engine, c *synth.City, w graph.Window, sick map[uint32]Declared) (Pick, error) {
	people := c.Config().People
	rng := rand.New(rand.NewPCG(c.Config().Seed, 7))
	ids := []uint32{c.BusyPerson()}
	for range 400 {
		ids = append(ids, uint32(rng.IntN(people)+1))
	}
	var best, fallback Pick
	bestScore := -1
	for _, role := range []synth.Role{synth.Student, synth.Worker} {
		for _, id := range ids {
			person, ok := c.Person(id)
			if !ok || person.Role != role || !person.QR || !person.Bluetooth || person.Work == 0 {
				continue
			}
			res, err := e.Exposures(ctx, graph.Query{Case: id, Window: w, Depth: 2, MinSeconds: 15 * 60})
			if err != nil {
				return best, fmt.Errorf("pick a demo case: %w", err)
			}
			p := Pick{ID: id, Story: storyOf(res, person, sick)}
			for _, n := range res.Nodes {
				switch n.Tier {
				case 1:
					p.F1++
				case 2:
					p.F2++
				}
			}
			if fallback.ID == 0 || (p.F1 > 0 && p.F2 > fallback.F2 && p.F2 <= 600) {
				fallback = p
			}
			// A school's QR code puts the whole school in one place: a
			// student's F1 are in the hundreds (the web page then draws
			// the graph by venue).
			maxF1, maxF2 := 500, 3000
			if role != synth.Student {
				maxF1, maxF2 = 60, 800
			}
			if p.Story.WorkStays == 0 || len(p.Story.Family) == 0 || p.F1 < 3 || p.F1 > maxF1 || p.F2 < 10 || p.F2 > maxF2 {
				continue
			}
			score := 200*len(p.Story.Family) + 100*min(p.Story.WorkStays, 3) + 100*min(len(p.Story.Sites), 4) - p.F1/10
			if len(p.Story.Symptomatic) > 0 {
				score += 500 // a contact who declared symptoms: the one to call first
			}
			if score > bestScore {
				best, bestScore = p, score
			}
		}
		if bestScore >= 0 {
			return best, nil
		}
	}
	if fallback.ID == 0 {
		fallback.ID = c.BusyPerson()
	}
	return fallback, nil
}

// storyOf reads the demo story of person out of their exposure graph.
func storyOf(res *graph.Result, person synth.Person, sick map[uint32]Declared) Story {
	var st Story
	for _, n := range res.Nodes {
		if d, ok := sick[n.UserID]; ok && n.Tier == 1 {
			st.Symptomatic = append(st.Symptomatic, d)
		}
	}
	for _, s := range res.Timeline.Stays {
		if s.Venue == person.Work {
			st.WorkStays++
		}
	}
	for _, n := range res.Nodes {
		if n.Tier == 1 && n.UserID != person.ID && slices.Contains(person.Household, n.UserID) && slices.Contains(n.Channels, graph.ChannelProximity) {
			st.Family = append(st.Family, n.UserID)
		}
	}
	for _, v := range res.Venues {
		if v.Tier == 0 {
			st.Sites = append(st.Sites, v.VenueID)
		}
	}
	return st
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
	var story []string
	if person, ok := c.Person(p.ID); ok {
		who = " (" + person.Role.String()
		if person.Work != 0 {
			_, name := c.Venue(person.Work)
			who += ", " + name
			if p.Story.WorkStays > 0 {
				story = append(story, fmt.Sprintf("%d stay(s) at %s (venue %d)", p.Story.WorkStays, name, person.Work))
			}
		}
		who += ")"
	}
	if len(p.Story.Family) > 0 {
		ids := make([]string, len(p.Story.Family))
		for i, id := range p.Story.Family {
			ids[i] = fmt.Sprint(id)
		}
		story = append(story, fmt.Sprintf("met household member(s) %s by Bluetooth", strings.Join(ids, ", ")))
	}
	var sites []string
	for _, v := range p.Story.Sites[:min(len(p.Story.Sites), 5)] {
		_, name := c.Venue(v)
		sites = append(sites, fmt.Sprintf("%s (venue %d)", name, v))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\ntruyvet demo: a synthetic city of %d people and %d venues over %d day(s), %s → %s\n",
		cfg.People, cfg.Venues, cfg.Days, from.Format("2006-01-02 15:04"), to.Format("2006-01-02 15:04 -07:00"))
	fmt.Fprintf(&sb, "loaded %d check-in records, %d encounter records and %d health declarations in %s\n\n", visits, encounters, l.Declarations, took.Round(time.Millisecond))
	fmt.Fprintf(&sb, "Case %d%s has %d close contacts (F1) and %d contacts of contacts (F2).\n", p.ID, who, p.F1, p.F2)
	if len(story) > 0 {
		fmt.Fprintf(&sb, "In the window the case %s.\n", strings.Join(story, " and "))
	}
	if len(sites) > 0 {
		fmt.Fprintf(&sb, "The case exposed people at %s.\n", strings.Join(sites, ", "))
	}
	if len(p.Story.Symptomatic) > 0 {
		var who []string
		for _, d := range p.Story.Symptomatic[:min(len(p.Story.Symptomatic), 3)] {
			s := fmt.Sprintf("%d (%s", d.ID, strings.Join(d.Symptoms, ", "))
			if d.Onset != "" {
				s += ", onset " + d.Onset
			}
			who = append(who, s+")")
		}
		fmt.Fprintf(&sb, "%d of the F1 declared symptoms on NCOVI: %s; order=priority lists them first.\n", len(p.Story.Symptomatic), strings.Join(who, ", "))
	}
	sb.WriteString("Try:\n\n")
	fmt.Fprintf(&sb, "  TOKEN=%s\n", token)
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/cases/%d/exposures?%s'\n", base, p.ID, q.Encode())
	q.Set("depth", "1")
	q.Set("order", "priority")
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Accept: text/csv' '%s/v1/cases/%d/exposures?%s'\n", base, p.ID, q.Encode())
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/declarations/summary'\n", base)
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/audit?case=%d'\n", base, p.ID)
	fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/v1/status    # the city was loaded into the store, not posted: processed %d, accepted 0\n", base, visits+encounters+l.Declarations)
	fmt.Fprintf(&sb, "  curl -s %s/metrics | grep ^truyvet_\n", base)
	if l.Assessments > 0 {
		fmt.Fprintf(&sb, "  curl -s '%s/v1/safety-map.geojson'    # the Safety Map: %d venue self-assessments, %d citizen reports\n", base, l.Assessments, l.Feedback)
		fmt.Fprintf(&sb, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/feedback?status=open'\n", base)
	}
	sb.WriteString("\n")
	fmt.Fprintf(&sb, "or open %s/#case=%d&depth=2 in a browser to see the graph (it asks for the token once), %s/map for the Safety Map. Ctrl-C stops the demo.\n", base, p.ID, base)
	_, _ = io.WriteString(w, sb.String())
}
