package access

import "net/http"

// Bearer is an http.RoundTripper that adds Authorization: Bearer <Token> to
// every request (when Token is set): how truyvet's own clients (the load
// tester, the command line) call a guarded API.
type Bearer struct {
	Token string
	Base  http.RoundTripper // nil: http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (b Bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	base := b.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if b.Token == "" {
		return base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.Token)
	return base.RoundTrip(r)
}
