package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/schemas/event"
)

// Handler serves the ingest endpoints.
type Handler struct {
	cfg      Config
	producer Producer
	now      func() time.Time
	m        *Metrics
	log      *slog.Logger
	counts   counts
	parsers  fastjson.ParserPool
	bodies   sync.Pool    // *bytes.Buffer of finished requests (body)
	lastLog  atomic.Int64 // unix nanos of the last producer-error log line
	since    time.Time    // when counting began

	venues            Venues // nil: venue ids taken on faith
	requireRegistered bool
	rejected          func(reason string) // WithRejections; nil: none
}

// NewHandler returns the ingest handler. now is the server clock used for the
// "in the future" and retention checks.
func NewHandler(cfg Config, p Producer, m *Metrics, log *slog.Logger, now func() time.Time, opts ...Option) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, producer: p, now: now, m: m, log: log.With("component", "ingest"), since: now()}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// Register adds the ingest routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/checkins", h.endpoint("checkins", event.KindVisit))
	mux.Handle("POST /v1/proximity", h.endpoint("proximity", event.KindEncounter))
	mux.Handle("POST /v1/declarations", h.endpoint("declarations", event.KindDeclaration))
	mux.HandleFunc("GET /v1/schemas", serveSchema)
	mux.HandleFunc("GET /v1/schemas/{name}", serveSchema)
}

// Counts returns what ingest has seen since Since. They live in memory: a
// restart starts them again from zero.
func (h *Handler) Counts() Counts { return h.counts.snapshot() }

// Since is when the handler began counting.
func (h *Handler) Since() time.Time { return h.since }

// Rejection names one refused record and why.
type Rejection struct {
	Index  int    `json:"index"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// Response is the body of a 202.
type Response struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
}

type errorBody struct {
	Error string `json:"error"`
}

// errUnavailable wraps a producer failure: the records were not accepted.
var errUnavailable = errors.New("records could not be made durable; retry later")

func (h *Handler) endpoint(name string, kind event.Kind) http.Handler {
	em := h.m.forEndpoint(name, kind)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		code := h.serve(w, r, kind, em)
		em.requests(code).Inc()
		em.duration.Observe(time.Since(t0).Seconds())
	})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, kind event.Kind, em *endpointMetrics) int {
	buf := h.body()
	defer h.bodies.Put(buf)
	body, err := readBody(w, r, h.cfg.MaxBodyBytes, buf)
	em.bytes.Add(float64(len(body)))
	if err != nil {
		return writeError(w, err)
	}
	p := h.parsers.Get()
	defer h.parsers.Put(p)

	now := h.now()
	var dec event.JSONDecoder
	var batch event.Batch
	resp := Response{Rejected: []Rejection{}}
	reject := func(i int, err error) {
		rej := Rejection{Index: i, Reason: string(event.ReasonOf(err)), Error: err.Error()}
		var ve *event.ValidationError
		if errors.As(err, &ve) {
			rej.Field = ve.Field
		}
		if errors.Is(err, errRecordTooLarge) {
			rej.Reason = string(event.ReasonTooLarge)
		}
		resp.Rejected = append(resp.Rejected, rej)
	}
	err = splitBody(p, body, h.cfg.MaxRecords, h.cfg.MaxRecordBytes, func(i int, v *fastjson.Value, perr error) {
		if perr != nil {
			if !errors.Is(perr, errRecordTooLarge) {
				perr = &event.ValidationError{Reason: event.ReasonInvalidJSON, Detail: perr.Error()}
			}
			reject(i, perr)
			return
		}
		switch kind {
		case event.KindVisit:
			rec, code, err := dec.VisitAndCode(v)
			if err == nil {
				err = h.resolveVenue(code, &rec)
			}
			if err == nil {
				err = h.cfg.Limits.ValidateVisit(&rec, now)
			}
			if err == nil {
				err = h.checkRegistered(&rec)
			}
			if err != nil {
				reject(i, err)
				return
			}
			batch.Visits = append(batch.Visits, rec)
		case event.KindEncounter:
			rec, err := dec.Encounter(v)
			if err == nil {
				err = h.cfg.Limits.ValidateEncounter(&rec, now)
			}
			if err != nil {
				reject(i, err)
				return
			}
			batch.Encounters = append(batch.Encounters, rec)
		case event.KindDeclaration:
			rec, err := dec.Declaration(v)
			if err == nil {
				err = h.cfg.Limits.ValidateDeclaration(&rec, now)
			}
			if err != nil {
				reject(i, err)
				return
			}
			batch.Declarations = append(batch.Declarations, rec)
		}
	})
	if err != nil {
		return writeError(w, err)
	}
	n := batch.Len()
	em.received.Add(float64(n + len(resp.Rejected)))
	h.counts.received.Add(int64(n + len(resp.Rejected)))
	for _, rej := range resp.Rejected {
		em.rejected(event.Reason(rej.Reason)).Inc()
		if h.rejected != nil {
			h.rejected(rej.Reason)
		}
	}
	h.counts.rejected.Add(int64(len(resp.Rejected)))

	if n > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ProduceTimeout)
		t0 := time.Now()
		err := h.producer.Produce(ctx, &batch)
		cancel()
		em.produce.Observe(time.Since(t0).Seconds())
		if err != nil {
			em.unavailable.Add(float64(n))
			h.counts.unavailable.Add(int64(n))
			h.logThrottled("producer failed; answering 503", "records", n, "err", err)
			return writeError(w, fmt.Errorf("%w: %w", errUnavailable, err))
		}
		em.accepted.Add(float64(n))
		h.counts.accepted.Add(int64(n))
	}
	resp.Accepted = n
	jsonhttp.Write(w, http.StatusAccepted, resp)
	return http.StatusAccepted
}

// body returns a buffer for a request's body, one a finished request gave
// back if there is one. A body is read only while its request is served:
// what a batch keeps, it copies.
func (h *Handler) body() *bytes.Buffer {
	if b, ok := h.bodies.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

// readBody reads the request body into buf, gunzipping it if needed, within
// max bytes. A body that says its length is read without regrowing buf.
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64, buf *bytes.Buffer) ([]byte, error) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, maxBytes)
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", errBadEncoding, err)
		}
		defer zr.Close()
		rd = io.LimitReader(zr, maxBytes+1)
	default:
		return nil, fmt.Errorf("%w: unsupported Content-Encoding %q", errBadEncoding, r.Header.Get("Content-Encoding"))
	}
	if n := r.ContentLength; n > 0 && n <= maxBytes {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead free to try for EOF
	}
	_, err := buf.ReadFrom(rd)
	body := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: body larger than %d bytes", errBodyTooLarge, maxBytes)
		}
		return nil, fmt.Errorf("%w: read body: %w", errBadEncoding, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("%w: decompressed body larger than %d bytes", errBodyTooLarge, maxBytes)
	}
	return body, nil
}

var (
	errBodyTooLarge = errors.New("request body too large")
	errBadEncoding  = errors.New("unreadable request body")
)

// writeError answers err with the status its kind calls for, and returns it.
// It is the one error-to-status mapping of the ingest API.
func writeError(w http.ResponseWriter, err error) int {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotJSON), errors.Is(err, errBadEncoding):
		code = http.StatusBadRequest
	case errors.Is(err, errBodyTooLarge), errors.Is(err, ErrTooManyRecords):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, errUnavailable):
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(1))
	}
	jsonhttp.Write(w, code, errorBody{Error: err.Error()})
	return code
}

// logThrottled logs at most once a second, so an outage does not flood the log.
func (h *Handler) logThrottled(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := h.lastLog.Load()
	if now-last < int64(time.Second) || !h.lastLog.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn(msg, args...)
}
