// Package calibrate measures how many people each synthetic person meets a
// day, so the synthetic country can be compared with published social-contact
// surveys: POLYMOD (Mossong et al., "Social Contacts and Mixing Patterns
// Relevant to the Spread of Infectious Diseases", PLoS Medicine 5(3) e74,
// 2008: 97 904 contacts reported by 7 290 participants in eight European
// countries, 13.4 a day) and the Vietnamese diary survey of Horby et al.
// ("Social Contact Patterns in Vietnam and Implications for the Control of
// Infectious Diseases", PLoS ONE 6(2) e16965, 2011: 6 675 contacts by 865
// participants in Ha Nam province, 7.7 a day).
//
// A survey contact is a conversation or a touch, of any length. The closest
// things the synthetic records hold are Bluetooth encounters (phones within a
// couple of metres: household members, colleagues and classmates who sit
// near each other, strangers brushing past at markets and stations) — the
// Proximity column. Close reports DESIGN's venue contact instead: another
// person whose stay at the same venue overlapped by at least the threshold
// (15 minutes), which at an office or a school counts everyone in the
// building and so far exceeds what a diary records. Any is their union.
//
// Measure needs a city with full observability (everyone scans every stay and
// checks out, everyone runs Bluezone, nothing resent): Observable gives one.
package calibrate

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/schemas/event"
)

// Survey is a published mean number of contacts per person per day.
type Survey struct {
	Name         string
	Contacts     int
	Participants int
}

// Mean is contacts per participant per day.
func (s Survey) Mean() float64 { return float64(s.Contacts) / float64(s.Participants) }

// Surveys are the references the table compares with.
var Surveys = []Survey{
	{Name: "Horby et al. 2011, Vietnam (Ha Nam)", Contacts: 6_675, Participants: 865},
	{Name: "POLYMOD, Mossong et al. 2008 (8 European countries)", Contacts: 97_904, Participants: 7_290},
}

// Row is one group's mean distinct contacts per person per day.
type Row struct {
	Group     string
	People    int
	Proximity float64 // distinct people met by Bluetooth encounter
	Close     float64 // distinct people sharing a venue for at least the threshold
	Any       float64 // distinct people by either
}

// Observable returns cfg with every stay scanned and checked out, everyone on
// Bluezone and nothing resent, so the records show the whole model.
func Observable(cfg synth.Config) synth.Config {
	cfg.Adoption, cfg.CheckoutRate, cfg.BluetoothRate, cfg.ResendRate = 1, 1, 1, 0
	return cfg
}

// Measure counts, for every person and local day of city, the distinct others
// met through each channel (stays overlapping by at least minSeconds at one
// venue; encounters of any length), and averages them per person-day by
// role, with an "everyone" row first.
func Measure(city *synth.City, minSeconds int64) ([]Row, error) {
	cfg := city.Config()
	if minSeconds <= 0 {
		return nil, fmt.Errorf("calibrate: threshold %d s must be positive", minSeconds)
	}
	if cfg.People >= 1<<idBits {
		return nil, fmt.Errorf("calibrate: %d people is too many to count pairs (at most %d)", cfg.People, 1<<idBits-1)
	}
	var prox []uint64
	var visits []event.Visit
	for b := range city.Batches() {
		for _, e := range b.Encounters {
			if e.UserID != e.PeerID {
				prox = append(prox, pairKey(day(e.Start), e.UserID, e.PeerID))
			}
		}
		visits = append(visits, b.Visits...)
	}
	venue := overlapPairs(peers.CombineStays(visits), minSeconds)
	return aggregate(city, cfg.Days, dedupe(prox), dedupe(venue)), nil
}

const idBits = 24

// pairKey packs a local day and an unordered pair of people.
func pairKey(d int64, a, b uint32) uint64 {
	if a > b {
		a, b = b, a
	}
	return uint64(d)<<(2*idBits) | uint64(a)<<idBits | uint64(b)
}

func unpack(k uint64) (a, b uint32) {
	const mask = 1<<idBits - 1
	return uint32(k>>idBits) & mask, uint32(k) & mask
}

// day is the local day (Asia/Ho_Chi_Minh, UTC+7) of a Unix time.
func day(unix int64) int64 { return (unix + 7*3600) / 86400 }

// overlapPairs finds every pair of different people whose stays at one venue
// overlap by at least minSeconds, keyed by the local day the overlap starts.
func overlapPairs(stays []peers.Stay, minSeconds int64) []uint64 {
	slices.SortFunc(stays, func(a, b peers.Stay) int {
		return cmp.Or(cmp.Compare(a.Venue, b.Venue), cmp.Compare(a.Start, b.Start))
	})
	var out []uint64
	for i := range stays {
		s := &stays[i]
		for j := i + 1; j < len(stays) && stays[j].Venue == s.Venue && stays[j].Start < s.End; j++ {
			t := &stays[j]
			if t.User == s.User {
				continue
			}
			if min(s.End, t.End)-t.Start >= minSeconds {
				out = append(out, pairKey(day(t.Start), s.User, t.User))
			}
		}
	}
	return out
}

func dedupe(keys []uint64) []uint64 {
	slices.Sort(keys)
	return slices.Compact(keys)
}

// aggregate turns distinct (day, pair) keys into mean contacts per person-day
// by role.
func aggregate(city *synth.City, days int, prox, venue []uint64) []Row {
	people := city.Config().People
	count := func(keys []uint64) []int32 {
		n := make([]int32, people+1)
		for _, k := range keys {
			a, b := unpack(k)
			n[a]++
			n[b]++
		}
		return n
	}
	np, nv := count(prox), count(venue)
	// Either channel: a pair counts once per day.
	na := count(dedupe(append(slices.Clone(prox), venue...)))
	index := map[string]int{"everyone": 0}
	sums := []Row{{Group: "everyone"}}
	for id := 1; id <= people; id++ {
		p, ok := city.Person(uint32(id))
		if !ok {
			continue
		}
		role := p.Role.String()
		g, seen := index[role]
		if !seen {
			g = len(sums)
			index[role] = g
			sums = append(sums, Row{Group: role})
		}
		for _, r := range []*Row{&sums[0], &sums[g]} {
			r.People++
			r.Proximity += float64(np[id])
			r.Close += float64(nv[id])
			r.Any += float64(na[id])
		}
	}
	for i := range sums {
		pd := float64(max(1, sums[i].People*days))
		sums[i].Proximity /= pd
		sums[i].Close /= pd
		sums[i].Any /= pd
	}
	slices.SortStableFunc(sums[1:], func(a, b Row) int { return cmp.Compare(a.Group, b.Group) })
	return sums
}
