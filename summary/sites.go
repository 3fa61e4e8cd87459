package summary

import (
	"context"
	"time"

	"github.com/truyvet/truyvet/sites"
)

// Sites wraps an exposure-site store: each approval that succeeds counts a
// site published, and each alert the store takes (not one it had already,
// however often it comes back) an alert sent, in the province of the
// site's venue (Unknown when not known), on the local day it happened.
type Sites struct {
	sites.Store
	Provinces Provinces // nil: every count under Unknown
	Tally     *Tally
}

var _ sites.Store = (*Sites)(nil)

// Approve implements sites.Registry.
func (s *Sites) Approve(ctx context.Context, id uint64, by string, at time.Time) (sites.Site, error) {
	site, err := s.Store.Approve(ctx, id, by, at)
	if err == nil {
		s.Tally.Add(s.provinces([]uint32{site.VenueID})[0], SitesPublished, "", 1)
	}
	return site, err
}

// Put implements sites.Alerts.
func (s *Sites) Put(ctx context.Context, as []sites.Alert) ([]sites.Alert, error) {
	stored, err := s.Store.Put(ctx, as)
	if err != nil || len(stored) == 0 {
		return stored, err
	}
	ids := make([]uint32, len(stored))
	for i, a := range stored {
		ids[i] = a.VenueID
	}
	byProvince := map[string]int64{}
	for _, p := range s.provinces(ids) {
		byProvince[p]++
	}
	for p, n := range byProvince {
		s.Tally.Add(p, AlertsSent, "", n)
	}
	return stored, nil
}

// provinces are the provinces of venues ids, Unknown where not known.
func (s *Sites) provinces(ids []uint32) []string {
	out := make([]string, len(ids))
	if s.Provinces != nil {
		s.Provinces.ProvincesOf(ids, out)
	}
	for i, p := range out {
		if p == "" {
			out[i] = Unknown
		}
	}
	return out
}
