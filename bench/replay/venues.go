package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/truyvet/truyvet/venue"
)

// venueChunk is how many venues one registration request carries.
const venueChunk = 10_000

// ErrNoVenueRoutes is returned when the server asked has no venue registry (a distributed
// ingest, which takes venue ids on faith without one).
var ErrNoVenueRoutes = errors.New("no venue registry at this address")

// RegisterVenues bulk-imports specs (with their ids) at base's POST
// /v1/venues, before a replay, so a deployment that refuses check-ins at
// unregistered venues takes the city's. Venues already there are no-ops.
func RegisterVenues(ctx context.Context, c *http.Client, base string, specs []venue.Spec) error {
	for i := 0; i < len(specs); i += venueChunk {
		body, err := json.Marshal(specs[i:min(i+venueChunk, len(specs))])
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/venues", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("register venues: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		_ = resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated:
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return fmt.Errorf("%s: %w", base, ErrNoVenueRoutes)
		default:
			return fmt.Errorf("register venues %d to %d: %s: %s", i+1, min(i+venueChunk, len(specs)), resp.Status, msg)
		}
	}
	return nil
}
