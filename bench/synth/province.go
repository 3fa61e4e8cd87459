package synth

import "strconv"

// A provinceInfo is one of Vietnam's 63 provinces and centrally governed
// cities, by population: a country of N provinces takes the first N.
type provinceInfo struct {
	name     string // ASCII-folded
	pop      int    // thousands, rounded (about the 2019 census)
	city     bool   // a centrally governed city: districts are "Quan"
	origin   bool   // a big city or industrial province people travel home from
	airport  string // its airport, "" for none
	stations []string
}

var provinceTable = [...]provinceInfo{
	{name: "TP. Ho Chi Minh", pop: 8993, city: true, origin: true, airport: "San bay Tan Son Nhat",
		stations: []string{"Ben xe Mien Dong", "Ben xe Mien Tay", "Ben xe An Suong", "Ben xe Cho Lon"}},
	{name: "Ha Noi", pop: 8054, city: true, origin: true, airport: "San bay Noi Bai",
		stations: []string{"Ben xe Giap Bat", "Ben xe My Dinh", "Ben xe Nuoc Ngam", "Ben xe Gia Lam"}},
	{name: "Thanh Hoa", pop: 3641, airport: "San bay Tho Xuan"},
	{name: "Nghe An", pop: 3327, airport: "San bay Vinh"},
	{name: "Dong Nai", pop: 3097, origin: true},
	{name: "Binh Duong", pop: 2427, origin: true},
	{name: "Hai Phong", pop: 2029, city: true, origin: true, airport: "San bay Cat Bi"},
	{name: "An Giang", pop: 1909},
	{name: "Hai Duong", pop: 1893},
	{name: "Dak Lak", pop: 1870, airport: "San bay Buon Ma Thuot"},
	{name: "Thai Binh", pop: 1861},
	{name: "Bac Giang", pop: 1804},
	{name: "Nam Dinh", pop: 1781},
	{name: "Tien Giang", pop: 1765},
	{name: "Kien Giang", pop: 1724, airport: "San bay Phu Quoc"},
	{name: "Long An", pop: 1689},
	{name: "Dong Thap", pop: 1600},
	{name: "Gia Lai", pop: 1514, airport: "San bay Pleiku"},
	{name: "Quang Nam", pop: 1496, airport: "San bay Chu Lai"},
	{name: "Binh Dinh", pop: 1487, airport: "San bay Phu Cat"},
	{name: "Phu Tho", pop: 1464},
	{name: "Bac Ninh", pop: 1369, origin: true},
	{name: "Quang Ninh", pop: 1321, airport: "San bay Van Don"},
	{name: "Lam Dong", pop: 1297, airport: "San bay Lien Khuong"},
	{name: "Ha Tinh", pop: 1289},
	{name: "Ben Tre", pop: 1289},
	{name: "Thai Nguyen", pop: 1287},
	{name: "Hung Yen", pop: 1253},
	{name: "Son La", pop: 1249},
	{name: "Can Tho", pop: 1236, city: true, origin: true, airport: "San bay Can Tho"},
	{name: "Khanh Hoa", pop: 1232, airport: "San bay Cam Ranh"},
	{name: "Quang Ngai", pop: 1232},
	{name: "Binh Thuan", pop: 1231},
	{name: "Soc Trang", pop: 1200},
	{name: "Ca Mau", pop: 1194, airport: "San bay Ca Mau"},
	{name: "Tay Ninh", pop: 1170},
	{name: "Vinh Phuc", pop: 1152},
	{name: "Ba Ria - Vung Tau", pop: 1149, airport: "San bay Con Dao"},
	{name: "Da Nang", pop: 1135, city: true, origin: true, airport: "San bay Da Nang"},
	{name: "Thua Thien Hue", pop: 1129, airport: "San bay Phu Bai"},
	{name: "Vinh Long", pop: 1023},
	{name: "Tra Vinh", pop: 1009},
	{name: "Binh Phuoc", pop: 995},
	{name: "Ninh Binh", pop: 983},
	{name: "Bac Lieu", pop: 908},
	{name: "Quang Binh", pop: 896, airport: "San bay Dong Hoi"},
	{name: "Phu Yen", pop: 873, airport: "San bay Tuy Hoa"},
	{name: "Ha Giang", pop: 855},
	{name: "Hoa Binh", pop: 855},
	{name: "Ha Nam", pop: 853},
	{name: "Yen Bai", pop: 822},
	{name: "Tuyen Quang", pop: 785},
	{name: "Lang Son", pop: 782},
	{name: "Hau Giang", pop: 734},
	{name: "Lao Cai", pop: 731},
	{name: "Quang Tri", pop: 633},
	{name: "Dak Nong", pop: 623},
	{name: "Dien Bien", pop: 599, airport: "San bay Dien Bien Phu"},
	{name: "Ninh Thuan", pop: 591},
	{name: "Kon Tum", pop: 540},
	{name: "Cao Bang", pop: 530},
	{name: "Lai Chau", pop: 461},
	{name: "Bac Kan", pop: 314},
}

// MaxProvinces is the most provinces a Config may ask for.
const MaxProvinces = len(provinceTable)

// Per-province minimums, so that every province has a venue of each kind
// its people need.
const (
	minProvinceVenues = MinVenues
	minProvincePeople = MinPeople
	wardsPerDistrict  = 12
)

// province is one province of a built city.
type province struct {
	info     *provinceInfo
	people   int       // inhabitants
	venues   int       // venues
	ward0    uint16    // first ward
	wards    uint16    // number of wards
	district uint16    // first district (index over all provinces)
	ndist    uint16    // number of districts
	hh0, hh1 uint32    // households [hh0, hh1)
	dest     []float64 // cumulative weights of travel destinations; nil: none
}

// apportion splits total into len(weights) parts of at least least each,
// the rest in proportion to the weights (largest parts first for the
// rounding remainder).
func apportion(total, least int, weights []int) []int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	parts := make([]int, len(weights))
	rest := total - least*len(weights)
	left := rest
	for i, w := range weights {
		parts[i] = least + rest*w/sum
		left -= rest * w / sum
	}
	for i := 0; left > 0; i = (i + 1) % len(parts) {
		parts[i]++
		left--
	}
	return parts
}

// buildProvinces splits the people and venues into provinces and the
// provinces into wards and districts. One province is the single city of
// the model without provinces: one district, no airport.
func (c *City) buildProvinces() {
	n := max(1, c.cfg.Provinces)
	weights := make([]int, n)
	for i := range weights {
		weights[i] = provinceTable[i].pop
	}
	people, venues := []int{c.cfg.People}, []int{c.cfg.Venues}
	if n > 1 {
		people = apportion(c.cfg.People, minProvincePeople, weights)
		venues = apportion(c.cfg.Venues, minProvinceVenues, weights)
	}
	c.provs = make([]province, n)
	w, d := 0, 0
	for i := range c.provs {
		p := &c.provs[i]
		p.info, p.people, p.venues = &provinceTable[i], people[i], venues[i]
		p.ward0, p.wards = uint16(w), uint16(max(1, p.venues/200))
		nd := 1
		if n > 1 {
			nd = (int(p.wards) + wardsPerDistrict - 1) / wardsPerDistrict
		}
		p.district, p.ndist = uint16(d), uint16(nd)
		for k := range int(p.wards) {
			c.wardProv = append(c.wardProv, uint8(i))
			c.wardDist = append(c.wardDist, uint16(d+k*nd/int(p.wards)))
		}
		w += int(p.wards)
		d += nd
	}
	c.wards, c.districts = w, d
	c.buildDestinations()
}

// buildDestinations sets, for every province people travel home from, the
// provinces they travel to: any other, by population, the other big cities
// less often.
func (c *City) buildDestinations() {
	for i := range c.provs {
		p := &c.provs[i]
		if !p.info.origin || len(c.provs) < 2 {
			continue
		}
		p.dest = make([]float64, len(c.provs))
		total := 0.0
		for j := range c.provs {
			if j != i {
				w := float64(c.provs[j].people)
				if c.provs[j].info.origin {
					w /= 4
				}
				total += w
			}
			p.dest[j] = total
		}
	}
}

// destination picks the province a household of province i travels to at
// quantile u.
func (c *City) destination(i int, u float64) int {
	cum := c.provs[i].dest
	x := u * cum[len(cum)-1]
	for j, v := range cum {
		if v > x {
			return j
		}
	}
	return len(cum) - 1
}

// provinceOf returns the province of ward w.
func (c *City) provinceOf(w uint16) int { return int(c.wardProv[w]) }

// hasAirport reports whether province i has an airport.
func (c *City) hasAirport(i int) bool {
	return len(c.provs) > 1 && c.provs[i].info.airport != ""
}

// districtName names district d (an index over all provinces) of province i.
func (c *City) districtName(i int, d uint16) string {
	p := &c.provs[i]
	k := strconv.Itoa(int(d-p.district) + 1)
	if p.info.city {
		return "Quan " + k
	}
	return "Huyen " + k
}

// Place returns the province and district of venue id, or two empty strings
// when there is no such venue. A city without provinces is one province,
// named after Ho Chi Minh City, whose bus stations it has, with one district.
func (c *City) Place(id uint32) (province, district string) {
	if id == 0 || int(id) > len(c.venues) {
		return "", ""
	}
	w := c.venues[id-1].ward
	i := c.provinceOf(w)
	return c.provs[i].info.name, c.districtName(i, c.wardDist[w])
}

// Provinces lists the provinces of the city, largest first.
func (c *City) Provinces() []string {
	out := make([]string, len(c.provs))
	for i := range c.provs {
		out[i] = c.provs[i].info.name
	}
	return out
}
