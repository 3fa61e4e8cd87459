package event_test

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"github.com/truyvet/truyvet/schemas/event"
)

// now is the fixed server clock of every test in this file. With the default
// limits, times up to 12:05:00Z are accepted and nothing before
// 2021-06-17T12:00:00Z (28 days back) is.
var now = time.Date(2021, 7, 15, 12, 0, 0, 0, time.UTC)

// absent, as an override, removes the field from the record.
const absent = "\x00absent"

// field is one raw JSON member of a test record.
type field struct{ name, raw string }

var (
	baseVisit = []field{
		{"visit_id", `"v-1"`},
		{"user_id", `1001`},
		{"venue_id", `2002`},
		{"enter", `"2021-07-15T08:00:00Z"`},
		{"exit", `"2021-07-15T09:30:00Z"`},
		{"source", `"bluezone"`},
	}
	baseEncounter = []field{
		{"encounter_id", `"e-1"`},
		{"user_id", `1001`},
		{"peer_id", `1002`},
		{"start", `"2021-07-15T11:00:00Z"`},
		{"duration_s", `900`},
		{"rssi", `-70`},
		{"source", `"bluezone"`},
	}
)

// record builds a JSON object from base with over applied: a field's raw JSON
// is replaced, removed (absent), or added after the base fields (sorted).
func record(base []field, over map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	sep := func() {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
	}
	write := func(name, raw string) {
		if raw == absent {
			return
		}
		sep()
		b.WriteString(`"` + name + `":` + raw)
	}
	seen := map[string]bool{}
	for _, f := range base {
		seen[f.name] = true
		if raw, ok := over[f.name]; ok {
			write(f.name, raw)
			continue
		}
		write(f.name, f.raw)
	}
	extra := make([]string, 0, len(over))
	for name := range over {
		if !seen[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		write(name, over[name])
	}
	b.WriteByte('}')
	return b.String()
}

// q quotes s as a JSON string without escaping anything, so raw bytes (even
// invalid UTF-8) reach the decoder as they are.
func q(s string) string { return `"` + s + `"` }

// unix parses an RFC 3339 time to Unix seconds.
func unix(t *testing.T, s string) int64 {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return ts.Unix()
}

func at(d time.Duration) string { return q(now.Add(d).Format(time.RFC3339Nano)) }

func decodeVisit(t *testing.T, l event.Limits, raw string) (event.Visit, error) {
	t.Helper()
	v, err := fastjson.Parse(raw)
	require.NoError(t, err, "test record must be JSON: %s", raw)
	rec, err := event.DecodeVisitJSON(v)
	if err != nil {
		return rec, err
	}
	return rec, l.ValidateVisit(&rec, now)
}

func decodeEncounter(t *testing.T, l event.Limits, raw string) (event.Encounter, error) {
	t.Helper()
	v, err := fastjson.Parse(raw)
	require.NoError(t, err, "test record must be JSON: %s", raw)
	rec, err := event.DecodeEncounterJSON(v)
	if err != nil {
		return rec, err
	}
	return rec, l.ValidateEncounter(&rec, now)
}

// requireRejected checks that err is a *ValidationError naming field and reason.
func requireRejected(t *testing.T, err error, field string, reason event.Reason) {
	t.Helper()
	require.Error(t, err)
	var ve *event.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field, "field of %q", err)
	require.Equal(t, reason, ve.Reason, "reason of %q", err)
	require.NotEmpty(t, ve.Detail)
	require.Equal(t, reason, event.ReasonOf(err))
	if field != "" {
		require.True(t, strings.HasPrefix(err.Error(), field+": "), "error %q should start with the field name", err)
	}
}

func TestVisitHappyPath(t *testing.T) {
	raw := `{"visit_id":"v-1","user_id":1001,"venue_id":2002,"enter":"2021-07-15T08:00:00Z",` +
		`"exit":"2021-07-15T09:30:00Z","source":"bluezone"}`
	l := event.DefaultLimits()
	got, err := decodeVisit(t, l, raw)
	require.NoError(t, err)
	want := event.Visit{
		VisitID: "v-1",
		UserID:  1001,
		VenueID: 2002,
		Enter:   time.Date(2021, 7, 15, 8, 0, 0, 0, time.UTC).Unix(),
		Exit:    time.Date(2021, 7, 15, 9, 30, 0, 0, time.UTC).Unix(),
		Source:  "bluezone",
	}
	require.Equal(t, want, got)
	require.True(t, got.HasExit())
	require.Equal(t, want.Exit, got.End(time.Hour))

	// The encoder writes what the decoder reads.
	enc := event.AppendVisitJSON(nil, &got)
	again, err := decodeVisit(t, l, string(enc))
	require.NoError(t, err)
	require.Equal(t, got, again)
}

func TestEncounterHappyPath(t *testing.T) {
	raw := `{"encounter_id":"e-1","user_id":1001,"peer_id":1002,"start":"2021-07-15T11:00:00Z",` +
		`"duration_s":900,"rssi":-70,"source":"bluezone"}`
	l := event.DefaultLimits()
	got, err := decodeEncounter(t, l, raw)
	require.NoError(t, err)
	want := event.Encounter{
		EncounterID: "e-1",
		UserID:      1001,
		PeerID:      1002,
		Start:       time.Date(2021, 7, 15, 11, 0, 0, 0, time.UTC).Unix(),
		DurationS:   900,
		RSSI:        -70,
		HasRSSI:     true,
		Source:      "bluezone",
	}
	require.Equal(t, want, got)
	require.Equal(t, want.Start+900, got.End())

	enc := event.AppendEncounterJSON(nil, &got)
	again, err := decodeEncounter(t, l, string(enc))
	require.NoError(t, err)
	require.Equal(t, got, again)
}

func TestVisitJSON(t *testing.T) {
	long := func(n int) string { return q(strings.Repeat("x", n)) }
	tests := []struct {
		name string
		over map[string]string // applied to baseVisit
		raw  string            // the whole record, instead of baseVisit+over
		// A valid record: want edits the expected Visit (the base one).
		want func(t *testing.T, v *event.Visit)
		// A rejected record.
		field  string
		reason event.Reason
	}{
		{name: "valid"},

		// visit_id
		{name: "visit_id integer", over: map[string]string{"visit_id": `123`},
			want: func(_ *testing.T, v *event.Visit) { v.VisitID = "123" }},
		{name: "visit_id large integer", over: map[string]string{"visit_id": `18446744073709551615`},
			want: func(_ *testing.T, v *event.Visit) { v.VisitID = "18446744073709551615" }},
		{name: "visit_id digit string", over: map[string]string{"visit_id": `"00123"`},
			want: func(_ *testing.T, v *event.Visit) { v.VisitID = "00123" }},
		{name: "visit_id integer zero is text 0 (schema: integer, no minimum)", over: map[string]string{"visit_id": `0`},
			want: func(_ *testing.T, v *event.Visit) { v.VisitID = "0" }},
		{name: "visit_id max bytes", over: map[string]string{"visit_id": long(event.DefaultMaxIDBytes)},
			want: func(_ *testing.T, v *event.Visit) { v.VisitID = strings.Repeat("x", event.DefaultMaxIDBytes) }},
		{name: "visit_id missing", over: map[string]string{"visit_id": absent}, field: "visit_id", reason: event.ReasonMissingField},
		{name: "visit_id null", over: map[string]string{"visit_id": `null`}, field: "visit_id", reason: event.ReasonMissingField},
		{name: "visit_id empty", over: map[string]string{"visit_id": `""`}, field: "visit_id", reason: event.ReasonMissingField},
		{name: "visit_id negative", over: map[string]string{"visit_id": `-1`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id float", over: map[string]string{"visit_id": `1.5`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id exponent", over: map[string]string{"visit_id": `1e3`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id over uint64", over: map[string]string{"visit_id": `18446744073709551616`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id bool", over: map[string]string{"visit_id": `true`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id object", over: map[string]string{"visit_id": `{}`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id array", over: map[string]string{"visit_id": `["v-1"]`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id too long", over: map[string]string{"visit_id": long(event.DefaultMaxIDBytes + 1)}, field: "visit_id", reason: event.ReasonTooLarge},
		{name: "visit_id limit counts bytes", over: map[string]string{"visit_id": q(strings.Repeat("ệ", 43))}, // 129 bytes, 43 characters
			field: "visit_id", reason: event.ReasonTooLarge},
		{name: "visit_id not UTF-8", over: map[string]string{"visit_id": q("v-\xff")}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id truncated UTF-8", over: map[string]string{"visit_id": q("v-\xe1\xbb")}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id lone high surrogate", over: map[string]string{"visit_id": `"v-\ud800"`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id lone low surrogate", over: map[string]string{"visit_id": `"\udc00-v"`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id high surrogate then not low", over: map[string]string{"visit_id": `"\uD800\u0041"`}, field: "visit_id", reason: event.ReasonInvalidValue},
		{name: "visit_id surrogate pair", over: map[string]string{"visit_id": `"v-\ud83d\ude00"`},
			want: func(_ *testing.T, v *event.Visit) { v.VisitID = "v-😀" }},
		{name: "visit_id escaped backslash before u", over: map[string]string{"visit_id": `"v-\\ud800"`},
			want: func(_ *testing.T, v *event.Visit) { v.VisitID = `v-\ud800` }},

		// user_id and venue_id
		{name: "user_id digit string", over: map[string]string{"user_id": `"1001"`}},
		{name: "venue_id digit string", over: map[string]string{"venue_id": `"2002"`}},
		{name: "user_id max uint32", over: map[string]string{"user_id": `4294967295`},
			want: func(_ *testing.T, v *event.Visit) { v.UserID = 4294967295 }},
		{name: "venue_id max uint32 string", over: map[string]string{"venue_id": `"4294967295"`},
			want: func(_ *testing.T, v *event.Visit) { v.VenueID = 4294967295 }},
		{name: "user_id missing", over: map[string]string{"user_id": absent}, field: "user_id", reason: event.ReasonMissingField},
		{name: "user_id null", over: map[string]string{"user_id": `null`}, field: "user_id", reason: event.ReasonMissingField},
		{name: "user_id zero", over: map[string]string{"user_id": `0`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id zero string", over: map[string]string{"user_id": `"0"`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id negative", over: map[string]string{"user_id": `-1`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id negative string", over: map[string]string{"user_id": `"-1"`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id float", over: map[string]string{"user_id": `1001.5`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id float with zero fraction", over: map[string]string{"user_id": `1001.0`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id exponent", over: map[string]string{"user_id": `1e3`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id over uint32", over: map[string]string{"user_id": `4294967296`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id over uint32 string", over: map[string]string{"user_id": `"4294967296"`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id over uint64", over: map[string]string{"user_id": `99999999999999999999`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id empty string", over: map[string]string{"user_id": `""`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id spaced string", over: map[string]string{"user_id": `" 1001"`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id signed string", over: map[string]string{"user_id": `"+1001"`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id hex string", over: map[string]string{"user_id": `"0x10"`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id bool", over: map[string]string{"user_id": `true`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id array", over: map[string]string{"user_id": `[1001]`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "venue_id missing", over: map[string]string{"venue_id": absent}, field: "venue_id", reason: event.ReasonMissingField},
		{name: "venue_id zero", over: map[string]string{"venue_id": `0`}, field: "venue_id", reason: event.ReasonInvalidValue},
		{name: "venue_id negative", over: map[string]string{"venue_id": `-2002`}, field: "venue_id", reason: event.ReasonInvalidValue},
		{name: "venue_id float", over: map[string]string{"venue_id": `2.5`}, field: "venue_id", reason: event.ReasonInvalidValue},
		{name: "venue_id over uint32", over: map[string]string{"venue_id": `4294967296`}, field: "venue_id", reason: event.ReasonInvalidValue},
		{name: "venue_id object", over: map[string]string{"venue_id": `{"id":2002}`}, field: "venue_id", reason: event.ReasonInvalidValue},

		// enter
		{name: "enter with offset", over: map[string]string{"enter": `"2021-07-15T15:00:00+07:00"`}},
		{name: "enter fraction rounded down", over: map[string]string{"enter": `"2021-07-15T08:00:00.999999999Z"`}},
		{name: "enter missing", over: map[string]string{"enter": absent}, field: "enter", reason: event.ReasonMissingField},
		{name: "enter null", over: map[string]string{"enter": `null`}, field: "enter", reason: event.ReasonMissingField},
		{name: "enter empty", over: map[string]string{"enter": `""`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter unix number", over: map[string]string{"enter": `1626336000`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter unix string", over: map[string]string{"enter": `"1626336000"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter space separator", over: map[string]string{"enter": `"2021-07-15 08:00:00"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter no zone", over: map[string]string{"enter": `"2021-07-15T08:00:00"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter date only", over: map[string]string{"enter": `"2021-07-15"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter no seconds", over: map[string]string{"enter": `"2021-07-15T08:00Z"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter words", over: map[string]string{"enter": `"yesterday"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter impossible date", over: map[string]string{"enter": `"2021-02-30T08:00:00Z"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter hour 25", over: map[string]string{"enter": `"2021-07-15T25:00:00Z"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter bad offset", over: map[string]string{"enter": `"2021-07-15T08:00:00+25:00"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter bool", over: map[string]string{"enter": `true`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter before 1970", over: map[string]string{"enter": `"1969-12-31T23:59:59Z"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter at the epoch", over: map[string]string{"enter": `"1970-01-01T00:00:00Z"`}, field: "enter", reason: event.ReasonInvalidTime},
		{name: "enter at now+5m", over: map[string]string{"enter": at(5 * time.Minute), "exit": `null`}},
		{name: "enter at now+5m with a fraction", over: map[string]string{"enter": at(5*time.Minute + 900*time.Millisecond), "exit": `null`}},
		{name: "enter after now+5m", over: map[string]string{"enter": at(5*time.Minute + time.Second), "exit": `null`},
			field: "enter", reason: event.ReasonFutureTime},
		{name: "enter far future", over: map[string]string{"enter": `"2099-01-01T00:00:00Z"`, "exit": absent},
			field: "enter", reason: event.ReasonFutureTime},
		{name: "enter at retention", over: map[string]string{"enter": at(-event.DefaultRetention), "exit": absent}},
		{name: "enter older than retention", over: map[string]string{"enter": at(-event.DefaultRetention - time.Second), "exit": absent},
			field: "enter", reason: event.ReasonExpired},
		{name: "enter years ago", over: map[string]string{"enter": `"2020-01-01T08:00:00Z"`, "exit": `"2020-01-01T09:00:00Z"`},
			field: "enter", reason: event.ReasonExpired},

		// exit
		{name: "exit null", over: map[string]string{"exit": `null`},
			want: func(_ *testing.T, v *event.Visit) { v.Exit = 0 }},
		{name: "exit absent", over: map[string]string{"exit": absent},
			want: func(_ *testing.T, v *event.Visit) { v.Exit = 0 }},
		{name: "exit fraction rounded down", over: map[string]string{"exit": `"2021-07-15T09:30:00.5Z"`}},
		{name: "exit equals enter", over: map[string]string{"exit": `"2021-07-15T08:00:00Z"`},
			want: func(t *testing.T, v *event.Visit) { v.Exit = unix(t, "2021-07-15T08:00:00Z") }},
		{name: "exit equals enter after rounding", over: map[string]string{"exit": `"2021-07-15T08:00:00.7Z"`},
			want: func(t *testing.T, v *event.Visit) { v.Exit = unix(t, "2021-07-15T08:00:00Z") }},
		{name: "stay of exactly 24h", over: map[string]string{"enter": `"2021-07-14T08:00:00Z"`, "exit": `"2021-07-15T08:00:00Z"`},
			want: func(t *testing.T, v *event.Visit) {
				v.Enter, v.Exit = unix(t, "2021-07-14T08:00:00Z"), unix(t, "2021-07-15T08:00:00Z")
			}},
		{name: "exit before enter", over: map[string]string{"exit": `"2021-07-15T07:59:59Z"`}, field: "exit", reason: event.ReasonInvalidTime},
		{name: "stay over 24h", over: map[string]string{"enter": `"2021-07-14T08:00:00Z"`, "exit": `"2021-07-15T08:00:01Z"`},
			field: "exit", reason: event.ReasonInvalidTime},
		{name: "exit at now+5m", over: map[string]string{"exit": at(5 * time.Minute)}},
		{name: "exit after now+5m", over: map[string]string{"exit": at(5*time.Minute + time.Second)}, field: "exit", reason: event.ReasonFutureTime},
		{name: "exit unparseable", over: map[string]string{"exit": `"2021-07-15 09:30:00"`}, field: "exit", reason: event.ReasonInvalidTime},
		{name: "exit unix number", over: map[string]string{"exit": `1626341400`}, field: "exit", reason: event.ReasonInvalidTime},
		{name: "exit empty", over: map[string]string{"exit": `""`}, field: "exit", reason: event.ReasonInvalidTime},
		{name: "exit at the epoch", over: map[string]string{"exit": `"1970-01-01T00:00:00Z"`}, field: "exit", reason: event.ReasonInvalidTime},

		// source
		{name: "source absent", over: map[string]string{"source": absent},
			want: func(_ *testing.T, v *event.Visit) { v.Source = "" }},
		{name: "source null", over: map[string]string{"source": `null`},
			want: func(_ *testing.T, v *event.Visit) { v.Source = "" }},
		{name: "source UTF-8", over: map[string]string{"source": `"tờ khai y tế"`},
			want: func(_ *testing.T, v *event.Visit) { v.Source = "tờ khai y tế" }},
		{name: "source escaped", over: map[string]string{"source": `"t\u1edd \"q\""`},
			want: func(_ *testing.T, v *event.Visit) { v.Source = `tờ "q"` }},
		{name: "source max bytes", over: map[string]string{"source": long(event.DefaultMaxTextBytes)},
			want: func(_ *testing.T, v *event.Visit) { v.Source = strings.Repeat("x", event.DefaultMaxTextBytes) }},
		{name: "source too long", over: map[string]string{"source": long(event.DefaultMaxTextBytes + 1)}, field: "source", reason: event.ReasonTooLarge},
		{name: "source not UTF-8", over: map[string]string{"source": q("\xc3\x28")}, field: "source", reason: event.ReasonInvalidValue},
		{name: "source number", over: map[string]string{"source": `7`}, field: "source", reason: event.ReasonInvalidValue},
		{name: "source object", over: map[string]string{"source": `{"app":"bluezone"}`}, field: "source", reason: event.ReasonInvalidValue},

		// the record as a whole
		{name: "unknown fields ignored", over: map[string]string{"extra": `{"a":[1,2,{"b":null}]}`, "User_ID": `"nope"`, "rssi": `"x"`}},
		{name: "first fault named", over: map[string]string{"visit_id": absent, "user_id": `0`, "enter": `"x"`},
			field: "visit_id", reason: event.ReasonMissingField},
		{name: "decode order: user_id before enter", over: map[string]string{"user_id": `-1`, "enter": `"x"`},
			field: "user_id", reason: event.ReasonInvalidValue},
		{name: "empty object", raw: `{}`, field: "visit_id", reason: event.ReasonMissingField},
		{name: "array", raw: `[{"visit_id":"v-1"}]`, reason: event.ReasonInvalidJSON},
		{name: "empty array", raw: `[]`, reason: event.ReasonInvalidJSON},
		{name: "number", raw: `42`, reason: event.ReasonInvalidJSON},
		{name: "string", raw: `"{\"visit_id\":\"v-1\"}"`, reason: event.ReasonInvalidJSON},
		{name: "null", raw: `null`, reason: event.ReasonInvalidJSON},
		{name: "bool", raw: `false`, reason: event.ReasonInvalidJSON},
	}
	l := event.DefaultLimits()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == "" {
				raw = record(baseVisit, tt.over)
			}
			got, err := decodeVisit(t, l, raw)
			if tt.reason != "" {
				requireRejected(t, err, tt.field, tt.reason)
				return
			}
			require.NoError(t, err, "record %s", raw)
			want := event.Visit{
				VisitID: "v-1", UserID: 1001, VenueID: 2002,
				Enter:  unix(t, "2021-07-15T08:00:00Z"),
				Exit:   unix(t, "2021-07-15T09:30:00Z"),
				Source: "bluezone",
			}
			if e, ok := tt.over["enter"]; ok && tt.want == nil {
				ts, err := time.Parse(time.RFC3339Nano, strings.Trim(e, `"`))
				require.NoError(t, err)
				want.Enter = ts.Unix() // rounded down
			}
			if x, ok := tt.over["exit"]; ok && tt.want == nil {
				want.Exit = 0
				if x != `null` && x != absent {
					ts, err := time.Parse(time.RFC3339Nano, strings.Trim(x, `"`))
					require.NoError(t, err)
					want.Exit = ts.Unix()
				}
			}
			if tt.want != nil {
				tt.want(t, &want)
			}
			require.Equal(t, want, got)
		})
	}
}

func TestVisitTimesRoundDown(t *testing.T) {
	l := event.DefaultLimits()
	got, err := decodeVisit(t, l, record(baseVisit, map[string]string{
		"enter": `"2021-07-15T08:00:00.999999999Z"`,
		"exit":  `"2021-07-15T09:30:59.5+00:00"`,
	}))
	require.NoError(t, err)
	require.Equal(t, time.Date(2021, 7, 15, 8, 0, 0, 0, time.UTC).Unix(), got.Enter)
	require.Equal(t, time.Date(2021, 7, 15, 9, 30, 59, 0, time.UTC).Unix(), got.Exit)
}

func TestEncounterJSON(t *testing.T) {
	long := func(n int) string { return q(strings.Repeat("e", n)) }
	tests := []struct {
		name   string
		over   map[string]string // applied to baseEncounter
		raw    string            // the whole record, instead of baseEncounter+over
		want   func(t *testing.T, e *event.Encounter)
		field  string
		reason event.Reason
	}{
		{name: "valid"},

		// encounter_id
		{name: "encounter_id integer", over: map[string]string{"encounter_id": `77`},
			want: func(_ *testing.T, e *event.Encounter) { e.EncounterID = "77" }},
		{name: "encounter_id digit string", over: map[string]string{"encounter_id": `"77"`},
			want: func(_ *testing.T, e *event.Encounter) { e.EncounterID = "77" }},
		{name: "encounter_id missing", over: map[string]string{"encounter_id": absent}, field: "encounter_id", reason: event.ReasonMissingField},
		{name: "encounter_id null", over: map[string]string{"encounter_id": `null`}, field: "encounter_id", reason: event.ReasonMissingField},
		{name: "encounter_id empty", over: map[string]string{"encounter_id": `""`}, field: "encounter_id", reason: event.ReasonMissingField},
		{name: "encounter_id negative", over: map[string]string{"encounter_id": `-77`}, field: "encounter_id", reason: event.ReasonInvalidValue},
		{name: "encounter_id float", over: map[string]string{"encounter_id": `7.7`}, field: "encounter_id", reason: event.ReasonInvalidValue},
		{name: "encounter_id bool", over: map[string]string{"encounter_id": `false`}, field: "encounter_id", reason: event.ReasonInvalidValue},
		{name: "encounter_id max bytes", over: map[string]string{"encounter_id": long(event.DefaultMaxIDBytes)},
			want: func(_ *testing.T, e *event.Encounter) { e.EncounterID = strings.Repeat("e", event.DefaultMaxIDBytes) }},
		{name: "encounter_id too long", over: map[string]string{"encounter_id": long(event.DefaultMaxIDBytes + 1)},
			field: "encounter_id", reason: event.ReasonTooLarge},
		{name: "encounter_id not UTF-8", over: map[string]string{"encounter_id": q("\xfe\xff")}, field: "encounter_id", reason: event.ReasonInvalidValue},
		{name: "encounter_id lone surrogate", over: map[string]string{"encounter_id": `"\ud800"`}, field: "encounter_id", reason: event.ReasonInvalidValue},
		{name: "source lone surrogate", over: map[string]string{"source": `"bluezone\udfff"`}, field: "source", reason: event.ReasonInvalidValue},

		// user_id and peer_id
		{name: "ids as digit strings", over: map[string]string{"user_id": `"1001"`, "peer_id": `"1002"`}},
		{name: "user_id missing", over: map[string]string{"user_id": absent}, field: "user_id", reason: event.ReasonMissingField},
		{name: "user_id zero", over: map[string]string{"user_id": `0`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id float", over: map[string]string{"user_id": `1.5`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "user_id over uint32", over: map[string]string{"user_id": `4294967296`}, field: "user_id", reason: event.ReasonInvalidValue},
		{name: "peer_id missing", over: map[string]string{"peer_id": absent}, field: "peer_id", reason: event.ReasonMissingField},
		{name: "peer_id null", over: map[string]string{"peer_id": `null`}, field: "peer_id", reason: event.ReasonMissingField},
		{name: "peer_id zero", over: map[string]string{"peer_id": `0`}, field: "peer_id", reason: event.ReasonInvalidValue},
		{name: "peer_id zero string", over: map[string]string{"peer_id": `"0"`}, field: "peer_id", reason: event.ReasonInvalidValue},
		{name: "peer_id negative", over: map[string]string{"peer_id": `-1002`}, field: "peer_id", reason: event.ReasonInvalidValue},
		{name: "peer_id over uint32", over: map[string]string{"peer_id": `"4294967296"`}, field: "peer_id", reason: event.ReasonInvalidValue},
		{name: "peer_id string not digits", over: map[string]string{"peer_id": `"abc"`}, field: "peer_id", reason: event.ReasonInvalidValue},
		{name: "self-encounter", over: map[string]string{"peer_id": `1001`}, field: "peer_id", reason: event.ReasonSelfEncounter},
		{name: "self-encounter, string and number", over: map[string]string{"peer_id": `"1001"`}, field: "peer_id", reason: event.ReasonSelfEncounter},
		{name: "self-encounter, max ids", over: map[string]string{"user_id": `4294967295`, "peer_id": `"4294967295"`},
			field: "peer_id", reason: event.ReasonSelfEncounter},

		// start
		{name: "start with offset", over: map[string]string{"start": `"2021-07-15T18:00:00+07:00"`}},
		{name: "start fraction rounded down", over: map[string]string{"start": `"2021-07-15T11:00:00.999Z"`}},
		{name: "start missing", over: map[string]string{"start": absent}, field: "start", reason: event.ReasonMissingField},
		{name: "start null", over: map[string]string{"start": `null`}, field: "start", reason: event.ReasonMissingField},
		{name: "start unix number", over: map[string]string{"start": `1626346800`}, field: "start", reason: event.ReasonInvalidTime},
		{name: "start space separator", over: map[string]string{"start": `"2021-07-15 11:00:00"`}, field: "start", reason: event.ReasonInvalidTime},
		{name: "start garbage", over: map[string]string{"start": `"11:00"`}, field: "start", reason: event.ReasonInvalidTime},
		{name: "start before 1970", over: map[string]string{"start": `"1900-01-01T00:00:00Z"`}, field: "start", reason: event.ReasonInvalidTime},
		{name: "start after now+5m", over: map[string]string{"start": at(5*time.Minute + time.Second), "duration_s": `1`},
			field: "start", reason: event.ReasonFutureTime},
		{name: "start at retention", over: map[string]string{"start": at(-event.DefaultRetention)}},
		{name: "start older than retention", over: map[string]string{"start": at(-event.DefaultRetention - time.Second)},
			field: "start", reason: event.ReasonExpired},

		// duration_s
		{name: "duration one second", over: map[string]string{"duration_s": `1`},
			want: func(_ *testing.T, e *event.Encounter) { e.DurationS = 1 }},
		{name: "duration whole float", over: map[string]string{"duration_s": `900.0`}},
		{name: "duration exponent", over: map[string]string{"duration_s": `9e2`}},
		{name: "duration 24h", over: map[string]string{"start": `"2021-07-14T08:00:00Z"`, "duration_s": `86400`},
			want: func(t *testing.T, e *event.Encounter) { e.Start, e.DurationS = unix(t, "2021-07-14T08:00:00Z"), 86400 }},
		{name: "duration missing", over: map[string]string{"duration_s": absent}, field: "duration_s", reason: event.ReasonMissingField},
		{name: "duration null", over: map[string]string{"duration_s": `null`}, field: "duration_s", reason: event.ReasonMissingField},
		{name: "duration zero", over: map[string]string{"duration_s": `0`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration negative zero", over: map[string]string{"duration_s": `-0`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration negative", over: map[string]string{"duration_s": `-60`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration fractional", over: map[string]string{"duration_s": `60.5`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration under a second", over: map[string]string{"duration_s": `0.5`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration string", over: map[string]string{"duration_s": `"900"`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration bool", over: map[string]string{"duration_s": `true`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration NaN", over: map[string]string{"duration_s": `NaN`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration -Inf", over: map[string]string{"duration_s": `-Inf`}, field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "duration Inf", over: map[string]string{"duration_s": `Inf`}, field: "duration_s", reason: event.ReasonInvalidTime},
		{name: "duration over 24h", over: map[string]string{"start": `"2021-07-14T08:00:00Z"`, "duration_s": `86401`},
			field: "duration_s", reason: event.ReasonInvalidTime},
		{name: "duration max uint32", over: map[string]string{"duration_s": `4294967295`}, field: "duration_s", reason: event.ReasonInvalidTime},
		{name: "duration over uint32", over: map[string]string{"duration_s": `4294967296`}, field: "duration_s", reason: event.ReasonInvalidTime},
		{name: "duration huge", over: map[string]string{"duration_s": `1e300`}, field: "duration_s", reason: event.ReasonInvalidTime},
		{name: "end at now+5m", over: map[string]string{"start": at(-100 * time.Second), "duration_s": `400`},
			want: func(_ *testing.T, e *event.Encounter) { e.Start, e.DurationS = now.Unix()-100, 400 }},
		{name: "end after now+5m", over: map[string]string{"start": at(-100 * time.Second), "duration_s": `401`},
			field: "duration_s", reason: event.ReasonFutureTime},
		{name: "start at now+5m ends after it", over: map[string]string{"start": at(5 * time.Minute), "duration_s": `1`},
			field: "duration_s", reason: event.ReasonFutureTime},

		// rssi
		{name: "rssi absent", over: map[string]string{"rssi": absent},
			want: func(_ *testing.T, e *event.Encounter) { e.RSSI, e.HasRSSI = 0, false }},
		{name: "rssi null", over: map[string]string{"rssi": `null`},
			want: func(_ *testing.T, e *event.Encounter) { e.RSSI, e.HasRSSI = 0, false }},
		{name: "rssi zero", over: map[string]string{"rssi": `0`},
			want: func(_ *testing.T, e *event.Encounter) { e.RSSI = 0 }},
		{name: "rssi min", over: map[string]string{"rssi": `-127`},
			want: func(_ *testing.T, e *event.Encounter) { e.RSSI = -127 }},
		{name: "rssi max", over: map[string]string{"rssi": `20`},
			want: func(_ *testing.T, e *event.Encounter) { e.RSSI = 20 }},
		{name: "rssi fraction rounded", over: map[string]string{"rssi": `-70.6`},
			want: func(_ *testing.T, e *event.Encounter) { e.RSSI = -71 }},
		{name: "rssi below min", over: map[string]string{"rssi": `-128`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi just below min", over: map[string]string{"rssi": `-127.2`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi above max", over: map[string]string{"rssi": `21`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi just above max", over: map[string]string{"rssi": `20.1`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi huge", over: map[string]string{"rssi": `1e10`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi NaN", over: map[string]string{"rssi": `NaN`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi string", over: map[string]string{"rssi": `"-70"`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi bool", over: map[string]string{"rssi": `true`}, field: "rssi", reason: event.ReasonInvalidValue},
		{name: "rssi array", over: map[string]string{"rssi": `[-70]`}, field: "rssi", reason: event.ReasonInvalidValue},

		// source
		{name: "source absent", over: map[string]string{"source": absent},
			want: func(_ *testing.T, e *event.Encounter) { e.Source = "" }},
		{name: "source too long", over: map[string]string{"source": long(event.DefaultMaxTextBytes + 1)}, field: "source", reason: event.ReasonTooLarge},
		{name: "source not UTF-8", over: map[string]string{"source": q("\x80")}, field: "source", reason: event.ReasonInvalidValue},
		{name: "source array", over: map[string]string{"source": `["a"]`}, field: "source", reason: event.ReasonInvalidValue},

		// the record as a whole
		{name: "unknown fields ignored", over: map[string]string{"venue_id": `"x"`, "zzz": `[[[]]]`, "Peer_ID": `1001`}},
		{name: "first fault named", over: map[string]string{"encounter_id": `""`, "peer_id": `1001`, "start": `"2099-01-01T00:00:00Z"`},
			field: "encounter_id", reason: event.ReasonMissingField},
		{name: "decoding faults come before validation faults", over: map[string]string{"encounter_id": `""`, "duration_s": `0`},
			field: "duration_s", reason: event.ReasonInvalidValue},
		{name: "self-encounter before time checks", over: map[string]string{"peer_id": `1001`, "start": `"2099-01-01T00:00:00Z"`},
			field: "peer_id", reason: event.ReasonSelfEncounter},
		{name: "empty object", raw: `{}`, field: "encounter_id", reason: event.ReasonMissingField},
		{name: "array", raw: `[]`, reason: event.ReasonInvalidJSON},
		{name: "number", raw: `-1.5e3`, reason: event.ReasonInvalidJSON},
		{name: "string", raw: `"e-1"`, reason: event.ReasonInvalidJSON},
		{name: "null", raw: `null`, reason: event.ReasonInvalidJSON},
	}
	l := event.DefaultLimits()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == "" {
				raw = record(baseEncounter, tt.over)
			}
			got, err := decodeEncounter(t, l, raw)
			if tt.reason != "" {
				requireRejected(t, err, tt.field, tt.reason)
				return
			}
			require.NoError(t, err, "record %s", raw)
			want := event.Encounter{
				EncounterID: "e-1", UserID: 1001, PeerID: 1002,
				Start:     unix(t, "2021-07-15T11:00:00Z"),
				DurationS: 900, RSSI: -70, HasRSSI: true, Source: "bluezone",
			}
			if s, ok := tt.over["start"]; ok && tt.want == nil {
				ts, err := time.Parse(time.RFC3339Nano, strings.Trim(s, `"`))
				require.NoError(t, err)
				want.Start = ts.Unix()
			}
			if tt.want != nil {
				tt.want(t, &want)
			}
			require.Equal(t, want, got)
		})
	}
}

// TestValidateStructs covers the checks that JSON decoding cannot reach: a
// record built in Go (or decoded from the binary format) is validated alone.
func TestValidateStructs(t *testing.T) {
	l := event.DefaultLimits()
	enter := now.Add(-time.Hour).Unix()
	okVisit := event.Visit{VisitID: "v", UserID: 1, VenueID: 2, Enter: enter, Exit: enter + 60}
	okEnc := event.Encounter{EncounterID: "e", UserID: 1, PeerID: 2, Start: enter, DurationS: 60, RSSI: -60, HasRSSI: true}
	require.NoError(t, l.ValidateVisit(&okVisit, now))
	require.NoError(t, l.ValidateEncounter(&okEnc, now))

	visits := []struct {
		name   string
		edit   func(v *event.Visit)
		field  string
		reason event.Reason
	}{
		{"zero value", func(v *event.Visit) { *v = event.Visit{} }, "visit_id", event.ReasonMissingField},
		{"user zero", func(v *event.Visit) { v.UserID = 0 }, "user_id", event.ReasonMissingField},
		{"venue zero", func(v *event.Visit) { v.VenueID = 0 }, "venue_id", event.ReasonMissingField},
		{"enter zero", func(v *event.Visit) { v.Enter = 0 }, "enter", event.ReasonMissingField},
		{"enter negative", func(v *event.Visit) { v.Enter = -1 }, "enter", event.ReasonExpired},
		{"exit before enter", func(v *event.Visit) { v.Exit = v.Enter - 1 }, "exit", event.ReasonInvalidTime},
		{"exit negative", func(v *event.Visit) { v.Exit = -5 }, "exit", event.ReasonInvalidTime},
		{"id not UTF-8", func(v *event.Visit) { v.VisitID = "\xff" }, "visit_id", event.ReasonInvalidValue},
		{"source not UTF-8", func(v *event.Visit) { v.Source = "\xff" }, "source", event.ReasonInvalidValue},
	}
	for _, tt := range visits {
		t.Run("visit/"+tt.name, func(t *testing.T) {
			v := okVisit
			tt.edit(&v)
			requireRejected(t, l.ValidateVisit(&v, now), tt.field, tt.reason)
		})
	}

	encounters := []struct {
		name   string
		edit   func(e *event.Encounter)
		field  string
		reason event.Reason
	}{
		{"zero value", func(e *event.Encounter) { *e = event.Encounter{} }, "encounter_id", event.ReasonMissingField},
		{"user zero", func(e *event.Encounter) { e.UserID = 0 }, "user_id", event.ReasonMissingField},
		{"peer zero", func(e *event.Encounter) { e.PeerID = 0 }, "peer_id", event.ReasonMissingField},
		{"self", func(e *event.Encounter) { e.PeerID = e.UserID }, "peer_id", event.ReasonSelfEncounter},
		{"start zero", func(e *event.Encounter) { e.Start = 0 }, "start", event.ReasonMissingField},
		{"duration zero", func(e *event.Encounter) { e.DurationS = 0 }, "duration_s", event.ReasonInvalidValue},
		{"duration over max stay", func(e *event.Encounter) { e.DurationS = 86401 }, "duration_s", event.ReasonInvalidTime},
		{"rssi below min", func(e *event.Encounter) { e.RSSI = -128 }, "rssi", event.ReasonInvalidValue},
		{"rssi above max", func(e *event.Encounter) { e.RSSI = 100 }, "rssi", event.ReasonInvalidValue},
		{"source too long", func(e *event.Encounter) { e.Source = strings.Repeat("s", 65) }, "source", event.ReasonTooLarge},
	}
	for _, tt := range encounters {
		t.Run("encounter/"+tt.name, func(t *testing.T) {
			e := okEnc
			tt.edit(&e)
			requireRejected(t, l.ValidateEncounter(&e, now), tt.field, tt.reason)
		})
	}

	t.Run("rssi out of range ignored without HasRSSI", func(t *testing.T) {
		e := okEnc
		e.RSSI, e.HasRSSI = -128, false
		require.NoError(t, l.ValidateEncounter(&e, now))
	})
}

// TestCustomLimits checks that every bound comes from Limits, not a constant.
func TestCustomLimits(t *testing.T) {
	l := event.Limits{
		Retention:    time.Hour,
		MaxFuture:    0,
		MaxStay:      10 * time.Minute,
		MaxIDBytes:   4,
		MaxTextBytes: 3,
	}
	enter := now.Add(-30 * time.Minute).Unix()
	tests := []struct {
		name   string
		v      event.Visit
		field  string
		reason event.Reason
	}{
		{"ok", event.Visit{VisitID: "abcd", UserID: 1, VenueID: 1, Enter: enter, Exit: enter + 600, Source: "abc"}, "", ""},
		{"id over MaxIDBytes", event.Visit{VisitID: "abcde", UserID: 1, VenueID: 1, Enter: enter}, "visit_id", event.ReasonTooLarge},
		{"source over MaxTextBytes", event.Visit{VisitID: "a", UserID: 1, VenueID: 1, Enter: enter, Source: "abcd"}, "source", event.ReasonTooLarge},
		{"stay over MaxStay", event.Visit{VisitID: "a", UserID: 1, VenueID: 1, Enter: enter, Exit: enter + 601}, "exit", event.ReasonInvalidTime},
		{"enter now, MaxFuture 0", event.Visit{VisitID: "a", UserID: 1, VenueID: 1, Enter: now.Unix()}, "", ""},
		{"enter after now, MaxFuture 0", event.Visit{VisitID: "a", UserID: 1, VenueID: 1, Enter: now.Unix() + 1}, "enter", event.ReasonFutureTime},
		{"older than Retention", event.Visit{VisitID: "a", UserID: 1, VenueID: 1, Enter: now.Add(-time.Hour).Unix() - 1}, "enter", event.ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := l.ValidateVisit(&tt.v, now)
			if tt.reason == "" {
				require.NoError(t, err)
				return
			}
			requireRejected(t, err, tt.field, tt.reason)
		})
	}
	t.Run("encounter over MaxStay", func(t *testing.T) {
		e := event.Encounter{EncounterID: "a", UserID: 1, PeerID: 2, Start: enter, DurationS: 601}
		requireRejected(t, l.ValidateEncounter(&e, now), "duration_s", event.ReasonInvalidTime)
	})
}

func TestReasonOf(t *testing.T) {
	require.Equal(t, event.ReasonInvalidValue, event.ReasonOf(errors.New("plain")))
	ve := &event.ValidationError{Field: "enter", Reason: event.ReasonExpired, Detail: "old"}
	require.Equal(t, event.ReasonExpired, event.ReasonOf(ve))
	require.Equal(t, event.ReasonExpired, event.ReasonOf(errors.Join(errors.New("ctx"), ve)))
	require.Equal(t, "enter: old", ve.Error())
	require.Equal(t, "whole", (&event.ValidationError{Reason: event.ReasonInvalidJSON, Detail: "whole"}).Error())
	require.Len(t, event.Reasons, 10)
	seen := map[event.Reason]bool{}
	for _, r := range event.Reasons {
		require.False(t, seen[r], "duplicate reason %q", r)
		seen[r] = true
	}
}

// TestAppendJSONRoundTrip checks that the encoder's output decodes to the same
// record, for the awkward strings the encoder must escape.
func TestAppendJSONRoundTrip(t *testing.T) {
	l := event.DefaultLimits()
	start := now.Add(-2 * time.Hour).Unix()
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "tờ khai", "line\nbreak\ttab", "\u2028\u00ad", "😷",
		"\x00", "\a", "\v", "\x1b", "\x7f", "\U000e0001"} {
		t.Run(s, func(t *testing.T) {
			v := event.Visit{VisitID: "v" + s, UserID: 1, VenueID: 2, Enter: start, Source: s}
			got, err := decodeVisit(t, l, string(event.AppendVisitJSON(nil, &v)))
			require.NoError(t, err)
			require.Equal(t, v, got)

			e := event.Encounter{EncounterID: "e" + s, UserID: 1, PeerID: 2, Start: start, DurationS: 5, Source: s}
			gotE, err := decodeEncounter(t, l, string(event.AppendEncounterJSON(nil, &e)))
			require.NoError(t, err)
			require.Equal(t, e, gotE)
		})
	}
}
