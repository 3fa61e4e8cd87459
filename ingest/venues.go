package ingest

import "github.com/truyvet/truyvet/schemas/event"

// Venues checks the venues that check-ins name: venue/qrsig verifies codes,
// venue/cache knows the registry's ids.
type Venues interface {
	// Verify returns the venue of a signed QR code's text, or an error
	// when its signature does not verify (or it is no code at all).
	Verify(code string) (uint32, error)
	// Known reports whether the registry has the venue.
	Known(id uint32) bool
}

// Option configures a Handler.
type Option func(*Handler)

// WithVenues makes the handler take "venue_code" on check-ins, verified by
// v, and, with requireRegistered, refuse check-ins at venues v does not know
// (venue_id, unknown_venue). Without it any venue_id is taken on faith and
// venue_code is refused.
func WithVenues(v Venues, requireRegistered bool) Option {
	return func(h *Handler) { h.venues, h.requireRegistered = v, requireRegistered }
}

// resolveVenue verifies a record's venue_code, if it has one (code is not
// ""), and sets its VenueID from it.
func (h *Handler) resolveVenue(code string, rec *event.Visit) error {
	if code == "" {
		return nil
	}
	if h.venues == nil {
		return &event.ValidationError{Field: "venue_code", Reason: event.ReasonInvalidValue, Detail: "this server does not verify venue codes; send venue_id"}
	}
	id, err := h.venues.Verify(code)
	if err != nil {
		return &event.ValidationError{Field: "venue_code", Reason: event.ReasonBadSignature, Detail: err.Error()}
	}
	if rec.VenueID != 0 && rec.VenueID != id {
		return &event.ValidationError{Field: "venue_code", Reason: event.ReasonInvalidValue, Detail: "the code is another venue than venue_id"}
	}
	rec.VenueID = id
	return nil
}

// checkRegistered refuses a check-in at a venue the registry does not have,
// when registration is required.
func (h *Handler) checkRegistered(rec *event.Visit) error {
	if !h.requireRegistered || h.venues == nil || h.venues.Known(rec.VenueID) {
		return nil
	}
	return &event.ValidationError{Field: "venue_id", Reason: event.ReasonUnknownVenue, Detail: "no venue with this id is registered"}
}
