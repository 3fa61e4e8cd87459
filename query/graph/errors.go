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
