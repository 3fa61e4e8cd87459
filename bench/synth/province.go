package synth

import "strconv"

// A provinceInfo is one of Vietnam's 63 provinces and centrally governed
// cities, by population: a country of N provinces takes the first N.
type provinceInfo struct {
	name     string  // ASCII-folded
	code     string  // the official two-digit code (2021 list)
	lat, lon float64 // about its capital
	pop      int     // thousands, rounded (about the 2019 census)
	city     bool    // a centrally governed city: districts are "Quan"
	origin   bool    // a big city or industrial province people travel home from
	airport  string  // its airport, "" for none
	stations []string
}

var provinceTable = [...]provinceInfo{
	{name: "TP. Ho Chi Minh", code: "79", lat: 10.78, lon: 106.7, pop: 8993, city: true, origin: true, airport: "San bay Tan Son Nhat",
		stations: []string{"Ben xe Mien Dong", "Ben xe Mien Tay", "Ben xe An Suong", "Ben xe Cho Lon"}},
	{name: "Ha Noi", code: "01", lat: 21.03, lon: 105.85, pop: 8054, city: true, origin: true, airport: "San bay Noi Bai",
		stations: []string{"Ben xe Giap Bat", "Ben xe My Dinh", "Ben xe Nuoc Ngam", "Ben xe Gia Lam"}},
	{name: "Thanh Hoa", code: "38", lat: 19.81, lon: 105.78, pop: 3641, airport: "San bay Tho Xuan"},
	{name: "Nghe An", code: "40", lat: 18.67, lon: 105.68, pop: 3327, airport: "San bay Vinh"},
	{name: "Dong Nai", code: "75", lat: 10.95, lon: 106.82, pop: 3097, origin: true},
	{name: "Binh Duong", code: "74", lat: 10.98, lon: 106.65, pop: 2427, origin: true},
	{name: "Hai Phong", code: "31", lat: 20.86, lon: 106.68, pop: 2029, city: true, origin: true, airport: "San bay Cat Bi"},
	{name: "An Giang", code: "89", lat: 10.38, lon: 105.44, pop: 1909},
	{name: "Hai Duong", code: "30", lat: 20.94, lon: 106.33, pop: 1893},
	{name: "Dak Lak", code: "66", lat: 12.67, lon: 108.04, pop: 1870, airport: "San bay Buon Ma Thuot"},
	{name: "Thai Binh", code: "34", lat: 20.45, lon: 106.34, pop: 1861},
	{name: "Bac Giang", code: "24", lat: 21.27, lon: 106.19, pop: 1804},
	{name: "Nam Dinh", code: "36", lat: 20.42, lon: 106.17, pop: 1781},
	{name: "Tien Giang", code: "82", lat: 10.36, lon: 106.36, pop: 1765},
	{name: "Kien Giang", code: "91", lat: 10.01, lon: 105.08, pop: 1724, airport: "San bay Phu Quoc"},
	{name: "Long An", code: "80", lat: 10.54, lon: 106.41, pop: 1689},
	{name: "Dong Thap", code: "87", lat: 10.46, lon: 105.63, pop: 1600},
	{name: "Gia Lai", code: "64", lat: 13.98, lon: 108.0, pop: 1514, airport: "San bay Pleiku"},
	{name: "Quang Nam", code: "49", lat: 15.57, lon: 108.47, pop: 1496, airport: "San bay Chu Lai"},
	{name: "Binh Dinh", code: "52", lat: 13.78, lon: 109.22, pop: 1487, airport: "San bay Phu Cat"},
	{name: "Phu Tho", code: "25", lat: 21.32, lon: 105.4, pop: 1464},
	{name: "Bac Ninh", code: "27", lat: 21.19, lon: 106.07, pop: 1369, origin: true},
	{name: "Quang Ninh", code: "22", lat: 20.95, lon: 107.08, pop: 1321, airport: "San bay Van Don"},
	{name: "Lam Dong", code: "68", lat: 11.94, lon: 108.44, pop: 1297, airport: "San bay Lien Khuong"},
	{name: "Ha Tinh", code: "42", lat: 18.34, lon: 105.91, pop: 1289},
	{name: "Ben Tre", code: "83", lat: 10.24, lon: 106.38, pop: 1289},
	{name: "Thai Nguyen", code: "19", lat: 21.59, lon: 105.85, pop: 1287},
	{name: "Hung Yen", code: "33", lat: 20.65, lon: 106.05, pop: 1253},
	{name: "Son La", code: "14", lat: 21.33, lon: 103.91, pop: 1249},
	{name: "Can Tho", code: "92", lat: 10.03, lon: 105.78, pop: 1236, city: true, origin: true, airport: "San bay Can Tho"},
	{name: "Khanh Hoa", code: "56", lat: 12.24, lon: 109.19, pop: 1232, airport: "San bay Cam Ranh"},
	{name: "Quang Ngai", code: "51", lat: 15.12, lon: 108.8, pop: 1232},
	{name: "Binh Thuan", code: "60", lat: 10.93, lon: 108.1, pop: 1231},
	{name: "Soc Trang", code: "94", lat: 9.6, lon: 105.97, pop: 1200},
	{name: "Ca Mau", code: "96", lat: 9.18, lon: 105.15, pop: 1194, airport: "San bay Ca Mau"},
	{name: "Tay Ninh", code: "72", lat: 11.31, lon: 106.1, pop: 1170},
	{name: "Vinh Phuc", code: "26", lat: 21.31, lon: 105.6, pop: 1152},
	{name: "Ba Ria - Vung Tau", code: "77", lat: 10.35, lon: 107.08, pop: 1149, airport: "San bay Con Dao"},
	{name: "Da Nang", code: "48", lat: 16.05, lon: 108.2, pop: 1135, city: true, origin: true, airport: "San bay Da Nang"},
	{name: "Thua Thien Hue", code: "46", lat: 16.46, lon: 107.59, pop: 1129, airport: "San bay Phu Bai"},
	{name: "Vinh Long", code: "86", lat: 10.25, lon: 105.97, pop: 1023},
	{name: "Tra Vinh", code: "84", lat: 9.93, lon: 106.34, pop: 1009},
	{name: "Binh Phuoc", code: "70", lat: 11.54, lon: 106.89, pop: 995},
	{name: "Ninh Binh", code: "37", lat: 20.25, lon: 105.97, pop: 983},
	{name: "Bac Lieu", code: "95", lat: 9.29, lon: 105.72, pop: 908},
	{name: "Quang Binh", code: "44", lat: 17.47, lon: 106.62, pop: 896, airport: "San bay Dong Hoi"},
	{name: "Phu Yen", code: "54", lat: 13.09, lon: 109.3, pop: 873, airport: "San bay Tuy Hoa"},
	{name: "Ha Giang", code: "02", lat: 22.82, lon: 104.98, pop: 855},
	{name: "Hoa Binh", code: "17", lat: 20.81, lon: 105.34, pop: 855},
	{name: "Ha Nam", code: "35", lat: 20.54, lon: 105.91, pop: 853},
	{name: "Yen Bai", code: "15", lat: 21.72, lon: 104.91, pop: 822},
	{name: "Tuyen Quang", code: "08", lat: 21.82, lon: 105.21, pop: 785},
	{name: "Lang Son", code: "20", lat: 21.85, lon: 106.76, pop: 782},
	{name: "Hau Giang", code: "93", lat: 9.78, lon: 105.47, pop: 734},
	{name: "Lao Cai", code: "10", lat: 22.49, lon: 103.97, pop: 731},
	{name: "Quang Tri", code: "45", lat: 16.75, lon: 107.19, pop: 633},
	{name: "Dak Nong", code: "67", lat: 12.0, lon: 107.69, pop: 623},
	{name: "Dien Bien", code: "11", lat: 21.39, lon: 103.02, pop: 599, airport: "San bay Dien Bien Phu"},
	{name: "Ninh Thuan", code: "58", lat: 11.56, lon: 108.99, pop: 591},
	{name: "Kon Tum", code: "62", lat: 14.35, lon: 108.0, pop: 540},
	{name: "Cao Bang", code: "04", lat: 22.67, lon: 106.26, pop: 530},
	{name: "Lai Chau", code: "12", lat: 22.4, lon: 103.46, pop: 461},
	{name: "Bac Kan", code: "06", lat: 22.15, lon: 105.83, pop: 314},
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
