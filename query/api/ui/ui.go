// Package ui is the web UI of the query API, served at "/": a form to look
// up a case's exposure graph, the graph itself, the F1 and F2 contact lists,
// exposure sites, the pipeline's status and the recent lookups from the
// audit trail; at "/venue.html?id=" a venue's page (details, poster,
// visitor list); at "/sites.html" an exposure site's draft, reach, approval
// and alerts, and at "/exposure-sites.html" the public list of sites; and
// at "/map" the Safety Map (venues coloured by their safety level over the
// provinces' outlines, a venue's history, the epidemic picture beside it).
// It is plain HTML, CSS and JavaScript embedded in the
// binary: no CDN, no build step, and it works offline.
//
// The page calls the JSON API from the browser (GET /v1/cases/{id}/exposures,
// GET /v1/status, GET /v1/audit), so it must be served from the same origin.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed index.html venue.html app.js venue.js style.css favicon.svg
//go:embed sites.html sites.js sites.css exposure-sites.html exposure-sites.js
//go:embed map.html map.js map.css mapdata/provinces-vn.json
var files embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// contentType is the type of an embedded file by its extension; a file of
// another kind is not served.
func contentType(name string) (string, bool) {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8", true
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	case ".svg":
		return "image/svg+xml", true
	}
	return "", false
}

// csp keeps the page to its own origin: scripts and styles only from
// /ui/..., no inline script, API calls only to the serving host.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the UI: the page at "/" (and "/index.html"), its assets under
// "/ui/". Anything else, including "/ui/" itself, is 404: there are no
// directory listings. Only GET and HEAD are allowed.
func Handler() http.Handler {
	assets := map[string]asset{}
	entries, err := files.ReadDir(".")
	if err != nil {
		panic("ui: reading embedded files: " + err.Error()) // cannot happen: the files are compiled in
	}
	for _, e := range entries {
		ct, ok := contentType(e.Name())
		if e.IsDir() || !ok {
			continue
		}
		body, err := files.ReadFile(e.Name())
		if err != nil {
			panic("ui: reading embedded file: " + err.Error())
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		switch e.Name() {
		case "index.html":
			assets["/"] = a
			assets["/index.html"] = a
			continue
		case "venue.html", "sites.html", "exposure-sites.html":
			assets["/"+e.Name()] = a
			continue
		case "map.html":
			assets["/map"] = a
			continue
		}
		assets["/ui/"+e.Name()] = a
	}
	mapAssets(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", a.etag)
		// Revalidate every time: a new binary must not be mixed with cached
		// assets of the old one, and the ETag makes revalidation cheap.
		h.Set("Cache-Control", "no-cache")
		if strings.HasPrefix(a.contentType, "text/html") {
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
