// Package synth generates a synthetic Vietnamese city, or a country of
// provinces, and its QR check-ins and Bluetooth encounters: seeded,
// deterministic (the same Config always yields byte-identical records in the
// same order), and streamed in upload order with memory bounded by one day
// of activity.
//
// # Parameters
//
// A Config names the seed, the population (People, ids 1..People), the QR
// venues (Venues, ids 1..Venues), the number of local days (Days, 1..27), the
// instant the data ends (End), and four behaviour rates: Adoption (share of
// people who scan QR codes), BluetoothRate (share running Bluezone),
// CheckoutRate (share of stays that also send a check-out) and ResendRate
// (share of records an app backend sends twice). BatchSize caps a batch.
// Provinces (0 or 1: one city) makes a country of that many provinces;
// Scenario picks ordinary days or a holiday, and TravelRate how many travel
// home for it. Start from DefaultConfig, TierS, TierM, TierLSlice or Demo
// (or Preset, which names them as a command line does) and change what you
// need.
//
// # Time
//
// Days are local days in Asia/Ho_Chi_Minh (UTC+7, no daylight saving). The
// simulated days are the Days whole local days before the local day that
// contains End: with End at 2021-04-29 12:00 +07 and Days 1, the city lives
// Wednesday 28 April. Activity that runs past the last midnight (night shifts,
// families at home overnight, late uploads) continues until one minute before
// End and is cut there: every record time and every upload time is earlier
// than End minus one minute, and every record passes
// event.DefaultLimits() with now = End. Set End to the server's clock (as
// `truyvet demo` and load tests do) so the data ends near now.
//
// # Model
//
// Households of 1–6 people (mean about 3.5) live in wards (one ward per about
// 200 venues). Their members are students (a school, mostly in the home ward),
// workers (an office, a large factory, or a service job at a school, market,
// supermarket, restaurant, café or hospital, with day, late or night shifts),
// elderly people and homemakers. Venues have lognormal, heavy-tailed
// popularity; a city has schools, offices, factories, markets (chợ),
// supermarkets, restaurants (quán ăn), cafés, hospitals and clinics, pagodas,
// churches and one to four bus stations (bến xe).
//
// With Provinces above 1 the population and venues are split among that many
// of Vietnam's 63 provinces, the largest first, in proportion to their
// census populations: Ho Chi Minh City and Hanoi hold about a sixth of the
// 63 provinces' people (more when fewer provinces are asked for), and most
// provinces are small. Each province has its wards, grouped twelve to a district, its bus
// stations and, where the real province has one, an airport (sân bay).
// Venue names end with their district and province (City.Place gives
// both); a city without provinces is one province, named after Ho Chi Minh
// City, with one district and no airport. Everyday life stays inside the
// province: home, school, work and errands, in the home ward when it has
// the venue, else in its district, else anywhere in the province.
//
// Every day each person follows a routine with jitter. On weekdays students
// attend school (full day with lunch at school, two sessions 7:00–11:30 and
// 13:30–16:30, or one session); office workers work about 8:00–17:00, many
// with lunch at a restaurant near work; factories run day and night shifts six
// days a week; service staff work shifts with one day off a week. Many eat
// breakfast out; evenings bring errands (market, supermarket, restaurant,
// café) near home, and extra classes for students; elderly
// people go to the morning market, the pagoda, a café or a clinic; homemakers
// go to the market and supermarket. Weekends bring family meals out, markets,
// cafés, pagoda visits and Sunday Mass for Catholic households. A few people
// travel: they leave through a bus station (or their province's airport) and
// come back through one a few days later. People keep habits: a household
// shops at the same market, a worker lunches at the same few places near
// work.
//
// Adoption and BluetoothRate apply to everyone alike and independently. A
// person who scans QR codes scans 97% of their stays; each scanned stay is
// sent as the apps do: a check-in
// at arrival, and for CheckoutRate of stays a check-out later with the same
// visit_id, user, venue and enter plus the exit. About 3% of scanned stays are
// sent as a single combined record instead, and about 1.5% of check-ins are
// synced late (20 minutes to 6 hours), so some arrive after their check-out.
// Each visit_id ("v-" and 16 hex digits) names one stay.
//
// Encounters are the model's face-to-face meetings, recorded when both
// people run Bluezone: household members at home in the evening and night
// (1–10 h, RSSI about −40 to −60 dBm); colleagues and classmates who work
// near each other (everyone has 2–4 peers on each side among the people of
// their workplace, 3–5 at school, and meets each on about half the days
// both are there; 10–90 minutes, RSSI −55 to −75); companions at cafés and
// restaurants (20–90 minutes, RSSI −50 to −70); and brief crossings
// between strangers at markets, supermarkets, hospitals, pagodas, churches,
// bus stations and airports (2–10 minutes, RSSI −70 to −90). Both phones
// report a meeting, each with its own encounter_id ("e-" and 16 hex digits)
// and a few seconds of jitter in start and duration; for about 8% of
// meetings only one phone reports it. Records of a few percent of
// encounters carry no RSSI. Calibrate measures the contacts this gives per
// person and day; CALIBRATION.md compares them with contact surveys.
//
// Tier S (one weekday) yields about 1.8 M check-ins (1.8 per person; 3.0 M
// visit records with the check-outs, combined records and resends) and 2.5 M
// encounter records (4.2 per Bluetooth user) in about 3.5 seconds on one
// core, with a peak resident set of about 400 MB. Weekends are quieter.
// Memory grows with People and Venues (tier M, 10 M people: about 3.7 GB).
//
// # Holidays
//
// Scenario ScenarioTet or ScenarioReunification makes the last simulated
// days a holiday, whatever their calendar dates (with fewer Days than the
// holiday has, its first days are cut): Tết is the 14 days from a week
// before the Lunar New Year to six days after it, Reunification Day the six
// days from 28 April to 3 May. Working days before the holiday follow the
// calendar's weekday; then schools and offices close, factories mostly
// close (first, so their workers can go home), markets and pagodas fill up
// before the feast, families eat out together, markets close for the
// feast while pagodas are busiest on its first morning and households
// visit relatives at home (Bluetooth encounters with the relatives there),
// and work resumes at the end.
//
// TravelRate of the households of the big provinces (Ho Chi Minh City, Hanoi,
// Hai Phong, Da Nang, Can Tho, Dong Nai, Binh Duong, Bac Ninh; a city
// without provinces counts as one) travel to a home province, chosen by
// population. Each household leaves together on a
// day before the feast (peaking three days before Tết), waits 30–120
// minutes at a bus station of its province, or at its airport when both
// provinces have one (about a third then fly), rides two to ten hours (a
// flight about one to two), and spends 15–45 minutes at a hub of the
// destination; it then stays with a household there, at its home (meeting
// its members), at its outings and at markets, cafés, restaurants and
// pagodas nearby, and returns the same way on a day after the feast. Hubs
// thus become dense places where strangers cross. Without provinces the
// travellers leave the city through its bus stations and are gone (no
// records) until they come back through them. Arrivals may run past
// midnight, to 5:00.
//
// # Order
//
// City.Uploads and City.Batches yield records in the order an app backend
// would upload them. Every record has an upload time no earlier than its own
// time (enter for a check-in, exit for a record with an exit, the end for an
// encounter); a batch holds records uploaded within one clock minute, at most
// BatchSize of them, sorted by upload time, and Uploads gives each batch the
// upload time of its last record. These times never decrease.
//
// # Determinism
//
// Each person's day draws from its own PCG stream, seeded from Seed, the day
// and the person, and the rest of the pass visits people, venues and
// households in a fixed order; nothing depends on maps, the clock or
// concurrency, and the arithmetic that decides the output avoids operations a
// compiler may fuse differently on other platforms. TestGolden pins a hash of
// a small city's output: a change to the model must update it on purpose.
package synth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config describes a synthetic city. Its zero value is not valid; start from
// DefaultConfig, TierS or Demo.
type Config struct {
	Seed          uint64    // everything random derives from it
	People        int       // population; user ids are 1..People
	Venues        int       // QR venues; venue ids are 1..Venues
	Days          int       // local days simulated, 1..27
	End           time.Time // records end before End minus one minute (see the package doc)
	Adoption      float64   // share of people who scan QR codes
	CheckoutRate  float64   // share of scanned stays that also send a check-out
	BluetoothRate float64   // share of people running Bluezone
	ResendRate    float64   // share of records sent twice
	BatchSize     int       // most records in one batch
	Provinces     int       // 0 or 1: one city; 2..MaxProvinces: a country of that many provinces
	Scenario      string    // ScenarioOrdinary, ScenarioReunification or ScenarioTet
	TravelRate    float64   // under a holiday scenario, share of households that travel home
	// Declarations adds health declarations to the batches (see
	// declarations.go): entrants' flights, coach trips, families'.
	Declarations bool
}

// DefaultEnd is the End of the predefined configurations: noon on Thursday
// 29 April 2021 in Ho Chi Minh City, so their last day is Wednesday 28 April.
var DefaultEnd = time.Date(2021, 4, 29, 12, 0, 0, 0, ict)

// Limits of Config.Validate.
const (
	MinPeople = 10
	MaxPeople = 20_000_000
	MinVenues = 20
	MaxVenues = 2_000_000
	MaxDays   = 27 // so the first day stays inside the 28-day retention window
)

// DefaultConfig returns a mid-size city (a district: 100 000 people, 1 000
// venues) over one week, with the default behaviour rates.
func DefaultConfig() Config {
	return Config{
		Seed:          1,
		People:        100_000,
		Venues:        1_000,
		Days:          7,
		End:           DefaultEnd,
		Adoption:      0.8,
		CheckoutRate:  0.6,
		BluetoothRate: 0.6,
		ResendRate:    0.01,
		BatchSize:     1000,
	}
}

// TierS returns DESIGN.md's tier S: a city of 1 M people and 10 k venues over
// one day (about 2 M check-ins and 2 M encounters).
func TierS() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days = 1_000_000, 10_000, 1
	return c
}

// Demo returns the small city `truyvet demo` loads: 4 000 people, 100 venues,
// two days. The demo sets End to the current time so the data ends near now.
func Demo() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days = 4_000, 100, 2
	return c
}

// TierM returns DESIGN.md's tier M: 10 M people and 100 k venues in the 63
// provinces over 14 ordinary days (about 18 M check-ins and 25 M encounter
// records a weekday, 55 M records in all with check-outs and resends; some
// 700 M records over the 14 days). Generating it takes a peak resident set
// of about 4 GB and about 50 seconds a simulated day on one core.
func TierM() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days, c.Provinces = 10_000_000, 100_000, 14, MaxProvinces
	return c
}

// TierLSlice returns a 1/k slice of DESIGN.md's tier L, the nation at a
// holiday peak: 100 M/k people and 1 M/k venues in the 63 provinces, over
// the 14 days around Tết with DefaultTravelRate. k runs from 5 (20 M people,
// about 8 GB of memory) to 790 (the provinces' minimum venues); L/100 (1 M
// people) takes about 600 MB and 35 seconds for its 14 days (17 M check-ins,
// 27 M encounter records). Each province keeps its share, so a slice is the
// country in miniature; at smaller k its hubs grow busier, as a province has
// at most four bus stations and one airport.
func TierLSlice(k int) Config {
	c := DefaultConfig()
	k = max(k, 1)
	c.People, c.Venues, c.Days = 100_000_000/k, 1_000_000/k, 14
	c.Provinces, c.Scenario, c.TravelRate = MaxProvinces, ScenarioTet, DefaultTravelRate
	return c
}

// Preset returns the configuration named name, as a command line takes it:
// "demo", "default", "S", "M" or "L/k" (a TierLSlice), in any case,
// optionally followed by ":tet", ":reunification" or ":ordinary" to set the
// scenario (a holiday sets TravelRate to DefaultTravelRate if it is 0). The
// configuration is validated.
func Preset(name string) (Config, error) {
	base, scenario, withScenario := strings.Cut(strings.ToLower(strings.TrimSpace(name)), ":")
	var c Config
	switch {
	case base == "demo":
		c = Demo()
	case base == "default":
		c = DefaultConfig()
	case base == "s":
		c = TierS()
	case base == "m":
		c = TierM()
	case strings.HasPrefix(base, "l/"):
		k, err := strconv.Atoi(base[2:])
		if err != nil || k < 1 {
			return c, fmt.Errorf("%w: preset %q: want L/k with a whole k", ErrConfig, name)
		}
		c = TierLSlice(k)
	default:
		return c, fmt.Errorf("%w: preset %q: want one of %s", ErrConfig, name, strings.Join(PresetNames(), ", "))
	}
	if withScenario {
		if scenario == "ordinary" {
			scenario = ScenarioOrdinary
		}
		c.Scenario = scenario
		if c.Scenario != ScenarioOrdinary && c.TravelRate == 0 {
			c.TravelRate = DefaultTravelRate
		}
	}
	return c, c.Validate()
}

// PresetNames lists names Preset takes, for help texts; any L/k with k from
// 5 to 790 works too, and any name takes a ":scenario" suffix.
func PresetNames() []string {
	return []string{"demo", "default", "S", "M", "L/100", "L/10", "S:tet", "M:reunification"}
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("synth: invalid config")

// Validate reports whether c describes a city New can build.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	n := max(1, c.Provinces)
	switch {
	case c.People < MinPeople || c.People > MaxPeople:
		return bad("People %d is outside [%d, %d]", c.People, MinPeople, MaxPeople)
	case c.Venues < MinVenues || c.Venues > MaxVenues:
		return bad("Venues %d is outside [%d, %d]", c.Venues, MinVenues, MaxVenues)
	case c.Days < 1 || c.Days > MaxDays:
		return bad("Days %d is outside [1, %d]", c.Days, MaxDays)
	case c.End.IsZero() || c.End.Unix() < 30*86400:
		return bad("End %v is not set", c.End)
	case c.BatchSize < 1:
		return bad("BatchSize %d is not positive", c.BatchSize)
	case c.Provinces < 0 || c.Provinces > MaxProvinces:
		return bad("Provinces %d is outside [0, %d]", c.Provinces, MaxProvinces)
	case c.People < n*minProvincePeople || c.Venues < n*minProvinceVenues:
		return bad("%d provinces need at least %d people and %d venues", n, n*minProvincePeople, n*minProvinceVenues)
	case c.Scenario != ScenarioOrdinary && scenarioDays[c.Scenario] == nil:
		return bad("Scenario %q is not %q, %q or %q", c.Scenario, ScenarioOrdinary, ScenarioReunification, ScenarioTet)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"Adoption", c.Adoption}, {"CheckoutRate", c.CheckoutRate},
		{"BluetoothRate", c.BluetoothRate}, {"ResendRate", c.ResendRate},
		{"TravelRate", c.TravelRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return bad("%s %v is outside [0, 1]", r.name, r.v)
		}
	}
	return nil
}
