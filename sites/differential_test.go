package sites_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
)

var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC).Unix()

// reference is the naive model: stays folded by DESIGN's visit rule, and
// for each published site every user whose stays at the venue cover at
// least one second of the window, with the first and last second covered.
func reference(visits []event.Visit, dwell int64, ss []sites.Site) map[string][2]int64 {
	type key struct {
		id          string
		user, venue uint32
		enter       int64
	}
	exits := map[key]int64{}
	for _, v := range visits {
		k := key{v.VisitID, v.UserID, v.VenueID, v.Enter}
		exits[k] = max(exits[k], v.Exit)
	}
	out := map[string][2]int64{}
	for _, s := range ss {
		from, to := s.Window()
		covered := map[uint32][]bool{}
		for k, exit := range exits {
			end := exit
			if end == 0 {
				end = k.enter + dwell
			}
			if k.venue != s.VenueID {
				continue
			}
			for t := k.enter; t < end; t++ {
				if t >= from && t < to {
					if covered[k.user] == nil {
						covered[k.user] = make([]bool, to-from)
					}
					covered[k.user][t-from] = true
				}
			}
		}
		for u, c := range covered {
			first, last := int64(-1), int64(-1)
			for i, ok := range c {
				if ok {
					if first < 0 {
						first = int64(i)
					}
					last = int64(i)
				}
			}
			out[sites.AlertID(sites.TypeExposure, s.ID, u)] = [2]int64{from + first, from + last + 1}
		}
	}
	return out
}

// flaky fails the alert writes of a replica that is "killed" mid-batch:
// the stays are durable, the alerts not.
type flaky struct {
	sites.Store
	fail bool
}

var errKilled = errors.New("replica killed")

func (f *flaky) Put(ctx context.Context, as []sites.Alert) ([]sites.Alert, error) {
	if f.fail {
		return nil, errKilled
	}
	return f.Store.Put(ctx, as)
}

type gen struct {
	r      *rand.Rand
	n      int
	venues int
}

// stay returns the records of one stay at venue for user, starting near
// base: with or without a check-out, on the window's edges now and then,
// sometimes sent as check-in and check-out separately.
func (g *gen) stay(user, venue uint32, base int64, edges []int64) []event.Visit {
	g.n++
	id := fmt.Sprintf("v%d", g.n)
	enter := base + g.r.Int64N(6*3600)
	if len(edges) > 0 && g.r.IntN(3) == 0 {
		enter = edges[g.r.IntN(len(edges))] + g.r.Int64N(3) - 1
	}
	var exit int64
	switch g.r.IntN(3) {
	case 0: // no check-out: the default dwell
	case 1:
		exit = enter + 1 + g.r.Int64N(3*3600)
	default:
		exit = enter + 1 + g.r.Int64N(3*3600)
		if len(edges) > 0 && g.r.IntN(2) == 0 {
			exit = max(enter+1, edges[g.r.IntN(len(edges))]+g.r.Int64N(3)-1)
		}
	}
	in := event.Visit{VisitID: id, UserID: user, VenueID: venue, Enter: enter, Source: "qr"}
	if exit == 0 {
		return []event.Visit{in}
	}
	out := in
	out.Exit = exit
	if g.r.IntN(2) == 0 {
		return []event.Visit{in, out}
	}
	return []event.Visit{out}
}

func TestDifferential(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { differential(t, seed) })
	}
}

func differential(t *testing.T, seed uint64) {
	ctx := t.Context()
	layout := bucket.DefaultLayout()
	st, err := pebblestore.Open(ctx, pebblestore.Options{Dir: t.TempDir(), Layout: layout, CacheBytes: 8 << 20, NoSync: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	now := func() time.Time { return time.Unix(t0+2*86400, 0) }
	g := &gen{r: rand.New(rand.NewPCG(seed, 42)), venues: 4}

	// Sites first (drafts), so stays can aim at their edges.
	var ss []sites.Site
	var edges []int64
	for i := range 5 {
		from := t0 + g.r.Int64N(5*3600)
		to := from + 600 + g.r.Int64N(4*3600)
		s, err := st.Create(ctx, sites.Site{Spec: sites.Spec{VenueID: uint32(1 + i%g.venues), From: time.Unix(from, 0), To: time.Unix(to, 0),
			Severity: sites.SeverityClose, Advice: "theo dõi sức khỏe"}, CreatedBy: "epi", CreatedAt: now()})
		require.NoError(t, err)
		ss = append(ss, s)
		edges = append(edges, from, to)
	}

	// Two replicas, each its own matcher and copy of the active sites.
	replica := func(store sites.Store) (*processor.Processor, *sites.Matcher) {
		mt := sites.NewMatcher(st, store, st, nil, nil, nil, now)
		p, err := processor.New(layout, mt, nil)
		require.NoError(t, err)
		return p, mt
	}
	fl := &flaky{Store: st}
	p1, m1 := replica(fl)
	p2, m2 := replica(st)

	var all []event.Visit
	var early [][]event.Visit
	for range 8 {
		var b []event.Visit
		for range 40 {
			user := uint32(1 + g.r.IntN(60))
			b = append(b, g.stay(user, uint32(1+g.r.IntN(g.venues)), t0-3600, edges)...)
		}
		early = append(early, b)
		all = append(all, b...)
		require.NoError(t, p1.Process(ctx, &event.Batch{Visits: b}))
	}

	// Publish some sites, retract one of them later.
	fan := sites.NewFanout(sites.FanoutConfig{Wave: 7}, st, st, nil, nil, nil, now)
	var published []sites.Site
	for i, s := range ss {
		if i == 4 {
			continue // stays a draft: alerts nobody
		}
		p, err := st.Approve(ctx, s.ID, "approver", now())
		require.NoError(t, err)
		published = append(published, p)
	}
	require.NoError(t, m1.Refresh(ctx))
	require.NoError(t, m2.Refresh(ctx))
	for _, s := range published {
		_, err := fan.Sweep(ctx, s)
		require.NoError(t, err)
	}

	// Late check-ins: fresh users, each user's records in one batch; early
	// batches replayed; replica 1 killed mid-batch, its batch retried on
	// replica 2, then replica 1 restarted with a fresh copy.
	for i := range 10 {
		var b []event.Visit
		for range 15 {
			user := uint32(1000 + i*100 + g.r.IntN(100))
			b = append(b, g.stay(user, uint32(1+g.r.IntN(g.venues)), t0-3600, edges)...)
		}
		all = append(all, b...)
		switch i {
		case 3:
			fl.fail = true
			require.ErrorIs(t, p1.Process(ctx, &event.Batch{Visits: b}), errKilled)
			require.NoError(t, p2.Process(ctx, &event.Batch{Visits: b}))
			fl.fail = false
			p1, m1 = replica(fl)
			require.NoError(t, m1.Refresh(ctx))
			require.NoError(t, p1.Process(ctx, &event.Batch{Visits: b}), "the restarted replica replays it")
		case 5:
			require.NoError(t, p2.Process(ctx, &event.Batch{Visits: early[g.r.IntN(len(early))]}))
			fallthrough
		default:
			p := p1
			if i%2 == 1 {
				p = p2
			}
			require.NoError(t, p.Process(ctx, &event.Batch{Visits: b}))
			require.NoError(t, p.Process(ctx, &event.Batch{Visits: b}), "replayed")
		}
	}
	for _, s := range published { // a sweep again (Grace) changes nothing
		_, err := fan.Sweep(ctx, s)
		require.NoError(t, err)
	}

	want := reference(all, layout.DwellSeconds, published)
	got := map[string][2]int64{}
	stored, err := st.After(ctx, 0, 1<<20)
	require.NoError(t, err)
	for _, a := range stored {
		require.Equal(t, sites.TypeExposure, a.Type)
		require.NotContains(t, got, a.ID, "each (site, user) once")
		require.Equal(t, sites.AlertID(a.Type, a.SiteID, a.UserID), a.ID)
		got[a.ID] = [2]int64{a.OverlapFrom.Unix(), a.OverlapTo.Unix()}
	}
	require.NotEmpty(t, want)
	require.Equal(t, want, got)
	lateAlerts := 0
	for _, a := range stored {
		if a.UserID >= 1000 {
			lateAlerts++
		}
	}
	require.Positive(t, lateAlerts, "late check-ins raised alerts")

	// Retraction: one retraction per alerted user, however often swept.
	r, err := st.Retract(ctx, published[0].ID, "approver", "nhầm địa điểm", now())
	require.NoError(t, err)
	for range 2 {
		_, err = fan.Sweep(ctx, r)
		require.NoError(t, err)
	}
	require.NoError(t, m1.Refresh(ctx))
	exp, err := st.Of(ctx, r.ID, sites.TypeExposure)
	require.NoError(t, err)
	ret, err := st.Of(ctx, r.ID, sites.TypeRetraction)
	require.NoError(t, err)
	require.Len(t, ret, len(exp))
	for i := range ret {
		require.Equal(t, exp[i].UserID, ret[i].UserID)
		require.Equal(t, sites.AlertID(sites.TypeRetraction, r.ID, exp[i].UserID), ret[i].ID)
	}
	// A late stay at a retracted site alerts nobody.
	late := event.Visit{VisitID: "late-retracted", UserID: 9999, VenueID: r.VenueID, Enter: r.From.Unix(), Exit: r.To.Unix()}
	require.NoError(t, p1.Process(ctx, &event.Batch{Visits: []event.Visit{late}}))
	exp2, err := st.Of(ctx, r.ID, sites.TypeExposure)
	require.NoError(t, err)
	require.Len(t, exp2, len(exp))
}
