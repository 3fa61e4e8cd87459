package synth

import "strconv"

// Venue kinds, in the order of kindNames.
const (
	kSchool uint8 = iota
	kOffice
	kFactory
	kMarket
	kSupermarket
	kRestaurant
	kCafe
	kHospital
	kPagoda
	kChurch
	kBusStation
	kAirport
	nKinds
)

// Venue kind names, as City.Venue returns them.
const (
	KindSchool      = "school"
	KindOffice      = "office"
	KindFactory     = "factory"
	KindMarket      = "market"
	KindSupermarket = "supermarket"
	KindRestaurant  = "restaurant"
	KindCafe        = "cafe"
	KindHospital    = "hospital"
	KindPagoda      = "pagoda"
	KindChurch      = "church"
	KindBusStation  = "bus_station"
	KindAirport     = "airport"
)

var kindNames = [nKinds]string{
	KindSchool, KindOffice, KindFactory, KindMarket, KindSupermarket, KindRestaurant,
	KindCafe, KindHospital, KindPagoda, KindChurch, KindBusStation, KindAirport,
}

// kindPrefixes are the first words of venue names, picked by venue.
var kindPrefixes = [nKinds][]string{
	kSchool:      {"Truong Mam non", "Truong Tieu hoc", "Truong THCS", "Truong THPT", "Truong Dai hoc"},
	kOffice:      {"Cong ty TNHH", "Cong ty Co phan", "Van phong", "Ngan hang", "UBND Phuong"},
	kFactory:     {"Nha may", "Xuong may", "Nha may Giay", "Cong ty May", "Nha may Thuc pham"},
	kMarket:      {"Cho"},
	kSupermarket: {"Co.opmart", "Bach Hoa Xanh", "WinMart", "Lotte Mart", "Big C"},
	kRestaurant:  {"Quan com", "Quan pho", "Quan bun bo", "Quan hu tieu", "Quan banh mi", "Nha hang", "Quan oc"},
	kCafe:        {"Ca phe", "Tra sua", "Ca phe vot"},
	kHospital:    {"Benh vien", "Phong kham", "Tram y te"},
	kPagoda:      {"Chua"},
	kChurch:      {"Nha tho"},
	kBusStation:  {"Ben xe"},
	kAirport:     {"San bay"},
}

// places are ASCII-folded Vietnamese place and street names.
var places = []string{
	"Ben Thanh", "Tan Dinh", "Ba Chieu", "Hoa Binh", "Nguyen Trai", "Le Loi",
	"Tran Hung Dao", "Hai Ba Trung", "Ly Thuong Kiet", "Pham Ngu Lao", "Thi Nghe",
	"Go Vap", "Phu Nhuan", "Binh Thanh", "Thu Duc", "Tan Binh", "Binh Tan", "Hoc Mon",
	"Cu Chi", "Nha Be", "An Dong", "Xom Chieu", "Ban Co", "Vuon Chuoi", "Hoa Hung",
	"Nguyen Du", "Le Quy Don", "Tran Phu", "Quang Trung", "Nguyen Hue", "Vo Thi Sau",
	"Dien Bien Phu", "Truong Chinh", "Au Co", "Lac Long Quan", "Hung Vuong",
	"Phan Dang Luu", "Bach Dang", "Chu Van An", "Le Van Sy", "Nam Ky Khoi Nghia",
	"Ton Duc Thang", "Ham Nghi", "Ky Dong", "Tan Phu", "Hiep Binh", "Linh Trung",
	"Tan Thuan", "Phu My", "Binh Trieu",
}

// Bus station names of a province without names of its own, by ordinal.
var stationSides = []string{"Trung tam", "phia Bac", "phia Nam", "phia Tay"}

// venueName builds the name of venue v (its id is id); the per-kind
// ordinal makes it unique in its province. In a country the province
// follows it, after the district for venues other than hubs.
func (c *City) venueName(id uint32, v *venue) string {
	i := c.provinceOf(v.ward)
	info := c.provs[i].info
	var name string
	switch {
	case v.kind == kAirport:
		name = info.airport
	case v.kind == kBusStation && int(v.ord) <= len(info.stations):
		name = info.stations[v.ord-1]
	case v.kind == kBusStation && len(c.provs) > 1:
		return "Ben xe " + stationSides[(v.ord-1)%4] + " " + info.name
	default:
		h := mix(uint64(id) ^ 0x6e616d6573)
		pre := kindPrefixes[v.kind]
		name = pre[h%uint64(len(pre))] + " " + places[(h>>16)%uint64(len(places))] + " " + strconv.Itoa(int(v.ord))
		if len(c.provs) > 1 {
			name += ", " + c.districtName(i, c.wardDist[v.ward])
		}
	}
	if len(c.provs) > 1 {
		name += ", " + info.name
	}
	return name
}
