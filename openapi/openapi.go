// Package openapi holds truyvet's HTTP contract, the OpenAPI 3.1 document
// served at GET /v1/openapi.json. The document is a maintained source file
// (openapi.yaml); the record kinds' JSON Schemas of schemas/v1 join it as
// components (visit.schema.json as Visit, …), so a record is described once.
// Tests hold the code to it: every served route is in it and every
// documented one served (cli), and the answers of the API and end-to-end
// tests validate against it (openapi/openapitest).
package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"unicode"

	_ "embed"

	"go.yaml.in/yaml/v3"

	"github.com/truyvet/truyvet/schemas"
)

//go:embed openapi.yaml
var source []byte

// Path is where the document is served.
const Path = "/v1/openapi.json"

// Document returns the document as JSON.
func Document() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(source, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	comps, _ := doc["components"].(map[string]any)
	sch, _ := comps["schemas"].(map[string]any)
	if sch == nil {
		return nil, errors.New("openapi.yaml: no components.schemas")
	}
	v1 := schemas.V1()
	entries, err := fs.ReadDir(v1, ".")
	if err != nil {
		return nil, fmt.Errorf("read schemas/v1: %w", err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(v1, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read schemas/v1/%s: %w", e.Name(), err)
		}
		var s map[string]any
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("parse schemas/v1/%s: %w", e.Name(), err)
		}
		// The document is one resource: a schema's own $id would make its
		// references relative to the schema's address instead.
		delete(s, "$id")
		delete(s, "$schema")
		name := ComponentName(e.Name())
		if _, dup := sch[name]; dup {
			return nil, fmt.Errorf("openapi.yaml: components.schemas.%s is schemas/v1/%s; do not write it by hand", name, e.Name())
		}
		sch[name] = s
	}
	return json.Marshal(doc)
}

// ComponentName is the component a schemas/v1 file becomes:
// "visit.schema.json" is Visit.
func ComponentName(file string) string {
	stem := strings.TrimSuffix(file, ".schema.json")
	r := []rune(stem)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// Handler serves the document, built once. The document is embedded and
// checked by this package's tests: one that does not build is a bug.
func Handler() http.Handler {
	b, err := Document()
	if err != nil {
		panic("BUG: the embedded OpenAPI document: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(b) //nolint:gosec // the embedded document, not request data
	})
}

// Register adds GET /v1/openapi.json to mux.
func Register(mux *http.ServeMux) { mux.Handle("GET "+Path, Handler()) }
