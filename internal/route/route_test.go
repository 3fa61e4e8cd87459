package route_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/internal/route"
)

func mux() *http.ServeMux {
	m := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	m.HandleFunc("POST /v1/checkins", ok)
	m.HandleFunc("GET /v1/status", ok)
	m.HandleFunc("GET /v1/cases/{user_id}/exposures", ok)
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "page not found", http.StatusNotFound) })
	return m
}

func TestStrict(t *testing.T) {
	h := route.Strict(mux())
	for _, tc := range []struct {
		method, path string
		code         int
		allow, error string
	}{
		{"GET", "/v1/checkins", http.StatusMethodNotAllowed, "POST", "method GET not allowed"},
		{"POST", "/v1/status", http.StatusMethodNotAllowed, "GET, HEAD", "allowed: GET, HEAD"},
		{"DELETE", "/v1/cases/7/exposures", http.StatusMethodNotAllowed, "GET, HEAD", "not allowed"},
		{"GET", "/v1/cases//exposures", http.StatusBadRequest, "", "empty or relative segment"},
		{"GET", "/v1/cases/1/../2/exposures", http.StatusBadRequest, "", "empty or relative segment"},
		{"GET", "/v1/nothing", http.StatusNotFound, "", "no such route"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		require.Equal(t, tc.code, rec.Code, tc.path)
		require.Equal(t, tc.allow, rec.Header().Get("Allow"), tc.path)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"), tc.path)
		var body map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), tc.path)
		require.Contains(t, body["error"], tc.error, tc.path)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/checkins", "ok"},
		{"GET", "/v1/cases/7/exposures", "ok"},
		{"GET", "/index.html", "page not found\n"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		require.Equal(t, tc.body, rec.Body.String(), tc.path)
	}
}
