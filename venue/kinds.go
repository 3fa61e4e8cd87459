package venue

import (
	"context"
	"errors"
	"fmt"
)

// KindsOf tells the exposure engine what kind of place each venue is
// (graph.VenueKinds, for a contact definition's venue kinds) from a
// registry; a venue the registry does not have is "other".
type KindsOf struct{ Registry Registry }

// Kinds returns the kind of each of venues, in order.
func (k KindsOf) Kinds(ctx context.Context, venues []uint32) ([]string, error) {
	out := make([]string, len(venues))
	for i, id := range venues {
		v, err := k.Registry.Venue(ctx, id)
		switch {
		case err == nil:
			out[i] = string(v.Kind)
		case errors.Is(err, ErrNotFound):
			out[i] = string(KindOther)
		default:
			return nil, fmt.Errorf("kind of venue %d: %w", id, err)
		}
	}
	return out, nil
}
