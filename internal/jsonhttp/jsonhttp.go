// Package jsonhttp writes the JSON answers of truyvet's HTTP routes, so
// every route says Content-Type, status and body the same way, and no 500
// names an address, a query or a file.
package jsonhttp

import (
	"encoding/json"
	"net/http"
)

// Write answers v as JSON with status code.
func Write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Internal is what a 500 answer says: the cause is for the server's log.
const Internal = "internal error"

// ErrorText is what an error answer with status code says of err: its own
// text, or Internal for a 500.
func ErrorText(code int, err error) string {
	if code == http.StatusInternalServerError {
		return Internal
	}
	return err.Error()
}
