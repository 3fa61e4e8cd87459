package reference

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// bucket0 starts the 900 s bucket holding t0.
const bucket0 = t0 - t0%900

func under(r *graph.Rule, depth int, min int64) graph.Query {
	q := query(1, depth, min)
	q.Rule = r
	return q
}

func ids(res *graph.Result) map[uint32]int {
	out := map[uint32]int{}
	for _, n := range res.Nodes {
		out[n.UserID] = n.Tier
	}
	return out
}

func TestChannelsPassOnTheirOwnBeforeTheUnion(t *testing.T) {
	// 10 minutes at a venue and, later, 10 minutes of Bluetooth: 20 minutes
	// by the default rule, but neither channel reaches 15 on its own.
	visits := []event.Visit{visit("a", 1, 5, t0, t0+600), visit("b", 2, 5, t0, t0+600)}
	encs := []event.Encounter{enc("e", 1, 2, t0+3600, 600)}
	set := Setting{Dwell: dwell, BucketSeconds: 900}
	require.Equal(t, map[uint32]int{1: 0, 2: 1}, ids(ExposuresUnder(visits, encs, set, under(nil, 1, 900))))
	strict := &graph.Rule{Proximity: &graph.ProximityRule{MinSeconds: 900}, Venue: &graph.VenueRule{MinSeconds: 900}}
	require.Equal(t, map[uint32]int{1: 0}, ids(ExposuresUnder(visits, encs, set, under(strict, 1, 900))))
	// A channel that passes counts alone, and only its edges are named.
	strict.Venue.MinSeconds = 600
	res := ExposuresUnder(visits, encs, set, under(strict, 1, 0))
	require.Equal(t, []graph.Edge{edge(1, 2, venue, 5, t0, t0+600)}, res.Edges)
	require.Equal(t, chs(venue), res.Nodes[1].Channels)
}

func TestRSSIFloorDropsWeakerEncountersOnly(t *testing.T) {
	weak, none := enc("w", 1, 2, t0, 1200), enc("n", 1, 3, t0, 1200)
	weak.RSSI, weak.HasRSSI = -90, true
	r := &graph.Rule{Proximity: &graph.ProximityRule{MinRSSI: -80, HasMinRSSI: true}}
	res := ExposuresUnder(nil, []event.Encounter{weak, none}, Setting{Dwell: dwell}, under(r, 1, 900))
	require.Equal(t, map[uint32]int{1: 0, 3: 1}, ids(res), "the weak one goes, the one without RSSI counts")
}

func TestKindsAndCrowdCapMakeCoPresenceCasual(t *testing.T) {
	set := Setting{Dwell: dwell, BucketSeconds: 900, Kind: func(v uint32) string {
		return map[uint32]string{5: "market", 6: "cafe"}[v]
	}}
	// The case and 2 meet at the market, 3 at the cafe, for an hour each;
	// 4 is at the market only for the case's first bucket. 2 and 5 meet
	// later, for an hour, at the cafe.
	h := int64(3600)
	visits := []event.Visit{
		visit("c1", 1, 5, bucket0, bucket0+h), visit("c2", 1, 6, bucket0+2*h, bucket0+3*h),
		visit("x2", 2, 5, bucket0, bucket0+h), visit("x3", 3, 6, bucket0+2*h, bucket0+3*h),
		visit("x4", 4, 5, bucket0, bucket0+900),
		visit("y2", 2, 6, bucket0+4*h, bucket0+5*h), visit("y5", 5, 6, bucket0+4*h, bucket0+5*h),
	}
	q := under(&graph.Rule{Venue: &graph.VenueRule{Kinds: []string{"cafe"}}, Casual: true}, 2, 900)
	q.Window = graph.Window{From: bucket0, To: bucket0 + day}
	res := ExposuresUnder(visits, nil, set, q)
	require.Equal(t, map[uint32]int{1: 0, 3: 1, 2: graph.TierCasual, 4: graph.TierCasual}, ids(res),
		"market co-presence is casual, and casual people are not traced")
	for _, n := range res.Nodes {
		if n.Tier == graph.TierCasual {
			require.Equal(t, []uint32{5}, n.Venues)
		}
	}
	// A cap of 2 present: the market's first bucket holds 3 people, so only
	// 45 of the 60 minutes are close — still enough for 2, not for 4.
	q.Rule = &graph.Rule{Venue: &graph.VenueRule{MaxPresent: 2}, Casual: true}
	res = ExposuresUnder(visits, nil, set, q)
	require.Equal(t, map[uint32]int{1: 0, 2: 1, 3: 1, 4: graph.TierCasual, 5: 2}, ids(res))
	require.Equal(t, int64(2700), res.Nodes[1].ExposureSeconds)
}
