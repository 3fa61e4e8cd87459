package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// answer is what the handler wrote.
type answer struct {
	StatusCode int
	Header     http.Header
	Body       string
}

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{StatusCode: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

func TestIndexServesTheForm(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/index.html"} {
		res := get(t, h, http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"), p)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "script-src 'self'")
		html := res.Body
		require.Contains(t, html, `<form id="query-form"`)
		for _, name := range []string{"case", "from", "to", "depth", "min_minutes", "requester"} {
			require.Contains(t, html, `name="`+name+`"`, "form field %s", name)
		}
		// Dates are typed as dd/mm/yyyy whatever the browser locale: no locale-bound pickers.
		require.NotContains(t, html, `type="datetime-local"`)
		require.Contains(t, html, `placeholder="dd/mm/yyyy hh:mm"`)
		require.Contains(t, html, `<svg id="graph"`)
		require.Contains(t, html, `src="/ui/app.js"`)
		require.Contains(t, html, `href="/ui/style.css"`)
		require.Contains(t, html, "Close contacts (F1)")
		require.Contains(t, html, "Ca bệnh F0")
	}
}

// Everything the page refers to is served, with its type; nothing comes from
// another origin (the UI must work offline).
func TestAssetsAndTypes(t *testing.T) {
	h := Handler()
	pages := map[string]bool{"/": true, "/venue.html": true, "/sites.html": true, "/exposure-sites.html": true}
	for page := range pages {
		html := get(t, h, http.MethodGet, page, nil).Body
		refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(html, -1)
		require.NotEmpty(t, refs)
		for _, m := range refs {
			require.True(t, strings.HasPrefix(m[1], "/ui/") || pages[m[1]], "reference outside /ui/ and the pages: %s", m[1])
			res := get(t, h, http.MethodGet, m[1], nil)
			require.Equal(t, http.StatusOK, res.StatusCode, m[1])
		}
	}
	want := map[string]string{
		"/ui/app.js":      "text/javascript; charset=utf-8",
		"/ui/venue.js":    "text/javascript; charset=utf-8",
		"/ui/sites.js":    "text/javascript; charset=utf-8",
		"/ui/sites.css":   "text/css; charset=utf-8",
		"/ui/style.css":   "text/css; charset=utf-8",
		"/ui/favicon.svg": "image/svg+xml",
	}
	for p, ct := range want {
		res := get(t, h, http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		require.Equal(t, ct, res.Header.Get("Content-Type"), p)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), p)
		b := res.Body
		require.NotEmpty(t, b, p)
		// The SVG namespace is a name, not a fetch; any other URL would be.
		b = strings.ReplaceAll(b, "http://www.w3.org/2000/svg", "")
		require.False(t, strings.Contains(b, "http://") || strings.Contains(b, "https://"), "%s refers to another origin", p)
	}
	for page := range pages {
		html := get(t, h, http.MethodGet, page, nil).Body
		require.False(t, strings.Contains(html, "http://") || strings.Contains(html, "https://"), "%s refers to another origin", page)
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/ui/", "/ui", "/ui/nope.js", "/ui/../ui.go", "/ui/ui.go", "/ui/index.html", "/app.js", "/nope", "/ui/app.js/"} {
		res := get(t, h, http.MethodGet, p, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode, p)
		require.NotContains(t, res.Body, "<a href", "no directory listing at %s", p)
	}
}

func TestMethodsAndCaching(t *testing.T) {
	h := Handler()
	res := get(t, h, http.MethodPost, "/", nil)
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	require.Equal(t, "GET, HEAD", res.Header.Get("Allow"))

	res = get(t, h, http.MethodHead, "/ui/app.js", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Empty(t, res.Body)

	res = get(t, h, http.MethodGet, "/ui/style.css", nil)
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
	res = get(t, h, http.MethodGet, "/ui/style.css", map[string]string{"If-None-Match": etag})
	require.Equal(t, http.StatusNotModified, res.StatusCode)
}

// The handler is meant to be mounted at "/" beside the API routes.
func TestMountedBesideTheAPI(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") })
	mux.Handle("/", Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for p, want := range map[string]int{"/": 200, "/ui/app.js": 200, "/v1/status": 200, "/ui/x.png": 404} {
		res, err := http.Get(srv.URL + p)
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, want, res.StatusCode, p)
	}
}
