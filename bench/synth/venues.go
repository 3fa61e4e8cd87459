package synth

import registry "github.com/truyvet/truyvet/venue"

// VenueSpecs are the city's venues as the venue registry takes them, each
// with its id (a bulk import): name, kind, province code, district, an
// address, and a position a few kilometres from the province's capital.
// Deployments that refuse check-ins at unregistered venues get these
// registered before the city's records are replayed.
func (c *City) VenueSpecs() []registry.Spec {
	out := make([]registry.Spec, len(c.venues))
	for i := range c.venues {
		id := uint32(i + 1) //nolint:gosec // venues fit in uint32
		kind, name := c.Venue(id)
		w := c.venues[i].ward
		p := c.provinceOf(w)
		info := c.provs[p].info
		district := c.districtName(p, c.wardDist[w])
		out[i] = registry.Spec{
			ID: id, Name: name, Kind: registry.Kind(kind), Province: info.code, District: district,
			Address: name + ", " + district + ", " + info.name,
			Lat:     info.lat + jitter(id, 0), Lon: info.lon + jitter(id, 1),
		}
	}
	return out
}

// jitter is a fixed offset of up to ±0.05° for venue id.
func jitter(id uint32, axis uint32) float64 {
	h := (id*2654435761 + axis*40503) % 1001
	return (float64(h)/1000 - 0.5) / 10
}
