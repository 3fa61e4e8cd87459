package synth

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas/event"
)

// country is a small country of ten provinces over two ordinary days.
func country() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days, c.Provinces = 60_000, 1_500, 2, 10
	return c
}

// holiday is a small country of eight provinces over the fourteen days of
// Tết, everyone scanning QR codes so that trips show in the records.
func holiday() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days, c.Provinces = 30_000, 800, 14, 8
	c.Scenario, c.TravelRate, c.Adoption = ScenarioTet, 0.2, 1
	c.End = time.Date(2021, 2, 19, 12, 0, 0, 0, ict) // Tết fell on Friday 12 February 2021
	return c
}

// checkUploads checks what TestRecordsValidAndOrdered checks of every
// record: valid at End, inside the span, uploaded in order and after it
// happened.
func checkUploads(t *testing.T, c *City, ups []upload) {
	t.Helper()
	cfg := c.Config()
	lim := event.DefaultLimits()
	from, to := c.Span()
	var prev time.Time
	for _, u := range ups {
		if u.at.Before(prev) || u.at.Unix() >= to.Unix() || u.b.Len() == 0 || u.b.Len() > cfg.BatchSize {
			t.Fatalf("batch of %d at %v after %v", u.b.Len(), u.at, prev)
		}
		prev = u.at
		for i := range u.b.Visits {
			v := &u.b.Visits[i]
			if err := lim.ValidateVisit(v, cfg.End); err != nil || v.Enter < from.Unix() || visitTime(v) > u.at.Unix() {
				t.Fatalf("%+v uploaded at %v: %v", v, u.at, err)
			}
		}
		for i := range u.b.Encounters {
			e := &u.b.Encounters[i]
			if err := lim.ValidateEncounter(e, cfg.End); err != nil || e.Start < from.Unix() || e.End() > u.at.Unix() {
				t.Fatalf("%+v uploaded at %v: %v", e, u.at, err)
			}
		}
	}
}

func TestCountry(t *testing.T) {
	cfg := country()
	c, ups := collect(t, cfg)
	checkUploads(t, c, ups)
	provs := c.Provinces()
	require.Len(t, provs, 10)
	require.Equal(t, "TP. Ho Chi Minh", provs[0])
	require.Equal(t, "Ha Noi", provs[1])

	// Heavy-tailed sizes: the two big cities hold a third of the country.
	people := map[string]int{}
	for id := uint32(1); id <= uint32(cfg.People); id++ {
		p, ok := c.Person(id)
		require.True(t, ok)
		people[p.Province]++
		if p.Work != 0 {
			prov, _ := c.Place(p.Work)
			require.Equal(t, p.Province, prov, "person %d works in another province", id)
		}
	}
	require.Len(t, people, 10)
	require.Greater(t, people[provs[0]]+people[provs[1]], cfg.People/3)
	require.Greater(t, people[provs[0]], 2*people[provs[9]])

	// Every province has the venues its people need; names are unique,
	// ASCII and end with the district and province.
	type provKind struct{ prov, kind string }
	kinds := map[provKind]int{}
	names := map[string]bool{}
	for id := uint32(1); id <= uint32(cfg.Venues); id++ {
		kind, name := c.Venue(id)
		prov, district := c.Place(id)
		require.NotEmpty(t, district)
		kinds[provKind{prov, kind}]++
		require.False(t, names[name], "duplicate name %q", name)
		names[name] = true
		for _, r := range name {
			require.Less(t, r, rune(128), name)
		}
		switch {
		case kind != KindAirport && kind != KindBusStation:
			require.True(t, strings.HasSuffix(name, ", "+district+", "+prov), name)
		case strings.HasPrefix(name, "Ben xe phia"), strings.HasPrefix(name, "Ben xe Trung tam"):
			require.True(t, strings.HasSuffix(name, " "+prov), name)
		default:
			require.True(t, strings.HasSuffix(name, ", "+prov), name)
		}
	}
	for _, prov := range provs {
		for _, k := range []string{KindSchool, KindOffice, KindFactory, KindMarket, KindHospital, KindBusStation, KindRestaurant} {
			require.Positive(t, kinds[provKind{prov, k}], "%s has no %s", prov, k)
		}
	}
	airports := 0
	for k, n := range kinds {
		if k.kind == KindAirport {
			require.Equal(t, 1, n, k.prov)
			airports++
		}
	}
	require.Equal(t, 6, airports) // Tan Son Nhat, Noi Bai, Tho Xuan, Vinh, Cat Bi, Buon Ma Thuot
	require.Equal(t, 1, kinds[provKind{"Ha Noi", KindAirport}])
	require.Zero(t, kinds[provKind{"Dong Nai", KindAirport}])

	// On ordinary days everyday life stays in the province.
	for _, u := range ups {
		for _, v := range u.b.Visits {
			p, _ := c.Person(v.UserID)
			prov, _ := c.Place(v.VenueID)
			require.Equal(t, p.Province, prov, "%+v", v)
		}
	}
}

// A single city is a province named after Ho Chi Minh City.
func TestCityPlace(t *testing.T) {
	c, err := New(small())
	require.NoError(t, err)
	require.Equal(t, []string{"TP. Ho Chi Minh"}, c.Provinces())
	prov, district := c.Place(1)
	require.Equal(t, "TP. Ho Chi Minh", prov)
	require.Equal(t, "Quan 1", district)
	prov, district = c.Place(0)
	require.Empty(t, prov+district)
	p, _ := c.Person(1)
	require.Equal(t, "TP. Ho Chi Minh", p.Province)
}

// dayStats counts, per simulated day, check-ins by venue kind and distinct
// people checking in outside their province.
type dayStats struct {
	kinds   []map[string]int
	away    []map[uint32]bool
	hubStay []int // check-outs at hubs whose stay lasted 30 to 125 minutes
	hubOut  []int // all check-outs at hubs
}

func holidayStats(c *City, ups []upload) dayStats {
	cfg := c.Config()
	from, _ := c.Span()
	s := dayStats{kinds: make([]map[string]int, cfg.Days), away: make([]map[uint32]bool, cfg.Days),
		hubStay: make([]int, cfg.Days), hubOut: make([]int, cfg.Days)}
	for d := range cfg.Days {
		s.kinds[d], s.away[d] = map[string]int{}, map[uint32]bool{}
	}
	for _, u := range ups {
		for _, v := range u.b.Visits {
			d := min(cfg.Days-1, int((v.Enter-from.Unix())/86400))
			kind, _ := c.Venue(v.VenueID)
			hub := kind == KindBusStation || kind == KindAirport
			if v.HasExit() {
				if hub {
					s.hubOut[d]++
					if m := (v.Exit - v.Enter) / 60; m >= 30 && m <= 125 {
						s.hubStay[d]++
					}
				}
				continue
			}
			s.kinds[d][kind]++
			p, _ := c.Person(v.UserID)
			if prov, _ := c.Place(v.VenueID); prov != p.Province {
				s.away[d][v.UserID] = true
			}
		}
	}
	return s
}

func TestHolidayTet(t *testing.T) {
	cfg := holiday()
	c, ups := collect(t, cfg)
	checkUploads(t, c, ups)
	s := holidayStats(c, ups)
	for d := range cfg.Days {
		k := s.kinds[d]
		t.Logf("T%+d: school %d office %d factory %d market %d pagoda %d hubs %d, away %d", d-7,
			k[KindSchool], k[KindOffice], k[KindFactory], k[KindMarket], k[KindPagoda], k[KindBusStation]+k[KindAirport], len(s.away[d]))
	}
	const tet = 7 // the first day of the year, T
	first := s.kinds[0]
	for d := tet - 3; d <= tet+5; d++ {
		require.Zero(t, s.kinds[d][KindOffice], "offices on T%+d", d-tet)
		require.Less(t, s.kinds[d][KindSchool], first[KindSchool]/20, "classes on T%+d", d-tet)
		if d <= tet+3 {
			require.Less(t, s.kinds[d][KindFactory], first[KindFactory]/4, "factories on T%+d", d-tet)
		}
	}
	require.Greater(t, s.kinds[tet+6][KindOffice], first[KindOffice]/2, "back to work on T+6")
	// Markets fill up before Tết and close for it; pagodas are busiest on T.
	normal := s.kinds[tet+6]
	require.Greater(t, s.kinds[tet-2][KindMarket], normal[KindMarket]*3/2)
	require.Less(t, s.kinds[tet][KindMarket], normal[KindMarket]/2)
	require.Greater(t, s.kinds[tet][KindPagoda], 3*first[KindPagoda])

	// The surge: hubs are busiest on the days before Tết and after it, and
	// travellers spend the feast in other provinces.
	hubs := func(d int) int { return s.kinds[d][KindBusStation] + s.kinds[d][KindAirport] }
	require.Greater(t, hubs(tet-3), 4*hubs(tet))
	require.Greater(t, hubs(tet+4), 4*hubs(tet))
	bigCities := map[string]bool{"TP. Ho Chi Minh": true, "Ha Noi": true, "Dong Nai": true, "Binh Duong": true, "Hai Phong": true}
	origin := 0
	for id := uint32(1); id <= uint32(cfg.People); id++ {
		if p, _ := c.Person(id); bigCities[p.Province] {
			origin++
		}
	}
	travellers := map[uint32]bool{}
	for _, away := range s.away {
		for id := range away {
			p, _ := c.Person(id)
			require.True(t, bigCities[p.Province], "%s travels", p.Province)
			travellers[id] = true
		}
	}
	require.InDelta(t, cfg.TravelRate, float64(len(travellers))/float64(origin), 0.03, "share of the big provinces travelling")
	require.Greater(t, len(s.away[tet+1]), len(travellers)/2, "away for Tết")
	// Departures wait 30 to 120 minutes.
	require.Greater(t, s.hubStay[tet-3], s.hubOut[tet-3]/3)

	// Hubs are dense: on the peak departure day a hub takes several times
	// the check-ins of the average venue. (How they compare with markets
	// depends on scale: a province has at most four bus stations and one
	// airport, but markets in proportion to its size.)
	hubCount, total := 0, 0
	for id := uint32(1); id <= uint32(cfg.Venues); id++ {
		if kind, _ := c.Venue(id); kind == KindBusStation || kind == KindAirport {
			hubCount++
		}
	}
	for _, n := range s.kinds[tet-3] {
		total += n
	}
	perHub, perVenue := float64(hubs(tet-3))/float64(hubCount), float64(total)/float64(cfg.Venues)
	t.Logf("T-3: %.0f check-ins a hub, %.0f a venue", perHub, perVenue)
	require.Greater(t, perHub, 2*perVenue)
}

// In a single city a holiday empties the city: travellers leave through
// its bus stations and come back through them.
func TestHolidayCity(t *testing.T) {
	cfg := DefaultConfig()
	cfg.People, cfg.Venues, cfg.Days = 8000, 120, 6
	cfg.Scenario, cfg.TravelRate, cfg.Adoption = ScenarioReunification, 0.15, 1
	cfg.End = time.Date(2021, 5, 4, 12, 0, 0, 0, ict) // Wednesday 28 April to Monday 3 May
	c, ups := collect(t, cfg)
	checkUploads(t, c, ups)
	s := holidayStats(c, ups)
	for d := range cfg.Days {
		k := s.kinds[d]
		t.Logf("day %d: office %d school %d hubs %d pagoda %d", d, k[KindOffice], k[KindSchool], k[KindBusStation], k[KindPagoda])
		require.Empty(t, s.away[d])
	}
	// 28 and 29 April are working days; 30 April to 3 May are not.
	for d := 2; d < 6; d++ {
		require.Zero(t, s.kinds[d][KindOffice])
	}
	require.Greater(t, s.kinds[1][KindOffice], 500)
	require.Greater(t, s.kinds[1][KindBusStation], 5*s.kinds[3][KindBusStation]/2)
	require.Greater(t, s.kinds[5][KindBusStation], 5*s.kinds[3][KindBusStation]/2)
	_, err := New(cfg)
	require.NoError(t, err)
}

func TestPresets(t *testing.T) {
	for name, want := range map[string]Config{"demo": Demo(), "S": TierS(), "s": TierS(), "default": DefaultConfig(), "M": TierM(), "L/100": TierLSlice(100)} {
		got, err := Preset(name)
		require.NoError(t, err, name)
		require.Equal(t, want, got, name)
	}
	for _, name := range PresetNames() {
		_, err := Preset(name)
		require.NoError(t, err, name)
	}
	m := TierM()
	require.Equal(t, [4]int{10_000_000, 100_000, 14, 63}, [4]int{m.People, m.Venues, m.Days, m.Provinces})
	l := TierLSlice(100)
	require.Equal(t, [4]int{1_000_000, 10_000, 14, 63}, [4]int{l.People, l.Venues, l.Days, l.Provinces})
	require.Equal(t, ScenarioTet, l.Scenario)
	require.NoError(t, TierLSlice(5).Validate())
	require.NoError(t, TierLSlice(790).Validate())
	require.ErrorIs(t, TierLSlice(4).Validate(), ErrConfig)
	require.ErrorIs(t, TierLSlice(800).Validate(), ErrConfig)

	tet, err := Preset("S:tet")
	require.NoError(t, err)
	require.Equal(t, ScenarioTet, tet.Scenario)
	require.Equal(t, DefaultTravelRate, tet.TravelRate)
	ord, err := Preset("L/10:ordinary")
	require.NoError(t, err)
	require.Equal(t, ScenarioOrdinary, ord.Scenario)
	for _, bad := range []string{"", "XL", "L/", "L/x", "L/0", "L/2", "S:christmas"} {
		_, err := Preset(bad)
		require.ErrorIs(t, err, ErrConfig, bad)
	}
	for name, change := range map[string]func(*Config){
		"negative provinces": func(c *Config) { c.Provinces = -1 },
		"64 provinces":       func(c *Config) { c.Provinces = 64 },
		"small provinces":    func(c *Config) { c.Provinces = 10 }, // 60 venues
		"unknown scenario":   func(c *Config) { c.Scenario = "christmas" },
		"travel > 1":         func(c *Config) { c.TravelRate = 1.5 },
	} {
		cfg := small()
		change(&cfg)
		require.ErrorIs(t, cfg.Validate(), ErrConfig, name)
	}
}

// Holidays cut short and ending at midnight stay valid and deterministic,
// with travellers already away when the data starts.
func TestHolidayEdges(t *testing.T) {
	for _, cfg := range []Config{
		{People: 5000, Venues: 200, Days: 3, Provinces: 4, Scenario: ScenarioTet, TravelRate: 0.5,
			End: time.Date(2021, 2, 16, 0, 0, 0, 0, ict)},
		{People: 3000, Venues: 100, Days: 2, Provinces: 5, Scenario: ScenarioReunification, TravelRate: 1,
			End: time.Date(2021, 5, 2, 23, 59, 59, 0, ict)},
		{People: 2000, Venues: 60, Days: 20, Scenario: ScenarioTet, TravelRate: 0.3,
			End: time.Date(2021, 2, 19, 0, 1, 0, 0, ict)},
	} {
		d := DefaultConfig()
		cfg.Seed, cfg.Adoption, cfg.CheckoutRate, cfg.BluetoothRate, cfg.ResendRate, cfg.BatchSize =
			3, 1, d.CheckoutRate, d.BluetoothRate, 0.05, 500
		c, a := collect(t, cfg)
		checkUploads(t, c, a)
		_, b := collect(t, cfg)
		require.Equal(t, a, b)
		s := holidayStats(c, a)
		away := 0
		for _, m := range s.away {
			away += len(m)
		}
		if cfg.Provinces > 1 {
			require.Positive(t, away, "%+v", cfg)
		}
		atStart := 0
		for i := range c.people {
			if c.awayAtStart(uint32(i)) {
				atStart++
			}
		}
		require.Positive(t, atStart)
		p, ok := c.Person(c.BusyPerson())
		require.True(t, ok)
		require.Equal(t, Worker, p.Role)
	}
}

// goldenHoliday pins the output of a small country over the 14 days of
// Tết, as goldenSmall does for a city.
const goldenHoliday = "52cd0404f9d20c1091e96de328d977a1af542b647aae147858e60dbf9590692d"

func TestGoldenHoliday(t *testing.T) {
	cfg := small()
	cfg.People, cfg.Venues, cfg.Days, cfg.Provinces = 4000, 120, 14, 3
	cfg.Scenario, cfg.TravelRate = ScenarioTet, DefaultTravelRate
	cfg.End = time.Date(2021, 2, 19, 12, 0, 0, 0, ict)
	_, ups := collect(t, cfg)
	require.Equal(t, goldenHoliday, outputHash(ups))
}
