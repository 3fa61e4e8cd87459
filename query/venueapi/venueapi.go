// Package venueapi serves the QR system's venue side over HTTP:
//
//	POST /v1/venues                       register one venue or an array (201)
//	GET  /v1/venues?province=&kind=       the registry, JSON or CSV
//	GET  /v1/venues.geojson?province=&kind=  the same as GeoJSON (RFC 7946)
//	GET  /v1/venues/{id}                  one venue and its QR code
//	GET  /v1/venues/{id}/poster.png|.svg  its printable poster
//	GET  /v1/venues/{id}/visitors?from=&to=&purpose=  its visitor list, audited
//
// Who may call which route is the access policy's business (the guard in
// front of the mux), never the handlers'.
package venueapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/poster"
	"github.com/truyvet/truyvet/venue/qrsig"
)

// Local is Asia/Ho_Chi_Minh: times in answers are written in it.
var Local = time.FixedZone("ICT", 7*3600)

// Limits of one request.
const (
	MaxBodyBytes   = 64 << 20
	MaxRegister    = 100_000 // venues in one POST
	MaxWindow      = 60 * 24 * time.Hour
	DefaultWindow  = 14 * 24 * time.Hour
	MinPurposeLen  = 3
	MaxPurposeLen  = 200
	DefaultTimeout = 30 * time.Second
)

// Deps are what the routes use.
type Deps struct {
	Registry  venue.Registry
	Provinces venue.Provinces
	Codes     *qrsig.Keyring
	Posters   *poster.Renderer
	// Stays reads the visitor lists; nil: the route answers 501.
	Stays graph.VenueStore
	// Audit records a visitor list before it is sent; a list that cannot be
	// audited is not sent. Nil: not audited.
	Audit func(ctx context.Context, r *http.Request, e VisitorsEntry) error
	// Registered is told of newly stored venues (the local ingest's copy of
	// the registry); nil: no one.
	Registered func([]venue.Venue)
	Logger     *slog.Logger
	Now        func() time.Time
}

// VisitorsEntry is what the audit of a visitor list records.
type VisitorsEntry struct {
	Time     time.Time
	Venue    uint32
	Purpose  string
	From, To time.Time
	Format   string
	Rows     int
	Status   int
}

// Handler serves the venue routes.
type Handler struct {
	d   Deps
	log *slog.Logger
}

// New returns the handler.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Handler{d: d, log: d.Logger.With("component", "venues")}
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/venues", h.register)
	mux.HandleFunc("GET /v1/venues", h.list)
	mux.HandleFunc("GET /v1/venues.geojson", h.geoJSON)
	mux.HandleFunc("GET /v1/venues/{id}", h.get)
	mux.HandleFunc("GET /v1/venues/{id}/poster.png", h.poster)
	mux.HandleFunc("GET /v1/venues/{id}/poster.svg", h.poster)
	mux.HandleFunc("GET /v1/venues/{id}/visitors", h.visitors)
}

// Errors of the venue routes.
var (
	errBadRequest = errors.New("bad request")
	errTooLarge   = errors.New("request too large")
	errNoStays    = errors.New("this server keeps no stays to list")
)

// problem is the JSON body of an error: the field at fault and why, and for
// an array the index of the item.
type problem struct {
	Error   string `json:"error"`
	Field   string `json:"field,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Index   *int   `json:"index,omitempty"`
	VenueID uint32 `json:"venue_id,omitempty"`
}

// indexed is a field error in item Index of an array.
type indexed struct {
	Index int
	Err   error
}

func (e *indexed) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }
func (e *indexed) Unwrap() error { return e.Err }

// writeError is the one error-to-status mapping of the venue routes.
func writeError(w http.ResponseWriter, err error) int {
	p := problem{Error: err.Error()}
	code := http.StatusInternalServerError
	var fe *venue.FieldError
	var ce *venue.ConflictError
	var ie *indexed
	if errors.As(err, &ie) {
		p.Index = &ie.Index
	}
	switch {
	case errors.As(err, &fe):
		code, p.Field, p.Reason = http.StatusBadRequest, fe.Field, fe.Reason
	case errors.As(err, &ce):
		code, p.Index, p.VenueID, p.Reason = http.StatusConflict, &ce.Index, ce.ID, "conflict"
	case errors.Is(err, venue.ErrNotFound):
		code, p.Reason = http.StatusNotFound, "not_found"
	case errors.Is(err, errTooLarge):
		code, p.Reason = http.StatusRequestEntityTooLarge, venue.ReasonTooLarge
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, venue.ErrFull):
		code = http.StatusInsufficientStorage
	case errors.Is(err, errNoStays):
		code = http.StatusNotImplemented
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	p.Error = jsonhttp.ErrorText(code, err)
	jsonhttp.Write(w, code, p)
	return code
}

// param is a bad query or path parameter.
func param(name, reason, format string, args ...any) error {
	return fmt.Errorf("%w: %w", errBadRequest, &venue.FieldError{Field: name, Reason: reason, Detail: fmt.Sprintf(format, args...)})
}

// registered is the answer for one registered venue.
type registered struct {
	VenueID uint32 `json:"venue_id"`
	QR      string `json:"qr"`
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		writeError(w, fmt.Errorf("%w: body over %d bytes", errTooLarge, MaxBodyBytes))
		return
	}
	specs, array, err := decodeSpecs(body)
	if err != nil {
		writeError(w, err)
		return
	}
	for i, s := range specs {
		if err := s.Validate(h.d.Provinces); err != nil {
			if array {
				err = &indexed{Index: i, Err: err}
			}
			writeError(w, err)
			return
		}
	}
	stored, err := h.d.Registry.Register(r.Context(), specs)
	if err != nil {
		if !errors.Is(err, venue.ErrConflict) {
			h.log.Error("register venues", "n", len(specs), "err", err)
		}
		writeError(w, err)
		return
	}
	if h.d.Registered != nil {
		h.d.Registered(stored)
	}
	out := make([]registered, len(stored))
	for i, v := range stored {
		out[i] = registered{VenueID: v.ID, QR: h.d.Codes.Code(v.ID)}
	}
	if array {
		jsonhttp.Write(w, http.StatusCreated, out)
		return
	}
	jsonhttp.Write(w, http.StatusCreated, out[0])
}

// decodeSpecs reads one spec or a JSON array of them.
func decodeSpecs(body []byte) ([]venue.Spec, bool, error) {
	body = bytes.TrimSpace(body)
	array := len(body) > 0 && body[0] == '['
	if !array {
		s, err := decodeSpec(body)
		return []venue.Spec{s}, false, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, true, fmt.Errorf("%w: not a JSON array of venues: %w", errBadRequest, err)
	}
	if len(items) == 0 {
		return nil, true, param("venues", venue.ReasonMissingField, "the array is empty")
	}
	if len(items) > MaxRegister {
		return nil, true, fmt.Errorf("%w: %d venues, at most %d in one request", errTooLarge, len(items), MaxRegister)
	}
	specs := make([]venue.Spec, len(items))
	for i, it := range items {
		s, err := decodeSpec(it)
		if err != nil {
			return nil, true, &indexed{Index: i, Err: err}
		}
		specs[i] = s
	}
	return specs, true, nil
}

// decodeSpec reads one venue, naming the field of a type error.
func decodeSpec(b []byte) (venue.Spec, error) {
	var s venue.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&s)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		if dec.More() {
			return s, fmt.Errorf("%w: one JSON object or an array of them", errBadRequest)
		}
		return s, nil
	case errors.As(err, &te):
		return s, fmt.Errorf("%w: %w", errBadRequest, &venue.FieldError{Field: te.Field, Reason: venue.ReasonInvalidValue, Detail: "must be a JSON " + te.Type.String()})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return s, fmt.Errorf("%w: %w", errBadRequest, &venue.FieldError{Field: name, Reason: venue.ReasonInvalidValue, Detail: "not a venue field"})
	default:
		return s, fmt.Errorf("%w: not a JSON venue object: %w", errBadRequest, err)
	}
}

// venueJSON is a venue in answers.
type venueJSON struct {
	venue.Spec
	QR string `json:"qr"`
}

func (h *Handler) answer(v venue.Venue) venueJSON {
	return venueJSON{Spec: v.Spec, QR: h.d.Codes.Code(v.ID)}
}

func pathID(r *http.Request) (uint32, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	if err != nil || id == 0 {
		return 0, param("venue_id", venue.ReasonInvalidValue, "must be an integer between 1 and %d", uint32(math.MaxUint32))
	}
	return uint32(id), nil
}

// venueOf reads the venue the path names; when it cannot, it has answered
// the error and returns false.
func (h *Handler) venueOf(w http.ResponseWriter, r *http.Request) (venue.Venue, bool) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return venue.Venue{}, false
	}
	v, err := h.d.Registry.Venue(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return venue.Venue{}, false
	}
	return v, true
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	v, ok := h.venueOf(w, r)
	if !ok {
		return
	}
	jsonhttp.Write(w, http.StatusOK, h.answer(v))
}

// filter reads ?province=&kind=.
func (h *Handler) filter(r *http.Request) (venue.Filter, error) {
	q := r.URL.Query()
	f := venue.Filter{Province: q.Get("province"), Kind: venue.Kind(q.Get("kind"))}
	if f.Province != "" && !h.d.Provinces.Valid(f.Province) {
		return f, param("province", venue.ReasonInvalidValue, "unknown province code %.10q", f.Province)
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return f, param("kind", venue.ReasonInvalidValue, "unknown venue kind %.40q", string(f.Kind))
	}
	return f, nil
}

// csvHeader is the venue list's CSV header.
var csvHeader = []string{"venue_id", "name", "kind", "province", "district", "commune", "address", "lat", "lon", "qr"}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	f, err := h.filter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var all []venueJSON
	for v, err := range h.d.Registry.Venues(r.Context(), f) {
		if err != nil {
			writeError(w, err)
			return
		}
		all = append(all, h.answer(v))
	}
	if !wantsCSV(r) {
		if all == nil {
			all = []venueJSON{}
		}
		jsonhttp.Write(w, http.StatusOK, map[string]any{"venues": all})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="venues.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	for _, v := range all {
		_ = cw.Write([]string{strconv.FormatUint(uint64(v.ID), 10), v.Name, string(v.Kind), v.Province, v.District, v.Commune, v.Address,
			strconv.FormatFloat(v.Lat, 'f', -1, 64), strconv.FormatFloat(v.Lon, 'f', -1, 64), v.QR})
	}
	cw.Flush()
}

func wantsCSV(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "csv"
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(mt, "text/csv") {
			return true
		}
	}
	return false
}

func (h *Handler) geoJSON(w http.ResponseWriter, r *http.Request) {
	f, err := h.filter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	fc := geojson.NewFeatureCollection()
	for v, err := range h.d.Registry.Venues(r.Context(), f) {
		if err != nil {
			writeError(w, err)
			return
		}
		ft := geojson.NewFeature(orb.Point{v.Lon, v.Lat}) // RFC 7946: [longitude, latitude]
		ft.ID = v.ID
		ft.Properties = geojson.Properties{
			"venue_id": v.ID, "name": v.Name, "kind": v.Kind, "province": v.Province,
			"district": v.District, "commune": v.Commune, "address": v.Address,
		}
		fc.Append(ft)
	}
	b, err := fc.MarshalJSON()
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	_, _ = w.Write(b)
}

func (h *Handler) poster(w http.ResponseWriter, r *http.Request) {
	v, ok := h.venueOf(w, r)
	if !ok {
		return
	}
	pv := poster.Venue{Name: v.Name, Address: v.Address, Code: h.d.Codes.Code(v.ID)}
	var b bytes.Buffer
	var err error
	ext, ctype := "png", "image/png"
	if strings.HasSuffix(r.URL.Path, ".svg") {
		ext, ctype = "svg", "image/svg+xml"
		err = h.d.Posters.SVG(&b, pv)
	} else {
		err = h.d.Posters.PNG(&b, pv)
	}
	if err != nil {
		h.log.Error("draw poster", "venue", v.ID, "err", err)
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="venue-%d.%s"`, v.ID, ext))
	_, _ = w.Write(b.Bytes())
}
