package ingest

import (
	"bytes"
	"errors"
	"fmt"

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
func splitBody(p *fastjson.Parser, body []byte, maxRecords, maxRecordBytes int, fn recordFunc) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fmt.Errorf("%w: empty body", ErrNotJSON)
	}
	switch trimmed[0] {
	case '[':
		v, err := p.ParseBytes(trimmed)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotJSON, err)
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
		// One object, possibly spread over several lines.
		if v, err := p.ParseBytes(trimmed); err == nil {
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
		v, err := p.ParseBytes(line)
		if err != nil {
			err = fmt.Errorf("invalid JSON: %w", err)
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
