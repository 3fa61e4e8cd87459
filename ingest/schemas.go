package ingest

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/schemas"
)

// serveSchema answers GET /v1/schemas/{name} with the JSON Schema of a record
// kind ("visit" or "encounter", with or without ".schema.json"), and
// GET /v1/schemas with the list of names.
func serveSchema(w http.ResponseWriter, r *http.Request) {
	v1 := schemas.V1()
	name := r.PathValue("name")
	if name == "" {
		entries, err := fs.ReadDir(v1, ".")
		if err != nil {
			writeError(w, err)
			return
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, strings.TrimSuffix(e.Name(), ".schema.json"))
		}
		jsonhttp.Write(w, http.StatusOK, map[string]any{"version": "v1", "schemas": names})
		return
	}
	b, err := fs.ReadFile(v1, strings.TrimSuffix(name, ".schema.json")+".schema.json")
	if err != nil {
		jsonhttp.Write(w, http.StatusNotFound, errorBody{Error: "no schema named " + name + "; see GET /v1/schemas"})
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b) //nolint:gosec // an embedded schema file, not request data
}
