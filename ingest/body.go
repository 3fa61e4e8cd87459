package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/valyala/fastjson"
)

// ErrNotJSON is returned for a body that holds no JSON record at all.
var ErrNotJSON = errors.New("body is not JSON")

// ErrTooManyRecords is returned for a body with more records than allowed.
var ErrTooManyRecords = errors.New("too many records in one request")

// recordFunc receives the i-th record of a body (0-based, blank lines not
// counted): its parsed value, or the reason it is not JSON. v is valid only
// during the call.
type recordFunc func(i int, v *fastjson.Value, err error)

// splitBody walks the records of an ingest body: a JSON array of records, a
// single JSON object, or NDJSON (one record per line). A malformed array, or
// a body in which no line is JSON, is an error for the whole request; a bad
// line among good NDJSON lines is that record's error only.
//
// A UTF-8 byte-order mark before the body is skipped (some Windows tools
// write one). Before fastjson parses a value, checkJSON refuses what
// fastjson would take or answer at length: raw control characters inside
// strings (RFC 8259 §7) and nesting deeper than maxDepth.
func splitBody(p *fastjson.Parser, body []byte, maxRecords, maxRecordBytes int, fn recordFunc) error {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, utf8BOM))
	if len(trimmed) == 0 {
		return fmt.Errorf("%w: empty body", ErrNotJSON)
	}
	switch trimmed[0] {
	case '[':
		if err := checkJSON(trimmed); err != nil {
			return fmt.Errorf("%w: %w", ErrNotJSON, err)
		}
		v, err := p.ParseBytes(trimmed)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotJSON, shortError(err))
		}
		arr, err := v.Array()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotJSON, err)
		}
		if len(arr) > maxRecords {
			return fmt.Errorf("%w: %d records, at most %d", ErrTooManyRecords, len(arr), maxRecords)
		}
		// No record can be larger than the whole body: only measure records
		// when the body could hold an oversized one.
		measure := len(trimmed) > maxRecordBytes
		var buf []byte
		for i, rec := range arr {
			if measure {
				buf = rec.MarshalTo(buf[:0])
				if len(buf) > maxRecordBytes {
					fn(i, nil, tooLarge(len(buf), maxRecordBytes))
					continue
				}
			}
			fn(i, rec, nil)
		}
		return nil
	case '{':
		// One object, possibly spread over several lines. NDJSON fails the
		// parse at its second line, before the check would read the body.
		if v, err := p.ParseBytes(trimmed); err == nil && checkJSON(trimmed) == nil {
			if len(trimmed) > maxRecordBytes {
				fn(0, nil, tooLarge(len(trimmed), maxRecordBytes))
			} else {
				fn(0, v, nil)
			}
			return nil
		}
	}
	n, good := 0, 0
	var firstErr error
	for rest := trimmed; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if n == maxRecords {
			return fmt.Errorf("%w: more than %d", ErrTooManyRecords, maxRecords)
		}
		if len(line) > maxRecordBytes {
			fn(n, nil, tooLarge(len(line), maxRecordBytes))
			n++
			continue
		}
		err := checkJSON(line)
		var v *fastjson.Value
		if err == nil {
			v, err = p.ParseBytes(line)
		}
		if err != nil {
			err = fmt.Errorf("invalid JSON: %w", shortError(err))
			if firstErr == nil {
				firstErr = fmt.Errorf("line %d: %w", n+1, err)
			}
			fn(n, nil, err)
		} else if v.Type() != fastjson.TypeObject {
			// A bare scalar or array line is not a record; it does not make a
			// broken multi-line object count as NDJSON.
			err = fmt.Errorf("record must be a JSON object, got %s", v.Type())
			if firstErr == nil {
				firstErr = fmt.Errorf("line %d: %w", n+1, err)
			}
			fn(n, nil, err)
		} else {
			good++
			fn(n, v, nil)
		}
		n++
	}
	if good == 0 && firstErr != nil {
		return fmt.Errorf("%w: %w", ErrNotJSON, firstErr)
	}
	return nil
}

var errRecordTooLarge = errors.New("record too large")

func tooLarge(n, limit int) error {
	return fmt.Errorf("record of %d bytes is larger than %d: %w", n, limit, errRecordTooLarge)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// maxDepth is the deepest nesting checkJSON lets through. A record is a flat
// object; a little room is left for values the schemas may one day nest.
const maxDepth = 16

// checkJSON scans b for what RFC 8259 forbids and fastjson accepts, raw
// control characters (below U+0020) inside strings, and for nesting deeper
// than maxDepth, which fastjson would refuse with an error as long as the
// nesting. It checks nothing else: the parser does. Most of a record's bytes
// are inside strings, which stringStop crosses eight bytes at a time.
func checkJSON(b []byte) error {
	depth := 0
	for i := 0; ; i++ {
		if i = structStop(b, i); i == len(b) {
			return nil
		}
		switch b[i] {
		case '"':
			for i++; ; i++ {
				i = stringStop(b, i)
				if i == len(b) {
					return nil // unterminated: the parser says so
				}
				c := b[i]
				if c == '"' {
					break
				}
				if c == '\\' {
					i++ // the escaped byte, whatever it is
					continue
				}
				return fmt.Errorf("raw control character U+%04X in a string at byte %d (escape it as \\u%04X)", c, i, c)
			}
		case '[', '{':
			if depth++; depth > maxDepth {
				return fmt.Errorf("nested deeper than %d levels at byte %d", maxDepth, i)
			}
		case ']', '}':
			depth--
		}
	}
}

// Word-at-a-time byte tests (Hacker's Delight 6-1): a word's byte is flagged
// by the high bit of its lane; the lowest flagged lane is exact.
const (
	lanes1    = 0x0101010101010101
	lanesHigh = 0x8080808080808080
)

// structStop returns the index of the first byte at or after i that opens
// a string or opens or closes a nesting level: '"', '[', ']', '{' or '}';
// len(b) if none. Setting bit 5 folds '[' into '{' and ']' into '}'.
func structStop(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		folded := w | lanes1*0x20
		quote, open, closing := w^(lanes1*'"'), folded^(lanes1*'{'), folded^(lanes1*'}')
		m := ((quote - lanes1) &^ quote) | ((open - lanes1) &^ open) | ((closing - lanes1) &^ closing)
		if m &= lanesHigh; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case '"', '[', ']', '{', '}':
			return i
		}
	}
	return len(b)
}

// stringStop returns the index of the first byte at or after i that ends a
// JSON string's plain run: '"', '\\' or a control character; len(b) if none.
func stringStop(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		quote, slash := w^(lanes1*'"'), w^(lanes1*'\\')
		m := ((w - lanes1*0x20) &^ w) | ((quote - lanes1) &^ quote) | ((slash - lanes1) &^ slash)
		if m &= lanesHigh; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return len(b)
}

// maxErrorLen bounds a parse error's text: fastjson's messages grow with
// the input (they quote its tail).
const maxErrorLen = 200

// shortError returns err with its text cut to maxErrorLen.
func shortError(err error) error {
	s := err.Error()
	if len(s) <= maxErrorLen {
		return err
	}
	return errors.New(strings.ToValidUTF8(s[:maxErrorLen], "") + "…")
}
