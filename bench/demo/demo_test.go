package demo

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// TestCaseHasAStory: the demo's printed case is one the data tells a story
// about (stays at their school or workplace, family met by Bluetooth), and
// the printout names the venues.
func TestCaseHasAStory(t *testing.T) {
	layout := bucket.DefaultLayout()
	reg := prometheus.NewRegistry()
	st, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: layout, NoSync: true, Registerer: reg})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	proc, err := processor.New(layout, st, processor.NewMetrics(reg))
	require.NoError(t, err)
	cfg := synth.Demo()
	cfg.End = time.Now()
	cfg.Declarations = true
	c, err := synth.New(cfg)
	require.NoError(t, err)
	l, err := Load(t.Context(), c, proc, graph.NewEngine(st))
	require.NoError(t, err)

	p := l.Case
	person, ok := c.Person(p.ID)
	require.True(t, ok)
	require.Positive(t, p.Story.WorkStays, "the case has stays at their school or workplace")
	require.NotEmpty(t, p.Story.Family, "the case met family by Bluetooth")
	for _, id := range p.Story.Family {
		require.Contains(t, person.Household, id)
	}
	var out bytes.Buffer
	l.Print(&out, "127.0.0.1:8080", "tvk_demo_test")
	_, work := c.Venue(person.Work)
	require.Contains(t, out.String(), fmt.Sprintf("stay(s) at %s (venue %d)", work, person.Work))
	require.Contains(t, out.String(), "by Bluetooth")
	require.Contains(t, out.String(), "The case exposed people at ")
	require.Contains(t, out.String(), "accepted 0")
	require.Positive(t, l.Declarations)
	require.NotEmpty(t, p.Story.Symptomatic, "an F1 declared symptoms")
	require.Contains(t, out.String(), "declared symptoms on NCOVI")
}
