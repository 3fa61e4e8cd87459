package event

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// The JSON field names of API version 1 (schemas/v1/*.schema.json).
const (
	fieldVisitID     = "visit_id"
	fieldEncounterID = "encounter_id"
	fieldUserID      = "user_id"
	fieldVenueID     = "venue_id"
	fieldVenueCode   = "venue_code"
	fieldPeerID      = "peer_id"
	fieldEnter       = "enter"
	fieldExit        = "exit"
	fieldStart       = "start"
	fieldDurationS   = "duration_s"
	fieldRSSI        = "rssi"
	fieldSource      = "source"
)

// JSONDecoder reads records from parsed JSON values. It keeps one scratch
// buffer across calls, so a server decoding a body's records through one
// decoder allocates only what the records keep. The zero value is ready;
// it is not safe for concurrent use.
type JSONDecoder struct {
	raw []byte // the last record's raw text, for the surrogate check
}

// DecodeVisitJSON reads a visit from a parsed JSON value. It checks types and
// syntax only; call Limits.ValidateVisit for the rules that need the clock.
// A record that names its venue by "venue_code" (VisitVenueCode) may leave
// out venue_id; VenueID is then 0 until the caller verifies the code.
func DecodeVisitJSON(v *fastjson.Value) (Visit, error) {
	var d JSONDecoder
	return d.Visit(v)
}

// Visit is DecodeVisitJSON through d.
func (d *JSONDecoder) Visit(v *fastjson.Value) (Visit, error) {
	o, _, err := d.object(v)
	if err != nil {
		return Visit{}, err
	}
	return visitFields(o)
}

// VisitAndCode reads a visit and its venue_code (VisitVenueCode) from one
// value, checking the record's text once: the visit's errors come first.
func (d *JSONDecoder) VisitAndCode(v *fastjson.Value) (Visit, string, error) {
	o, _, err := d.object(v)
	if err != nil {
		return Visit{}, "", err
	}
	rec, err := visitFields(o)
	if err != nil {
		return rec, "", err
	}
	code, err := venueCodeField(o)
	return rec, code, err
}

func visitFields(o *fastjson.Object) (Visit, error) {
	var out Visit
	var err error
	if out.VisitID, err = idField(o, fieldVisitID); err != nil {
		return out, err
	}
	if out.UserID, err = uint32Field(o, fieldUserID); err != nil {
		return out, err
	}
	if out.VenueID, err = uint32Field(o, fieldVenueID); err != nil && (present(o, fieldVenueID) != nil || present(o, fieldVenueCode) == nil) {
		return out, err
	}
	if out.Enter, err = timeField(o, fieldEnter, true); err != nil {
		return out, err
	}
	if out.Exit, err = timeField(o, fieldExit, false); err != nil {
		return out, err
	}
	if out.Source, err = stringField(o, fieldSource); err != nil {
		return out, err
	}
	return out, nil
}

// MaxVenueCodeBytes bounds venue_code: a QR code's text, TV1.<venue_id>.<sig>.
const MaxVenueCodeBytes = 64

// VisitVenueCode returns a visit record's "venue_code" (the text of the
// venue's QR code), or "" when it has none. It checks the type and size
// only; the signature is the caller's to verify.
func VisitVenueCode(v *fastjson.Value) (string, error) {
	var d JSONDecoder
	o, _, err := d.object(v)
	if err != nil {
		return "", err
	}
	return venueCodeField(o)
}

func venueCodeField(o *fastjson.Object) (string, error) {
	code, err := stringField(o, fieldVenueCode)
	switch {
	case err != nil:
		return "", err
	case len(code) > MaxVenueCodeBytes:
		return "", invalid(fieldVenueCode, ReasonTooLarge, "longer than %d bytes", MaxVenueCodeBytes)
	}
	return code, nil
}

// DecodeEncounterJSON reads an encounter from a parsed JSON value. It checks
// types and syntax only; call Limits.ValidateEncounter for the rest.
func DecodeEncounterJSON(v *fastjson.Value) (Encounter, error) {
	var d JSONDecoder
	return d.Encounter(v)
}

// Encounter is DecodeEncounterJSON through d.
func (d *JSONDecoder) Encounter(v *fastjson.Value) (Encounter, error) {
	var out Encounter
	o, _, err := d.object(v)
	if err != nil {
		return out, err
	}
	if out.EncounterID, err = idField(o, fieldEncounterID); err != nil {
		return out, err
	}
	if out.UserID, err = uint32Field(o, fieldUserID); err != nil {
		return out, err
	}
	if out.PeerID, err = uint32Field(o, fieldPeerID); err != nil {
		return out, err
	}
	if out.Start, err = timeField(o, fieldStart, true); err != nil {
		return out, err
	}
	if out.DurationS, err = durationField(o, fieldDurationS); err != nil {
		return out, err
	}
	if out.RSSI, out.HasRSSI, err = rssiField(o, fieldRSSI); err != nil {
		return out, err
	}
	if out.Source, err = stringField(o, fieldSource); err != nil {
		return out, err
	}
	return out, nil
}

// object returns v as an object, refusing lone surrogate escapes in its
// fields. It reads the record's raw text once (fastjson keeps strings
// escaped until they are read): only a record with a \u escape somewhere is
// walked field by field. clean reports that it has none, which spares the
// nested objects their own walk.
func (d *JSONDecoder) object(v *fastjson.Value) (o *fastjson.Object, clean bool, err error) {
	o, err = v.Object()
	if err != nil {
		return nil, false, &ValidationError{Reason: ReasonInvalidJSON, Detail: "record must be a JSON object, got " + v.Type().String()}
	}
	d.raw = v.MarshalTo(d.raw[:0])
	if !bytes.Contains(d.raw, unicodeEscape) {
		return o, true, nil
	}
	return o, false, surrogates(o)
}

var unicodeEscape = []byte(`\u`)

// surrogates rejects a string field holding a lone UTF-16 surrogate escape
// ("\ud800" without its pair, or a low half alone): it is not a character, and
// the JSON parser would otherwise keep the six characters of the escape as
// the value. It reads each value's raw text, before anything unescapes it.
func surrogates(o *fastjson.Object) error {
	var err error
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var buf [128]byte
		raw := v.MarshalTo(buf[:0])
		if len(raw) < 8 || raw[0] != '"' || !bytes.Contains(raw, unicodeEscape) {
			return
		}
		if at := loneSurrogate(raw); at >= 0 {
			err = invalid(string(k), ReasonInvalidValue, "lone UTF-16 surrogate %q at byte %d", string(raw[at:at+6]), at-1)
		}
	})
	return err
}

// loneSurrogate returns where in raw, a JSON string with its escapes, a
// \uXXXX surrogate escape stands without its other half, or -1.
func loneSurrogate(raw []byte) int {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] != 'u' {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return i
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := rune(0), false
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				lo, ok = hex4(raw, i+8)
			}
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return i
			}
			i += 11
		default:
			i += 5
		}
	}
	return -1
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// present returns the field's value, or nil when it is absent or null.
func present(o *fastjson.Object, name string) *fastjson.Value {
	v := o.Get(name)
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

// idField reads a record id: a JSON string, or an integer taken as its decimal text.
func idField(o *fastjson.Object, name string) (string, error) {
	v := present(o, name)
	if v == nil {
		return "", invalid(name, ReasonMissingField, "missing")
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b), nil
	case fastjson.TypeNumber:
		n, err := v.Uint64()
		if err != nil {
			return "", invalid(name, ReasonInvalidValue, "must be a string or a non-negative integer")
		}
		return strconv.FormatUint(n, 10), nil
	default:
		return "", invalid(name, ReasonInvalidValue, "must be a string, got %s", v.Type())
	}
}

// uint32Field reads an id in [1, 2^32-1]: a JSON integer or a string of digits.
func uint32Field(o *fastjson.Object, name string) (uint32, error) {
	v := present(o, name)
	if v == nil {
		return 0, invalid(name, ReasonMissingField, "missing")
	}
	var n uint64
	var err error
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err = v.Uint64()
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		n, err = strconv.ParseUint(string(b), 10, 64)
	default:
		return 0, invalid(name, ReasonInvalidValue, "must be an integer, got %s", v.Type())
	}
	if err != nil || n > math.MaxUint32 {
		return 0, invalid(name, ReasonInvalidValue, "must be an integer between 1 and %d", uint32(math.MaxUint32))
	}
	if n == 0 {
		// Present but out of range: ids start at 1.
		return 0, invalid(name, ReasonInvalidValue, "must not be zero")
	}
	return uint32(n), nil
}

// timeField reads an RFC 3339 time as Unix seconds, rounding fractions down.
// An absent or null optional field is 0.
func timeField(o *fastjson.Object, name string, required bool) (int64, error) {
	v := present(o, name)
	if v == nil {
		if required {
			return 0, invalid(name, ReasonMissingField, "missing")
		}
		return 0, nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return 0, invalid(name, ReasonInvalidTime, "must be an RFC 3339 string, got %s", v.Type())
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, invalid(name, ReasonInvalidTime, "not an RFC 3339 time: %q", truncate(string(b), 40))
	}
	if t.Unix() <= 0 {
		return 0, invalid(name, ReasonInvalidTime, "before 1970")
	}
	return t.Unix(), nil
}

func durationField(o *fastjson.Object, name string) (uint32, error) {
	v := present(o, name)
	if v == nil {
		return 0, invalid(name, ReasonMissingField, "missing")
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, invalid(name, ReasonInvalidValue, "must be a number of seconds, got %s", v.Type())
	}
	f, err := v.Float64()
	if err != nil || math.IsNaN(f) {
		return 0, invalid(name, ReasonInvalidValue, "must be a number of seconds")
	}
	if f <= 0 {
		return 0, invalid(name, ReasonInvalidValue, "must be positive")
	}
	if f != math.Trunc(f) {
		return 0, invalid(name, ReasonInvalidValue, "must be a whole number of seconds")
	}
	if f > math.MaxUint32 {
		return 0, invalid(name, ReasonInvalidTime, "longer than %s", DefaultMaxStay)
	}
	return uint32(f), nil
}

func rssiField(o *fastjson.Object, name string) (int8, bool, error) {
	v := present(o, name)
	if v == nil {
		return 0, false, nil
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, false, invalid(name, ReasonInvalidValue, "must be a number in dBm, got %s", v.Type())
	}
	f, err := v.Float64()
	if err != nil || math.IsNaN(f) || f < MinRSSI || f > MaxRSSI {
		return 0, false, invalid(name, ReasonInvalidValue, "must be between %d and %d dBm", MinRSSI, MaxRSSI)
	}
	return int8(math.Round(f)), true, nil
}

func stringField(o *fastjson.Object, name string) (string, error) {
	v := present(o, name)
	if v == nil {
		return "", nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", invalid(name, ReasonInvalidValue, "must be a string, got %s", v.Type())
	}
	return string(b), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// The JSON field names of a declaration (schemas/v1/declaration.schema.json).
const (
	fieldDeclarationID = "declaration_id"
	fieldSubjectID     = "subject_id"
	fieldKind          = "kind"
	fieldDeclaredAt    = "declared_at"
	fieldProvince      = "province"
	fieldSymptoms      = "symptoms"
	fieldOnset         = "onset"
	fieldTravel        = "travel"
	fieldExposure      = "exposure"
)

// DecodeDeclarationJSON reads a declaration from a parsed JSON value. It
// checks types and syntax, normalises the vehicle and the origin country, and
// takes subject_id to be user_id when it is absent; call
// Limits.ValidateDeclaration for the rest.
func DecodeDeclarationJSON(v *fastjson.Value) (Declaration, error) {
	var d JSONDecoder
	return d.Declaration(v)
}

// Declaration is DecodeDeclarationJSON through d.
func (d *JSONDecoder) Declaration(v *fastjson.Value) (Declaration, error) {
	var out Declaration
	o, clean, err := d.object(v)
	if err != nil {
		return out, err
	}
	if out.DeclarationID, err = idField(o, fieldDeclarationID); err != nil {
		return out, err
	}
	if out.UserID, err = uint32Field(o, fieldUserID); err != nil {
		return out, err
	}
	out.SubjectID = out.UserID
	if present(o, fieldSubjectID) != nil {
		if out.SubjectID, err = uint32Field(o, fieldSubjectID); err != nil {
			return out, err
		}
	}
	kind, err := stringField(o, fieldKind)
	switch {
	case err != nil:
		return out, err
	case kind == "":
		return out, invalid(fieldKind, ReasonMissingField, "missing")
	}
	var ok bool
	if out.Kind, ok = ParseDeclKind(kind); !ok {
		return out, invalid(fieldKind, ReasonInvalidValue, "must be entry, domestic or voluntary")
	}
	if out.DeclaredAt, err = timeField(o, fieldDeclaredAt, true); err != nil {
		return out, err
	}
	if out.Province, err = stringField(o, fieldProvince); err != nil {
		return out, err
	}
	if out.Symptoms, err = symptomsField(o); err != nil {
		return out, err
	}
	if out.Onset, err = dateField(o, fieldOnset); err != nil {
		return out, err
	}
	if err := travelField(o, &out, clean); err != nil {
		return out, err
	}
	if err := exposureField(o, &out, clean); err != nil {
		return out, err
	}
	if out.Source, err = stringField(o, fieldSource); err != nil {
		return out, err
	}
	return out, nil
}

func symptomsField(o *fastjson.Object) (Symptoms, error) {
	v := present(o, fieldSymptoms)
	if v == nil {
		return 0, nil
	}
	arr, err := v.Array()
	if err != nil {
		return 0, invalid(fieldSymptoms, ReasonInvalidValue, "must be an array of symptom names, got %s", v.Type())
	}
	if len(arr) > MaxSymptomsInput {
		return 0, invalid(fieldSymptoms, ReasonTooLarge, "more than %d entries", MaxSymptomsInput)
	}
	var s Symptoms
	for i, e := range arr {
		b, err := e.StringBytes()
		if err != nil {
			return 0, invalid(fieldSymptoms, ReasonInvalidValue, "entry %d must be a string, got %s", i, e.Type())
		}
		bit, ok := ParseSymptom(string(b))
		if !ok {
			return 0, invalid(fieldSymptoms, ReasonInvalidValue, "entry %d: unknown symptom %q", i, truncate(string(b), 40))
		}
		s |= bit
	}
	return s, nil
}

// dateField reads a local date YYYY-MM-DD as the Unix time of its midnight
// in Asia/Ho_Chi_Minh; absent or null is 0.
func dateField(o *fastjson.Object, name string) (int64, error) {
	v := present(o, name)
	if v == nil {
		return 0, nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return 0, invalid(name, ReasonInvalidTime, "must be a local date YYYY-MM-DD, got %s", v.Type())
	}
	t, err := time.ParseInLocation(time.DateOnly, string(b), localZone)
	if err != nil {
		return 0, invalid(name, ReasonInvalidTime, "not a local date YYYY-MM-DD: %q", truncate(string(b), 40))
	}
	if t.Unix() <= 0 {
		return 0, invalid(name, ReasonInvalidTime, "before 1970")
	}
	return t.Unix(), nil
}

// nested returns the object field name holds, nil when it is absent or null.
// clean says the record has no \u escape (JSONDecoder.object), so the
// nested object needs no surrogate walk.
func nested(o *fastjson.Object, name string, clean bool) (*fastjson.Object, error) {
	v := present(o, name)
	if v == nil {
		return nil, nil
	}
	n, err := v.Object()
	if err != nil {
		return nil, invalid(name, ReasonInvalidValue, "must be an object, got %s", v.Type())
	}
	if clean {
		return n, nil
	}
	if err := surrogates(n); err != nil {
		return nil, prefixed(name, err)
	}
	return n, nil
}

// prefixed puts "parent." before the field a validation error names.
func prefixed(parent string, err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) && ve.Field != "" {
		ve.Field = parent + "." + ve.Field
	}
	return err
}

func travelField(o *fastjson.Object, d *Declaration, clean bool) error {
	t, err := nested(o, fieldTravel, clean)
	if err != nil || t == nil {
		return err
	}
	d.HasTravel = true
	tr := &d.Travel
	if tr.Vehicle, err = stringField(t, "vehicle"); err != nil {
		return prefixed(fieldTravel, err)
	}
	if len(tr.Vehicle) > 4*MaxVehicleBytes {
		return invalid("travel.vehicle", ReasonTooLarge, "longer than %d bytes", MaxVehicleBytes)
	}
	tr.Vehicle = NormalizeVehicle(tr.Vehicle)
	if tr.Depart, err = timeField(t, "depart", true); err != nil {
		return prefixed(fieldTravel, err)
	}
	if tr.Arrive, err = timeField(t, "arrive", true); err != nil {
		return prefixed(fieldTravel, err)
	}
	if tr.OriginCountry, err = stringField(t, "origin_country"); err != nil {
		return prefixed(fieldTravel, err)
	}
	if tr.OriginCountry = strings.ToUpper(tr.OriginCountry); tr.OriginCountry != "" && !validCountry(tr.OriginCountry) {
		return invalid("travel.origin_country", ReasonInvalidValue, "an ISO 3166-1 alpha-2 or alpha-3 code")
	}
	if tr.PortOfEntry, err = stringField(t, "port_of_entry"); err != nil {
		return prefixed(fieldTravel, err)
	}
	return nil
}

func exposureField(o *fastjson.Object, d *Declaration, clean bool) error {
	e, err := nested(o, fieldExposure, clean)
	if err != nil || e == nil {
		return err
	}
	if d.ContactWithCase, err = answerField(e, "contact_with_case"); err != nil {
		return prefixed(fieldExposure, err)
	}
	if d.VisitedOutbreakArea, err = answerField(e, "visited_outbreak_area"); err != nil {
		return prefixed(fieldExposure, err)
	}
	return nil
}

func answerField(o *fastjson.Object, name string) (Answer, error) {
	v := present(o, name)
	switch {
	case v == nil:
		return AnswerNone, nil
	case v.Type() == fastjson.TypeTrue:
		return AnswerYes, nil
	case v.Type() == fastjson.TypeFalse:
		return AnswerNo, nil
	}
	return AnswerNone, invalid(name, ReasonInvalidValue, "must be true or false, got %s", v.Type())
}
