package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas/event"
)

type upload struct {
	at time.Time
	b  event.Batch
}

func collect(t testing.TB, cfg Config) (*City, []upload) {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	var out []upload
	for at, b := range c.Uploads() {
		out = append(out, upload{at, b})
	}
	return c, out
}

// small is quick: a ward over two days.
func small() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days = 3000, 60, 2
	return c
}

// mid is the mid-size city of the count checks: three weekdays
// (Monday 26 to Wednesday 28 April 2021).
func mid() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days = 20_000, 300, 3
	return c
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), TierS(), Demo(), small(), mid()} {
		require.NoError(t, cfg.Validate())
	}
	for name, change := range map[string]func(*Config){
		"no people":       func(c *Config) { c.People = 0 },
		"too many people": func(c *Config) { c.People = MaxPeople + 1 },
		"few venues":      func(c *Config) { c.Venues = MinVenues - 1 },
		"no days":         func(c *Config) { c.Days = 0 },
		"28 days":         func(c *Config) { c.Days = 28 },
		"no end":          func(c *Config) { c.End = time.Time{} },
		"adoption > 1":    func(c *Config) { c.Adoption = 1.5 },
		"checkout < 0":    func(c *Config) { c.CheckoutRate = -0.1 },
		"bluetooth NaN":   func(c *Config) { c.BluetoothRate = math.NaN() },
		"resend > 1":      func(c *Config) { c.ResendRate = 2 },
		"no batch":        func(c *Config) { c.BatchSize = 0 },
	} {
		cfg := small()
		change(&cfg)
		err := cfg.Validate()
		require.ErrorIs(t, err, ErrConfig, name)
		_, err = New(cfg)
		require.ErrorIs(t, err, ErrConfig, name)
	}
}

func TestDeterministic(t *testing.T) {
	cfg := small()
	_, a := collect(t, cfg)
	_, b := collect(t, cfg)
	require.NotEmpty(t, a)
	require.Equal(t, a, b)

	// A City can be iterated again, and stopped early.
	c, err := New(cfg)
	require.NoError(t, err)
	n := 0
	for range c.Batches() {
		if n++; n == 3 {
			break
		}
	}
	i := 0
	for bt := range c.Batches() {
		require.Equal(t, a[i].b, bt)
		i++
	}
	require.Equal(t, len(a), i)

	cfg.Seed++
	_, other := collect(t, cfg)
	require.NotEqual(t, a[len(a)/2].b, other[len(other)/2].b)
}

// goldenSmall pins the output of small(): the generator's model is part of
// what benchmarks compare, so a change to it must be deliberate. If you
// change the model on purpose, update the hash (and say so in the commit).
//
// Last changed with the contact calibration (CALIBRATION.md): peers at work
// and school are neighbours among everyone there, not only among Bluezone
// users, with more of them; table companions at cafés and restaurants;
// passing at pagodas and churches.
const goldenSmall = "8fc684022ffab2c19401fd947ac9e7a304488b9590c4e9e109827cc678c6ea13"

func TestGolden(t *testing.T) {
	_, ups := collect(t, small())
	require.Equal(t, goldenSmall, outputHash(ups))
}

// outputHash is a SHA-256 of every upload, in order.
func outputHash(ups []upload) string {
	h := sha256.New()
	for _, u := range ups {
		fmt.Fprintf(h, "batch %d\n", u.at.Unix())
		for _, v := range u.b.Visits {
			fmt.Fprintf(h, "v %s %d %d %d %d %s\n", v.VisitID, v.UserID, v.VenueID, v.Enter, v.Exit, v.Source)
		}
		for _, e := range u.b.Encounters {
			fmt.Fprintf(h, "e %s %d %d %d %d %d %t %s\n", e.EncounterID, e.UserID, e.PeerID, e.Start, e.DurationS, e.RSSI, e.HasRSSI, e.Source)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// visitTime is the time a record can be uploaded at the earliest.
func visitTime(v *event.Visit) int64 {
	if v.HasExit() {
		return v.Exit
	}
	return v.Enter
}

func TestRecordsValidAndOrdered(t *testing.T) {
	for _, cfg := range []Config{mid(), Demo()} {
		c, ups := collect(t, cfg)
		lim := event.DefaultLimits()
		from, to := c.Span()
		require.Equal(t, cfg.End.Add(-time.Minute).Unix(), to.Unix())
		require.Equal(t, 0, from.In(ict).Hour())
		bluetooth := make([]bool, cfg.People+1)
		for id := range uint32(cfg.People) {
			p, ok := c.Person(id + 1)
			require.True(t, ok)
			bluetooth[id+1] = p.Bluetooth
		}
		users := make([]bool, cfg.People+1)
		venues := make([]bool, cfg.Venues+1)
		var prev time.Time
		// Plain ifs in the loops: require is slow over 10^5 records.
		for _, u := range ups {
			if u.at.Before(prev) {
				t.Fatalf("batch at %v after one at %v", u.at, prev)
			}
			if u.at.Unix() >= to.Unix() {
				t.Fatalf("batch at %v, after the span", u.at)
			}
			prev = u.at
			if u.b.Len() == 0 || u.b.Len() > cfg.BatchSize {
				t.Fatalf("batch of %d records", u.b.Len())
			}
			for i := range u.b.Visits {
				v := &u.b.Visits[i]
				if lim.ValidateVisit(v, cfg.End) != nil {
					t.Fatalf("%+v: %v", v, lim.ValidateVisit(v, cfg.End))
				}
				if v.UserID > uint32(cfg.People) || v.VenueID > uint32(cfg.Venues) {
					t.Fatalf("%+v: ids out of range", v)
				}
				if v.Enter < from.Unix() || visitTime(v) >= to.Unix() {
					t.Fatalf("%+v: outside the span", v)
				}
				if !(visitTime(v) <= u.at.Unix()) {
					t.Fatalf("%+v: uploaded at %v, before it happened", v, u.at)
				}
				if !(strings.HasPrefix(v.VisitID, "v-") && len(v.VisitID) == 18) {
					t.Fatalf("visit_id %q", v.VisitID)
				}
				if !(v.Source == "ncovi" || v.Source == "tokhaiyte" || v.Source == "bluezone") {
					t.Fatalf("source %q", v.Source)
				}
				users[v.UserID], venues[v.VenueID] = true, true
			}
			for i := range u.b.Encounters {
				e := &u.b.Encounters[i]
				if !(lim.ValidateEncounter(e, cfg.End) == nil) {
					t.Fatalf("%+v: %v", e, lim.ValidateEncounter(e, cfg.End))
				}
				if !(e.UserID <= uint32(cfg.People) && e.PeerID <= uint32(cfg.People)) {
					t.Fatalf("%+v: ids out of range", e)
				}
				if !(e.Start >= from.Unix() && e.End() < to.Unix()) {
					t.Fatalf("%+v: outside the span", e)
				}
				if !(e.End() <= u.at.Unix()) {
					t.Fatalf("%+v: uploaded at %v, before it happened", e, u.at)
				}
				if !(strings.HasPrefix(e.EncounterID, "e-") && len(e.EncounterID) == 18) {
					t.Fatalf("encounter_id %q", e.EncounterID)
				}
				if !(e.Source == "bluezone") {
					t.Fatalf("source %q", e.Source)
				}
				if !(bluetooth[e.UserID] && bluetooth[e.PeerID]) {
					t.Fatalf("%+v: a non-Bluetooth user", e)
				}
				users[e.UserID], users[e.PeerID] = true, true
			}
		}
		// Dense ids: almost everybody and every venue shows up.
		seen := 0
		for _, ok := range users[1:] {
			if ok {
				seen++
			}
		}
		require.Greater(t, float64(seen), 0.85*float64(cfg.People))
		seen = 0
		for _, ok := range venues[1:] {
			if ok {
				seen++
			}
		}
		require.Greater(t, float64(seen), 0.9*float64(cfg.Venues))
	}
}

type stats struct {
	people, bluetooth, days int
	stays                   int // distinct visit_ids
	checkins, exits         int // records without and with an exit
	combined                int // stays whose only record carries enter and exit
	withCheckout            int // stays with a check-in and a check-out
	outBeforeIn             int // stays whose check-out came before their check-in
	records, resent         int
	encounters              int // encounter records, resends excluded
	meetings, bothPhones    int
	household, colleague    int // encounter records between household members, colleagues
	crossing                int // encounter records with RSSI below -78 dBm
}

func measure(t *testing.T, cfg Config) stats {
	c, ups := collect(t, cfg)
	s := stats{people: cfg.People, days: cfg.Days}
	for id := uint32(1); id <= uint32(cfg.People); id++ {
		if p, _ := c.Person(id); p.Bluetooth {
			s.bluetooth++
		}
	}
	type visitState struct {
		in, out   int // order of first check-in and check-out record, 1-based
		user, ven uint32
		enter     int64
	}
	visits := map[string]*visitState{}
	recs := map[string]bool{} // id and exit or side
	encs := map[string]event.Encounter{}
	n := 0
	for _, u := range ups {
		for _, v := range u.b.Visits {
			n++
			s.records++
			k := v.VisitID + "/" + time.Unix(v.Exit, 0).String()
			if recs[k] {
				s.resent++
				continue
			}
			recs[k] = true
			st := visits[v.VisitID]
			if st == nil {
				st = &visitState{user: v.UserID, ven: v.VenueID, enter: v.Enter}
				visits[v.VisitID] = st
			}
			require.Equal(t, st.user, v.UserID, "stay identity")
			require.Equal(t, st.ven, v.VenueID, "stay identity")
			require.Equal(t, st.enter, v.Enter, "stay identity")
			if v.HasExit() {
				s.exits++
				st.out = n
			} else {
				s.checkins++
				st.in = n
			}
		}
		for _, e := range u.b.Encounters {
			s.records++
			if _, dup := encs[e.EncounterID]; dup {
				require.Equal(t, encs[e.EncounterID], e, "a resent encounter differs")
				s.resent++
				continue
			}
			encs[e.EncounterID] = e
			s.encounters++
		}
	}
	for _, st := range visits {
		s.stays++
		switch {
		case st.in == 0:
			s.combined++
		case st.out != 0:
			s.withCheckout++
			if st.out < st.in {
				s.outBeforeIn++
			}
		}
	}

	// Pair each record with the other phone's record of the same meeting.
	type pairKey struct{ a, b uint32 }
	byPair := map[pairKey][]event.Encounter{}
	for _, e := range encs {
		require.NotEqual(t, e.UserID, e.PeerID)
		require.LessOrEqual(t, e.DurationS, uint32(24*3600))
		byPair[pairKey{e.UserID, e.PeerID}] = append(byPair[pairKey{e.UserID, e.PeerID}], e)
		p, _ := c.Person(e.UserID)
		q, _ := c.Person(e.PeerID)
		switch {
		case p.Household[0] == q.Household[0] && e.DurationS >= 3600-6 && p.Work != q.Work:
			s.household++
			if e.HasRSSI {
				require.GreaterOrEqual(t, e.RSSI, int8(-63))
			}
		case p.Household[0] == q.Household[0]:
			// Shorter, or siblings in one school, or a crossing at the market.
			require.True(t, p.Work == q.Work || (e.HasRSSI && e.RSSI <= -67) || !e.HasRSSI, "%+v", e)
		case p.Work != 0 && p.Work == q.Work && e.HasRSSI && e.RSSI > -79:
			s.colleague++
		}
		if e.HasRSSI && e.RSSI < -78 {
			s.crossing++
			require.LessOrEqual(t, e.DurationS, uint32(600+3))
		}
	}
	match := func(x, y event.Encounter) bool {
		return abs(x.Start-y.Start) <= 6 && abs(int64(x.DurationS)-int64(y.DurationS)) <= 6
	}
	for k, list := range byPair {
		others := byPair[pairKey{k.b, k.a}]
		for _, e := range list {
			matched := false
			for _, o := range others {
				if match(e, o) {
					matched = true
					break
				}
			}
			if !matched {
				s.meetings++ // reported by this phone only
			} else if k.a < k.b {
				s.meetings++
				s.bothPhones++
			}
		}
	}
	return s
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestCounts(t *testing.T) {
	cfg := mid()
	s := measure(t, cfg)
	pd := float64(s.people * s.days)
	t.Logf("%+v", s)

	// About two check-ins per person per (week)day.
	require.InDelta(t, 1.9, float64(s.stays)/pd, 0.25, "stays per person-day")
	// Check-outs: CheckoutRate of the stays that have a check-in.
	require.InDelta(t, cfg.CheckoutRate, float64(s.withCheckout)/float64(s.stays-s.combined), 0.02)
	require.InDelta(t, combinedRate, float64(s.combined)/float64(s.stays), 0.01)
	require.Positive(t, s.outBeforeIn, "no check-out arrived before its check-in")
	require.Less(t, float64(s.outBeforeIn)/float64(s.withCheckout), 0.02)
	require.InDelta(t, cfg.ResendRate, float64(s.resent)/float64(s.records-s.resent), 0.003)

	// Encounters: about 4.2 records per Bluetooth user per day, mostly both
	// phones reporting.
	require.InDelta(t, 4.2, float64(s.encounters)/float64(s.bluetooth*s.days), 0.7, "encounters per Bluetooth user-day")
	require.InDelta(t, 1-oneSidedRate, float64(s.bothPhones)/float64(s.meetings), 0.03, "meetings both phones report")
	require.Greater(t, s.household, s.encounters/5)
	require.Greater(t, s.colleague, s.encounters/5)
	require.Greater(t, s.crossing, s.encounters/50)
}

func TestCityShape(t *testing.T) {
	c, err := New(mid())
	require.NoError(t, err)

	sizes, members := map[int]int{}, 0
	roles := map[Role]int{}
	seen := map[uint32]bool{}
	for id := uint32(1); id <= uint32(c.cfg.People); id++ {
		p, ok := c.Person(id)
		require.True(t, ok)
		require.Equal(t, id, p.ID)
		require.Contains(t, p.Household, id)
		roles[p.Role]++
		if p.Role == Student || p.Role == Worker {
			require.NotZero(t, p.Work)
		}
		if p.Work != 0 {
			kind, _ := c.Venue(p.Work)
			if p.Role == Student {
				require.Equal(t, KindSchool, kind)
			}
		}
		if !seen[p.Household[0]] {
			for _, m := range p.Household {
				seen[m] = true
			}
			sizes[len(p.Household)]++
			members += len(p.Household)
		}
	}
	households := 0
	for size, n := range sizes {
		require.True(t, size >= 1 && size <= 6, "household of %d", size)
		households += n
	}
	require.Equal(t, c.cfg.People, members)
	require.InDelta(t, 3.5, float64(members)/float64(households), 0.2)
	for r, share := range map[Role]float64{Student: 0.28, Worker: 0.48, Elderly: 0.15, Homemaker: 0.09} {
		require.InDelta(t, share, float64(roles[r])/float64(c.cfg.People), 0.05, r.String())
	}
	_, ok := c.Person(0)
	require.False(t, ok)
	_, ok = c.Person(uint32(c.cfg.People + 1))
	require.False(t, ok)

	names := map[string]bool{}
	kinds := map[string]int{}
	for id := uint32(1); id <= uint32(c.cfg.Venues); id++ {
		kind, name := c.Venue(id)
		require.NotEmpty(t, name)
		require.False(t, names[name], "duplicate name %q", name)
		names[name] = true
		kinds[kind]++
		for _, r := range name {
			require.Less(t, r, rune(128), name)
		}
	}
	require.Len(t, kinds, len(kindNames)-1, "every kind but the airport, which only a country has")
	require.Zero(t, kinds[KindAirport])
	kind, name := c.Venue(0)
	require.Empty(t, kind+name)

	id := c.BusyPerson()
	p, ok := c.Person(id)
	require.True(t, ok)
	require.True(t, p.QR && p.Bluetooth)
	require.Equal(t, Worker, p.Role)
	kind, _ = c.Venue(p.Work)
	require.Equal(t, KindOffice, kind)
	require.GreaterOrEqual(t, len(p.Household), 3)
}

// TestWeek checks the weekly rhythm: schools and offices empty at the
// weekend, Mass on Sundays, and every day about as busy as its kind.
func TestWeek(t *testing.T) {
	cfg := DefaultConfig()
	cfg.People, cfg.Venues, cfg.Days = 5000, 100, 7 // Thursday 22 to Wednesday 28 April
	c, ups := collect(t, cfg)
	from, _ := c.Span()
	type dayKind struct {
		day  int
		kind string
	}
	visits := map[dayKind]int{}
	encounters := make([]int, cfg.Days)
	for _, u := range ups {
		for _, v := range u.b.Visits {
			if !v.HasExit() {
				kind, _ := c.Venue(v.VenueID)
				visits[dayKind{int((v.Enter - from.Unix()) / 86400), kind}]++
			}
		}
		for _, e := range u.b.Encounters {
			encounters[min(cfg.Days-1, int((e.Start-from.Unix())/86400))]++ // night shifts run past midnight
		}
	}
	for d := range cfg.Days {
		wd := from.AddDate(0, 0, d).Weekday()
		school, office, church := visits[dayKind{d, KindSchool}], visits[dayKind{d, KindOffice}], visits[dayKind{d, KindChurch}]
		market := visits[dayKind{d, KindMarket}]
		t.Logf("%v: school %d office %d church %d market %d encounters %d", wd, school, office, church, market, encounters[d])
		require.Positive(t, market)
		require.Positive(t, encounters[d])
		switch wd {
		case time.Saturday:
			require.Less(t, school, visits[dayKind{0, KindSchool}]/3)
			require.Zero(t, office)
			require.Zero(t, church)
		case time.Sunday:
			require.Less(t, school, visits[dayKind{0, KindSchool}]/10) // evening classes only
			require.Zero(t, office)
			require.Positive(t, church)
		default:
			require.Greater(t, school, 1000)
			require.Greater(t, office, 500)
			require.Zero(t, church)
		}
	}
}

// The End edge cases: at midnight (the night is cut one minute before it),
// and the longest window with End late in the day.
func TestEndEdges(t *testing.T) {
	for _, cfg := range []Config{
		{People: 500, Venues: 30, Days: 2, End: time.Date(2021, 7, 20, 0, 0, 0, 0, ict)},
		{People: 300, Venues: 20, Days: MaxDays, End: time.Date(2021, 7, 20, 23, 59, 59, 999, ict)},
		{People: 300, Venues: 20, Days: 1, End: time.Date(2021, 7, 20, 0, 1, 30, 0, time.UTC)},
	} {
		d := DefaultConfig()
		cfg.Seed, cfg.Adoption, cfg.CheckoutRate, cfg.BluetoothRate, cfg.ResendRate, cfg.BatchSize =
			7, d.Adoption, d.CheckoutRate, d.BluetoothRate, 0.05, 500
		lim := event.DefaultLimits()
		c, ups := collect(t, cfg)
		from, to := c.Span()
		require.Equal(t, from.Unix()+int64(cfg.Days)*86400, time.Date(cfg.End.In(ict).Year(), cfg.End.In(ict).Month(), cfg.End.In(ict).Day(), 0, 0, 0, 0, ict).Unix())
		n := 0
		for _, u := range ups {
			require.Less(t, u.at.Unix(), to.Unix())
			for i := range u.b.Visits {
				require.NoError(t, lim.ValidateVisit(&u.b.Visits[i], cfg.End))
				require.Less(t, visitTime(&u.b.Visits[i]), cfg.End.Unix()-60)
				n++
			}
			for i := range u.b.Encounters {
				require.NoError(t, lim.ValidateEncounter(&u.b.Encounters[i], cfg.End))
				require.Less(t, u.b.Encounters[i].End(), cfg.End.Unix()-60)
				n++
			}
		}
		require.Positive(t, n)
	}
}

// TestTierS generates the whole of tier S and checks its volumes. It takes a
// few seconds; set TRUYVET_SYNTH_TIER_S=1 to run it.
func TestTierS(t *testing.T) {
	if os.Getenv("TRUYVET_SYNTH_TIER_S") == "" {
		t.Skip("set TRUYVET_SYNTH_TIER_S=1 to generate tier S")
	}
	c, err := New(TierS())
	require.NoError(t, err)
	var checkins, visits, encounters int
	for b := range c.Batches() {
		visits += len(b.Visits)
		encounters += len(b.Encounters)
		for i := range b.Visits {
			if !b.Visits[i].HasExit() {
				checkins++
			}
		}
	}
	t.Logf("tier S: %d check-ins, %d visit records, %d encounter records", checkins, visits, encounters)
	require.InDelta(t, 1.9e6, float64(checkins), 0.3e6)
	require.InDelta(t, 2.5e6, float64(encounters), 0.3e6)
}
