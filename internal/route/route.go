// Package route makes the API's routing answers speak JSON like its other
// errors. A ServeMux with a catch-all page ("/") hands every unmatched
// request to that page, so a wrong method on an API route answered the
// page's 404 text; and a path with an empty segment (/v1/cases//exposures)
// was redirected to its cleaned form, which names another route.
package route

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
)

// APIPrefix is where the JSON API lives; other paths belong to the pages.
const APIPrefix = "/v1/"

// methods are those probed to build an Allow header.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Strict wraps mux: under APIPrefix, a path that is not in canonical form
// answers 400, a known path asked with another method 405 with Allow, and
// an unknown path 404, each as {"error": "…"}. Everything else is mux's.
func Strict(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if !strings.HasPrefix(p, APIPrefix) {
			mux.ServeHTTP(w, r)
			return
		}
		if unclean(w, p) {
			return
		}
		if _, pattern := mux.Handler(r); !fallback(pattern) {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); !fallback(pattern) {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such route: %s", truncate(p, 120)))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; allowed: %s",
			truncate(r.Method, 20), truncate(p, 120), strings.Join(allow, ", ")))
	})
}

// CleanPaths answers 400 for a path under APIPrefix that is not in
// canonical form, before next sees it: a ServeMux in front of Strict (the
// access guard's) would otherwise redirect it to its cleaned form.
func CleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, APIPrefix) && unclean(w, r.URL.Path) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unclean answers 400 and reports true when p is not in canonical form.
func unclean(w http.ResponseWriter, p string) bool {
	if c := path.Clean(p); c != p && c+"/" != p {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("path %s has an empty or relative segment", truncate(p, 120)))
		return true
	}
	return false
}

// fallback reports whether pattern is no route, or the pages' catch-all.
func fallback(pattern string) bool {
	return pattern == "" || pattern == "/" || strings.HasSuffix(pattern, " /")
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
