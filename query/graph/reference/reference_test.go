package reference

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

const (
	t0    = int64(1_700_000_000)
	dwell = int64(3600) // the default 60 minutes
	day   = int64(86_400)

	prox  = graph.ChannelProximity
	venue = graph.ChannelVenue
)

func visit(id string, user, venueID uint32, enter, exit int64) event.Visit {
	return event.Visit{VisitID: id, UserID: user, VenueID: venueID, Enter: enter, Exit: exit, Source: "qr"}
}

func enc(id string, user, peer uint32, start int64, dur uint32) event.Encounter {
	return event.Encounter{EncounterID: id, UserID: user, PeerID: peer, Start: start, DurationS: dur, Source: "ble"}
}

func query(caseID uint32, depth int, minSeconds int64) graph.Query {
	return graph.Query{Case: caseID, Window: graph.Window{From: t0, To: t0 + day}, Depth: depth, MinSeconds: minSeconds}
}

func caseNode(id uint32) graph.Node { return graph.Node{UserID: id} }

func node(id uint32, tier int, first, seconds int64, chs []graph.Channel, by ...uint32) graph.Node {
	return graph.Node{UserID: id, Tier: tier, FirstExposure: first, ExposureSeconds: seconds, Channels: chs, ExposedBy: by}
}

func edge(from, to uint32, ch graph.Channel, venueID uint32, start, end int64) graph.Edge {
	return graph.Edge{From: from, To: to, Channel: ch, VenueID: venueID, Interval: graph.Interval{Start: start, End: end}}
}

func chs(c ...graph.Channel) []graph.Channel { return c }

// noTimeline drops the case's timeline from res, for tests of the graph
// alone (TestTimeline checks it).
func noTimeline(res *graph.Result) *graph.Result {
	res.Timeline = graph.Timeline{}
	return res
}

// withLast sets each contact's LastExposure in want from want's own edges:
// the latest end of an edge to them (the edges are those of qualifying
// pairs only). It returns want.
func withLast(want *graph.Result) *graph.Result {
	for i := range want.Nodes {
		n := &want.Nodes[i]
		n.LastExposure = 0
		for _, e := range want.Edges {
			if e.To == n.UserID {
				n.LastExposure = max(n.LastExposure, e.End)
			}
		}
	}
	return want
}

func TestCaseWithNoData(t *testing.T) {
	q := query(1, 2, 900)
	want := &graph.Result{Query: q, Nodes: []graph.Node{caseNode(1)}}

	require.Equal(t, withLast(want), noTimeline(Exposures(nil, nil, dwell, q)))

	// Others' records, none of them involving the case, change nothing.
	visits := []event.Visit{visit("a", 2, 10, t0, t0+3600), visit("b", 3, 10, t0, t0+3600)}
	encounters := []event.Encounter{enc("e", 2, 3, t0, 3600)}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))
}

func TestCheckInWithoutCheckOutUsesDefaultDwell(t *testing.T) {
	// The case's stay has no exit: [t0, t0+3600). User 2 is there
	// [t0+1800, t0+7200), so they overlap [t0+1800, t0+3600).
	visits := []event.Visit{
		visit("a", 1, 10, t0, 0),
		visit("b", 2, 10, t0+1800, t0+7200),
	}
	q := query(1, 1, 900)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0+1800, 1800, chs(venue), 1),
		},
		Edges:  []graph.Edge{edge(1, 2, venue, 10, t0+1800, t0+3600)},
		Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0 + 1800, Last: t0 + 3600, Exposed: 1}},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, nil, dwell, q)))

	// A longer default dwell lengthens the stay.
	want.Nodes[1].ExposureSeconds = 5400
	want.Edges[0].End = t0 + 7200
	want.Venues[0].Last = t0 + 7200
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, nil, 3*dwell, q)))
}

func TestCheckInAndCheckOutAsTwoRecords(t *testing.T) {
	// The case checks in at t0 and out at t0+600 in two records. Combined,
	// the stay is [t0, t0+600), not [t0, t0+dwell). User 2 is there from
	// t0+300: 300 seconds of contact.
	checkIn := visit("a", 1, 10, t0, 0)
	checkOut := visit("a", 1, 10, t0, t0+600)
	other := visit("b", 2, 10, t0+300, t0+5000)
	q := query(1, 1, 300)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0+300, 300, chs(venue), 1),
		},
		Edges:  []graph.Edge{edge(1, 2, venue, 10, t0+300, t0+600)},
		Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0 + 300, Last: t0 + 600, Exposed: 1}},
	}
	for name, visits := range map[string][]event.Visit{
		"in then out": {checkIn, checkOut, other},
		"out then in": {checkOut, checkIn, other},
		"other first": {other, checkOut, checkIn},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, withLast(want), noTimeline(Exposures(visits, nil, dwell, q)))
		})
	}

	// With two check-outs the stay ends at the later one, in any order.
	lateOut := visit("a", 1, 10, t0, t0+900)
	want.Nodes[1].ExposureSeconds = 600
	want.Edges[0].End = t0 + 900
	want.Venues[0].Last = t0 + 900
	q.MinSeconds = 600
	want.Query = q
	for name, visits := range map[string][]event.Visit{
		"early exit first": {checkIn, checkOut, lateOut, other},
		"late exit first":  {lateOut, checkIn, checkOut, other},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, withLast(want), noTimeline(Exposures(visits, nil, dwell, q)))
		})
	}
}

func TestResentRecordChangesNothing(t *testing.T) {
	visits := []event.Visit{
		visit("a", 1, 10, t0, t0+1200),
		visit("b", 2, 10, t0+200, t0+2000),
	}
	encounters := []event.Encounter{enc("e", 1, 3, t0+100, 1000)}
	q := query(1, 1, 1000)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(3, 1, t0+100, 1000, chs(prox), 1),
			node(2, 1, t0+200, 1000, chs(venue), 1),
		},
		Edges: []graph.Edge{
			edge(1, 2, venue, 10, t0+200, t0+1200),
			edge(1, 3, prox, 0, t0+100, t0+1100),
		},
		Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0 + 200, Last: t0 + 1200, Exposed: 1}},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))

	resentVisits := []event.Visit{visits[0], visits[1], visits[0], visits[1], visits[0]}
	resentEncounters := []event.Encounter{encounters[0], encounters[0], encounters[0]}
	require.Equal(t, withLast(want), noTimeline(Exposures(resentVisits, resentEncounters, dwell, q)))
}

func TestBothPhonesReportOneMeeting(t *testing.T) {
	// Phone 1 saw [t0, t0+600), phone 2 saw [t0+30, t0+630), with different
	// encounter ids. The union is 630 seconds, not 1230.
	encounters := []event.Encounter{
		enc("from-1", 1, 2, t0, 600),
		enc("from-2", 2, 1, t0+30, 600),
	}
	t.Run("at threshold", func(t *testing.T) {
		q := query(1, 1, 630)
		want := &graph.Result{
			Query: q,
			Nodes: []graph.Node{
				caseNode(1),
				node(2, 1, t0, 630, chs(prox), 1),
			},
			Edges: []graph.Edge{edge(1, 2, prox, 0, t0, t0+630)},
		}
		require.Equal(t, withLast(want), noTimeline(Exposures(nil, encounters, dwell, q)))
	})
	t.Run("not summed", func(t *testing.T) {
		q := query(1, 1, 631)
		want := &graph.Result{Query: q, Nodes: []graph.Node{caseNode(1)}}
		require.Equal(t, withLast(want), noTimeline(Exposures(nil, encounters, dwell, q)))
	})
	t.Run("only the peer reported", func(t *testing.T) {
		q := query(1, 1, 600)
		want := &graph.Result{
			Query: q,
			Nodes: []graph.Node{
				caseNode(1),
				node(2, 1, t0+30, 600, chs(prox), 1),
			},
			Edges: []graph.Edge{edge(1, 2, prox, 0, t0+30, t0+630)},
		}
		require.Equal(t, withLast(want), noTimeline(Exposures(nil, encounters[1:], dwell, q)))
	})
}

func TestVenueAndProximityAtTheSameTimeCountOnce(t *testing.T) {
	// Together at venue 10 over [t0, t0+600) and near each other over
	// [t0+300, t0+900): 900 seconds of contact, not 1200.
	visits := []event.Visit{
		visit("a", 1, 10, t0, t0+600),
		visit("b", 2, 10, t0, t0+600),
	}
	encounters := []event.Encounter{enc("e", 2, 1, t0+300, 600)}
	t.Run("qualifies at 900", func(t *testing.T) {
		q := query(1, 1, 900)
		want := &graph.Result{
			Query: q,
			Nodes: []graph.Node{
				caseNode(1),
				node(2, 1, t0, 900, chs(prox, venue), 1),
			},
			Edges: []graph.Edge{
				edge(1, 2, venue, 10, t0, t0+600),
				edge(1, 2, prox, 0, t0+300, t0+900),
			},
			Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0, Last: t0 + 600, Exposed: 1}},
		}
		require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))
	})
	t.Run("not at 901", func(t *testing.T) {
		q := query(1, 1, 901)
		want := &graph.Result{Query: q, Nodes: []graph.Node{caseNode(1)}}
		require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))
	})
}

func TestThresholdIsInclusiveAndContactMustBePositive(t *testing.T) {
	visits := []event.Visit{
		visit("c", 1, 10, t0, t0+1000),
		// User 4 arrives exactly when the case leaves: zero seconds.
		visit("d", 4, 10, t0+1000, t0+2000),
	}
	encounters := []event.Encounter{
		enc("x", 1, 2, t0, 900), // exactly the threshold
		enc("y", 3, 1, t0, 899), // one second less
	}
	q := query(1, 1, 900)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0, 900, chs(prox), 1),
		},
		Edges: []graph.Edge{edge(1, 2, prox, 0, t0, t0+900)},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))

	// With a threshold of zero, user 3's 899 seconds qualify, but user 4's
	// touching stay still does not: contact must be longer than zero.
	q.MinSeconds = 0
	want.Query = q
	want.Nodes = append(want.Nodes, node(3, 1, t0, 899, chs(prox), 1))
	want.Edges = append(want.Edges, edge(1, 3, prox, 0, t0, t0+899))
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))
}

func TestWindowCutsStaysOnBothSides(t *testing.T) {
	// Both stay [t0, t0+7200) at venue 10 and meet [t0+500, t0+1500); the
	// window [t0+1000, t0+2000] keeps [t0+1000, t0+2000) of the stay and
	// [t0+1000, t0+1500) of the meeting. User 3 met the case only before the
	// window, user 4 only from its end on.
	visits := []event.Visit{
		visit("a", 1, 10, t0, t0+7200),
		visit("b", 2, 10, t0, t0+7200),
	}
	encounters := []event.Encounter{
		enc("e", 1, 2, t0+500, 1000),
		enc("f", 1, 3, t0, 1000),
		enc("g", 4, 1, t0+2000, 1000),
	}
	q := graph.Query{Case: 1, Window: graph.Window{From: t0 + 1000, To: t0 + 2000}, Depth: 2, MinSeconds: 900}
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0+1000, 1000, chs(prox, venue), 1),
		},
		Edges: []graph.Edge{
			// Same start: proximity sorts before venue.
			edge(1, 2, prox, 0, t0+1000, t0+1500),
			edge(1, 2, venue, 10, t0+1000, t0+2000),
		},
		Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0 + 1000, Last: t0 + 2000, Exposed: 1}},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))

	// A threshold above what the window holds leaves nobody.
	q.MinSeconds = 1001
	require.Equal(t, &graph.Result{Query: q, Nodes: []graph.Node{caseNode(1)}}, noTimeline(Exposures(visits, encounters, dwell, q)))
}

func TestF2CountsOnlyContactAfterTheF1WasExposed(t *testing.T) {
	// User 2 is exposed by the case at venue 10 over [t0+3600, t0+4500).
	exposure := []event.Visit{
		visit("a", 1, 10, t0+3600, t0+4500),
		visit("b", 2, 10, t0+3600, t0+4500),
	}
	f1Edge := edge(1, 2, venue, 10, t0+3600, t0+4500)
	f1Node := node(2, 1, t0+3600, 900, chs(venue), 1)
	site := graph.Site{VenueID: 10, Tier: 0, First: t0 + 3600, Last: t0 + 4500, Exposed: 1}
	q := query(1, 2, 900)

	t.Run("before", func(t *testing.T) {
		// 1800 seconds with user 3, all before user 2 was exposed.
		encounters := []event.Encounter{enc("e", 2, 3, t0, 1800)}
		want := &graph.Result{
			Query:  q,
			Nodes:  []graph.Node{caseNode(1), f1Node},
			Edges:  []graph.Edge{f1Edge},
			Venues: []graph.Site{site},
		}
		require.Equal(t, withLast(want), noTimeline(Exposures(exposure, encounters, dwell, q)))
	})
	t.Run("straddling, enough after", func(t *testing.T) {
		// [t0+3000, t0+4800): only [t0+3600, t0+4800) counts, 1200 seconds.
		encounters := []event.Encounter{enc("e", 3, 2, t0+3000, 1800)}
		want := &graph.Result{
			Query: q,
			Nodes: []graph.Node{
				caseNode(1),
				f1Node,
				node(3, 2, t0+3600, 1200, chs(prox), 2),
			},
			Edges:  []graph.Edge{f1Edge, edge(2, 3, prox, 0, t0+3600, t0+4800)},
			Venues: []graph.Site{site},
		}
		require.Equal(t, withLast(want), noTimeline(Exposures(exposure, encounters, dwell, q)))
	})
	t.Run("straddling, not enough after", func(t *testing.T) {
		// [t0+3000, t0+4400): 1400 seconds, but only 800 after t0+3600.
		encounters := []event.Encounter{enc("e", 3, 2, t0+3000, 1400)}
		want := &graph.Result{
			Query:  q,
			Nodes:  []graph.Node{caseNode(1), f1Node},
			Edges:  []graph.Edge{f1Edge},
			Venues: []graph.Site{site},
		}
		require.Equal(t, withLast(want), noTimeline(Exposures(exposure, encounters, dwell, q)))
	})
	t.Run("depth 1 stops at F1", func(t *testing.T) {
		encounters := []event.Encounter{enc("e", 3, 2, t0+3000, 1800)}
		q1 := query(1, 1, 900)
		want := &graph.Result{
			Query:  q1,
			Nodes:  []graph.Node{caseNode(1), f1Node},
			Edges:  []graph.Edge{f1Edge},
			Venues: []graph.Site{site},
		}
		require.Equal(t, withLast(want), noTimeline(Exposures(exposure, encounters, dwell, q1)))
	})
}

func TestF2ThroughTwoF1Members(t *testing.T) {
	// F1 2: at venue 10 with the case over [t0, t0+1200), first exposure t0.
	// F1 3: near the case over [t0+600, t0+1800), first exposure t0+600.
	// User 4: near 2 over [t0+2000, t0+3000) (1000 s) and at venue 20 with 3
	// over [t0+1500, t0+3000) (1500 s). Max, not sum; earliest start.
	visits := []event.Visit{
		visit("a", 1, 10, t0, t0+1200),
		visit("b", 2, 10, t0, t0+1200),
		visit("c", 3, 20, t0+1500, t0+3000),
		visit("d", 4, 20, t0+1500, t0+3000),
	}
	encounters := []event.Encounter{
		enc("e", 1, 3, t0+600, 1200),
		enc("f", 4, 2, t0+2000, 1000),
	}
	q := query(1, 2, 900)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0, 1200, chs(venue), 1),
			node(3, 1, t0+600, 1200, chs(prox), 1),
			node(4, 2, t0+1500, 1500, chs(prox, venue), 2, 3),
		},
		Edges: []graph.Edge{
			edge(1, 2, venue, 10, t0, t0+1200),
			edge(1, 3, prox, 0, t0+600, t0+1800),
			edge(2, 4, prox, 0, t0+2000, t0+3000),
			edge(3, 4, venue, 20, t0+1500, t0+3000),
		},
		Venues: []graph.Site{
			{VenueID: 10, Tier: 0, First: t0, Last: t0 + 1200, Exposed: 1},
			{VenueID: 20, Tier: 1, First: t0 + 1500, Last: t0 + 3000, Exposed: 1},
		},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))

	// If 4's contact with 2 falls below the threshold, 4 is exposed by 3 only.
	encounters[1].DurationS = 899
	want.Nodes[3] = node(4, 2, t0+1500, 1500, chs(venue), 3)
	want.Edges = slices.Delete(want.Edges, 2, 3)
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))
}

func TestSubThresholdContactWithCaseStillF2(t *testing.T) {
	// User 3 is near the case for 300 s (not F1) and near F1 2 for 1000 s
	// after 2 was exposed (F2). The 300 s with the case do not add to it.
	visits := []event.Visit{
		visit("a", 1, 10, t0, t0+1200),
		visit("b", 2, 10, t0, t0+1200),
	}
	encounters := []event.Encounter{
		enc("e", 3, 1, t0+100, 300),
		enc("f", 3, 2, t0+1300, 1000),
	}
	q := query(1, 2, 900)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0, 1200, chs(venue), 1),
			node(3, 2, t0+1300, 1000, chs(prox), 2),
		},
		Edges: []graph.Edge{
			edge(1, 2, venue, 10, t0, t0+1200),
			edge(2, 3, prox, 0, t0+1300, t0+2300),
		},
		Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0, Last: t0 + 1200, Exposed: 1}},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))
}

func TestSameVisitIDIsNotOneStayAcrossUsersOrEnters(t *testing.T) {
	// The case reuses visit id "v" for two stays at venue 10, [t0, t0+600)
	// and [t0+3000, t0+3600); user 2's record has the same id, venue and
	// enter but is another person's stay, [t0, t0+3600). Contact: 600+600.
	visits := []event.Visit{
		visit("v", 1, 10, t0, t0+600),
		visit("v", 1, 10, t0+3000, t0+3600),
		visit("v", 2, 10, t0, t0+3600),
	}
	q := query(1, 1, 1200)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0, 1200, chs(venue), 1),
		},
		Edges: []graph.Edge{
			edge(1, 2, venue, 10, t0, t0+600),
			edge(1, 2, venue, 10, t0+3000, t0+3600),
		},
		Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0, Last: t0 + 3600, Exposed: 1}},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, nil, dwell, q)))

	// Same id, user and enter at another venue: also a stay of its own.
	visits = append(visits, visit("v", 1, 20, t0, t0+600), visit("w", 3, 20, t0, t0+600))
	q.MinSeconds = 600
	want.Query = q
	want.Nodes = append(want.Nodes, node(3, 1, t0, 600, chs(venue), 1))
	want.Edges = append(want.Edges, edge(1, 3, venue, 20, t0, t0+600))
	want.Venues = []graph.Site{
		{VenueID: 10, Tier: 0, First: t0, Last: t0 + 3600, Exposed: 1},
		{VenueID: 20, Tier: 0, First: t0, Last: t0 + 600, Exposed: 1},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, nil, dwell, q)))
}

func TestEdgesAreMaximalIntervalsPerChannelKey(t *testing.T) {
	// Proximity [t0, t0+300) and [t0+300, t0+600) touch: one edge. A later
	// [t0+700, t0+800) is another. Venues 10 and 20 at once are two keys.
	visits := []event.Visit{
		visit("a", 1, 10, t0, t0+400),
		visit("b", 2, 10, t0+100, t0+400),
		visit("c", 1, 20, t0+200, t0+500),
		visit("d", 2, 20, t0+200, t0+500),
	}
	encounters := []event.Encounter{
		enc("e", 1, 2, t0, 300),
		enc("f", 2, 1, t0+300, 300),
		enc("g", 1, 2, t0+700, 100),
	}
	q := query(1, 1, 700)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0, 700, chs(prox, venue), 1),
		},
		Edges: []graph.Edge{
			edge(1, 2, prox, 0, t0, t0+600),
			edge(1, 2, venue, 10, t0+100, t0+400),
			edge(1, 2, venue, 20, t0+200, t0+500),
			edge(1, 2, prox, 0, t0+700, t0+800),
		},
		Venues: []graph.Site{
			{VenueID: 10, Tier: 0, First: t0 + 100, Last: t0 + 400, Exposed: 1},
			{VenueID: 20, Tier: 0, First: t0 + 200, Last: t0 + 500, Exposed: 1},
		},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, encounters, dwell, q)))
}

func TestSiteSharedByTiers(t *testing.T) {
	// At venue 10: the case [t0, t0+1000), user 2 [t0, t0+2000), user 3
	// [t0+1000, t0+3000). 3 only touches the case (0 s) but spends
	// [t0+1000, t0+2000) with F1 2. The site has tier 0 and two exposed.
	visits := []event.Visit{
		visit("a", 1, 10, t0, t0+1000),
		visit("b", 2, 10, t0, t0+2000),
		visit("c", 3, 10, t0+1000, t0+3000),
	}
	q := query(1, 2, 900)
	want := &graph.Result{
		Query: q,
		Nodes: []graph.Node{
			caseNode(1),
			node(2, 1, t0, 1000, chs(venue), 1),
			node(3, 2, t0+1000, 1000, chs(venue), 2),
		},
		Edges: []graph.Edge{
			edge(1, 2, venue, 10, t0, t0+1000),
			edge(2, 3, venue, 10, t0+1000, t0+2000),
		},
		Venues: []graph.Site{{VenueID: 10, Tier: 0, First: t0, Last: t0 + 2000, Exposed: 2}},
	}
	require.Equal(t, withLast(want), noTimeline(Exposures(visits, nil, dwell, q)))
}

// randomData makes a small random population whose times all fall within a
// few hundred seconds of t0, so they overlap often.
func randomData(r *rand.Rand) ([]event.Visit, []event.Encounter) {
	const users, venues, span = 8, 3, 400
	var visits []event.Visit
	for i := range 30 {
		enter := t0 + r.Int64N(span)
		exit := int64(0)
		if r.IntN(3) > 0 {
			exit = enter + 1 + r.Int64N(200)
		}
		id := string(rune('a' + i%10)) // reused ids on purpose
		visits = append(visits, visit(id, 1+uint32(r.IntN(users)), 1+uint32(r.IntN(venues)), enter, exit))
	}
	var encounters []event.Encounter
	for i := range 20 {
		a, b := 1+uint32(r.IntN(users)), 1+uint32(r.IntN(users))
		if a == b {
			continue
		}
		encounters = append(encounters, enc(string(rune('A'+i)), a, b, t0+r.Int64N(span), uint32(r.IntN(150))))
	}
	return visits, encounters
}

func TestInvariantsOnRandomData(t *testing.T) {
	const shortDwell = 120
	r := rand.New(rand.NewPCG(1, 2))
	f1, f2 := 0, 0
	for i := range 300 {
		visits, encounters := randomData(r)
		q := graph.Query{
			Case:       1 + uint32(r.IntN(8)),
			Window:     graph.Window{From: t0 + r.Int64N(100), To: t0 + 300 + r.Int64N(300)},
			Depth:      1 + r.IntN(2),
			MinSeconds: r.Int64N(120),
		}
		want := Exposures(visits, encounters, shortDwell, q)

		// Order, resending, and which phone reported do not matter.
		v2 := slices.Clone(visits)
		e2 := slices.Clone(encounters)
		r.Shuffle(len(v2), func(a, b int) { v2[a], v2[b] = v2[b], v2[a] })
		r.Shuffle(len(e2), func(a, b int) { e2[a], e2[b] = e2[b], e2[a] })
		v2 = append(v2, v2[:len(v2)/2]...)
		for j := range e2 {
			if j%2 == 0 {
				e2[j].UserID, e2[j].PeerID = e2[j].PeerID, e2[j].UserID
			}
		}
		e2 = append(e2, e2[:len(e2)/3]...)
		require.Equal(t, withLast(want), Exposures(v2, e2, shortDwell, q), "case %d", i)

		// Contact time, counted second by second: for F1 with the case over
		// the window, for F2 the largest with an exposing F1 member from its
		// first exposure on.
		first := map[uint32]int64{}
		for _, n := range want.Nodes {
			first[n.UserID] = n.FirstExposure
			switch n.Tier {
			case 1:
				f1++
				got := secondsByCounting(visits, encounters, shortDwell, q.Case, n.UserID, q.Window.From, q.Window.To)
				require.Equal(t, got, n.ExposureSeconds, "case %d, user %d", i, n.UserID)
			case 2:
				f2++
				var most int64
				for _, p := range n.ExposedBy {
					most = max(most, secondsByCounting(visits, encounters, shortDwell, p, n.UserID, first[p], q.Window.To))
				}
				require.Equal(t, most, n.ExposureSeconds, "case %d, user %d", i, n.UserID)
			}
		}
	}
	t.Logf("F1 nodes: %d, F2 nodes: %d", f1, f2)
	// The random data must exercise both tiers.
	require.Positive(t, f1)
	require.Positive(t, f2)
}

// secondsByCounting counts each second t of [lo, hi) at which a and b were in
// contact: both in a stay at one venue, or in an encounter together.
func secondsByCounting(visits []event.Visit, encounters []event.Encounter, dwell int64, a, b uint32, lo, hi int64) int64 {
	stays := foldStays(visits, dwell)
	var n int64
	for t := lo; t < hi; t++ {
		in := false
		for _, sa := range stays {
			for _, sb := range stays {
				if sa.user == a && sb.user == b && sa.venue == sb.venue &&
					sa.start <= t && t < sa.end && sb.start <= t && t < sb.end {
					in = true
				}
			}
		}
		for _, e := range encounters {
			if ((e.UserID == a && e.PeerID == b) || (e.UserID == b && e.PeerID == a)) &&
				e.Start <= t && t < e.Start+int64(e.DurationS) {
				in = true
			}
		}
		if in {
			n++
		}
	}
	return n
}

func TestTimeline(t *testing.T) {
	visits := []event.Visit{
		visit("b", 1, 11, t0+2*3600, 0),          // no exit: imputed, [t0+2h, t0+3h)
		visit("a", 1, 10, t0, t0+1800),           // [t0, t0+30m)
		visit("x", 1, 12, t0-2*day, t0-2*day+60), // before the window
		visit("o", 2, 10, t0, t0+1800),           // someone else's
	}
	encounters := []event.Encounter{
		enc("e1", 1, 3, t0+600, 600), // both phones report one meeting, clocks apart
		enc("e2", 3, 1, t0+660, 600),
		enc("e3", 4, 1, t0+4000, 60),
		enc("e4", 2, 3, t0, 600), // not the case's
	}
	q := query(1, 1, 900)
	got := Exposures(visits, encounters, dwell, q).Timeline
	require.Equal(t, graph.Timeline{
		Stays: []graph.Stay{
			{Venue: 10, Interval: graph.Interval{Start: t0, End: t0 + 1800}},
			{Venue: 11, Imputed: true, Interval: graph.Interval{Start: t0 + 2*3600, End: t0 + 3*3600}},
		},
		Contacts: []graph.Contact{
			{Peer: 3, Interval: graph.Interval{Start: t0 + 600, End: t0 + 1260}},
			{Peer: 4, Interval: graph.Interval{Start: t0 + 4000, End: t0 + 4060}},
		},
	}, got)
}
