package synth

import "time"

// Scenarios, for Config.Scenario.
const (
	ScenarioOrdinary      = ""              // ordinary days, after the calendar
	ScenarioReunification = "reunification" // 30 April and 1 May, with the days around them
	ScenarioTet           = "tet"           // Lunar New Year, a week before it to a week after
)

// DefaultTravelRate is the TravelRate of the holiday presets.
const DefaultTravelRate = 0.15

// What a day of a scenario is like.
type dayKind uint8

const (
	dOrdinary dayKind = iota // as the calendar says
	dEve                     // a working day before the holiday: classes and offices open
	dBreak                   // off before the feast: no classes or office
	dFeast                   // the holiday itself
	dAfter                   // off after the feast
)

// hday is one day of a scenario.
type hday struct {
	kind    dayKind
	depart  float64 // weight of departures on this day
	back    float64 // weight of returns
	factory float64 // share of factory workers on shift
	market  float64 // factor on market visits
	pagoda  float64 // factor on pagoda visits; above 1 brings non-Buddhists too
	family  float64 // chance of a household meal or outing
	visit   float64 // chance of a household visiting relatives at home
}

// scenarioDays are the scenarios' days, in order; the last simulated day is
// the last of them, and with fewer Days the first ones are cut.
var scenarioDays = map[string][]hday{
	// Tết: T is the first day of the lunar year (mùng 1). Factories close
	// first, so their workers can go home; schools and offices stop three
	// days before; markets and pagodas fill up before the feast, markets
	// close for it; people visit relatives over the three days of Tết and
	// travel back over the days after.
	ScenarioTet: {
		{kind: dEve, depart: 1, factory: 0.5, market: 1.3, pagoda: 1.2, family: 0.1},     // T-7, 23 tháng Chạp
		{kind: dEve, depart: 2, factory: 0.3, market: 1.4, pagoda: 1.2, family: 0.1},     // T-6
		{kind: dEve, depart: 3, factory: 0.2, market: 1.5, pagoda: 1.2, family: 0.15},    // T-5
		{kind: dEve, depart: 4, factory: 0.1, market: 1.6, pagoda: 1.3, family: 0.2},     // T-4
		{kind: dBreak, depart: 5, factory: 0.05, market: 1.8, pagoda: 1.4, family: 0.35}, // T-3
		{kind: dBreak, depart: 4, factory: 0.05, market: 2, pagoda: 1.5, family: 0.45},   // T-2, tất niên
		{kind: dBreak, depart: 1, factory: 0, market: 2, pagoda: 2, family: 0.6},         // T-1, giao thừa
		{kind: dFeast, factory: 0, market: 0.2, pagoda: 3, family: 0.3, visit: 0.7},      // T, mùng 1
		{kind: dFeast, factory: 0, market: 0.3, pagoda: 2, family: 0.35, visit: 0.6},     // T+1
		{kind: dFeast, back: 1, factory: 0, market: 0.5, pagoda: 1.5, family: 0.35, visit: 0.5},
		{kind: dAfter, back: 3, factory: 0.1, market: 0.8, pagoda: 1.3, family: 0.3, visit: 0.2},
		{kind: dAfter, back: 4, factory: 0.2, market: 1, pagoda: 1.2, family: 0.25, visit: 0.1},
		{kind: dAfter, back: 4, factory: 0.4, market: 1, pagoda: 1.1, family: 0.2},
		{kind: dEve, back: 2, factory: 0.7, market: 1, pagoda: 1, family: 0.1}, // T+6: back to work
	},
	// Reunification Day and Labour Day: Friday 30 April to Monday 3 May
	// 2021 were days off. Travel out over the two days before, back over
	// the last two.
	ScenarioReunification: {
		{kind: dEve, depart: 1, factory: 1, market: 1, pagoda: 1, family: 0.08},   // 28/4
		{kind: dEve, depart: 4, factory: 0.9, market: 1, pagoda: 1, family: 0.15}, // 29/4
		{kind: dFeast, depart: 2, factory: 0.2, market: 1, pagoda: 1.1, family: 0.4, visit: 0.2},
		{kind: dFeast, back: 1, factory: 0.2, market: 1, pagoda: 1.1, family: 0.4, visit: 0.15},
		{kind: dAfter, back: 3, factory: 0.3, market: 1, pagoda: 1, family: 0.35, visit: 0.1},
		{kind: dAfter, back: 4, factory: 0.3, market: 1, pagoda: 1, family: 0.3},
	},
}

// dayCtx is what the routines need to know about a day.
type dayCtx struct {
	d          int
	wd         time.Weekday
	kind       dayKind
	weekend    bool    // a day off for most: leisure errands
	classes    bool    // weekday classes
	satClasses bool    // Saturday classes, for students who have them
	office     bool    // offices and school staff at work
	factory    float64 // share of factory workers on shift
	market     float64 // factor on market visits
	pagoda     float64 // factor on pagoda visits
	family     float64 // chance of a household outing
	visit      float64 // chance of a household visiting relatives
	mass       bool    // Sunday Mass
	depart     float64 // chance of an ordinary trip starting
}

// workday reports whether offices are open.
func (x *dayCtx) workday() bool { return x.office }

// dayContext describes simulated day d.
func (c *City) dayContext(d int) dayCtx {
	wd := time.Unix(c.base+int64(d)*daySec+12*hour, 0).In(ict).Weekday()
	weekend := wd == time.Saturday || wd == time.Sunday
	x := dayCtx{
		d: d, wd: wd, weekend: weekend, classes: !weekend, satClasses: wd == time.Saturday,
		office: !weekend, factory: 1, market: 1, pagoda: 1, family: 0.04, mass: wd == time.Sunday,
		depart: 0.002,
	}
	switch wd {
	case time.Sunday:
		x.factory, x.family, x.depart = 0, 0.3, 0.003
	case time.Saturday:
		x.family, x.depart = 0.3, 0.005
	case time.Friday:
		x.family, x.depart = 0.1, 0.006
	}
	h, ok := c.scenarioDay(d)
	if !ok {
		return x
	}
	x.kind, x.market, x.pagoda, x.visit = h.kind, h.market, h.pagoda, h.visit
	x.factory = min(x.factory, h.factory)
	x.family = max(x.family, h.family)
	if h.kind != dEve {
		x.weekend, x.classes, x.satClasses, x.office = true, false, false, false
	}
	return x
}

// scenarioDay returns the scenario's description of simulated day d, if
// the day is part of the scenario.
func (c *City) scenarioDay(d int) (hday, bool) {
	days := c.holiday
	i := d + len(days) - c.cfg.Days
	if i < 0 || i >= len(days) {
		return hday{}, false
	}
	return days[i], true
}

// A trip is a household's holiday journey: out on day dep, back on day ret
// (simulated days; dep < 0 when it left before the data starts, ret >=
// Days when it is not back by the end).
type trip struct {
	dep, ret int
	dest     int    // province travelled to; -1: out of the city
	host     uint32 // household staying with, in dest
	fly      bool
	key      uint64 // draws shared by the household
}

// Salts of the hashes behind trips.
const (
	saltTrip   = 0x74726970
	saltHost   = 0x686f7374
	saltLeg    = 0x6c6567
	saltFactor = 0x66616374
)

// tripOf returns household h's holiday trip, if it makes one: under a
// scenario, TravelRate of the households of the provinces people travel
// home from (all households of a city without provinces) travel.
func (c *City) tripOf(h uint32) (trip, bool) {
	days := c.holiday
	if len(days) == 0 || c.cfg.TravelRate <= 0 {
		return trip{}, false
	}
	prov := c.provinceOf(c.hhWard[h])
	if len(c.provs) > 1 && c.provs[prov].dest == nil {
		return trip{}, false
	}
	k := mix(c.seed ^ saltTrip<<32 ^ uint64(h))
	if unit(k) >= c.cfg.TravelRate {
		return trip{}, false
	}
	t := trip{dest: -1, key: mix(k ^ saltLeg)}
	shift := c.cfg.Days - len(days)
	t.dep = pickDay(days, unit(mix(k^1)), func(x *hday) float64 { return x.depart }) + shift
	t.ret = pickDay(days, unit(mix(k^2)), func(x *hday) float64 { return x.back }) + shift
	if t.ret < 0 {
		return trip{}, false // over before the data starts
	}
	if len(c.provs) > 1 {
		t.dest = c.destination(prov, unit(mix(k^3)))
		p := &c.provs[t.dest]
		t.host = p.hh0 + uint32(mix(k^4)%uint64(p.hh1-p.hh0))
		t.fly = c.hasAirport(prov) && c.hasAirport(t.dest) && unit(mix(k^5)) < 0.35
	}
	return t, true
}

// pickDay picks a day index of days at quantile u of the weights w gives.
func pickDay(days []hday, u float64, w func(*hday) float64) int {
	total := 0.0
	for i := range days {
		total += w(&days[i])
	}
	x := float64(u * total) // rounded here, so that x -= wi cannot fuse with it
	last := 0
	for i := range days {
		if wi := w(&days[i]); wi > 0 {
			if x < wi {
				return i
			}
			x -= wi
			last = i
		}
	}
	return last
}

// traveller simulates day d of person i, whose household makes trip t and
// is away from home some time that day.
func (g *gen) traveller(buf *dayBuf, i uint32, d int, t *trip, fam *cand) {
	c := g.c
	g.pres[i] = presence{ws: -1}
	g.cand = g.cand[:0]
	g.ret[i] = -1 // the holiday trip replaces any ordinary one
	home := c.provinceOf(c.hhWard[c.people[i].hh])
	switch {
	case d == t.dep:
		g.journey(home, t.dest, t, false)
		g.finish(buf, i, homeBefore)
	case d == t.ret:
		g.journey(t.dest, home, t, true)
		g.finish(buf, i, homeAfter)
	case t.dest >= 0:
		g.visitor(buf, i, t, fam)
	}
}

// journey adds the hub stays of a household's trip from province a to
// province b; a < 0 (b < 0) when it comes from (goes to) outside the city.
// Travellers wait 30 to 120 minutes at the hub they leave from and 15 to
// 45 at the one they arrive at; the household keeps together.
func (g *gen) journey(a, b int, t *trip, back bool) {
	c := g.c
	k := t.key
	if back {
		k = mix(k ^ 0x6261636b)
	}
	kind := kBusStation
	ride := int32(2*hour) + int32(mix(k^1)%uint64(8*hour))
	if t.fly {
		kind, ride = kAirport, int32(70*minute)+int32(mix(k^1)%uint64(hour))
	}
	wait := int32(30*minute) + int32(mix(k^2)%uint64(90*minute))
	arrive := int32(15*minute) + int32(mix(k^3)%uint64(30*minute))
	first, last := hm(5, 0), hm(21, 30)
	switch {
	case a < 0:
		wait, ride = 0, 0
	case b >= 0:
		last = min(last, daySec+hm(5, 0)-wait-ride-arrive)
	}
	s0 := first + int32(mix(k^4)%uint64(max(1, last-first+1)))
	if a >= 0 {
		v := c.pickProv(kind, a, unit(mix(k^5)))
		g.add(v, s0+g.jit(3*minute), s0+wait+g.jit(minute), prioFixed, false)
	}
	if b >= 0 {
		s := s0 + wait + ride + g.jit(2*minute)
		g.add(c.pickProv(kind, b, unit(mix(k^6))), s, s+arrive+g.jit(2*minute), prioFixed, false)
	}
}

// visitor simulates a day of person i staying with the household t.host:
// errands near the host's home, its outings, and the rest at its home.
func (g *gen) visitor(buf *dayBuf, i uint32, t *trip, fam *cand) {
	x := &g.ctx
	ward := g.c.hhWard[t.host]
	key, hkey := uint64(i), uint64(t.host)|1<<40
	if g.p(min(0.9, 0.3*x.market)) {
		s := hm(6, 30) + g.jit(30*minute)
		g.add(g.near(kMarket, ward, hkey, 0.7), s, s+g.uni(30*minute, 70*minute), prioErrand, false)
	}
	if g.p(0.3) {
		s := g.uni(hm(8, 0), hm(20, 0))
		g.add(g.near(kCafe, ward, key, 0.5), s, s+g.uni(40*minute, 100*minute), prioErrand, false)
	}
	if g.p(0.2) {
		s := g.uni(hm(11, 0), hm(19, 0))
		g.add(g.near(kRestaurant, ward, key, 0.5), s, s+g.uni(40*minute, 90*minute), prioErrand, false)
	}
	if g.p(min(0.9, 0.1*x.pagoda)) {
		s := g.uni(hm(6, 0), hm(18, 0))
		g.add(g.near(kPagoda, ward, hkey, 0.9), s, s+g.uni(45*minute, 90*minute), prioFaith, false)
	}
	g.join(fam)
	g.finish(buf, i, homeAny)
}
