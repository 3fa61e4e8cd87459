// Package synth generates a synthetic Vietnamese city's QR check-ins and
// Bluetooth encounters: seeded, deterministic (the same Config always yields
// byte-identical records in the same order), and streamed in upload order with
// memory bounded by one day of activity.
//
// # Parameters
//
// A Config names the seed, the population (People, ids 1..People), the QR
// venues (Venues, ids 1..Venues), the number of local days (Days, 1..27), the
// instant the data ends (End), and four behaviour rates: Adoption (share of
// people who scan QR codes), BluetoothRate (share running Bluezone),
// CheckoutRate (share of stays that also send a check-out) and ResendRate
// (share of records an app backend sends twice). BatchSize caps a batch.
// Start from DefaultConfig, TierS or Demo and change what you need.
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
// travel: they leave through a bus station and come back through one a few
// days later. People keep habits: a household shops at the same market, a
// worker lunches at the same few places near work.
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
// Encounters happen only between Bluetooth users: household members at home
// in the evening and night (1–10 h, RSSI about −40 to −60 dBm), colleagues and
// classmates who work near each other (each person has 2–6 such peers at
// their workplace or school; 10–90 minutes, RSSI −55 to −75), and brief
// crossings between strangers at markets, supermarkets, hospitals and bus
// stations (2–10 minutes, RSSI −70 to −90). Both phones report a meeting, each
// with its own encounter_id ("e-" and 16 hex digits) and a few seconds of
// jitter in start and duration; for about 8% of meetings only one phone
// reports it. Records of a few percent of encounters carry no RSSI.
//
// Tier S (one weekday) yields about 1.8 M check-ins (1.8 per person; 3.0 M
// visit records with the check-outs, combined records and resends) and 2.1 M
// encounter records (3.5 per Bluetooth user) in about 3 seconds on one core,
// with a live heap under 200 MB. Weekends are quieter.
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

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("synth: invalid config")

// Validate reports whether c describes a city New can build.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
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
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"Adoption", c.Adoption}, {"CheckoutRate", c.CheckoutRate},
		{"BluetoothRate", c.BluetoothRate}, {"ResendRate", c.ResendRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return bad("%s %v is outside [0, 1]", r.name, r.v)
		}
	}
	return nil
}
