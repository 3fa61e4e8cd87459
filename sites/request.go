package sites

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// MaxRequestBytes bounds a site request's body.
const MaxRequestBytes = 64 << 10

// ReasonUnknownField names a field a request may not carry.
const ReasonUnknownField = "unknown_field"

// requestFields are the fields of POST /v1/exposure-sites.
var requestFields = []string{"venue_id", "from", "to", "severity", "advice", "case_id"}

// DecodeRequest reads the JSON object of POST /v1/exposure-sites into a
// Spec. Every refusal is a *FieldError naming the field ("body" for the
// body as a whole) and why. It does not Validate the Spec.
func DecodeRequest(b []byte) (Spec, error) {
	var s Spec
	if len(b) > MaxRequestBytes {
		return s, &FieldError{"body", ReasonTooLarge, fmt.Sprintf("%d bytes, at most %d", len(b), MaxRequestBytes)}
	}
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&m); err != nil || m == nil {
		return s, &FieldError{"body", ReasonInvalidValue, "not a JSON object"}
	}
	if d.More() {
		return s, &FieldError{"body", ReasonInvalidValue, "more than one JSON value"}
	}
	for k := range m {
		if !slices.Contains(requestFields, k) {
			field := k
			if field == "" || len(field) > 40 || Text(field, field, 40, true) != nil {
				field = "body"
			}
			return s, &FieldError{field, ReasonUnknownField, fmt.Sprintf("%.40q is not a field of an exposure site", k)}
		}
	}
	var err error
	if s.VenueID, err = idField(m, "venue_id", true); err != nil {
		return s, err
	}
	if s.CaseID, err = idField(m, "case_id", false); err != nil {
		return s, err
	}
	if s.From, err = timeField(m, "from"); err != nil {
		return s, err
	}
	if s.To, err = timeField(m, "to"); err != nil {
		return s, err
	}
	var sev string
	if sev, err = stringField(m, "severity"); err != nil {
		return s, err
	}
	s.Severity = Severity(sev)
	s.Advice, err = stringField(m, "advice")
	return s, err
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func idField(m map[string]json.RawMessage, name string, required bool) (uint32, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		if required {
			return 0, &FieldError{name, ReasonMissingField, "an id, 1 or more"}
		}
		return 0, nil
	}
	var n json.Number
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] == '"' || json.Unmarshal(t, &n) != nil {
		return 0, &FieldError{name, ReasonInvalidValue, "not a number"}
	}
	v, err := strconv.ParseUint(n.String(), 10, 32)
	if err != nil || v == 0 {
		return 0, &FieldError{name, ReasonInvalidValue, fmt.Sprintf("must be an integer between 1 and %d", uint32(math.MaxUint32))}
	}
	return uint32(v), nil
}

func stringField(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", &FieldError{name, ReasonInvalidValue, "not a string"}
	}
	return v, nil
}

func timeField(m map[string]json.RawMessage, name string) (time.Time, error) {
	v, err := stringField(m, name)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &FieldError{name, ReasonInvalidValue, "not an RFC 3339 time"}
	}
	return t, nil
}
