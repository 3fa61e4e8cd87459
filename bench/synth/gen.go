package synth

import (
	"cmp"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/truyvet/truyvet/schemas/event"
)

const (
	minute  = 60
	hour    = 3600
	daySec  = 86400
	idBytes = 18 // "v-" or "e-" and 16 hex digits
)

func hm(h, m int32) int32 { return h*hour + m*minute }

// Behaviour constants that are not in Config.
const (
	scanRate       = 0.97  // a QR user scans a given stay
	combinedRate   = 0.03  // a scanned stay is sent as one record with enter and exit
	lateRate       = 0.015 // a check-in is synced 20 min to 6 h late
	lateEncRate    = 0.01  // an encounter is uploaded 1 to 6 h late
	oneSidedRate   = 0.08  // only one phone reports a meeting
	noRSSIRate     = 3     // percent of encounter records without RSSI
	colleagueMeet  = 0.55  // a pair of neighbouring colleagues meets on a day both work
	colleagueTwice = 0.25  // ... and meets a second time
	commute        = 15 * minute
)

// A crossing is a meeting of two visitors of a venue who arrive close
// together (each of the next six visitors to arrive meets the newcomer with
// probability rate, if both run Bluezone): strangers passing at markets,
// hubs and pagodas; companions sharing a table at cafés and restaurants.
type crossing struct {
	rate         float64
	least, most  int32 // duration, seconds
	rssiLo, rssi int32 // RSSI range, dBm
}

var (
	passing    = crossing{least: 2 * minute, most: 10 * minute, rssiLo: -90, rssi: -70}
	companions = crossing{least: 20 * minute, most: 90 * minute, rssiLo: -70, rssi: -50}
)

// crossings by venue kind; a zero rate: none.
var crossings = [nKinds]crossing{
	kMarket: passing.at(0.08), kSupermarket: passing.at(0.04), kHospital: passing.at(0.06),
	kBusStation: passing.at(0.25), kAirport: passing.at(0.2), kPagoda: passing.at(0.06), kChurch: passing.at(0.06),
	kCafe: companions.at(0.15), kRestaurant: companions.at(0.1),
}

func (x crossing) at(rate float64) crossing { x.rate = rate; return x }

// Peers on each side of a person on their workplace's list: at least this
// many, and up to two more.
func peerBase(kind uint8) int {
	if kind == kSchool {
		return 3 // classmates
	}
	return 2
}

// Record kinds in a ref.
const (
	rCheckin uint64 = iota
	rCheckout
	rCombined
	rEncA
	rEncB
)

// A ref is one upload: the upload time (seconds from base) in the high 32
// bits, then the record kind (3 bits), the day buffer (1 bit) and the index
// of the stay or meeting in it (28 bits). Sorting refs sorts uploads.
const (
	refKindShift = 29
	refBufShift  = 28
	refIdxMask   = 1<<28 - 1
)

// stay is one person's physical presence at a venue.
type stay struct {
	p     uint32 // internal index
	v     uint32
	enter int32  // seconds from the day's midnight
	dur   uint16 // seconds; stays are shorter than 18 h
	ord   uint8  // ordinal of the stay in the person's day
	scan  bool   // the person scanned the QR code
}

func (s *stay) exit() int32 { return s.enter + int32(s.dur) }

// meeting is one Bluetooth meeting of two people; the two phones' records
// derive from it.
type meeting struct {
	a, b       uint32 // internal indexes
	start, dur int32  // start: seconds from the day's midnight
	ja, jb     int8   // start jitter of each phone, seconds
	da, db     int8   // duration jitter of each phone, seconds
	ra, rb     int8   // RSSI seen by each phone
	one        uint8  // 0: both phones report it; 1: only a's; 2: only b's
}

// dayBuf holds one simulated day.
type dayBuf struct {
	day   int
	stays []stay
	meets []meeting
}

// presence is where a person is during one day: at work or school over
// [ws, ls) and [le, we) (ws < 0: not today), at home over [hs, he); in
// seconds from the day's midnight.
type presence struct {
	ws, ls, le, we int32
	hs, he         int32
	vs, ve         int32 // visiting relatives at home (ve > vs)
}

type cand struct {
	v    uint32
	s, e int32
	host uint32 // home: the household visited
	prio uint8  // higher wins a conflict
	work bool
	home bool // at the home of household host, not at a venue
}

// crossRef is a stay at a venue with crossings, with its sort key.
type crossRef struct {
	key uint64
	k   uint32
}

// guest pairs household h with household host, which it stays with for the
// day (a holiday trip) or visits at home (relatives on holidays).
type guest struct{ h, host uint32 }

// Priorities of candidate stays.
const (
	prioErrand uint8 = iota
	prioFaith
	prioFamily
	prioFixed
)

// RNG streams.
const (
	sPerson uint64 = iota + 1
	sFamily
	sMeet
	sRecord
)

// gen is the state of one pass over the days.
type gen struct {
	c      *City
	pcg    rand.PCG
	r      *rand.Rand
	bufs   [2]dayBuf
	pres   []presence
	ret    []int16 // day a travelling person comes back; -1: at home
	refs   []uint64
	cand   []cand
	kept   []cand
	cross  []crossRef
	ctx    dayCtx  // the day being simulated
	guests []guest // households staying with others today
	visits []guest // households visiting relatives today
}

func newGen(c *City) *gen {
	g := &gen{c: c, pres: make([]presence, len(c.people)), ret: make([]int16, len(c.people))}
	g.r = rand.New(&g.pcg)
	for i := range g.ret {
		g.ret[i] = -1
		if away, back := c.awayOrdinary(uint32(i)); away {
			g.ret[i] = int16(back)
		}
	}
	return g
}

func (g *gen) seed(stream uint64, day int, key uint64) {
	g.pcg.Seed(mix(g.c.seed^stream<<56^uint64(day)<<40), mix(key^0x9e3779b97f4a7c15))
}

func (g *gen) p(x float64) bool { return g.r.Float64() < x }

// uni is uniform in [lo, hi].
func (g *gen) uni(lo, hi int32) int32 {
	if hi <= lo {
		return lo
	}
	return lo + g.r.Int32N(hi-lo+1)
}

// jit is a jitter with standard deviation sd and bounds ±3 sd: the sum of
// three uniform draws in [-sd, sd]. Integer arithmetic keeps it exact on every
// platform (rand.NormFloat64 is open to fused multiply-add differences).
func (g *gen) jit(sd int32) int32 { return g.uni(-sd, sd) + g.uni(-sd, sd) + g.uni(-sd, sd) }

func (g *gen) add(v uint32, s, e int32, prio uint8, work bool) {
	if v != 0 && e > s {
		g.cand = append(g.cand, cand{v: v, s: s, e: e, prio: prio, work: work})
	}
}

// near picks a venue of kind k in ward w: with probability habit the one
// key habitually uses, else any, by popularity.
func (g *gen) near(k uint8, w uint16, key uint64, habit float64) uint32 {
	u := g.r.Float64()
	if g.p(habit) {
		u = unit(mix(g.c.seed ^ key<<8 ^ uint64(k)))
	}
	return g.c.pickIn(k, w, u)
}

// Uploads yields the city's records in upload order, in batches, each with
// the upload time of its last record (see the package doc). The batches'
// slices and strings are the caller's to keep. Each call simulates the days
// afresh and yields the same batches.
func (c *City) Uploads() iter.Seq2[time.Time, event.Batch] {
	return func(yield func(time.Time, event.Batch) bool) {
		g := newGen(c)
		if c.cfg.Declarations {
			dr, inner := newDeclarer(c), yield
			yield = func(at time.Time, b event.Batch) bool {
				b.Declarations = dr.of(&b)
				return inner(at, b)
			}
		}
		for d := range c.cfg.Days {
			g.day(d)
			g.records(d)
			slices.Sort(g.refs)
			cut := len(g.refs)
			if d < c.cfg.Days-1 {
				next := uint64((d+1)*daySec) << 32
				cut, _ = slices.BinarySearch(g.refs, next)
			}
			if !g.emit(g.refs[:cut], yield) {
				return
			}
			g.refs = g.refs[:copy(g.refs, g.refs[cut:])]
		}
	}
}

// Batches yields the records of Uploads without their upload times.
func (c *City) Batches() iter.Seq[event.Batch] {
	return func(yield func(event.Batch) bool) {
		for _, b := range c.Uploads() {
			if !yield(b) {
				return
			}
		}
	}
}

// day simulates day d into its buffer.
func (g *gen) day(d int) {
	c := g.c
	buf := &g.bufs[d&1]
	if buf.stays == nil {
		// Room for a busy weekday, so the buffers rarely grow.
		n := len(c.people)
		buf.stays = make([]stay, 0, n*3)
		buf.meets = make([]meeting, 0, int(float64(n)*(0.1+1.9*c.cfg.BluetoothRate)))
	}
	buf.day, buf.stays, buf.meets = d, buf.stays[:0], buf.meets[:0]
	g.ctx = c.dayContext(d)
	g.guests, g.visits = g.guests[:0], g.visits[:0]
	for h := range len(c.hh) - 1 {
		lo, hi := c.hh[h], c.hh[h+1]
		tr, travels := c.tripOf(uint32(h))
		travels = travels && tr.dep <= d && d <= tr.ret
		fam := g.household(uint32(h), d, &tr, travels)
		for i := lo; i < hi; i++ {
			g.seed(sPerson, d, uint64(i))
			if travels {
				g.traveller(buf, i, d, &tr, &fam)
			} else {
				g.person(buf, i, &fam)
			}
		}
	}
	g.seed(sMeet, d, 0)
	g.colleagues(buf)
	g.households(buf)
	g.crossings(buf)
}

// household decides what household h does together on day d: a meal or an
// outing, a visit to relatives, or, for a household staying with another,
// joining the host's outing.
func (g *gen) household(h uint32, d int, tr *trip, travels bool) cand {
	c := g.c
	switch {
	case travels && tr.dest >= 0 && tr.dep < d && d < tr.ret:
		g.guests = append(g.guests, guest{h, tr.host})
		g.seed(sFamily, d, uint64(tr.host))
		if fam := g.family(tr.host); !fam.home {
			return fam
		}
	case !travels && c.hh[h+1]-c.hh[h] >= 2:
		g.seed(sFamily, d, uint64(h))
		fam := g.family(h)
		if fam.home {
			g.visits = append(g.visits, guest{h, fam.host})
		}
		return fam
	}
	return cand{}
}

// family decides a household's meal or outing together, or on holidays a
// visit to relatives at home, if any.
func (g *gen) family(h uint32) cand {
	x := &g.ctx
	if x.visit > 0 && g.p(x.visit) {
		if rel, ok := g.c.relative(h); ok {
			s := g.uni(hm(8, 30), hm(17, 0))
			return cand{s: s, e: s + g.uni(90*minute, 4*hour), host: rel, prio: prioFamily, home: true}
		}
	}
	if !g.p(x.family) {
		return cand{}
	}
	ward := g.c.hhWard[h]
	key := uint64(h) | 1<<40
	switch u := g.r.Float64(); {
	case u < 0.65:
		s := hm(18, 30) + g.jit(25*minute)
		return cand{v: g.near(kRestaurant, ward, key, 0.5), s: s, e: s + g.uni(60*minute, 100*minute), prio: prioFamily}
	case u < 0.8 && x.weekend:
		s := g.uni(hm(8, 0), hm(10, 0))
		return cand{v: g.near(kCafe, ward, key, 0.5), s: s, e: s + g.uni(50*minute, 90*minute), prio: prioFamily}
	default:
		s := g.uni(hm(16, 0), hm(19, 0))
		return cand{v: g.near(kSupermarket, ward, key, 0.6), s: s, e: s + g.uni(45*minute, 80*minute), prio: prioFamily}
	}
}

// relative returns a household of h's province that h's members visit on
// holidays.
func (c *City) relative(h uint32) (uint32, bool) {
	p := &c.provs[c.provinceOf(c.hhWard[h])]
	n := p.hh1 - p.hh0
	if n < 2 {
		return 0, false
	}
	step := 1 + uint32(mix(c.seed^uint64(h)<<16^saltHost)%uint64(n-1))
	return p.hh0 + (h-p.hh0+step)%n, true
}

// person simulates person i's day at home.
func (g *gen) person(buf *dayBuf, i uint32, fam *cand) {
	c := g.c
	p := &c.people[i]
	g.pres[i] = presence{ws: -1}
	g.cand = g.cand[:0]
	ward := c.hhWard[p.hh]
	if g.ordinaryTrip(buf, i) {
		return
	}
	switch p.role {
	case Student:
		g.student(p, i, ward)
	case Worker:
		g.worker(p, i, ward)
	case Elderly:
		g.elderly(p, i, ward)
	case Homemaker:
		g.homemaker(p, i, ward)
	}
	if p.role != Elderly && p.role != Homemaker && g.p(0.012) {
		s := g.uni(hm(8, 0), hm(16, 0))
		g.add(g.near(kHospital, ward, uint64(p.hh)|1<<40, 0.6), s, s+g.uni(60*minute, 180*minute), prioFixed, false)
	}
	g.faith(p, ward)
	g.shopping(p, ward)
	g.join(fam)
	g.finish(buf, i, homeAny)
}

// shopping adds, on the days before a holiday, a trip to the market for
// those who would not otherwise go (chợ Tết).
func (g *gen) shopping(p *person, ward uint16) {
	x := &g.ctx
	if x.market <= 1 || p.role == Elderly || p.role == Homemaker || !g.p(0.3*(x.market-1)) {
		return
	}
	s := g.uni(hm(7, 0), hm(11, 0))
	if x.classes {
		s = g.uni(hm(17, 30), hm(19, 30))
	}
	g.add(g.near(kMarket, ward, uint64(p.hh)|1<<40, 0.6), s, s+g.uni(30*minute, 75*minute), prioErrand, false)
}

// ordinaryTrip handles the few people who travel on ordinary days: away,
// coming back through a hub, or leaving through one today. It reports
// whether it decided the day.
func (g *gen) ordinaryTrip(buf *dayBuf, i uint32) bool {
	c := g.c
	d := g.ctx.d
	prov := c.provinceOf(c.hhWard[c.people[i].hh])
	if r := g.ret[i]; r >= 0 {
		if int(r) > d {
			return true
		}
		g.ret[i] = -1
		s := g.uni(hm(5, 0), hm(20, 30))
		g.add(c.hub(prov, g.r.Float64(), uint64(i)), s, s+g.uni(15*minute, 45*minute), prioFixed, false)
		g.finish(buf, i, homeAfter)
		return true
	}
	if g.p(g.ctx.depart) {
		g.ret[i] = int16(d + 1 + g.r.IntN(4))
		s := g.uni(hm(6, 0), hm(21, 0))
		g.add(c.hub(prov, g.r.Float64(), uint64(i)), s, s+g.uni(30*minute, 90*minute), prioFixed, false)
		g.finish(buf, i, homeBefore)
		return true
	}
	return false
}

// hub picks a bus station, or in a province with an airport sometimes the
// airport, at quantile u; key decides which.
func (c *City) hub(prov int, u float64, key uint64) uint32 {
	if c.hasAirport(prov) && unit(mix(c.seed^key<<8^saltLeg)) < 0.3 {
		return c.pickProv(kAirport, prov, u)
	}
	return c.pickProv(kBusStation, prov, u)
}

// student adds a student's classes and errands.
func (g *gen) student(p *person, i uint32, ward uint16) {
	x := &g.ctx
	key := uint64(i)
	school := x.classes || (x.satClasses && p.flags&fSat != 0)
	if school && x.satClasses {
		s := hm(7, 30) + g.jit(10*minute)
		g.add(p.work, s, hm(11, 0)+g.jit(10*minute), prioFixed, true)
	} else if school {
		switch p.shift {
		case 0:
			g.add(p.work, hm(6, 45)+g.jit(10*minute), hm(16, 30)+g.jit(15*minute), prioFixed, true)
		case 1:
			g.add(p.work, hm(7, 0)+g.jit(10*minute), hm(11, 30)+g.jit(8*minute), prioFixed, true)
			g.add(p.work, hm(13, 30)+g.jit(8*minute), hm(16, 30)+g.jit(15*minute), prioFixed, true)
		case 2:
			g.add(p.work, hm(7, 0)+g.jit(10*minute), hm(11, 30)+g.jit(8*minute), prioFixed, true)
		default:
			g.add(p.work, hm(13, 0)+g.jit(10*minute), hm(17, 0)+g.jit(10*minute), prioFixed, true)
		}
	}
	if school && x.classes {
		if g.p(0.3) {
			s := hm(6, 15) + g.jit(5*minute)
			g.add(g.near(kRestaurant, ward, key, 0.7), s, s+g.uni(10*minute, 20*minute), prioErrand, false)
		}
		if g.p(0.25) { // extra classes (hoc them) at a school or centre nearby
			s := g.uni(hm(17, 30), hm(18, 30))
			g.add(g.near(kSchool, ward, key, 0.9), s, s+g.uni(80*minute, 100*minute), prioErrand, false)
		}
		if g.p(0.25) {
			s := g.uni(hm(19, 30), hm(20, 30))
			g.add(g.near(kCafe, ward, key, 0.5), s, s+g.uni(30*minute, 75*minute), prioErrand, false)
		}
		return
	}
	if g.p(0.3) {
		s := g.uni(hm(14, 0), hm(20, 0))
		g.add(g.near(kCafe, ward, key, 0.5), s, s+g.uni(40*minute, 100*minute), prioErrand, false)
	}
	if g.p(0.12) {
		s := g.uni(hm(9, 0), hm(18, 0))
		g.add(g.near(kSupermarket, ward, key, 0.5), s, s+g.uni(30*minute, 70*minute), prioErrand, false)
	}
}

// elderly adds a retired person's outings.
func (g *gen) elderly(p *person, i uint32, ward uint16) {
	key, hkey := uint64(i), uint64(p.hh)|1<<40
	if g.p(min(0.95, 0.65*g.ctx.market)) {
		s := hm(5, 45) + g.jit(25*minute)
		g.add(g.near(kMarket, ward, hkey, 0.8), s, s+g.uni(30*minute, 75*minute), prioErrand, false)
	}
	if g.p(0.25) {
		s := g.uni(hm(6, 30), hm(8, 30))
		g.add(g.near(kCafe, ward, key, 0.7), s, s+g.uni(45*minute, 90*minute), prioErrand, false)
	}
	if g.p(0.06) {
		s := g.uni(hm(7, 30), hm(10, 0))
		g.add(g.near(kHospital, ward, hkey, 0.6), s, s+g.uni(60*minute, 180*minute), prioFixed, false)
	}
	if g.p(0.15) {
		s := g.uni(hm(15, 0), hm(17, 30))
		g.add(g.near(kSupermarket, ward, hkey, 0.6), s, s+g.uni(30*minute, 60*minute), prioErrand, false)
	}
	if g.p(0.1) {
		s := g.uni(hm(10, 30), hm(11, 30))
		g.add(g.near(kRestaurant, ward, key, 0.7), s, s+g.uni(30*minute, 50*minute), prioErrand, false)
	}
}

// homemaker adds a homemaker's errands.
func (g *gen) homemaker(p *person, i uint32, ward uint16) {
	key, hkey := uint64(i), uint64(p.hh)|1<<40
	if g.p(min(0.95, 0.8*g.ctx.market)) {
		s := hm(6, 30) + g.jit(35*minute)
		g.add(g.near(kMarket, ward, hkey, 0.8), s, s+g.uni(30*minute, 60*minute), prioErrand, false)
	}
	if g.p(0.35) {
		s := g.uni(hm(15, 0), hm(18, 0))
		g.add(g.near(kSupermarket, ward, hkey, 0.6), s, s+g.uni(30*minute, 60*minute), prioErrand, false)
	}
	if g.p(0.2) {
		s := g.uni(hm(9, 0), hm(11, 0))
		g.add(g.near(kCafe, ward, key, 0.6), s, s+g.uni(45*minute, 90*minute), prioErrand, false)
	}
	if g.p(0.02) {
		s := g.uni(hm(7, 30), hm(14, 0))
		g.add(g.near(kHospital, ward, hkey, 0.6), s, s+g.uni(60*minute, 180*minute), prioFixed, false)
	}
}

// faith adds Sunday Mass and pagoda visits; on Tết most families go to a
// pagoda.
func (g *gen) faith(p *person, ward uint16) {
	x := &g.ctx
	hkey := uint64(p.hh) | 1<<40
	switch g.c.hhFait[p.hh] {
	case faithCatholic:
		if x.mass && g.p(0.8) {
			s := hm(17, 0)
			if g.p(0.5) {
				s = hm(5, 30)
			}
			s += g.jit(5 * minute)
			g.add(g.near(kChurch, ward, hkey, 0.9), s-10*minute, s+g.uni(60*minute, 75*minute), prioFaith, false)
		}
		return
	case faithBuddhist:
		q := 0.04
		switch {
		case p.role == Elderly:
			q = 0.4
		case x.weekend:
			q = 0.15
		}
		if !g.p(min(0.9, q*x.pagoda)) {
			return
		}
	default:
		if x.pagoda <= 1 || !g.p(0.1*(x.pagoda-1)) {
			return
		}
	}
	s := g.uni(hm(15, 30), hm(18, 30))
	if x.kind == dFeast && g.p(0.5) {
		s = g.uni(hm(6, 0), hm(10, 0)) // the first visit of the year
	}
	g.add(g.near(kPagoda, ward, hkey, 0.9), s, s+g.uni(45*minute, 90*minute), prioFaith, false)
}

// join adds the household's outing or visit, with a little jitter.
func (g *gen) join(fam *cand) {
	switch {
	case fam.v != 0:
		j := g.jit(2 * minute)
		g.add(fam.v, fam.s+j, fam.e+j, prioFamily, false)
	case fam.home:
		j := g.jit(5 * minute)
		g.cand = append(g.cand, cand{s: fam.s + j, e: fam.e + j, host: fam.host, prio: prioFamily, home: true})
	}
}

// worker adds a worker's work and errands.
func (g *gen) worker(p *person, i uint32, ward uint16) {
	c := g.c
	wv := &c.venues[p.work-1]
	key := uint64(i)
	var on bool
	switch x := &g.ctx; wv.kind {
	case kOffice, kSchool:
		on = x.office
	case kFactory:
		on = x.factory >= 1 || (x.factory > 0 && unit(mix(c.seed^uint64(i)<<20^uint64(x.d)<<8^saltFactor)) < x.factory)
	default:
		on = x.wd != time.Weekday(p.off)
	}
	end := int32(-1) // end of the day shift, for evening errands
	if on {
		var s, e int32
		switch {
		case wv.kind == kOffice:
			s, e = hm(8, 0)+g.jit(12*minute), hm(17, 15)+g.jit(20*minute)
			if g.p(0.2) {
				cs := s - g.uni(35*minute, 50*minute)
				g.add(g.near(kCafe, wv.ward, key, 0.7), cs, s-g.uni(5*minute, 10*minute), prioFixed, false)
			}
		case wv.kind == kFactory && p.shift == 2:
			s, e = hm(19, 0)+g.jit(8*minute), daySec+hm(5, 0)+g.jit(10*minute)
		case wv.kind == kFactory:
			s, e = hm(7, 0)+g.jit(8*minute), hm(16, 30)+g.jit(12*minute)
		case wv.kind == kSchool:
			s, e = hm(6, 45)+g.jit(8*minute), hm(16, 45)+g.jit(20*minute)
		case wv.kind == kMarket && p.shift == 0:
			s, e = hm(4, 30)+g.jit(15*minute), hm(12, 30)+g.jit(25*minute)
		case wv.kind == kMarket:
			s, e = hm(12, 0)+g.jit(15*minute), hm(19, 0)+g.jit(25*minute)
		case p.shift == 2:
			s, e = hm(21, 0)+g.jit(8*minute), daySec+hm(7, 0)+g.jit(10*minute)
		case p.shift == 1:
			s, e = hm(14, 0)+g.jit(10*minute), hm(22, 0)+g.jit(15*minute)
		default:
			s, e = hm(7, 0)+g.jit(10*minute), hm(15, 0)+g.jit(15*minute)
		}
		if s >= hm(6, 30) && s < hm(15, 0) && g.p(0.5) { // breakfast: pho, banh mi
			bs := s - g.uni(40*minute, 60*minute)
			g.add(g.near(kRestaurant, ward, key, 0.7), bs, bs+g.uni(15*minute, 25*minute), prioErrand, false)
		}
		lunch := 0.0
		switch {
		case wv.kind == kOffice:
			lunch = 0.65
		case wv.kind == kFactory && p.shift == 0:
			lunch = 0.15
		}
		if g.p(lunch) {
			ls := hm(11, 45) + g.jit(8*minute)
			le := ls + g.uni(40*minute, 65*minute)
			g.add(p.work, s, ls, prioFixed, true)
			g.add(g.near(kRestaurant, wv.ward, key, 0.6), ls+5*minute, le-5*minute, prioFixed, false)
			g.add(p.work, le, e, prioFixed, true)
		} else {
			g.add(p.work, s, e, prioFixed, true)
		}
		if e < hm(20, 0) && s > hm(6, 0) {
			end = e
		}
		if p.shift == 1 && g.p(0.3) {
			ms := g.uni(hm(7, 30), hm(10, 0))
			g.add(g.near(kMarket, ward, uint64(p.hh)|1<<40, 0.7), ms, ms+g.uni(25*minute, 50*minute), prioErrand, false)
		}
	}
	switch {
	case end >= 0:
		s := end
		for n := 0; n < 2 && g.p(0.65-0.35*float64(n)); n++ {
			s += g.uni(15*minute, 40*minute)
			var e int32
			switch u := g.r.Float64(); {
			case u < 0.25:
				e = s + g.uni(20*minute, 45*minute)
				g.add(g.near(kMarket, ward, uint64(p.hh)|1<<40, 0.6), s, e, prioErrand, false)
			case u < 0.55:
				e = s + g.uni(25*minute, 60*minute)
				g.add(g.near(kSupermarket, ward, key, 0.6), s, e, prioErrand, false)
			case u < 0.8:
				e = s + g.uni(40*minute, 90*minute)
				g.add(g.near(kRestaurant, ward, key, 0.5), s, e, prioErrand, false)
			default:
				e = s + g.uni(40*minute, 120*minute)
				g.add(g.near(kCafe, ward, key, 0.6), s, e, prioErrand, false)
			}
			s = e
		}
	case !on:
		if g.p(0.4) {
			s := g.uni(hm(6, 30), hm(9, 30))
			k := kMarket
			if g.p(0.4) {
				k = kSupermarket
			}
			g.add(g.near(k, ward, uint64(p.hh)|1<<40, 0.7), s, s+g.uni(30*minute, 70*minute), prioErrand, false)
		}
		if g.p(0.4) {
			s := g.uni(hm(7, 0), hm(10, 30))
			g.add(g.near(kCafe, ward, key, 0.6), s, s+g.uni(40*minute, 110*minute), prioErrand, false)
		}
		if g.p(0.3) {
			s := g.uni(hm(11, 0), hm(13, 0))
			if g.p(0.5) {
				s = g.uni(hm(18, 0), hm(20, 0))
			}
			g.add(g.near(kRestaurant, ward, key, 0.5), s, s+g.uni(40*minute, 100*minute), prioErrand, false)
		}
	}
}

// Where finish looks for a person's time at home.
const (
	homeAny    = iota // any gap between stays
	homeBefore        // before the first stay (leaving town)
	homeAfter         // after the last stay (back in town)
)

// finish resolves conflicts among the candidate stays, keeps them and sets
// the person's presence.
func (g *gen) finish(buf *dayBuf, i uint32, home int) {
	c := g.c
	p := &c.people[i]
	cs := g.cand
	// Insertion sort by priority, highest first, stable.
	for a := 1; a < len(cs); a++ {
		for b := a; b > 0 && cs[b].prio > cs[b-1].prio; b-- {
			cs[b], cs[b-1] = cs[b-1], cs[b]
		}
	}
	kept := g.kept[:0]
	for _, x := range cs {
		ok := true
		for _, k := range kept {
			if x.s < k.e+2*minute && k.s < x.e+2*minute {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, x)
		}
	}
	// By start.
	for a := 1; a < len(kept); a++ {
		for b := a; b > 0 && kept[b].s < kept[b-1].s; b-- {
			kept[b], kept[b-1] = kept[b-1], kept[b]
		}
	}
	g.kept = kept

	pr := &g.pres[i]
	qr := p.flags&fQR != 0
	nw := 0
	for n, k := range kept {
		if k.home {
			pr.vs, pr.ve = k.s, k.e
			continue
		}
		buf.stays = append(buf.stays, stay{p: i, v: k.v, enter: k.s, dur: uint16(min(k.e-k.s, 65535)), ord: uint8(n), scan: qr && g.p(scanRate)})
		if k.work {
			switch nw {
			case 0:
				pr.ws, pr.ls, pr.le, pr.we = k.s, k.e, k.e, k.e
			case 1:
				pr.le, pr.we = k.s, k.e
			}
			nw++
		}
	}

	// Home: the longest gap between 6:30 today and about 6:15 tomorrow.
	from := hm(6, 30) + g.jit(10*minute)
	to := daySec + hm(6, 15) + g.jit(15*minute)
	best := int32(0)
	first, last := 0, len(kept)
	switch home {
	case homeBefore:
		last = min(0, last-1) // before the first stay: a journey's hubs
	case homeAfter:
		first = last
	}
	for n := first; n <= last; n++ {
		s, e := from, to
		if n > 0 {
			s = kept[n-1].e + commute
		}
		if n < len(kept) {
			e = kept[n].s - commute
		}
		if e-s > best {
			best, pr.hs, pr.he = e-s, s, e
		}
	}
}

// meet records a meeting of a and b over [start, start+dur) with an RSSI
// in [lo, hi].
func (g *gen) meet(buf *dayBuf, a, b uint32, start, dur int32, lo, hi int32) {
	if dur <= 0 || a == b {
		return
	}
	rssi := g.uni(lo, hi)
	m := meeting{
		a: a, b: b, start: start, dur: dur,
		ja: int8(g.uni(-3, 3)), jb: int8(g.uni(-3, 3)),
		da: int8(g.uni(-3, 3)), db: int8(g.uni(-3, 3)),
		ra: int8(rssi + g.uni(-3, 3)), rb: int8(rssi + g.uni(-3, 3)),
	}
	if g.p(oneSidedRate) {
		m.one = 1 + uint8(g.r.IntN(2))
	}
	buf.meets = append(buf.meets, m)
}

// colleagues: everyone at work or school has peers, their next few
// neighbours on the workplace's list on each side (2 to 4 each way, 3 to 5
// for classmates); a pair of peers who both run Bluezone and are both there
// meets with probability colleagueMeet, sometimes twice.
func (g *gen) colleagues(buf *dayBuf) {
	c := g.c
	for v := 1; v <= len(c.venues); v++ {
		list := c.wpList[c.wpOff[v]:c.wpOff[v+1]]
		n := len(list)
		for j, a := range list {
			if !g.bt(a) || g.pres[a].ws < 0 {
				continue
			}
			k := min(peerBase(c.venues[v-1].kind)+int(mix(c.seed^uint64(a)<<24)%3), n-1)
			for o := 1; o <= k; o++ {
				b := list[(j+o)%n]
				if g.bt(b) && g.pres[b].ws >= 0 && g.p(colleagueMeet) {
					g.colleague(buf, a, b)
				}
			}
		}
	}
}

// colleague: peers a and b meet once or twice while both are at work.
func (g *gen) colleague(buf *dayBuf, a, b uint32) {
	pa, pb := &g.pres[a], &g.pres[b]
	// Up to four shared blocks: morning and afternoon of each.
	var iv [4][2]int32
	ni, total := 0, int32(0)
	for _, x := range [2][2]int32{{pa.ws, pa.ls}, {pa.le, pa.we}} {
		for _, y := range [2][2]int32{{pb.ws, pb.ls}, {pb.le, pb.we}} {
			s, e := max(x[0], y[0]), min(x[1], y[1])
			if e-s >= 15*minute {
				iv[ni] = [2]int32{s, e}
				total += e - s
				ni++
			}
		}
	}
	if ni == 0 {
		return
	}
	times := 1
	if g.p(colleagueTwice) {
		times = 2
	}
	var prevS, prevE int32
	for t := range times {
		x := g.r.Int32N(total)
		blk := iv[0]
		for _, y := range iv[:ni] {
			if x < y[1]-y[0] {
				blk = y
				break
			}
			x -= y[1] - y[0]
		}
		dur := min(g.uni(10*minute, 90*minute), blk[1]-blk[0])
		s := g.uni(blk[0], blk[1]-dur)
		if t == 1 && s < prevE && prevS < s+dur {
			break
		}
		prevS, prevE = s, s+dur
		g.meet(buf, a, b, s, dur, -75, -55)
	}
}

// households: Bluetooth users of a household at home together, once a day;
// guests with their hosts; relatives visiting each other.
func (g *gen) households(buf *dayBuf) {
	c := g.c
	for h := range len(c.hh) - 1 {
		lo, hi := c.hh[h], c.hh[h+1]
		for a := lo; a < hi; a++ {
			for b := a + 1; b < hi; b++ {
				g.atHome(buf, a, b)
			}
		}
	}
	for _, v := range g.guests {
		for a := c.hh[v.h]; a < c.hh[v.h+1]; a++ {
			for b := c.hh[v.host]; b < c.hh[v.host+1]; b++ {
				g.atHome(buf, a, b)
			}
		}
	}
	for _, v := range g.visits {
		for a := c.hh[v.h]; a < c.hh[v.h+1]; a++ {
			for b := c.hh[v.host]; b < c.hh[v.host+1]; b++ {
				g.visiting(buf, a, b)
			}
		}
	}
}

// bt reports whether person i runs Bluezone.
func (g *gen) bt(i uint32) bool { return g.c.people[i].flags&fBT != 0 }

// atHome: a and b, at the same home, meet once for at least an hour if
// they are both there that long.
func (g *gen) atHome(buf *dayBuf, a, b uint32) {
	pa, pb := &g.pres[a], &g.pres[b]
	if !g.bt(a) || !g.bt(b) || pa.he <= pa.hs || pb.he <= pb.hs {
		return
	}
	s, e := max(pa.hs, pb.hs), min(pa.he, pb.he)
	if e-s < hour {
		return
	}
	// Mostly evenings and nights: start at dusk when the window allows.
	evening := hm(17, 30) + g.uni(0, 3*hour)
	s = max(s, min(evening, e-hour))
	s += g.uni(0, min(5*minute, e-hour-s))
	dur := min(g.uni(hour, 10*hour), e-s)
	g.meet(buf, a, b, s, dur, -60, -40)
}

// visiting: a, visiting b's home, meets b if b is at home then.
func (g *gen) visiting(buf *dayBuf, a, b uint32) {
	pa, pb := &g.pres[a], &g.pres[b]
	if !g.bt(a) || !g.bt(b) || pa.ve <= pa.vs {
		return
	}
	s, e := max(pa.vs, pb.hs), min(pa.ve, pb.he)
	if e-s < 20*minute {
		return
	}
	g.meet(buf, a, b, s+g.uni(0, 5*minute), e-s-g.uni(5*minute, 10*minute), -65, -45)
}

// crossings: Bluetooth users passing each other at markets, supermarkets,
// hospitals, pagodas, churches and hubs, or sharing a table at cafés and
// restaurants with someone from another household.
func (g *gen) crossings(buf *dayBuf) {
	c := g.c
	st := buf.stays
	g.cross = g.cross[:0]
	for k := range st {
		s := &st[k]
		if crossings[c.venues[s.v-1].kind].rate > 0 && c.people[s.p].flags&fBT != 0 {
			// By venue, then arrival (the sign bit flipped keeps the order),
			// then position.
			key := uint64(s.v)<<32 | uint64(uint32(s.enter)^1<<31)
			g.cross = append(g.cross, crossRef{key, uint32(k)})
		}
	}
	slices.SortFunc(g.cross, func(x, y crossRef) int {
		if x.key != y.key {
			return cmp.Compare(x.key, y.key)
		}
		return cmp.Compare(x.k, y.k)
	})
	// Only Bluetooth users are on the list: the next six visitors hold
	// about 6 × BluetoothRate of them.
	w := max(1, int(math.Round(6*c.cfg.BluetoothRate)))
	for x := range g.cross {
		a := &st[g.cross[x].k]
		cr := &crossings[c.venues[a.v-1].kind]
		for y := x + 1; y < len(g.cross) && y <= x+w; y++ {
			b := &st[g.cross[y].k]
			if b.v != a.v || b.enter >= a.exit() {
				break
			}
			if b.p == a.p || !g.p(cr.rate) {
				continue
			}
			e := min(a.exit(), b.exit())
			if e-b.enter < cr.least || (cr.least > 2*minute && c.people[a.p].hh == c.people[b.p].hh) {
				continue
			}
			dur := min(g.uni(cr.least, cr.most), e-b.enter)
			g.meet(buf, a.p, b.p, g.uni(b.enter, e-dur), dur, cr.rssiLo, cr.rssi)
		}
	}
}

// records turns day d's stays and meetings into refs, appended to g.refs.
func (g *gen) records(d int) {
	c := g.c
	buf := &g.bufs[d&1]
	if len(buf.stays) > refIdxMask || len(buf.meets) > refIdxMask {
		panic("synth: too many stays or meetings in one day")
	}
	bit := uint64(d&1) << refBufShift
	maxUp := min(c.lim-1, int32(d+2)*daySec-1)
	lim := c.lim
	g.seed(sRecord, d, 0)
	// Grow once: at most two records per stay and per meeting, plus resends.
	bound := 2 * len(buf.meets)
	for k := range buf.stays {
		if buf.stays[k].scan {
			bound += 2
		}
	}
	bound += int(float64(bound)*c.cfg.ResendRate*1.2) + 64
	g.refs = slices.Grow(g.refs, bound)
	off := int32(d) * daySec
	for k := range buf.stays {
		s := &buf.stays[k]
		enter, exit := off+s.enter, off+s.exit()
		if !s.scan || enter >= lim {
			continue
		}
		lo := bit | uint64(k)
		hasExit := exit < lim
		if hasExit && g.p(combinedRate) {
			g.push(exit+g.uni(0, 5*minute), rCombined<<refKindShift|lo, maxUp)
			continue
		}
		up := enter + g.uni(0, minute)
		if g.p(lateRate) {
			up = enter + g.uni(20*minute, 6*hour)
		}
		g.push(up, rCheckin<<refKindShift|lo, maxUp)
		if hasExit && g.p(c.cfg.CheckoutRate) {
			g.push(exit+g.uni(0, minute), rCheckout<<refKindShift|lo, maxUp)
		}
	}
	for k := range buf.meets {
		m := &buf.meets[k]
		lo := bit | uint64(k)
		for side := range 2 {
			if m.one == uint8(2-side) { // one == 1: only a reports; 2: only b
				continue
			}
			start, dur, ok := c.side(m, side, off)
			if !ok {
				continue
			}
			up := start + dur + g.uni(30, 20*minute)
			if g.p(lateEncRate) {
				up = start + dur + g.uni(hour, 6*hour)
			}
			g.push(up, (rEncA+uint64(side))<<refKindShift|lo, maxUp)
		}
	}
}

// push adds the upload of record lo at time up, and its resend, if any.
func (g *gen) push(up int32, lo uint64, maxUp int32) {
	g.refs = append(g.refs, uint64(min(up, maxUp))<<32|lo)
	if g.p(g.c.cfg.ResendRate) {
		up += g.uni(10, 30*minute)
		g.refs = append(g.refs, uint64(min(up, maxUp))<<32|lo)
	}
}

// side returns the start (from base) and duration one phone reports for m,
// a meeting of the day that starts at off, cut to end before the city's limit.
func (c *City) side(m *meeting, side int, off int32) (start, dur int32, ok bool) {
	start, dur = off+m.start+int32(m.ja), m.dur+int32(m.da)
	if side == 1 {
		start, dur = off+m.start+int32(m.jb), m.dur+int32(m.db)
	}
	dur = max(dur, 1)
	if start+dur > c.lim-1 {
		dur = c.lim - 1 - start
	}
	return start, dur, dur > 0
}

// emit turns sorted refs into batches and yields them.
func (g *gen) emit(refs []uint64, yield func(time.Time, event.Batch) bool) bool {
	size := g.c.cfg.BatchSize
	for len(refs) > 0 {
		min0 := refs[0] >> 32 / minute
		n := 1
		for n < len(refs) && n < size && refs[n]>>32/minute == min0 {
			n++
		}
		b := g.batch(refs[:n])
		at := time.Unix(g.c.base+int64(refs[n-1]>>32), 0).In(ict)
		if !yield(at, b) {
			return false
		}
		refs = refs[n:]
	}
	return true
}

// batch builds the records of refs.
func (g *gen) batch(refs []uint64) event.Batch {
	c := g.c
	nv := 0
	for _, r := range refs {
		if r>>refKindShift&7 < rEncA {
			nv++
		}
	}
	b := event.Batch{}
	if nv > 0 {
		b.Visits = make([]event.Visit, 0, nv)
	}
	if len(refs) > nv {
		b.Encounters = make([]event.Encounter, 0, len(refs)-nv)
	}
	var sb strings.Builder
	sb.Grow(idBytes * len(refs))
	var tmp [idBytes]byte
	for _, r := range refs {
		kind, buf, idx := r>>refKindShift&7, &g.bufs[r>>refBufShift&1], r&refIdxMask
		var key uint64
		if kind < rEncA {
			s := &buf.stays[idx]
			key = uint64(buf.day)<<40 | uint64(s.p)<<8 | uint64(s.ord)
			tmp[0] = 'v'
		} else {
			key = uint64(buf.day)<<40 | idx<<1 | (kind - rEncA)
			tmp[0] = 'e'
		}
		tmp[1] = '-'
		hex16(tmp[2:], mix(key^c.seed^uint64(tmp[0])<<56))
		sb.Write(tmp[:])
	}
	ids := sb.String()
	base := c.base
	for n, r := range refs {
		kind, buf, idx := r>>refKindShift&7, &g.bufs[r>>refBufShift&1], r&refIdxMask
		id := ids[n*idBytes : (n+1)*idBytes]
		off := int32(buf.day) * daySec
		if kind < rEncA {
			s := &buf.stays[idx]
			p := &c.people[s.p]
			v := event.Visit{
				VisitID: id, UserID: c.ids[s.p], VenueID: s.v,
				Enter: base + int64(off+s.enter), Source: c.srcs[p.flags/fApp0&3],
			}
			if kind != rCheckin {
				v.Exit = base + int64(off+s.exit())
			}
			b.Visits = append(b.Visits, v)
			continue
		}
		m := &buf.meets[idx]
		side := int(kind - rEncA)
		start, dur, _ := c.side(m, side, off)
		e := event.Encounter{
			EncounterID: id, UserID: c.ids[m.a], PeerID: c.ids[m.b],
			Start: base + int64(start), DurationS: uint32(dur),
			RSSI: m.ra, HasRSSI: true, Source: "bluezone",
		}
		if side == 1 {
			e.UserID, e.PeerID, e.RSSI = e.PeerID, e.UserID, m.rb
		}
		if mix(uint64(buf.day)<<40|idx<<1|uint64(side)^c.seed)%100 < noRSSIRate {
			e.HasRSSI, e.RSSI = false, 0
		}
		b.Encounters = append(b.Encounters, e)
	}
	return b
}

const hexDigits = "0123456789abcdef"

func hex16(dst []byte, x uint64) {
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[x&15]
		x >>= 4
	}
}

// mix is SplitMix64's finaliser: a bijection of uint64 that scatters bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// unit maps h to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
