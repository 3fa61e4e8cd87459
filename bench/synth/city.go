package synth

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// ict is Asia/Ho_Chi_Minh: UTC+7 without daylight saving since 1975.
var ict = time.FixedZone("ICT", 7*3600)

// Role is what a person does on a weekday.
type Role uint8

// The roles.
const (
	Student   Role = iota + 1 // goes to school (or university)
	Worker                    // works at an office, a factory or a service job
	Elderly                   // retired
	Homemaker                 // at home: homemakers and the unemployed
)

func (r Role) String() string {
	switch r {
	case Student:
		return "student"
	case Worker:
		return "worker"
	case Elderly:
		return "elderly"
	case Homemaker:
		return "homemaker"
	default:
		return "unknown"
	}
}

// Person describes one inhabitant, for printing and for picking cases.
type Person struct {
	ID        uint32   // user_id
	Role      Role     //
	Household []uint32 // user ids of the household's members, this person included
	Work      uint32   // venue id of the school or workplace; 0 for none
	QR        bool     // scans QR codes
	Bluetooth bool     // runs Bluezone
	Province  string   // where the household lives (see City.Place)
}

// person flags.
const (
	fQR   uint8 = 1 << iota // scans QR codes
	fBT                     // runs Bluezone
	fSat                    // student with Saturday classes
	fApp0                   // two bits: which app sends the person's check-ins
	fApp1
)

// person is one inhabitant, by internal index (household order).
type person struct {
	hh    uint32 // household index
	work  uint32 // venue id of school or workplace, 0 none
	role  Role
	flags uint8
	shift uint8 // workers: 0 day, 1 late, 2 night; students: school timetable
	off   uint8 // service workers' weekday off
}

type venue struct {
	kind   uint8
	ward   uint16
	ord    uint32 // 1-based ordinal among venues of the same kind
	weight float32
}

// pool is a set of venues with cumulative popularity, for weighted picks.
type pool struct {
	ids []uint32
	cum []float64
}

// pick returns the venue at quantile u in [0, 1) of the pool's weight, or 0
// when the pool is empty.
func (p *pool) pick(u float64) uint32 {
	n := len(p.ids)
	if n == 0 {
		return 0
	}
	x := u * p.cum[n-1]
	lo, hi := 0, n-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return p.ids[lo]
}

// Household faith, which drives pagoda and church visits.
const (
	faithNone uint8 = iota
	faithBuddhist
	faithCatholic
)

// City is a generated population with its venues. It is immutable once built
// and safe for concurrent use; each call of Uploads or Batches simulates its
// days afresh.
type City struct {
	cfg       Config
	seed      uint64 // cfg.Seed, mixed
	base      int64  // Unix time of the first local midnight
	lim       int32  // every generated time, as an offset from base, is below lim
	wards     int    // over all provinces
	districts int    // over all provinces

	provs    []province     // largest first; one for a city without provinces
	wardProv []uint8        // ward -> province
	wardDist []uint16       // ward -> district
	venues   []venue        // by id-1
	pools    [nKinds][]pool // per ward, then per district, then per province
	people   []person       // by internal index
	ids      []uint32       // internal index -> user id
	inv      []uint32       // user id - 1 -> internal index
	hh       []uint32       // household index -> first member; one extra entry
	hhWard   []uint16       //
	hhFait   []uint8        //
	wpOff    []uint32       // venue id -> offset into wpList; Venues+2 entries
	wpList   []uint32       // people by school or workplace, internal indexes
	srcs     [3]string      // QR apps
	holiday  []hday         // the scenario's days; nil for ordinary days
}

// New builds the city described by cfg.
func New(cfg Config) (*City, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &City{cfg: cfg, seed: mix(cfg.Seed ^ 0x7472757976657421)}
	c.srcs = [3]string{"ncovi", "tokhaiyte", "bluezone"}
	end := cfg.End.In(ict)
	midnight := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, ict).Unix()
	c.base = midnight - int64(cfg.Days)*daySec
	c.lim = int32(cfg.End.Unix() - 60 - c.base)
	c.holiday = scenarioDays[cfg.Scenario]
	c.buildProvinces()
	r := rand.New(rand.NewPCG(c.seed, 0x63697479))
	c.buildVenues(r)
	c.buildPeople(r)
	c.buildWorkplaces()
	return c, nil
}

// Venue shares, of all venues; restaurants take what is left.
var venueShare = [nKinds]float64{
	kSchool: 0.03, kOffice: 0.14, kFactory: 0.02, kMarket: 0.03, kSupermarket: 0.04,
	kCafe: 0.22, kHospital: 0.05, kPagoda: 0.06, kChurch: 0.02,
}

// Spread of the lognormal popularity by kind.
var venueSigma = [nKinds]float64{
	kSchool: 0.4, kOffice: 1.3, kFactory: 0.8, kMarket: 0.8, kSupermarket: 0.7,
	kRestaurant: 1.0, kCafe: 1.0, kHospital: 1.2, kPagoda: 0.8, kChurch: 0.6, kBusStation: 0.5, kAirport: 0.3,
}

// venueCounts returns how many venues of each kind a province of n venues
// has.
func venueCounts(n int, airport bool) [nKinds]int {
	var count [nKinds]int
	rest := n
	for k := range nKinds {
		switch k {
		case kRestaurant:
			continue
		case kBusStation:
			count[k] = min(4, max(1, n/3000))
		case kAirport:
			count[k] = int(b2u(airport))
		default:
			count[k] = max(1, int(math.Round(float64(n)*venueShare[k])))
		}
		rest -= count[k]
	}
	count[kRestaurant] = rest
	return count
}

func (c *City) buildVenues(r *rand.Rand) {
	n := c.cfg.Venues
	// Province and kind of every venue, shuffled so that ids mix them.
	kinds := make([]uint16, 0, n)
	for i := range c.provs {
		count := venueCounts(c.provs[i].venues, c.hasAirport(i))
		for k := range nKinds {
			for range count[k] {
				kinds = append(kinds, uint16(i)<<8|uint16(k))
			}
		}
	}
	r.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	c.venues = make([]venue, n)
	ord := make([][nKinds]uint32, len(c.provs))
	for i, pk := range kinds {
		p, k := &c.provs[pk>>8], uint8(pk)
		ord[pk>>8][k]++
		c.venues[i] = venue{
			kind:   k,
			ward:   p.ward0 + uint16(r.IntN(int(p.wards))),
			ord:    ord[pk>>8][k],
			weight: float32(math.Exp(venueSigma[k] * normal(r))),
		}
	}
	c.buildPools()
}

// buildPools lists the venues of each kind by ward, district and province,
// for weighted picks. Hubs serve their province; a province of one district
// has no district pools.
func (c *City) buildPools() {
	for k := range nKinds {
		c.pools[k] = make([]pool, c.wards+c.districts+len(c.provs))
	}
	for i := range c.venues {
		v := &c.venues[i]
		prov := c.provinceOf(v.ward)
		pools := [3]int{int(v.ward), c.wards + int(c.wardDist[v.ward]), c.wards + c.districts + prov}
		for n, w := range pools {
			hub := v.kind == kBusStation || v.kind == kAirport
			if (hub && n < 2) || (n == 1 && c.provs[prov].ndist == 1) {
				continue
			}
			p := &c.pools[v.kind][w]
			total := float64(v.weight)
			if len(p.cum) > 0 {
				total += p.cum[len(p.cum)-1]
			}
			p.ids = append(p.ids, uint32(i+1))
			p.cum = append(p.cum, total)
		}
	}
}

// pickIn picks a venue of kind k at quantile u, in ward w when it has one,
// else in its district, else in its province.
func (c *City) pickIn(k uint8, w uint16, u float64) uint32 {
	if v := c.pools[k][w].pick(u); v != 0 {
		return v
	}
	if v := c.pools[k][c.wards+int(c.wardDist[w])].pick(u); v != 0 {
		return v
	}
	return c.pickProv(k, c.provinceOf(w), u)
}

// pickProv picks a venue of kind k at quantile u anywhere in province i.
func (c *City) pickProv(k uint8, i int, u float64) uint32 {
	return c.pools[k][c.wards+c.districts+i].pick(u)
}

// Household sizes 1..6, cumulative (Vietnam: mean about 3.5).
var hhSizeCum = [6]float64{0.08, 0.25, 0.49, 0.76, 0.90, 1}

// Service jobs, cumulative, by venue kind.
var serviceKinds = []struct {
	kind uint8
	cum  float64
}{
	{kSchool, 0.20}, {kMarket, 0.35}, {kSupermarket, 0.50}, {kRestaurant, 0.75}, {kCafe, 0.85}, {kHospital, 1},
}

func (c *City) buildPeople(r *rand.Rand) {
	n := c.cfg.People
	c.people = make([]person, 0, n)
	c.hh = make([]uint32, 0, n/3+2)
	prov, quota := 0, c.provs[0].people
	for len(c.people) < n {
		if len(c.people) >= quota && prov+1 < len(c.provs) {
			c.provs[prov].hh1 = uint32(len(c.hh))
			prov++
			quota += c.provs[prov].people
			c.provs[prov].hh0 = uint32(len(c.hh))
		}
		p := &c.provs[prov]
		u := r.Float64()
		size := 1
		for size < 6 && u >= hhSizeCum[size-1] {
			size++
		}
		size = min(size, n-len(c.people))
		h := uint32(len(c.hh))
		c.hh = append(c.hh, uint32(len(c.people)))
		ward := p.ward0 + uint16(r.IntN(int(p.wards)))
		c.hhWard = append(c.hhWard, ward)
		faith := faithNone
		if f := r.Float64(); f < 0.07 {
			faith = faithCatholic
		} else if f < 0.32 {
			faith = faithBuddhist
		}
		c.hhFait = append(c.hhFait, faith)
		for _, role := range composition(r, size) {
			c.people = append(c.people, c.newPerson(r, h, ward, role))
		}
	}
	c.hh = append(c.hh, uint32(len(c.people)))
	c.provs[prov].hh1 = uint32(len(c.hh) - 1)

	// User ids are a permutation of 1..People, so households and workplaces
	// are not runs of consecutive ids.
	c.ids = make([]uint32, n)
	for i := range c.ids {
		c.ids[i] = uint32(i + 1)
	}
	r.Shuffle(n, func(i, j int) { c.ids[i], c.ids[j] = c.ids[j], c.ids[i] })
	c.inv = make([]uint32, n)
	for i, id := range c.ids {
		c.inv[id-1] = uint32(i)
	}
}

// composition returns the roles of a household of the given size.
func composition(r *rand.Rand, size int) []Role {
	roles := make([]Role, 0, size)
	switch {
	case size == 1:
		if r.Float64() < 0.65 {
			return append(roles, Worker)
		}
		return append(roles, Elderly)
	case size == 2 && r.Float64() < 0.3:
		return append(roles, Elderly, Elderly)
	}
	adult := func(p float64) Role {
		if r.Float64() < p {
			return Worker
		}
		return Homemaker
	}
	roles = append(roles, adult(0.92), adult(0.75))
	left := size - 2
	grand := 0
	switch {
	case left >= 2 && r.Float64() < 0.5:
		grand = 1
		if left >= 3 && r.Float64() < 0.6 {
			grand = 2
		}
	case left == 1 && r.Float64() < 0.2:
		grand = 1
	}
	for range grand {
		roles = append(roles, Elderly)
	}
	for i := range left - grand {
		if i > 0 && r.Float64() < 0.35 {
			roles = append(roles, Worker) // a grown-up child
		} else {
			roles = append(roles, Student)
		}
	}
	return roles
}

func (c *City) newPerson(r *rand.Rand, h uint32, ward uint16, role Role) person {
	p := person{hh: h, role: role}
	prov := c.provinceOf(ward)
	if r.Float64() < c.cfg.Adoption {
		p.flags |= fQR
	}
	if r.Float64() < c.cfg.BluetoothRate {
		p.flags |= fBT
	}
	p.flags |= uint8(r.IntN(3)) * fApp0
	switch role {
	case Student:
		if r.Float64() < 0.85 {
			p.work = c.pickIn(kSchool, ward, r.Float64())
		} else {
			p.work = c.pickProv(kSchool, prov, r.Float64())
		}
		t := r.Float64()
		switch {
		case t < 0.35:
			p.shift = 0 // full day, lunch at school (ban tru)
		case t < 0.75:
			p.shift = 1 // two sessions, lunch at home
		case t < 0.88:
			p.shift = 2 // morning only
		default:
			p.shift = 3 // afternoon only
		}
		if r.Float64() < 0.2 {
			p.flags |= fSat
		}
	case Worker:
		u := r.Float64()
		switch {
		case u < 0.28:
			p.work = c.pickProv(kFactory, prov, r.Float64())
			if r.Float64() < 0.15 {
				p.shift = 2
			}
		case u < 0.80:
			if r.Float64() < 0.5 {
				p.work = c.pickIn(kOffice, ward, r.Float64())
			} else {
				p.work = c.pickProv(kOffice, prov, r.Float64())
			}
		default:
			s, k := r.Float64(), kHospital
			for _, sk := range serviceKinds {
				if s < sk.cum {
					k = sk.kind
					break
				}
			}
			if r.Float64() < 0.6 {
				p.work = c.pickIn(k, ward, r.Float64())
			} else {
				p.work = c.pickProv(k, prov, r.Float64())
			}
			switch s := r.Float64(); k {
			case kMarket:
				p.shift = b2u(s < 0.3)
			case kSupermarket, kRestaurant, kCafe:
				p.shift = b2u(s < 0.5)
			case kHospital:
				switch {
				case s < 0.25:
					p.shift = 2
				case s < 0.5:
					p.shift = 1
				}
			}
			p.off = uint8(r.IntN(7))
		}
	}
	return p
}

// normal draws from an approximately standard normal distribution (the
// Irwin–Hall sum of twelve uniforms), with additions only, so it is exact on
// every platform.
func normal(r *rand.Rand) float64 {
	x := -6.0
	for range 12 {
		x += r.Float64()
	}
	return x
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// buildWorkplaces lists the people of every school and workplace;
// colleagues and classmates meet their neighbours on that list.
func (c *City) buildWorkplaces() {
	c.wpOff = make([]uint32, len(c.venues)+2)
	for i := range c.people {
		p := &c.people[i]
		if p.work != 0 {
			c.wpOff[p.work+1]++
		}
	}
	for v := 1; v < len(c.wpOff); v++ {
		c.wpOff[v] += c.wpOff[v-1]
	}
	c.wpList = make([]uint32, c.wpOff[len(c.wpOff)-1])
	fill := make([]uint32, len(c.venues)+1)
	copy(fill, c.wpOff[:len(c.venues)+1])
	for i := range c.people {
		p := &c.people[i]
		if p.work != 0 {
			c.wpList[fill[p.work]] = uint32(i)
			fill[p.work]++
		}
	}
}

// Config returns the configuration the city was built from.
func (c *City) Config() Config { return c.cfg }

// Span is the time range the records cover: from the first simulated local
// midnight to one minute before End. Every record time lies inside it.
func (c *City) Span() (from, to time.Time) {
	return time.Unix(c.base, 0).In(ict), time.Unix(c.base+int64(c.lim), 0).In(ict)
}

// Venue returns the kind (one of the Kind* constants) and name of venue id,
// or two empty strings when there is no such venue.
func (c *City) Venue(id uint32) (kind string, name string) {
	if id == 0 || int(id) > len(c.venues) {
		return "", ""
	}
	v := &c.venues[id-1]
	return kindNames[v.kind], c.venueName(id, v)
}

// Kinds returns the kind of each venue (graph.VenueKinds), "" for an id
// that is no venue of the city.
func (c *City) Kinds(_ context.Context, venues []uint32) ([]string, error) {
	out := make([]string, len(venues))
	for i, v := range venues {
		out[i], _ = c.Venue(v)
	}
	return out, nil
}

// Person describes the person with user id id; ok is false when there is
// no such person.
func (c *City) Person(id uint32) (p Person, ok bool) {
	if id == 0 || int(id) > len(c.people) {
		return p, false
	}
	i := c.inv[id-1]
	q := &c.people[i]
	p = Person{ID: id, Role: q.role, Work: q.work, QR: q.flags&fQR != 0, Bluetooth: q.flags&fBT != 0}
	p.Province = c.provs[c.provinceOf(c.hhWard[q.hh])].info.name
	for j := c.hh[q.hh]; j < c.hh[q.hh+1]; j++ {
		p.Household = append(p.Household, c.ids[j])
	}
	return p, true
}

// BusyPerson returns a good case for a demo: the lowest user id of an
// office worker who scans QR codes and runs Bluezone, lives with at least
// two others of whom one runs Bluezone too, works at an office with several
// Bluezone colleagues and is not travelling when the data starts. Such a
// person has a handful of F1 (household, colleagues, lunch places) and a
// larger F2. If nobody qualifies it relaxes the rules, down to user 1.
func (c *City) BusyPerson() uint32 {
	for strict := 2; strict >= 0; strict-- {
		for id := uint32(1); int(id) <= len(c.people); id++ {
			i := c.inv[id-1]
			p := &c.people[i]
			if p.role != Worker || p.flags&(fQR|fBT) != fQR|fBT || c.awayAtStart(i) {
				continue
			}
			if strict == 0 {
				return id
			}
			if c.venues[p.work-1].kind != kOffice || p.shift != 0 {
				continue
			}
			if strict == 2 {
				lo, hi := c.hh[p.hh], c.hh[p.hh+1]
				bt := 0
				for j := lo; j < hi; j++ {
					if c.people[j].flags&fBT != 0 {
						bt++
					}
				}
				mates := 0
				for _, j := range c.wpList[c.wpOff[p.work]:c.wpOff[p.work+1]] {
					if c.people[j].flags&fBT != 0 {
						mates++
					}
				}
				if hi-lo < 3 || bt < 2 || mates < 6 {
					continue
				}
			}
			return id
		}
	}
	return 1
}

// awayAtStart reports whether person i is travelling when the data starts.
func (c *City) awayAtStart(i uint32) bool {
	if away, _ := c.awayOrdinary(i); away {
		return true
	}
	t, ok := c.tripOf(c.people[i].hh)
	return ok && t.dep <= 0
}

// awayOrdinary reports whether person i is on an ordinary trip when the
// data starts, and the day they come back.
func (c *City) awayOrdinary(i uint32) (bool, int) {
	h := mix(c.seed ^ 0x61776179 ^ uint64(i)<<20)
	return unit(h) < 0.004, int((h >> 8) % 3)
}
