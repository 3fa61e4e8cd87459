package synth

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// CloseContact is the co-presence a venue contact needs in Calibrate: the
// 15 minutes of DESIGN.md's default exposure threshold.
const CloseContact = 15 * time.Minute

// GroupCap caps, in the Capped column of Calibrate, the others a person is
// counted as meeting at one venue: about a class, a team or a few tables.
const GroupCap = 20

// Published mean numbers of contacts per participant per day, as the
// surveys' abstracts report them (contacts recorded / participants).
const (
	// Horby et al., "Social Contact Patterns in Vietnam and Implications
	// for the Control of Infectious Diseases", PLoS ONE 6(2) e16965, 2011:
	// 6 675 contacts from 865 participants, Ha Nam province, 2007.
	SurveyVietnam = 6675.0 / 865
	// Mossong et al., "Social Contacts and Mixing Patterns Relevant to the
	// Spread of Infectious Diseases", PLoS Medicine 5(3) e74, 2008
	// (POLYMOD): 97 904 contacts from 7 290 participants in eight
	// European countries.
	SurveyPOLYMOD = 97904.0 / 7290
)

// ContactRow is one group's mean number of distinct other people met per
// person per day.
type ContactRow struct {
	Group      string
	PersonDays int
	// Proximity counts people met by a Bluetooth encounter: the model's
	// face-to-face meetings (household, neighbouring colleagues and
	// classmates, crossings, visits).
	Proximity float64
	// Close counts people met by an encounter or present at the same venue
	// at the same time for at least CloseContact: DESIGN.md's contact.
	Close float64
	// Capped counts people met by an encounter or present at the same venue
	// at the same time for any length, at most GroupCap of them per venue.
	Capped float64
}

// ContactTable is what Calibrate measures: a row for everybody, one per
// role, and one each for weekdays and for weekend and holiday days.
type ContactTable struct {
	Config Config
	Rows   []ContactRow
}

// Calibrate builds the city of cfg with everybody running Bluezone (so every
// meeting the model implies is generated) and measures, for every person and
// simulated day, how many distinct others they met (see ContactRow). It
// reads the model's stays and meetings directly, so scanning, check-outs and
// uploads play no part; activity past the last midnight counts for the day
// it started on. Memory and time grow like one pass of Uploads.
func Calibrate(cfg Config) (ContactTable, error) {
	cfg.BluetoothRate = 1
	c, err := New(cfg)
	if err != nil {
		return ContactTable{}, err
	}
	t := ContactTable{Config: cfg}
	groups := []string{"everyone", Student.String(), Worker.String(), Elderly.String(), Homemaker.String(), "weekdays", "weekends and holidays"}
	sums := make([]ContactRow, len(groups))
	for i, g := range groups {
		sums[i].Group = g
	}
	g := newGen(c)
	var m contactMeter
	for d := range cfg.Days {
		g.day(d)
		m.measure(c, &g.bufs[d&1])
		off := 5
		if !g.ctx.workday() {
			off = 6
		}
		for i := range c.people {
			for _, k := range [3]int{0, int(c.people[i].role), off} {
				r := &sums[k]
				r.PersonDays++
				r.Proximity += float64(m.prox[i])
				r.Close += float64(m.close[i])
				r.Capped += float64(m.capped[i])
			}
		}
	}
	for _, r := range sums {
		if r.PersonDays == 0 {
			continue
		}
		n := float64(r.PersonDays)
		r.Proximity, r.Close, r.Capped = r.Proximity/n, r.Close/n, r.Capped/n
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// String renders the table in Markdown, with the ratios of the overall
// means to the surveys'.
func (t ContactTable) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| group | person-days | proximity | close (≥ %.0f min) | capped (any, ≤ %d/venue) |\n", CloseContact.Minutes(), GroupCap)
	b.WriteString("| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f |\n", r.Group, r.PersonDays, r.Proximity, r.Close, r.Capped)
	}
	if len(t.Rows) > 0 {
		all := t.Rows[0]
		for _, s := range []struct {
			name string
			mean float64
		}{{"Horby et al. 2011 (Vietnam)", SurveyVietnam}, {"POLYMOD 2008 (Europe)", SurveyPOLYMOD}} {
			fmt.Fprintf(&b, "| ratio to %s, %.1f | | %.2f | %.2f | %.2f |\n", s.name, s.mean,
				all.Proximity/s.mean, all.Close/s.mean, all.Capped/s.mean)
		}
	}
	return b.String()
}

// contactMeter counts one day's distinct contacts per person; its slices are
// reused from day to day.
type contactMeter struct {
	prox, close, capped  []int32
	first                []int32  // person -> first of their stays in the day's buffer
	byVenue              []int32  // stay indexes by venue
	c15, cAny            []int32  // per stay: others present ≥ 15 min, at all
	pairs                []uint64 // meeting partners, both ways
	e15, x15, eAny, xAny []int32
}

func (m *contactMeter) measure(c *City, buf *dayBuf) {
	n := len(c.people)
	m.prox = resize(m.prox, n)
	m.close = resize(m.close, n)
	m.capped = resize(m.capped, n)
	m.first = resize(m.first, n+1)
	st := buf.stays
	for k := range st {
		m.first[st[k].p+1]++
	}
	for i := 1; i <= n; i++ {
		m.first[i] += m.first[i-1]
	}
	m.venueCounts(st)
	for i := range n {
		m.close[i], m.capped[i] = m.venueContacts(st, uint32(i))
	}
	m.pairs = m.pairs[:0]
	for k := range buf.meets {
		a, b := uint64(buf.meets[k].a), uint64(buf.meets[k].b)
		m.pairs = append(m.pairs, a<<32|b, b<<32|a)
	}
	slices.Sort(m.pairs)
	m.pairs = slices.Compact(m.pairs)
	for _, x := range m.pairs {
		a, b := uint32(x>>32), uint32(x)
		m.prox[a]++
		at15, atAll := m.together(st, a, b)
		if !at15 {
			m.close[a]++
		}
		if !atAll {
			m.capped[a]++
		}
	}
}

func resize(s []int32, n int) []int32 {
	s = slices.Grow(s[:0], n)[:n]
	clear(s)
	return s
}

// venueCounts sets c15 and cAny for every stay: how many other stays at its
// venue overlap it by at least CloseContact, and at all.
func (m *contactMeter) venueCounts(st []stay) {
	m.byVenue = m.byVenue[:0]
	for k := range st {
		m.byVenue = append(m.byVenue, int32(k))
	}
	slices.SortFunc(m.byVenue, func(x, y int32) int { return int(st[x].v) - int(st[y].v) })
	m.c15, m.cAny = resize(m.c15, len(st)), resize(m.cAny, len(st))
	for lo := 0; lo < len(m.byVenue); {
		hi := lo + 1
		for hi < len(m.byVenue) && st[m.byVenue[hi]].v == st[m.byVenue[lo]].v {
			hi++
		}
		m.countVenue(st, m.byVenue[lo:hi])
		lo = hi
	}
}

// countVenue counts overlaps among the stays ks at one venue with sorted
// ends. A stay t of at least min overlaps s by min or more exactly when t
// enters by s's exit minus min and leaves at or after s's enter plus min;
// every t that leaves earlier also entered earlier, so a difference of two
// counts gives the answer.
func (m *contactMeter) countVenue(st []stay, ks []int32) {
	const minDur = int32(CloseContact / time.Second)
	m.e15, m.x15, m.eAny, m.xAny = m.e15[:0], m.x15[:0], m.eAny[:0], m.xAny[:0]
	for _, k := range ks {
		s := &st[k]
		m.eAny, m.xAny = append(m.eAny, s.enter), append(m.xAny, s.exit())
		if int32(s.dur) >= minDur {
			m.e15, m.x15 = append(m.e15, s.enter), append(m.x15, s.exit())
		}
	}
	for _, a := range [][]int32{m.e15, m.x15, m.eAny, m.xAny} {
		slices.Sort(a)
	}
	for _, k := range ks {
		s := &st[k]
		// Overlapping at all: entered before s left, and left after s entered.
		m.cAny[k] = int32(upper(m.eAny, s.exit()-1)-upper(m.xAny, s.enter)) - 1
		if int32(s.dur) >= minDur {
			m.c15[k] = int32(upper(m.e15, s.exit()-minDur)-upper(m.x15, s.enter+minDur-1)) - 1
		}
	}
}

// upper is the number of elements of sorted a that are at most x.
func upper(a []int32, x int32) int {
	n, _ := slices.BinarySearch(a, x+1)
	return n
}

// venueContacts sums, over the venues person i visited, the largest count of
// others present with one of their stays there: at least CloseContact, and
// at all but capped at GroupCap.
func (m *contactMeter) venueContacts(st []stay, i uint32) (close, capped int32) {
	mine := st[m.first[i]:m.first[i+1]]
	for a := range mine {
		seen := false
		for b := range a {
			if mine[b].v == mine[a].v {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		c15, cAny := int32(0), int32(0)
		for b := a; b < len(mine); b++ {
			if mine[b].v == mine[a].v {
				k := int(m.first[i]) + b
				c15, cAny = max(c15, m.c15[k]), max(cAny, m.cAny[k])
			}
		}
		close += c15
		capped += min(cAny, GroupCap)
	}
	return close, capped
}

// together reports whether a and b shared a venue for at least CloseContact,
// and at all, that day.
func (m *contactMeter) together(st []stay, a, b uint32) (at15, atAll bool) {
	const minDur = int32(CloseContact / time.Second)
	for _, s := range st[m.first[a]:m.first[a+1]] {
		for _, t := range st[m.first[b]:m.first[b+1]] {
			if s.v != t.v {
				continue
			}
			o := min(s.exit(), t.exit()) - max(s.enter, t.enter)
			atAll = atAll || o > 0
			at15 = at15 || o >= minDur
		}
	}
	return at15, atAll
}
