package graph

import "errors"

// Errors for queries the engine cannot answer as asked.
var (
	ErrDepth = errors.New("depth must be 1 or 2")
	// ErrStoreUnavailable is wrapped by a Store's errors when the store could
	// not be reached (connection refused or lost), as opposed to a query it
	// refused: the same request may succeed later.
	ErrStoreUnavailable = errors.New("store unavailable")
)

// ErrNoCrowds is returned for a rule with a crowd cap over a store that
// cannot count who was present per bucket (CrowdStore).
var ErrNoCrowds = errors.New("the store cannot count the people present per bucket")
