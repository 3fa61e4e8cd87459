package storetest

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Declaration makes a declaration about subject filed by user at t.
func Declaration(id string, user, subject uint32, kind event.DeclKind, t int64, province string, symptoms event.Symptoms) event.Declaration {
	return event.Declaration{DeclarationID: id, UserID: user, SubjectID: subject, Kind: kind, DeclaredAt: t, Province: province,
		Symptoms: symptoms, Source: "ncovi"}
}

func testDeclarations(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	ctx := context.Background()
	t0 := Base + 9*hour
	fever, _ := event.ParseSymptom("fever")
	entry := Declaration("vhd-1", 7, 7, event.DeclEntry, t0, "79", fever)
	entry.Onset = Base - 24*hour
	entry.HasTravel = true
	entry.Travel = event.Travel{Vehicle: "VN123", Depart: t0 - 5*hour, Arrive: t0 - 3*hour, OriginCountry: "KR", PortOfEntry: "Tân Sơn Nhất"}
	entry.ContactWithCase, entry.VisitedOutbreakArea = event.AnswerNo, event.AnswerYes
	family := Declaration("nc-1", 7, 8, event.DeclVoluntary, t0+hour, "79", 0) // a parent declaring for a child
	nextDay := Declaration("nc-2", 8, 8, event.DeclVoluntary, t0+24*hour, "79", fever)
	other := Declaration("nc-3", 9, 9, event.DeclDomestic, t0, "01", 0)
	sameID := Declaration("vhd-1", 9, 9, event.DeclDomestic, t0+2*hour, "01", 0) // another subject's id: another declaration

	write(t, s, event.Batch{Declarations: []event.Declaration{entry, family, other}})
	// A resend (also twice in one batch), late records, and a new one.
	write(t, s, event.Batch{Declarations: []event.Declaration{family, nextDay, nextDay, entry, sameID}})
	write(t, s, event.Batch{Declarations: []event.Declaration{entry}})

	got, err := s.Declarations(ctx, []uint32{9, 8, 7, 100}, Base, Base+48*hour)
	require.NoError(t, err)
	require.Equal(t, []event.Declaration{entry, family, nextDay, other, sameID}, got)

	// The window is on declared_at, both ends included.
	got, err = s.Declarations(ctx, []uint32{8}, t0+hour, t0+hour)
	require.NoError(t, err)
	require.Equal(t, []event.Declaration{family}, got)
	got, err = s.Declarations(ctx, []uint32{8, 7}, t0+hour+1, t0+24*hour-1)
	require.NoError(t, err)
	require.Empty(t, got)

	// Counts: each declaration once, by day, province, kind and symptoms.
	day := bucket.DayOf(t0)
	want := []declapi.Count{
		{Day: day, Province: "01", Kind: event.DeclDomestic, N: 2},
		{Day: day, Province: "79", Kind: event.DeclEntry, Symptomatic: true, N: 1},
		{Day: day, Province: "79", Kind: event.DeclVoluntary, N: 1},
		{Day: day + 1, Province: "79", Kind: event.DeclVoluntary, Symptomatic: true, N: 1},
	}
	require.Equal(t, want, counts(t, s, nil, day-3, day+3))
	require.Equal(t, want[1:], counts(t, s, []string{"79", "48"}, day, day+1))
	require.Equal(t, want[:1], counts(t, s, []string{"01"}, day, day))
	require.Empty(t, counts(t, s, []string{}, day, day+1))
	require.Empty(t, counts(t, s, nil, day+2, day+9))
}

// testDeclarationsBySubject asks random sets of subjects, dense and
// sparse, over random windows, against a plain filter of what was written.
func testDeclarationsBySubject(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	rng := rand.New(rand.NewPCG(8, 9))
	var all []event.Declaration
	for i := range 2000 {
		subject := uint32(rng.IntN(400) + 1)
		all = append(all, Declaration(fmt.Sprint("r", i), subject, subject, event.DeclVoluntary, Base+rng.Int64N(4*24*hour), "01", 0))
	}
	write(t, s, event.Batch{Declarations: all})
	for range 20 {
		var subjects []uint32
		for range []int{1, 5, 50, 400}[rng.IntN(4)] {
			subjects = append(subjects, uint32(rng.IntN(420)+1))
		}
		from := Base + rng.Int64N(3*24*hour)
		to := from + rng.Int64N(2*24*hour)
		var want []event.Declaration
		for _, d := range all {
			if slices.Contains(subjects, d.SubjectID) && d.DeclaredAt >= from && d.DeclaredAt <= to {
				want = append(want, d)
			}
		}
		slices.SortFunc(want, func(a, b event.Declaration) int {
			return cmp.Or(cmp.Compare(a.SubjectID, b.SubjectID), cmp.Compare(a.DeclaredAt, b.DeclaredAt), cmp.Compare(a.DeclarationID, b.DeclarationID))
		})
		got, err := s.Declarations(context.Background(), subjects, from, to)
		require.NoError(t, err)
		require.Equal(t, want, got, "%d subjects over [%d, %d]", len(subjects), from-Base, to-Base)
	}
}

func counts(t *testing.T, s declapi.Store, provinces []string, from, to bucket.Day) []declapi.Count {
	t.Helper()
	cs, err := s.DeclarationCounts(context.Background(), provinces, from, to)
	require.NoError(t, err)
	slices.SortFunc(cs, func(a, b declapi.Count) int {
		switch {
		case a.Day != b.Day:
			return int(a.Day) - int(b.Day)
		case a.Province != b.Province:
			if a.Province < b.Province {
				return -1
			}
			return 1
		case a.Kind != b.Kind:
			return int(a.Kind) - int(b.Kind)
		case a.Symptomatic != b.Symptomatic:
			if b.Symptomatic {
				return -1
			}
			return 1
		}
		return 0
	})
	return cs
}

func testDeclarationRetention(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	ctx := context.Background()
	t0 := Base + 9*hour
	old := Declaration("d-old", 1, 1, event.DeclVoluntary, t0, "79", 1)
	kept := Declaration("d-new", 1, 1, event.DeclVoluntary, t0+24*hour, "79", 1)
	kept.HasTravel = true
	kept.Travel = event.Travel{Vehicle: "SE1", Depart: t0 + 20*hour, Arrive: t0 + 23*hour}
	write(t, s, event.Batch{Declarations: []event.Declaration{old, kept}})
	dropper, ok := s.(interface {
		DropBefore(context.Context, bucket.Day) ([]bucket.Day, error)
	})
	require.True(t, ok, "stores drop days with DropBefore")
	_, err := dropper.DropBefore(ctx, bucket.DayOf(t0)+1)
	require.NoError(t, err)
	got, err := s.Declarations(ctx, []uint32{1}, Base-48*hour, Base+72*hour)
	require.NoError(t, err)
	require.Equal(t, []event.Declaration{kept}, got)
	require.Equal(t, []declapi.Count{{Day: bucket.DayOf(t0) + 1, Province: "79", Kind: event.DeclVoluntary, Symptomatic: true, N: 1}},
		counts(t, s, nil, bucket.DayOf(t0)-1, bucket.DayOf(t0)+1))
	c, err := s.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, []bucket.Day{bucket.DayOf(t0) + 1}, c.Days)
}

func trip(id string, subject uint32, vehicle string, depart, arrive int64) event.Declaration {
	d := Declaration(id, subject, subject, event.DeclEntry, arrive, "79", 0)
	d.HasTravel = true
	d.Travel = event.Travel{Vehicle: vehicle, Depart: depart, Arrive: arrive}
	return d
}

// testCoTravel: trips on one vehicle on one local day are contact over
// their overlap, counted with the other channels by the union rule.
func testCoTravel(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	t0 := Base + 10*hour
	write(t, s, event.Batch{
		Declarations: []event.Declaration{
			trip("a", 1, "VN1", t0, t0+2*hour),
			trip("b", 2, "VN1", t0+hour, t0+3*hour),           // 1 h with 1
			trip("c", 3, "VN1", t0+24*hour, t0+26*hour),       // the next day
			trip("d", 4, "SE1", t0, t0+2*hour),                // another vehicle
			trip("e", 5, "VN1", t0+90*min_, t0+100*min_),      // 10 minutes with 1
			trip("f", 6, "VN1", t0+100*min_, t0+101*min_),     // 1 minute with 1, and with 2 after 2's exposure
			trip("g", 7, "VN1", t0+2*hour+30*min_, t0+5*hour), // 30 minutes with 2 only
		},
		Visits: []event.Visit{
			visit("v1", 1, 40, t0+3*hour, t0+3*hour+10*min_),
			visit("v5", 5, 40, t0+3*hour+5*min_, t0+4*hour), // 5 minutes with 1 at the venue
		},
	})
	eng := graph.NewEngine(s)
	q := graph.Query{Case: 1, Window: graph.Window{From: Base, To: Base + 48*hour}, Depth: 2, MinSeconds: 900}
	res, err := eng.Exposures(context.Background(), q)
	require.NoError(t, err)
	nodes := map[uint32]graph.Node{}
	for _, n := range res.Nodes {
		nodes[n.UserID] = n
	}
	require.Equal(t, int64(hour), nodes[2].ExposureSeconds)
	require.Equal(t, 1, nodes[2].Tier)
	require.Equal(t, []graph.Channel{graph.ChannelVehicle}, nodes[2].Channels)
	require.Equal(t, int64(15*min_), nodes[5].ExposureSeconds, "10 minutes of travel and 5 at a venue: 15")
	require.Equal(t, []graph.Channel{graph.ChannelVenue, graph.ChannelVehicle}, nodes[5].Channels)
	require.Equal(t, 2, nodes[7].Tier, "30 minutes with the F1 member after they were exposed")
	for _, u := range []uint32{3, 4, 6} {
		require.NotContains(t, nodes, u)
	}
	require.Contains(t, res.Edges, graph.Edge{From: 1, To: 2, Channel: graph.ChannelVehicle, Vehicle: "VN1", Interval: graph.Interval{Start: t0 + hour, End: t0 + 2*hour}})

	// Under a rule with a vehicle threshold, the 10 minutes no longer count.
	q.Rule = &graph.Rule{Proximity: &graph.ProximityRule{}, Venue: &graph.VenueRule{}, Vehicle: &graph.ChannelRule{MinSeconds: 15 * min_}}
	res, err = eng.Exposures(context.Background(), q)
	require.NoError(t, err)
	for _, n := range res.Nodes {
		require.NotEqual(t, uint32(5), n.UserID)
	}
	// A rule without the channel ignores co-travel.
	q.Rule = &graph.Rule{Proximity: &graph.ProximityRule{}, Venue: &graph.VenueRule{}}
	res, err = eng.Exposures(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, res.Nodes, 1)
}
