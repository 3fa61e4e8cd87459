package graph

import "errors"

// Errors for queries the engine cannot answer as asked.
var (
	ErrDepth = errors.New("depth must be 1 or 2")
)
