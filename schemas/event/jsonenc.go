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

// AppendDeclarationJSON appends d as one line of the API's JSON (no newline).
func AppendDeclarationJSON(dst []byte, d *Declaration) []byte {
	dst = append(dst, `{"declaration_id":`...)
	dst = appendString(dst, d.DeclarationID)
	dst = append(dst, `,"user_id":`...)
	dst = strconv.AppendUint(dst, uint64(d.UserID), 10)
	dst = append(dst, `,"subject_id":`...)
	dst = strconv.AppendUint(dst, uint64(d.SubjectID), 10)
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, d.Kind.String())
	dst = append(dst, `,"declared_at":`...)
	dst = appendTime(dst, d.DeclaredAt)
	dst = append(dst, `,"province":`...)
	dst = appendString(dst, d.Province)
	dst = append(dst, `,"symptoms":[`...)
	for i, n := range d.Symptoms.Names() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, n)
	}
	dst = append(dst, ']')
	if d.Onset != 0 {
		dst = append(dst, `,"onset":`...)
		dst = appendString(dst, d.OnsetDate())
	}
	if d.HasTravel {
		t := &d.Travel
		dst = append(dst, `,"travel":{"vehicle":`...)
		dst = appendString(dst, t.Vehicle)
		dst = append(dst, `,"depart":`...)
		dst = appendTime(dst, t.Depart)
		dst = append(dst, `,"arrive":`...)
		dst = appendTime(dst, t.Arrive)
		if t.OriginCountry != "" {
			dst = append(dst, `,"origin_country":`...)
			dst = appendString(dst, t.OriginCountry)
		}
		if t.PortOfEntry != "" {
			dst = append(dst, `,"port_of_entry":`...)
			dst = appendString(dst, t.PortOfEntry)
		}
		dst = append(dst, '}')
	}
	if d.ContactWithCase != AnswerNone || d.VisitedOutbreakArea != AnswerNone {
		dst = append(dst, `,"exposure":{`...)
		sep := false
		for _, a := range [2]struct {
			name string
			v    Answer
		}{{"contact_with_case", d.ContactWithCase}, {"visited_outbreak_area", d.VisitedOutbreakArea}} {
			if a.v == AnswerNone {
				continue
			}
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = appendString(dst, a.name)
			dst = append(dst, ':')
			dst = strconv.AppendBool(dst, a.v == AnswerYes)
		}
		dst = append(dst, '}')
	}
	if d.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendString(dst, d.Source)
	}
	return append(dst, '}')
}
