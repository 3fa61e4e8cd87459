// Package definition is the contact definition record of DESIGN's "Contact
// definitions": a named, versioned, immutable rule for who counts as a close
// contact. It owns the record's JSON form, its validation (every refusal
// names a field and a reason of event.Reasons), the definitions shipped with
// truyvet, and the translation into the engine's graph.Rule.
package definition

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Definition is one version of a contact definition.
type Definition struct {
	Name     string   `json:"name"`
	Version  int      `json:"version"`
	Channels Channels `json:"channels"`
	Casual   bool     `json:"casual"`
}

// Channels are the per-channel thresholds; a channel left out makes no
// close contact.
type Channels struct {
	Proximity *Proximity `json:"proximity,omitempty"`
	Venue     *Venue     `json:"venue,omitempty"`
	Vehicle   *Vehicle   `json:"vehicle,omitempty"`
}

// Proximity gates Bluetooth encounters.
type Proximity struct {
	MinMinutes float64 `json:"min_minutes"`
	MinRSSI    *int    `json:"min_rssi,omitempty"` // dBm; encounters without an RSSI count
}

// Venue gates co-presence at venues.
type Venue struct {
	MinMinutes float64  `json:"min_minutes"`
	Kinds      []string `json:"kinds,omitempty"`       // nil: every kind
	MaxPresent int      `json:"max_present,omitempty"` // 0: no cap
}

// Vehicle gates shared vehicles (from health declarations, when they come).
type Vehicle struct {
	MinMinutes float64 `json:"min_minutes"`
}

// Default is the definition exposure lookups use without ?definition=:
// DESIGN's rule from "Data and semantics", unchanged.
const (
	DefaultName    = "default"
	DefaultVersion = 1
)

// Bounds of a definition's fields.
const (
	MaxNameBytes  = 64
	MaxMinutes    = 24 * 60
	MaxPresentCap = 1_000_000
	MaxBodyBytes  = 16 << 10
)

// Kinds are the venue kinds a definition may name: the venue registry's
// closed set (DESIGN's "Venues"). A venue the registry does not know is
// graph.KindOther.
var kinds = []string{
	"school", "hospital", "clinic", "factory", "office", "market", "supermarket", "restaurant",
	"cafe", "hotel", "pagoda", "church", "bus_station", "airport", "station", graph.KindOther,
}

// Kinds returns the venue kinds a definition may name.
func Kinds() []string { return slices.Clone(kinds) }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func invalid(field string, r event.Reason, format string, args ...any) *event.ValidationError {
	return &event.ValidationError{Field: field, Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Parse reads a definition as POST /v1/definitions takes it: a JSON object
// with no unknown fields, no version (the store assigns it), and every field
// valid. The error is an *event.ValidationError naming the field.
func Parse(data []byte) (Definition, error) {
	var d Definition
	if len(data) > MaxBodyBytes {
		return d, invalid("", event.ReasonTooLarge, "definition larger than %d bytes", MaxBodyBytes)
	}
	top, err := object(data, "", "name", "version", "channels", "casual")
	if err != nil {
		return d, err
	}
	if raw, ok := top["version"]; ok && string(raw) != "null" {
		return d, invalid("version", event.ReasonInvalidValue, "assigned by the server: a POST makes a new version")
	}
	if err := str(top["name"], "name", &d.Name); err != nil {
		return d, err
	}
	if raw, ok := top["casual"]; ok {
		if err := json.Unmarshal(raw, &d.Casual); err != nil {
			return d, invalid("casual", event.ReasonInvalidValue, "must be true or false")
		}
	}
	raw, ok := top["channels"]
	if !ok || string(raw) == "null" {
		return d, invalid("channels", event.ReasonMissingField, "missing")
	}
	chs, err := object(raw, "channels", "proximity", "venue", "vehicle")
	if err != nil {
		return d, err
	}
	if raw, ok := chs["proximity"]; ok && string(raw) != "null" {
		f, err := object(raw, "channels.proximity", "min_minutes", "min_rssi")
		if err != nil {
			return d, err
		}
		p := &Proximity{}
		if p.MinMinutes, err = minutes(f, "channels.proximity"); err != nil {
			return d, err
		}
		if raw, ok := f["min_rssi"]; ok && string(raw) != "null" {
			n, err := integer(raw, "channels.proximity.min_rssi", event.MinRSSI, event.MaxRSSI)
			if err != nil {
				return d, err
			}
			p.MinRSSI = &n
		}
		d.Channels.Proximity = p
	}
	if raw, ok := chs["venue"]; ok && string(raw) != "null" {
		f, err := object(raw, "channels.venue", "min_minutes", "kinds", "max_present")
		if err != nil {
			return d, err
		}
		v := &Venue{}
		if v.MinMinutes, err = minutes(f, "channels.venue"); err != nil {
			return d, err
		}
		if raw, ok := f["kinds"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &v.Kinds); err != nil {
				return d, invalid("channels.venue.kinds", event.ReasonInvalidValue, "must be an array of venue kinds")
			}
			if v.Kinds == nil {
				v.Kinds = []string{}
			}
		}
		if raw, ok := f["max_present"]; ok && string(raw) != "null" {
			if v.MaxPresent, err = integer(raw, "channels.venue.max_present", 1, MaxPresentCap); err != nil {
				return d, err
			}
		}
		d.Channels.Venue = v
	}
	if raw, ok := chs["vehicle"]; ok && string(raw) != "null" {
		f, err := object(raw, "channels.vehicle", "min_minutes")
		if err != nil {
			return d, err
		}
		v := &Vehicle{}
		if v.MinMinutes, err = minutes(f, "channels.vehicle"); err != nil {
			return d, err
		}
		d.Channels.Vehicle = v
	}
	if err := d.validate(false); err != nil {
		return Definition{}, err
	}
	return d, nil
}

// Validate checks a stored definition: everything Parse checks, and a
// version of 1 or more.
func (d Definition) Validate() error { return d.validate(true) }

func (d Definition) validate(stored bool) error {
	switch {
	case d.Name == "":
		return invalid("name", event.ReasonMissingField, "missing or empty")
	case len(d.Name) > MaxNameBytes:
		return invalid("name", event.ReasonTooLarge, "longer than %d bytes", MaxNameBytes)
	case !nameRE.MatchString(d.Name):
		return invalid("name", event.ReasonInvalidValue, "must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if stored && d.Version < 1 {
		return invalid("version", event.ReasonInvalidValue, "must be 1 or more")
	}
	c := d.Channels
	if c.Proximity == nil && c.Venue == nil && c.Vehicle == nil {
		return invalid("channels", event.ReasonMissingField, "names no channel: a definition with none finds nobody")
	}
	if p := c.Proximity; p != nil {
		if err := checkMinutes("channels.proximity.min_minutes", p.MinMinutes); err != nil {
			return err
		}
		if p.MinRSSI != nil && (*p.MinRSSI < event.MinRSSI || *p.MinRSSI > event.MaxRSSI) {
			return invalid("channels.proximity.min_rssi", event.ReasonInvalidValue, "must be between %d and %d dBm", event.MinRSSI, event.MaxRSSI)
		}
	}
	if v := c.Venue; v != nil {
		if err := checkMinutes("channels.venue.min_minutes", v.MinMinutes); err != nil {
			return err
		}
		if v.Kinds != nil && len(v.Kinds) == 0 {
			return invalid("channels.venue.kinds", event.ReasonInvalidValue, "empty: leave the venue channel out to count no venue")
		}
		for i, k := range v.Kinds {
			field := "channels.venue.kinds[" + strconv.Itoa(i) + "]"
			if !slices.Contains(kinds, k) {
				return invalid(field, event.ReasonInvalidValue, "not a venue kind (one of %s)", strings.Join(kinds, ", "))
			}
			if slices.Contains(v.Kinds[:i], k) {
				return invalid(field, event.ReasonInvalidValue, "%q listed twice", k)
			}
		}
		if v.MaxPresent < 0 || v.MaxPresent > MaxPresentCap {
			return invalid("channels.venue.max_present", event.ReasonInvalidValue, "must be between 1 and %d", MaxPresentCap)
		}
	}
	if v := c.Vehicle; v != nil {
		if err := checkMinutes("channels.vehicle.min_minutes", v.MinMinutes); err != nil {
			return err
		}
	}
	return nil
}

func checkMinutes(field string, m float64) error {
	if math.IsNaN(m) || m < 0 || m > MaxMinutes {
		return invalid(field, event.ReasonInvalidValue, "must be a number of minutes between 0 and %d", MaxMinutes)
	}
	return nil
}

// Ref is the name@version of d.
func (d Definition) Ref() string { return d.Name + "@" + strconv.Itoa(d.Version) }

// Rule is d as the engine applies it.
func (d Definition) Rule() *graph.Rule {
	r := &graph.Rule{Casual: d.Casual}
	if p := d.Channels.Proximity; p != nil {
		r.Proximity = &graph.ProximityRule{MinSeconds: seconds(p.MinMinutes)}
		if p.MinRSSI != nil {
			r.Proximity.MinRSSI, r.Proximity.HasMinRSSI = int8(*p.MinRSSI), true
		}
	}
	if v := d.Channels.Venue; v != nil {
		r.Venue = &graph.VenueRule{MinSeconds: seconds(v.MinMinutes), Kinds: slices.Clone(v.Kinds), MaxPresent: v.MaxPresent}
	}
	if v := d.Channels.Vehicle; v != nil {
		r.Vehicle = &graph.ChannelRule{MinSeconds: seconds(v.MinMinutes)}
	}
	return r
}

func seconds(minutes float64) int64 { return int64(math.Round(minutes * 60)) }

// ParseRef reads ?definition=: a name (version 0: the newest) or
// name@version.
func ParseRef(s string) (name string, version int, err error) {
	name, v, hasVersion := strings.Cut(s, "@")
	if name == "" || len(name) > MaxNameBytes || !nameRE.MatchString(name) {
		return "", 0, invalid("definition", event.ReasonInvalidValue, "must be a definition name or name@version")
	}
	if !hasVersion {
		return name, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, invalid("definition", event.ReasonInvalidValue, "version must be an integer of 1 or more")
	}
	return name, n, nil
}

//go:embed shipped/*.json
var shippedFS embed.FS

// Shipped returns the definitions truyvet ships, sorted by name: default@1
// (DESIGN's rule), moh-2021@1 (a reading of the Ministry of Health's 2021
// guidance: Bluetooth and venues close, co-presence in a bucket with more
// than 30 people present casual) and bluetooth-strict@1 (Bluetooth only,
// 15 minutes, -75 dBm or stronger).
func Shipped() []Definition {
	entries, err := fs.ReadDir(shippedFS, "shipped")
	if err != nil {
		panic("BUG: shipped definitions missing: " + err.Error())
	}
	out := make([]Definition, 0, len(entries))
	for _, e := range entries {
		data, err := shippedFS.ReadFile("shipped/" + e.Name())
		if err != nil {
			panic("BUG: " + err.Error())
		}
		d, err := Decode(data)
		if err != nil {
			panic("BUG: shipped definition " + e.Name() + ": " + err.Error())
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Definition) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Decode reads a stored definition (with its version) and validates it.
func Decode(data []byte) (Definition, error) {
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return Definition{}, invalid("", event.ReasonInvalidJSON, "not a JSON object")
	}
	// Parse refuses a version: read the rest with it taken out.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return Definition{}, invalid("", event.ReasonInvalidJSON, "not a JSON object")
	}
	delete(m, "version")
	rest, _ := json.Marshal(m)
	d, err := Parse(rest)
	if err != nil {
		return Definition{}, err
	}
	d.Version = v.Version
	return d, d.Validate()
}

// object decodes raw as a JSON object with only the allowed keys.
func object(raw []byte, path string, allowed ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		if path == "" {
			return nil, invalid("", event.ReasonInvalidJSON, "not a JSON object")
		}
		return nil, invalid(path, event.ReasonInvalidValue, "must be an object")
	}
	if dec.More() {
		return nil, invalid(path, event.ReasonInvalidJSON, "trailing data after the object")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return nil, invalid(join(path, k), event.ReasonInvalidValue, "unknown field")
		}
	}
	return m, nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func str(raw json.RawMessage, field string, dst *string) error {
	if raw == nil || string(raw) == "null" {
		return invalid(field, event.ReasonMissingField, "missing or empty")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return invalid(field, event.ReasonInvalidValue, "must be a string")
	}
	return nil
}

func minutes(f map[string]json.RawMessage, path string) (float64, error) {
	field := path + ".min_minutes"
	raw, ok := f["min_minutes"]
	if !ok || string(raw) == "null" {
		return 0, invalid(field, event.ReasonMissingField, "missing")
	}
	var m float64
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, invalid(field, event.ReasonInvalidValue, "must be a number of minutes between 0 and %d", MaxMinutes)
	}
	return m, checkMinutes(field, m)
}

func integer(raw json.RawMessage, field string, lo, hi int) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, invalid(field, event.ReasonInvalidValue, "must be an integer between %d and %d", lo, hi)
	}
	return int(f), nil
}
