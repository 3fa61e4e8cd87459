package synth

import (
	"fmt"

	"github.com/truyvet/truyvet/schemas/event"
)

// Health declarations (Config.Declarations), derived from the records as
// they stream out, so they too are deterministic and in upload order:
//
//   - A stay at an airport is an arrival by air: half are entrants from
//     abroad, who file a VHD entry declaration with their flight, the other
//     half domestic passengers. Everyone arriving at one airport in one hour
//     was on one flight (VNnnn), of two (domestic) or five hours (abroad).
//   - A third of the stays at a bus station start a coach trip of three
//     hours, leaving on the next half hour, on the station's coach of that
//     departure (a plate like 79B-01234): a domestic declaration.
//   - On a tenth of days a household's first member declares for the whole
//     household on NCOVI, when they first go out: one voluntary declaration
//     per member, filed by them. People who later become cases (LaterCase)
//     declare fever and cough with an onset the day before; about one other
//     person in twelve declares a cough or a sore throat.
//
// Declaration ids derive from what they are about (the stay, the household
// and day), so the check-in and check-out of one stay, or a resend, give the
// same declaration again, which stores count once.

// LaterCase reports whether person id is one of those who later become
// cases: they declare symptoms before they are confirmed.
func (c *City) LaterCase(id uint32) bool { return mix(c.seed^0x6c61746572^uint64(id))%300 == 0 }

// declarer derives declarations from a city's batches.
type declarer struct {
	c    *City
	seen map[uint64]struct{} // household<<16 | day: declared already
	day  int
}

func newDeclarer(c *City) *declarer { return &declarer{c: c, seen: map[uint64]struct{}{}} }

// of returns the declarations b's visits give.
func (dr *declarer) of(b *event.Batch) []event.Declaration {
	c := dr.c
	var out []event.Declaration
	limit := c.base + int64(c.lim)
	for k := range b.Visits {
		v := &b.Visits[k]
		if v.UserID == 0 || int(v.UserID) > len(c.people) || v.VenueID == 0 || int(v.VenueID) > len(c.venues) {
			continue
		}
		i := c.inv[v.UserID-1]
		p := &c.people[i]
		prov := c.provs[c.provinceOf(c.hhWard[p.hh])].info.code
		h := mix(c.seed ^ uint64(v.UserID)<<32 ^ uint64(v.Enter))
		switch c.venues[v.VenueID-1].kind {
		case kAirport:
			arrive := v.Enter - v.Enter%3600
			flight := 100 + mix(uint64(v.VenueID)<<32|uint64(arrive))%900
			d := event.Declaration{DeclarationID: "vhd-" + v.VisitID, UserID: v.UserID, SubjectID: v.UserID, Kind: event.DeclDomestic,
				DeclaredAt: arrive, Province: prov, Source: "vhd", HasTravel: true}
			_, port := c.Venue(v.VenueID)
			d.Travel = event.Travel{Vehicle: fmt.Sprintf("VN%d", flight), Depart: arrive - 2*3600, Arrive: arrive, PortOfEntry: truncateBytes(port, event.MaxPortBytes)}
			if flight%2 == 0 {
				d.Kind = event.DeclEntry
				d.Travel.Depart = arrive - 5*3600
				d.Travel.OriginCountry = origins[flight/2%uint64(len(origins))]
				d.ContactWithCase, d.VisitedOutbreakArea = event.AnswerNo, event.AnswerNo
			}
			out = append(out, d)
		case kBusStation:
			if h%3 != 0 {
				continue
			}
			depart := v.Enter - v.Enter%1800 + 1800
			arrive := depart + 3*3600
			if arrive > limit {
				continue
			}
			plate := fmt.Sprintf("%sB-%05d", prov, mix(uint64(v.VenueID)<<32|uint64(depart))%100000)
			out = append(out, event.Declaration{DeclarationID: "nc-trip-" + v.VisitID, UserID: v.UserID, SubjectID: v.UserID,
				Kind: event.DeclDomestic, DeclaredAt: v.Enter, Province: prov, Source: "ncovi", HasTravel: true,
				Travel: event.Travel{Vehicle: plate, Depart: depart, Arrive: arrive}})
		default:
			if c.hh[p.hh] != i {
				continue // the household's first member declares for it
			}
			day := int((v.Enter - c.base) / 86400)
			key := uint64(p.hh)<<16 | uint64(day)
			if _, done := dr.seen[key]; done || mix(c.seed^key^0x6e636f7669)%10 != 0 {
				continue
			}
			dr.seen[key] = struct{}{}
			dr.prune(day)
			out = dr.family(out, v, p.hh, day, prov)
		}
	}
	return out
}

// family appends the declarations a household's first member files for
// each member on day.
func (dr *declarer) family(out []event.Declaration, v *event.Visit, hh uint32, day int, prov string) []event.Declaration {
	c := dr.c
	midnight := v.Enter - (v.Enter+7*3600)%86400
	for j := c.hh[hh]; j < c.hh[hh+1]; j++ {
		subject := c.ids[j]
		d := event.Declaration{DeclarationID: fmt.Sprintf("nc-%d-%d-%d", hh, day, subject), UserID: v.UserID, SubjectID: subject,
			Kind: event.DeclVoluntary, DeclaredAt: v.Enter, Province: prov, Source: "ncovi"}
		switch {
		case c.LaterCase(subject):
			d.Symptoms, d.Onset = symptom("fever")|symptom("cough"), midnight-86400
		case mix(c.seed^uint64(subject)<<20^uint64(day))%12 == 0:
			d.Symptoms, d.Onset = symptom("cough")|symptom("sore_throat"), midnight
		}
		out = append(out, d)
	}
	return out
}

// prune forgets households' declarations two days back once day moves on.
func (dr *declarer) prune(day int) {
	if day <= dr.day {
		return
	}
	dr.day = day
	for k := range dr.seen {
		if int(k&0xffff) < day-1 {
			delete(dr.seen, k)
		}
	}
}

func symptom(name string) event.Symptoms {
	s, ok := event.ParseSymptom(name)
	if !ok {
		panic("BUG: unknown symptom " + name)
	}
	return s
}

// origins are the countries entrants come from.
var origins = []string{"KR", "JP", "US", "SG", "TW", "CN", "TH", "AU", "DE", "FR"}

// truncateBytes cuts s to at most n bytes, on a character boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
