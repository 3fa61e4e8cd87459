// Package openapitest checks real HTTP exchanges against truyvet's OpenAPI
// document (package openapi) with kin-openapi's openapi3filter: a test wraps
// the handler it calls (Handler) or the client it calls with (Transport),
// and every request and answer is validated. The rules:
//
//   - a request to a documented operation gets an answer the document
//     describes for it (status, content type, body schema);
//   - a request outside the document (a bad parameter or body) must be
//     refused, wholly (4xx, 5xx) or, on the ingest routes, record by
//     record (202 with the invalid records in "rejected");
//   - a /v1 path the document does not have answers 404 or 405 with an
//     error body, never 2xx.
//
// Paths outside /v1 and the ops routes (the web pages) are not checked.
package openapitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/truyvet/truyvet/openapi"
)

// Contract is the loaded document and its router.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
}

var (
	loadOnce sync.Once
	loaded   *Contract
	loadErr  error
)

// Load loads and validates the document once per test binary.
func Load() (*Contract, error) {
	loadOnce.Do(func() {
		registerDecoders()
		loaded, loadErr = load()
	})
	return loaded, loadErr
}

func load() (*Contract, error) {
	b, err := openapi.Document()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid OpenAPI 3: %w", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	return &Contract{Doc: doc, router: r}, nil
}

// registerDecoders teaches openapi3filter the media types truyvet speaks
// beyond its defaults (its registry is the library's, process-wide).
func registerDecoders() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
	openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("image/svg+xml", openapi3filter.FileBodyDecoder)
}

// ndjsonDecoder reads a body as ingest does, whatever its media type says:
// a JSON array of records, or one JSON value a line.
func ndjsonDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var out []any
		err := json.Unmarshal(t, &out)
		return out, err
	}
	out := []any{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", len(out), err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// Must is Load for a test: it fails tb when the document does not load.
func Must(tb testing.TB) *Contract {
	tb.Helper()
	c, err := Load()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Check validates one exchange: req (with its body), and the answer's
// status, header and body. It returns nil when they agree with the
// document, else an error naming the request and what is wrong.
func (c *Contract) Check(ctx context.Context, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	p := req.URL.Path
	if !checked(p) {
		return nil
	}
	name := fmt.Sprintf("%s %s → %d", req.Method, req.URL.RequestURI(), status)
	probe := req.Clone(ctx)
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	probe.ContentLength = int64(len(reqBody))
	route, params, err := c.router.FindRoute(probe)
	if err != nil {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed || status == http.StatusBadRequest {
			return errorBody(name, header, body)
		}
		return fmt.Errorf("%s: not a documented route, yet answered %d (add it to openapi/openapi.yaml): %w", name, status, err)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		SkipSettingDefaults:   true,
		MultiError:            true,
		// A gzipped body, or one sent without a media type (ingest takes
		// either), is not decoded here.
		ExcludeRequestBody: req.Header.Get("Content-Encoding") != "" || (len(reqBody) > 0 && req.Header.Get("Content-Type") == ""),
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && !refused(status, body) {
		return fmt.Errorf("%s: the request is outside the document, yet it was not refused: %s", name, short(reqErr))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s: the answer is not what the document says: %s\nbody: %.600s", name, short(err), body)
	}
	return nil
}

// short is err's message cut to a readable length: the schema validator's
// messages quote whole bodies.
func short(err error) string {
	const max = 1500
	if m := err.Error(); len(m) > max {
		return m[:max] + "…"
	}
	return err.Error()
}

// checked reports whether path is one the document speaks for.
func checked(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/v1/")
}

// refused reports whether an answer refuses its request: an error status, or
// an ingest answer naming rejected records.
func refused(status int, body []byte) bool {
	if status >= 400 {
		return true
	}
	if status != http.StatusAccepted {
		return false
	}
	var r struct {
		Rejected []json.RawMessage `json:"rejected"`
	}
	return json.Unmarshal(body, &r) == nil && len(r.Rejected) > 0
}

// errorBody checks the answer of an unknown route: a JSON one is an error
// body. (A bare ServeMux, as the packages' own tests use, answers text; the
// served one answers JSON, see internal/route.)
func errorBody(name string, header http.Header, body []byte) error {
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		return fmt.Errorf("%s: an unknown route's answer has no error: %.200s", name, body)
	}
	return nil
}

// Handler wraps next: every exchange through it is checked, and a mismatch
// fails t (the answer still goes out, so the test sees what it asked for).
func Handler(t testing.TB, next http.Handler) http.Handler {
	c := Must(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody []byte
		if r.Body != nil {
			var err error
			if reqBody, err = io.ReadAll(r.Body); err != nil {
				t.Errorf("read the request body: %v", err)
			}
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if err := c.Check(r.Context(), r, reqBody, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("OpenAPI: %v", err)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// Mux returns a ServeMux whose every request goes through Handler(t, inner):
// for fixtures whose tests hold a *http.ServeMux.
func Mux(t testing.TB, inner http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/", Handler(t, inner))
	return mux
}

// Transport checks every exchange a client makes. A mismatch is returned as
// the round trip's error (wrapping ErrMismatch) and kept for Err, so a
// caller that retries on errors cannot hide it.
type Transport struct {
	Base http.RoundTripper // nil: http.DefaultTransport

	mu   sync.Mutex
	errs []error
}

// ErrMismatch is wrapped by the errors of exchanges the document does not
// describe.
var ErrMismatch = errors.New("answer outside the OpenAPI document")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, err := Load()
	if err != nil {
		return nil, err
	}
	var reqBody []byte
	if req.Body != nil {
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := c.Check(req.Context(), req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
		err = fmt.Errorf("%w: %w", ErrMismatch, err)
		t.mu.Lock()
		t.errs = append(t.errs, err)
		t.mu.Unlock()
		return nil, err
	}
	return resp, nil
}

// Err returns every mismatch seen, joined; nil if none.
func (t *Transport) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(t.errs...)
}

var shared = &Transport{}

// Shared is the test binary's one Transport, over http.DefaultTransport: a
// package's tests (internal and external alike) call through it, and its
// TestMain fails the run on Shared().Err().
func Shared() *Transport { return shared }
