// Package schemas holds truyvet's versioned record descriptions: the JSON
// Schemas of API version 1 (served at GET /v1/schemas/{name}) and, in
// schemas/event, the Go types, validation and encodings that implement them.
// schemas/README.md records the decisions behind them.
package schemas

import (
	"embed"
	"io/fs"
)

//go:embed v1/*.schema.json
var files embed.FS

// V1 is the file system of version-1 JSON Schemas, e.g. "visit.schema.json".
func V1() fs.FS {
	sub, err := fs.Sub(files, "v1")
	if err != nil {
		panic("BUG: embedded schemas missing: " + err.Error())
	}
	return sub
}
