package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendVisitJSON appends v as one line of the API's JSON (no newline).
func AppendVisitJSON(dst []byte, v *Visit) []byte {
	dst = append(dst, `{"visit_id":`...)
	dst = appendString(dst, v.VisitID)
	dst = append(dst, `,"user_id":`...)
	dst = strconv.AppendUint(dst, uint64(v.UserID), 10)
	dst = append(dst, `,"venue_id":`...)
	dst = strconv.AppendUint(dst, uint64(v.VenueID), 10)
	dst = append(dst, `,"enter":`...)
	dst = appendTime(dst, v.Enter)
	dst = append(dst, `,"exit":`...)
	if v.HasExit() {
		dst = appendTime(dst, v.Exit)
	} else {
		dst = append(dst, "null"...)
	}
	if v.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendString(dst, v.Source)
	}
	return append(dst, '}')
}

// AppendEncounterJSON appends e as one line of the API's JSON (no newline).
func AppendEncounterJSON(dst []byte, e *Encounter) []byte {
	dst = append(dst, `{"encounter_id":`...)
	dst = appendString(dst, e.EncounterID)
	dst = append(dst, `,"user_id":`...)
	dst = strconv.AppendUint(dst, uint64(e.UserID), 10)
	dst = append(dst, `,"peer_id":`...)
	dst = strconv.AppendUint(dst, uint64(e.PeerID), 10)
	dst = append(dst, `,"start":`...)
	dst = appendTime(dst, e.Start)
	dst = append(dst, `,"duration_s":`...)
	dst = strconv.AppendUint(dst, uint64(e.DurationS), 10)
	if e.HasRSSI {
		dst = append(dst, `,"rssi":`...)
		dst = strconv.AppendInt(dst, int64(e.RSSI), 10)
	}
	if e.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendString(dst, e.Source)
	}
	return append(dst, '}')
}

func appendTime(dst []byte, t int64) []byte {
	dst = append(dst, '"')
	dst = time.Unix(t, 0).UTC().AppendFormat(dst, time.RFC3339)
	return append(dst, '"')
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
