package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// The wire format carries records between stages (the value of a Kafka
// message). One message holds records of one kind:
//
//	message   = magic:'T' version:1 kind:1 count:uvarint record*count
//	visit     = user:uvarint venue:uvarint enter:uvarint exit:uvarint
//	            visit_id:string source:string
//	encounter = user:uvarint peer:uvarint start:uvarint duration_s:uvarint
//	            rssi:uvarint encounter_id:string source:string
//	declaration = user:uvarint subject:uvarint declared_at:uvarint kind:uvarint
//	            symptoms:uvarint onset:uvarint answers:uvarint travel:uvarint
//	            [depart:uvarint arrive:uvarint vehicle:string origin_country:string
//	            port_of_entry:string]  (only when travel is 1)
//	            province:string declaration_id:string source:string
//	string    = length:uvarint bytes
//
// exit is 0 when the record has no check-out, else exit-enter+1 (exits before
// enter are invalid and never encoded). rssi is 0 when absent, else
// zigzag(rssi)+1 as a uvarint. Integers are varints because ids and times are
// small or close together; a typical check-in takes about 37 bytes with an
// 18-byte visit_id, against about 145 bytes of JSON. A declaration's answers
// are contact_with_case | visited_outbreak_area<<2 (each an Answer); onset is
// 0 when none was given.
//
// Assessments (KindAssessment) are laid out in assessment_wire.go.
//
// Version 1 is the only version. A decoder refuses versions it does not know
// (ErrWireVersion) rather than guess; a new version is added beside it.
const (
	WireMagic   = 'T'
	WireVersion = 1
)

// Wire format errors; every decoding error wraps ErrWire.
var (
	ErrWire        = errors.New("malformed wire message")
	ErrWireVersion = fmt.Errorf("%w: unknown version", ErrWire)
)

// maxWireRecords bounds the count a message may claim, so a corrupt count
// cannot make the decoder allocate without bound.
const maxWireRecords = 1 << 20

// minWireRecord is the fewest bytes a record can take (4 one-byte varints and
// two empty strings), used to reject counts the message cannot hold.
const minWireRecord = 6

// AppendVisitsWire appends one message holding vs.
func AppendVisitsWire(dst []byte, vs []Visit) []byte {
	return appendMessage(dst, KindVisit, vs, appendVisitWire)
}

// appendMessage appends the message of recs, of kind, each record written
// by rec.
func appendMessage[T any](dst []byte, kind Kind, recs []T, rec func([]byte, *T) []byte) []byte {
	dst = append(dst, WireMagic, WireVersion, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	for i := range recs {
		dst = rec(dst, &recs[i])
	}
	return dst
}

func appendVisitWire(dst []byte, v *Visit) []byte {
	dst = binary.AppendUvarint(dst, uint64(v.UserID))
	dst = binary.AppendUvarint(dst, uint64(v.VenueID))
	dst = binary.AppendUvarint(dst, uint64(v.Enter))
	var exit uint64
	if v.HasExit() && v.Exit >= v.Enter {
		exit = uint64(v.Exit-v.Enter) + 1
	}
	dst = binary.AppendUvarint(dst, exit)
	dst = appendWireString(dst, v.VisitID)
	return appendWireString(dst, v.Source)
}

// AppendEncountersWire appends one message holding es.
func AppendEncountersWire(dst []byte, es []Encounter) []byte {
	return appendMessage(dst, KindEncounter, es, appendEncounterWire)
}

func appendEncounterWire(dst []byte, e *Encounter) []byte {
	dst = binary.AppendUvarint(dst, uint64(e.UserID))
	dst = binary.AppendUvarint(dst, uint64(e.PeerID))
	dst = binary.AppendUvarint(dst, uint64(e.Start))
	dst = binary.AppendUvarint(dst, uint64(e.DurationS))
	var rssi uint64
	if e.HasRSSI {
		rssi = zigzag(int64(e.RSSI)) + 1
	}
	dst = binary.AppendUvarint(dst, rssi)
	dst = appendWireString(dst, e.EncounterID)
	return appendWireString(dst, e.Source)
}

// AppendDeclarationsWire appends one message holding ds.
func AppendDeclarationsWire(dst []byte, ds []Declaration) []byte {
	return appendMessage(dst, KindDeclaration, ds, appendDeclarationWire)
}

func appendDeclarationWire(dst []byte, d *Declaration) []byte {
	dst = binary.AppendUvarint(dst, uint64(d.UserID))
	dst = binary.AppendUvarint(dst, uint64(d.SubjectID))
	dst = binary.AppendUvarint(dst, uint64(d.DeclaredAt))
	dst = binary.AppendUvarint(dst, uint64(d.Kind))
	dst = binary.AppendUvarint(dst, uint64(d.Symptoms))
	dst = binary.AppendUvarint(dst, uint64(d.Onset))
	dst = binary.AppendUvarint(dst, uint64(d.ContactWithCase&3)|uint64(d.VisitedOutbreakArea&3)<<2)
	if d.HasTravel {
		t := &d.Travel
		dst = append(dst, 1)
		dst = binary.AppendUvarint(dst, uint64(t.Depart))
		dst = binary.AppendUvarint(dst, uint64(t.Arrive))
		dst = appendWireString(dst, t.Vehicle)
		dst = appendWireString(dst, t.OriginCountry)
		dst = appendWireString(dst, t.PortOfEntry)
	} else {
		dst = append(dst, 0)
	}
	dst = appendWireString(dst, d.Province)
	dst = appendWireString(dst, d.DeclarationID)
	return appendWireString(dst, d.Source)
}

func appendWireString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func zigzag(x int64) uint64 { return uint64(x<<1) ^ uint64(x>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// WireKind returns the kind of records a message holds, after checking its
// header.
func WireKind(msg []byte) (Kind, error) {
	if len(msg) < 3 || msg[0] != WireMagic {
		return 0, fmt.Errorf("%w: no truyvet header", ErrWire)
	}
	if msg[1] != WireVersion {
		return 0, fmt.Errorf("%w %d", ErrWireVersion, msg[1])
	}
	switch k := Kind(msg[2]); k {
	case KindVisit, KindEncounter, KindDeclaration, KindAssessment:
		return k, nil
	default:
		return 0, fmt.Errorf("%w: unknown record kind %d", ErrWire, msg[2])
	}
}

// DecodeWire appends the records of msg to dst. On error dst is left as it
// was: a message is decoded whole or not at all. Records are not validated;
// strings are copied, so msg may be reused after the call. The records'
// strings share one copy of the message: whoever keeps one of them for long
// should clone it.
func DecodeWire(msg []byte, dst *Batch) error {
	kind, err := WireKind(msg)
	if err != nil {
		return err
	}
	// One copy of the body backs every string of the message: one allocation
	// per message, not one per record.
	r := wireReader{b: msg[3:], s: string(msg[3:])}
	n := r.uvarint("count")
	if r.err == nil && (n > maxWireRecords || n > uint64(len(r.b))/minWireRecord) {
		r.fail("count", fmt.Sprintf("%d records cannot fit in %d bytes", n, len(r.b)))
	}
	if r.err != nil {
		return r.err
	}
	markV, markE, markD, markA := len(dst.Visits), len(dst.Encounters), len(dst.Declarations), len(dst.Assessments)
	switch kind {
	case KindVisit:
		dst.Visits = slices.Grow(dst.Visits, int(n))
		for range n {
			var v Visit
			v.UserID = r.uint32("user_id")
			v.VenueID = r.uint32("venue_id")
			v.Enter = r.time("enter")
			if exit := r.uvarint("exit"); exit > 0 && r.err == nil {
				if exit-1 > math.MaxInt64-uint64(v.Enter) {
					r.fail("exit", "out of range")
				}
				v.Exit = v.Enter + int64(exit-1)
			}
			v.VisitID = r.string("visit_id")
			v.Source = r.source()
			if r.err != nil {
				dst.Visits = dst.Visits[:markV]
				return r.err
			}
			dst.Visits = append(dst.Visits, v)
		}
	case KindEncounter:
		dst.Encounters = slices.Grow(dst.Encounters, int(n))
		for range n {
			var e Encounter
			e.UserID = r.uint32("user_id")
			e.PeerID = r.uint32("peer_id")
			e.Start = r.time("start")
			e.DurationS = r.uint32("duration_s")
			if rssi := r.uvarint("rssi"); rssi > 0 && r.err == nil {
				x := unzigzag(rssi - 1)
				if x < math.MinInt8 || x > math.MaxInt8 {
					r.fail("rssi", "out of range")
				}
				e.RSSI, e.HasRSSI = int8(x), true
			}
			e.EncounterID = r.string("encounter_id")
			e.Source = r.source()
			if r.err != nil {
				dst.Encounters = dst.Encounters[:markE]
				return r.err
			}
			dst.Encounters = append(dst.Encounters, e)
		}
	case KindDeclaration:
		dst.Declarations = slices.Grow(dst.Declarations, int(n))
		for range n {
			d := r.declaration()
			if r.err != nil {
				dst.Declarations = dst.Declarations[:markD]
				return r.err
			}
			dst.Declarations = append(dst.Declarations, d)
		}
	case KindAssessment:
		for range n {
			a := r.assessment()
			if r.err != nil {
				dst.Assessments = dst.Assessments[:markA]
				return r.err
			}
			dst.Assessments = append(dst.Assessments, a)
		}
	}
	if len(r.b) != 0 {
		dst.Visits, dst.Encounters = dst.Visits[:markV], dst.Encounters[:markE]
		dst.Declarations, dst.Assessments = dst.Declarations[:markD], dst.Assessments[:markA]
		return fmt.Errorf("%w: %d bytes after the last record", ErrWire, len(r.b))
	}
	return nil
}

func (r *wireReader) declaration() Declaration {
	var d Declaration
	d.UserID = r.uint32("user_id")
	d.SubjectID = r.uint32("subject_id")
	d.DeclaredAt = r.time("declared_at")
	if k := r.uvarint("kind"); k > math.MaxUint8 {
		r.fail("kind", "out of range")
	} else {
		d.Kind = DeclKind(k)
	}
	if s := r.uvarint("symptoms"); s > math.MaxUint16 {
		r.fail("symptoms", "out of range")
	} else {
		d.Symptoms = Symptoms(s)
	}
	d.Onset = r.time("onset")
	if a := r.uvarint("answers"); a > 15 {
		r.fail("answers", "out of range")
	} else {
		d.ContactWithCase, d.VisitedOutbreakArea = Answer(a&3), Answer(a>>2)
	}
	switch r.uvarint("travel") {
	case 0:
	case 1:
		d.HasTravel = true
		d.Travel.Depart = r.time("travel.depart")
		d.Travel.Arrive = r.time("travel.arrive")
		d.Travel.Vehicle = r.string("travel.vehicle")
		d.Travel.OriginCountry = r.string("travel.origin_country")
		d.Travel.PortOfEntry = r.string("travel.port_of_entry")
	default:
		r.fail("travel", "must be 0 or 1")
	}
	d.Province = r.string("province")
	d.DeclarationID = r.string("declaration_id")
	d.Source = r.source()
	return d
}

// wireReader reads fields, remembering the first error.
type wireReader struct {
	b    []byte
	s    string // a copy of the bytes b started as, which strings are cut from
	err  error
	last string // the previous record's source: most messages have one or two
}

// cut returns the next n bytes as a string of r.s and consumes them.
func (r *wireReader) cut(n int) string {
	off := len(r.s) - len(r.b)
	r.b = r.b[n:]
	return r.s[off : off+n]
}

// source reads a source, reusing the previous record's string when equal.
func (r *wireReader) source() string {
	n := r.uvarint("source")
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("source", "length past the end of the message")
		return ""
	}
	if string(r.b[:n]) != r.last {
		r.last = r.cut(int(n))
	} else {
		r.b = r.b[n:]
	}
	return r.last
}

func (r *wireReader) fail(field, reason string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrWire, field, reason)
	}
}

func (r *wireReader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) > 0 && r.b[0] < 0x80 { // one byte: most lengths and small ids
		x := uint64(r.b[0])
		r.b = r.b[1:]
		return x
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(field, "truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *wireReader) uint32(field string) uint32 {
	x := r.uvarint(field)
	if x > math.MaxUint32 {
		r.fail(field, "out of range")
		return 0
	}
	return uint32(x)
}

func (r *wireReader) time(field string) int64 {
	x := r.uvarint(field)
	if x > math.MaxInt64/2 {
		r.fail(field, "out of range")
		return 0
	}
	return int64(x)
}

func (r *wireReader) string(field string) string {
	n := r.uvarint(field)
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail(field, "length past the end of the message")
		return ""
	}
	return r.cut(int(n))
}
