package openapi_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/openapi"
	"github.com/truyvet/truyvet/openapi/openapitest"
	"github.com/truyvet/truyvet/schemas"
)

// TestDocumentIsValidOpenAPI3 loads and validates the document with
// kin-openapi, and checks the record schemas joined it unchanged.
func TestDocumentIsValidOpenAPI3(t *testing.T) {
	c := openapitest.Must(t)
	require.Equal(t, "3.1.0", c.Doc.OpenAPI)
	entries, err := fs.ReadDir(schemas.V1(), ".")
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		s := c.Doc.Components.Schemas[openapi.ComponentName(e.Name())]
		require.NotNil(t, s, e.Name())
		require.NotEmpty(t, s.Value.Properties, e.Name())
	}
	require.Contains(t, c.Doc.Components.SecuritySchemes, "bearer")
}

// TestServed checks the handler serves the document as JSON, and that the
// answer is valid against the document itself.
func TestServed(t *testing.T) {
	mux := http.NewServeMux()
	openapi.Register(mux)
	rec := httptest.NewRecorder()
	openapitest.Handler(t, mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, openapi.Path, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	require.Contains(t, doc["paths"], "/v1/openapi.json")
}
