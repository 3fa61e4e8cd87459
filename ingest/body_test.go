package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

// seen is one callback of splitBody: the record's JSON text, or its error.
type seen struct {
	i    int
	json string
	err  error
}

func split(t *testing.T, body string, maxRecords, maxRecordBytes int) ([]seen, error) {
	t.Helper()
	var p fastjson.Parser
	var got []seen
	err := splitBody(&p, []byte(body), maxRecords, maxRecordBytes, func(i int, v *fastjson.Value, err error) {
		if (v == nil) == (err == nil) {
			t.Fatalf("record %d: want exactly one of value and error, got %v and %v", i, v, err)
		}
		s := seen{i: i, err: err}
		if v != nil {
			s.json = v.String() // v is valid only during the call
		}
		got = append(got, s)
	})
	return got, err
}

// ok and bad build expected callbacks; bad matches any error.
func ok(i int, json string) seen { return seen{i: i, json: json} }
func bad(i int) seen             { return seen{i: i, err: errAny} }

var errAny = errors.New("any error")

func TestSplitBody(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 40) + `"}` // 48 bytes
	tests := []struct {
		name           string
		body           string
		maxRecords     int // 0: 100
		maxRecordBytes int // 0: 1024
		want           []seen
		wantErr        error // nil, ErrNotJSON or ErrTooManyRecords
		tooLarge       []int // indices whose error is errRecordTooLarge
	}{
		// NDJSON
		{name: "ndjson", body: "{\"a\":1}\n{\"a\":2}",
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "ndjson trailing newline", body: "{\"a\":1}\n{\"a\":2}\n",
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "ndjson crlf", body: "{\"a\":1}\r\n{\"a\":2}\r\n",
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "ndjson blank lines not counted", body: "\n\n{\"a\":1}\n   \n\t\r\n{\"a\":2}\n\n\n",
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "ndjson indented lines", body: "  {\"a\":1}  \n\t{\"a\":2}\t",
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "ndjson bad line among good", body: "{\"a\":1}\n{\"a\":\n{\"a\":3}\n",
			want: []seen{ok(0, `{"a":1}`), bad(1), ok(2, `{"a":3}`)}},
		{name: "ndjson bad first line", body: "not json\n{\"a\":2}",
			want: []seen{bad(0), ok(1, `{"a":2}`)}},
		{name: "ndjson two objects on one line", body: "{\"a\":1} {\"a\":2}\n{\"a\":3}",
			want: []seen{bad(0), ok(1, `{"a":3}`)}},
		{name: "ndjson all lines bad", body: "{bad\nnope\n{\"a\":}\n",
			want: []seen{bad(0), bad(1), bad(2)}, wantErr: ErrNotJSON},
		{name: "ndjson scalar lines are not records", body: "1\n\"s\"\nnull\n[1]",
			want: []seen{bad(0), bad(1), bad(2), bad(3)}, wantErr: ErrNotJSON},
		{name: "ndjson scalar line among objects is that line's error", body: "{}\n1\n{}",
			want: []seen{ok(0, `{}`), bad(1), ok(2, `{}`)}},
		{name: "not json at all", body: "hello, world", want: []seen{bad(0)}, wantErr: ErrNotJSON},
		{name: "exactly max records", body: "{}\n\n{}\n", maxRecords: 2,
			want: []seen{ok(0, `{}`), ok(1, `{}`)}},
		{name: "ndjson too many records", body: "{}\n{}\n{}\n", maxRecords: 2,
			want: []seen{ok(0, `{}`), ok(1, `{}`)}, wantErr: ErrTooManyRecords},
		{name: "ndjson too many bad records", body: "x\ny\nz", maxRecords: 2,
			want: []seen{bad(0), bad(1)}, wantErr: ErrTooManyRecords},
		{name: "ndjson oversized line", body: "{\"a\":1}\n" + big + "\n{\"a\":3}", maxRecordBytes: 47,
			want: []seen{ok(0, `{"a":1}`), bad(1), ok(2, `{"a":3}`)}, tooLarge: []int{1}},
		{name: "ndjson line of exactly max bytes", body: "{\"a\":1}\n" + big + "\r\n", maxRecordBytes: 48,
			want: []seen{ok(0, `{"a":1}`), ok(1, big)}},
		{name: "ndjson oversized lines only", body: big + "\n" + big, maxRecordBytes: 10,
			want: []seen{bad(0), bad(1)}, tooLarge: []int{0, 1}},
		{name: "ndjson oversized garbage is too large, not bad JSON", body: "{}\n" + strings.Repeat("z", 30), maxRecordBytes: 20,
			want: []seen{ok(0, `{}`), bad(1)}, tooLarge: []int{1}},

		// JSON array
		{name: "array", body: `[{"a":1},{"a":2}]`,
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "array pretty and padded", body: "\n  [\n  {\"a\": 1},\r\n  {\"a\": 2}\n]\n\n",
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "empty array", body: `[]`},
		{name: "array of non-objects", body: `[1,"x",null,[],{"a":1}]`,
			want: []seen{ok(0, `1`), ok(1, `"x"`), ok(2, `null`), ok(3, `[]`), ok(4, `{"a":1}`)}},
		{name: "array malformed", body: `[{"a":1},{"a":2}`, wantErr: ErrNotJSON},
		{name: "array trailing comma", body: `[{"a":1},]`, wantErr: ErrNotJSON},
		{name: "array then garbage", body: `[{"a":1}] x`, wantErr: ErrNotJSON},
		{name: "arrays as ndjson", body: "[{\"a\":1}]\n[{\"a\":2}]", wantErr: ErrNotJSON},
		{name: "exactly max records in array", body: `[{},{}]`, maxRecords: 2,
			want: []seen{ok(0, `{}`), ok(1, `{}`)}},
		{name: "array too many records", body: `[{},{},{}]`, maxRecords: 2, wantErr: ErrTooManyRecords},

		// a single object
		{name: "single object", body: `{"a":1}`, want: []seen{ok(0, `{"a":1}`)}},
		{name: "single object pretty-printed", body: "{\n  \"a\": 1,\n  \"b\": [\n    2,\n    3\n  ]\n}\n",
			want: []seen{ok(0, `{"a":1,"b":[2,3]}`)}},
		{name: "single object pretty-printed, malformed", body: "{\n  \"a\": 1\n  \"b\": 2\n}\n",
			want: []seen{bad(0), bad(1), bad(2), bad(3)}, wantErr: ErrNotJSON},

		// nothing
		{name: "byte-order mark skipped, ndjson", body: "\xef\xbb\xbf{\"a\":1}\n{\"a\":2}",
			want: []seen{ok(0, `{"a":1}`), ok(1, `{"a":2}`)}},
		{name: "byte-order mark skipped, array", body: "\xef\xbb\xbf[{\"a\":1}]", want: []seen{ok(0, `{"a":1}`)}},
		{name: "byte-order mark skipped, object", body: "\xef\xbb\xbf{\"a\":1}", want: []seen{ok(0, `{"a":1}`)}},
		{name: "raw control character in an ndjson string is that line's error", body: "{\"a\":\"x\x01y\"}\n{\"a\":\"x\\u0001y\"}",
			want: []seen{bad(0), ok(1, `{"a":"x\u0001y"}`)}},
		{name: "raw tab in a string", body: "{\"a\":\"x\ty\"}", want: []seen{bad(0)}, wantErr: ErrNotJSON},
		{name: "raw control character in an array", body: "[{\"a\":\"\x1f\"}]", wantErr: ErrNotJSON},
		{name: "control character after an escaped quote", body: "{\"a\":\"\\\"\x02\"}", want: []seen{bad(0)}, wantErr: ErrNotJSON},
		{name: "tab between tokens is whitespace", body: "{\"a\":\t1}", want: []seen{ok(0, `{"a":1}`)}},
		{name: "deep nesting in an array", body: strings.Repeat("[", 100_000), wantErr: ErrNotJSON},
		{name: "deep nesting in a line", body: "{\"a\":" + strings.Repeat("[", 20) + strings.Repeat("]", 20) + "}", want: []seen{bad(0)}, wantErr: ErrNotJSON},
		{name: "empty body", body: "", wantErr: ErrNotJSON},
		{name: "whitespace body", body: " \r\n\t\n  ", wantErr: ErrNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxRecords, maxRecordBytes := tt.maxRecords, tt.maxRecordBytes
			if maxRecords == 0 {
				maxRecords = 100
			}
			if maxRecordBytes == 0 {
				maxRecordBytes = 1024
			}
			got, err := split(t, tt.body, maxRecords, maxRecordBytes)
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}
			require.Len(t, got, len(tt.want), "callbacks: %+v", got)
			for k, w := range tt.want {
				g := got[k]
				require.Equal(t, w.i, g.i, "callback %d", k)
				if w.err == nil {
					require.NoError(t, g.err, "record %d", w.i)
					require.Equal(t, w.json, g.json, "record %d", w.i)
					continue
				}
				require.Error(t, g.err, "record %d", w.i)
				require.Empty(t, g.json)
			}
			for _, i := range tt.tooLarge {
				require.ErrorIs(t, got[i].err, errRecordTooLarge, "record %d", i)
			}
			for _, g := range got {
				if g.err != nil && !errors.Is(g.err, errRecordTooLarge) {
					require.Regexp(t, "invalid JSON|must be a JSON object", g.err.Error(), "record %d", g.i)
				}
			}
		})
	}
}

// The parser is reused across lines: each callback's value must be the
// current line's, even when earlier values were larger.
func TestSplitBodyReusesParser(t *testing.T) {
	var p fastjson.Parser
	for round := 0; round < 2; round++ {
		var ids []int
		err := splitBody(&p, []byte("{\"id\":1,\"pad\":\"xxxxxxxxxxxxxxxx\"}\n{\"id\":2}\n{\"id\":3,\"x\":[1,2,3]}"), 10, 100,
			func(_ int, v *fastjson.Value, err error) {
				require.NoError(t, err)
				ids = append(ids, v.GetInt("id"))
			})
		require.NoError(t, err)
		require.Equal(t, []int{1, 2, 3}, ids)
	}
}

// MaxRecordBytes applies to a body that is one object on one line, as to
// each line of NDJSON.
func TestSplitBodySingleOversizedLine(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 40) + `"}`
	got, err := split(t, big+"\n", 10, 20)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.ErrorIs(t, got[0].err, errRecordTooLarge)
}

// An oversized record inside an array is that record's error only.
func TestSplitBodyOversizedArrayElement(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 40) + `"}`
	got, err := split(t, `[{"a":1},`+big+`]`, 10, 20)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NoError(t, got[0].err)
	require.ErrorIs(t, got[1].err, errRecordTooLarge)
}

// A pretty-printed object with a syntax error is not NDJSON just because one
// of its lines happens to be a JSON scalar.
func TestSplitBodyBrokenPrettyObject(t *testing.T) {
	_, err := split(t, "{\n\"a\":\n1\n,,}\n", 10, 100)
	require.ErrorIs(t, err, ErrNotJSON)
}

// TestSplitBodyErrorsAreShort: an error quotes neither the whole input nor
// one frame per nesting level.
func TestSplitBodyErrorsAreShort(t *testing.T) {
	for _, body := range []string{
		strings.Repeat("[", 100_000),
		strings.Repeat("{\"a\":", 100_000),
		"[" + strings.Repeat(`{"a":1},`, 50_000) + "x]",
		strings.Repeat("x", 100_000),
		"{\"a\":\"" + strings.Repeat("\x01", 1000) + "\"}",
	} {
		got, err := split(t, body, 10, 1<<20)
		require.ErrorIs(t, err, ErrNotJSON)
		require.Less(t, len(err.Error()), 300, "%.80s…: %s", body, err)
		for _, s := range got {
			if s.err != nil {
				require.Less(t, len(s.err.Error()), 300)
			}
		}
	}
	_, err := split(t, "{\"a\":\"x\x01\"}", 10, 1024)
	require.ErrorContains(t, err, "raw control character U+0001 in a string at byte 7 (escape it as \\u0001)")
	_, err = split(t, strings.Repeat("[", 100), 10, 1024)
	require.ErrorContains(t, err, "nested deeper than 16 levels at byte 16")
}

func FuzzSplitBody(f *testing.F) {
	seeds := []string{
		"{\"a\":1}\n{\"a\":2}\n",
		"{\"a\":1}\r\n\r\n{bad\r\n{\"a\":3}",
		"[{\"a\":1},{\"a\":2},3]",
		"[{\"a\":1},",
		"{\n  \"a\": 1\n}\n",
		"{\n  \"a\": 1\n  \"b\": 2\n}\n",
		"", " \n\t\r\n", "x\ny", "1\n\"s\"\nnull", "[]\n[]",
		"{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{}",
		"{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
		"\xef\xbb\xbf{\"bom\":1}", "\u00a0{}\u00a0\n\u0085{}",
		"{\"a\":\"x\x01\"}", "{\"a\":\"\\\"\x02\"}", "[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(4), uint16(32))
	}
	f.Fuzz(func(t *testing.T, body []byte, maxRecords uint8, maxRecordBytes uint16) {
		maxR, maxB := int(maxRecords%16)+1, int(maxRecordBytes)+1
		orig := bytes.Clone(body)
		var p fastjson.Parser
		next, good := 0, 0
		err := splitBody(&p, body, maxR, maxB, func(i int, v *fastjson.Value, err error) {
			if i != next {
				t.Fatalf("callback index %d, want %d", i, next)
			}
			next++
			if (v == nil) == (err == nil) {
				t.Fatalf("record %d: want exactly one of value and error, got %v and %v", i, v, err)
			}
			if v != nil {
				good++
				_ = v.String()
			}
		})
		if next > maxR {
			t.Fatalf("%d records passed on, limit %d", next, maxR)
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrNotJSON):
			if good > 0 {
				t.Fatalf("ErrNotJSON after %d good records: %v", good, err)
			}
		case errors.Is(err, ErrTooManyRecords):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if !bytes.Equal(orig, body) {
			t.Fatalf("splitBody modified its input")
		}
	})
}

// checkJSONNaive is the byte-at-a-time reference checkJSON is held to.
func checkJSONNaive(b []byte) error {
	depth, inString, escaped := 0, false, false
	for i, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			case c < 0x20:
				return fmt.Errorf("raw control character U+%04X in a string at byte %d (escape it as \\u%04X)", c, i, c)
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > maxDepth {
				return fmt.Errorf("nested deeper than %d levels at byte %d", maxDepth, i)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

func TestCheckJSONAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("\"\\[]{}a\x01\x1f \x7f\x80\xffu,:")
	for range 200_000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want, got := checkJSONNaive(b), checkJSON(b)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("%q: checkJSON %v, reference %v", b, got, want)
		}
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":"x\"y\\"}`, "{\"a\":\"01234567\x01\"}", `[[["\\\\\\"]]]`, "\"\\", "{\"k\":\"\x1f\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, got := checkJSONNaive(b), checkJSON(b)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("%q: checkJSON %v, reference %v", b, got, want)
		}
	})
}

func BenchmarkCheckJSON(b *testing.B) {
	line := []byte(`{"visit_id":"v-00001234","user_id":123456,"venue_id":4321,"enter":"2026-12-02T01:02:03Z","exit":"2026-12-02T02:03:04Z","source":"ncovi"}`)
	b.SetBytes(int64(len(line)))
	for _, bc := range []struct {
		name string
		fn   func([]byte) error
	}{{"words", checkJSON}, {"naive", checkJSONNaive}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.fn(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
