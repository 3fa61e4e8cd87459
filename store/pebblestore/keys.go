package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/truyvet/truyvet/index/bucket"
)

// Key spaces. Every data key starts with its space byte and the local day, so
// a day of any kind is one contiguous range that retention deletes at once.
//
//	stays      's' day:4 user:4 enter:8 venue:4 idlen:1 visit_id exit:8   → source
//	visitors   'v' day:4 venue:4 enter:8 user:4 idlen:1 visit_id exit:8   → (empty)
//	hours      'v' day:4 venue:4                → [hour:4 end:8]… (merge: later end per hour)
//	contacts   'e' day:4 user:4 start:8 peer:4 dur:4 idlen:1 encounter_id → rssi
//	bitmaps    'b' day:4 venue:4 bucket:4                                → roaring (merge: OR)
//	days       'd' day:4                                                 → (marker)
//	counters   'c' name                                                  → int64 (merge: add)
//	summary    'n' day:4 len:1 province len:1 metric key                 → int64 (merge: add; summary.go)
//	meta       'm' name                                                  → value
//	old audit  'a' unixnano:8 seq:8         → JSON audit.Entry (moved into the chain on open)
//	registry   'U', 'T', 'C', 'A'           → accounts, tokens, cases, the audit chain (registry.go)
//	definitions 'f' name 0x00 version:4     → JSON contact definition (definitions.go)
//	declarations 'h' day:4 …, counts 'H' day:4 … → health declarations, trips, counts (declarations.go)
//	assessments 'k' day:4 venue:4 …         → a venue's daily self-check (assessments.go)
//	feedback    'q', 'Q'                    → citizen feedback and its open queue (feedback.go)
//
// Integers are big-endian so keys sort numerically. A visit key ends with its
// exit (0: none), so the records of one stay are adjacent and the last holds
// the greatest exit. Every visit record is kept twice: by user ('s', for a
// person's own stays) and by venue ('v', for everyone at a venue).
const (
	spaceStay    = 's'
	spaceVisitor = 'v'
	spaceContact = 'e'
	spaceBitmap  = 'b'
	spaceDay     = 'd'
	spaceCounter = 'c'
	spaceMeta    = 'm'
	spaceAudit   = 'a'
	spaceDef     = 'f'
	// spaceDecl holds declarations and their trips, spaceDeclCount the
	// per-day counts of declarations (declarations.go).
	spaceDecl      = 'h'
	spaceDeclCount = 'H'
)

// errKey reports a key that does not decode; it means corruption or a bug.
var errKey = errors.New("malformed key")

func dayPrefix(space byte, d bucket.Day) []byte {
	k := make([]byte, 5)
	k[0] = space
	binary.BigEndian.PutUint32(k[1:], uint32(d))
	return k
}

// userPrefix is the prefix of one user's stays or contacts on one day, or of
// one venue's visitors.
func userPrefix(dst []byte, space byte, d bucket.Day, user uint32) []byte {
	dst = append(dst[:0], space)
	dst = binary.BigEndian.AppendUint32(dst, uint32(d))
	return binary.BigEndian.AppendUint32(dst, user)
}

func appendStayKey(dst []byte, d bucket.Day, user uint32, enter int64, venue uint32, visitID string, exit int64) []byte {
	return appendVisitKey(dst, spaceStay, d, user, enter, venue, visitID, exit)
}

func appendVisitorKey(dst []byte, d bucket.Day, venue uint32, enter int64, user uint32, visitID string, exit int64) []byte {
	return appendVisitKey(dst, spaceVisitor, d, venue, enter, user, visitID, exit)
}

// appendVisitKey appends a visit record's key in space (spaceStay: owner is
// the user, other the venue; spaceVisitor: the other way round).
func appendVisitKey(dst []byte, space byte, d bucket.Day, owner uint32, enter int64, other uint32, visitID string, exit int64) []byte {
	dst = userPrefix(dst, space, d, owner)
	dst = binary.BigEndian.AppendUint64(dst, uint64(enter))
	dst = binary.BigEndian.AppendUint32(dst, other)
	dst = append(dst, byte(len(visitID)))
	dst = append(dst, visitID...)
	return binary.BigEndian.AppendUint64(dst, uint64(exit))
}

// stayKey is a decoded stay or visitor key. identity is the key without its
// exit: the bytes that all records of one stay share.
type stayKey struct {
	user     uint32
	enter    int64
	venue    uint32
	exit     int64
	identity []byte
}

const stayFixed = 1 + 4 + 4 + 8 + 4 + 1 + 8

func decodeStayKey(k []byte) (stayKey, error) { return decodeVisitKey(k, spaceStay) }

func decodeVisitorKey(k []byte) (stayKey, error) { return decodeVisitKey(k, spaceVisitor) }

// enterOf returns the enter of a stay or visitor key of at least stayFixed bytes.
func enterOf(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[9:])) }

func visitKeyName(space byte) string {
	if space == spaceVisitor {
		return "visitor"
	}
	return "stay"
}

func decodeVisitKey(k []byte, space byte) (stayKey, error) {
	if len(k) < stayFixed || k[0] != space {
		return stayKey{}, fmt.Errorf("%s key of %d bytes: %w", visitKeyName(space), len(k), errKey)
	}
	idLen := int(k[21])
	if len(k) != stayFixed+idLen {
		return stayKey{}, fmt.Errorf("%s key of %d bytes with id of %d: %w", visitKeyName(space), len(k), idLen, errKey)
	}
	owner, other := binary.BigEndian.Uint32(k[5:]), binary.BigEndian.Uint32(k[17:])
	if space == spaceVisitor {
		owner, other = other, owner
	}
	return stayKey{
		user:     owner,
		enter:    int64(binary.BigEndian.Uint64(k[9:])),
		venue:    other,
		exit:     int64(binary.BigEndian.Uint64(k[len(k)-8:])),
		identity: k[:len(k)-8],
	}, nil
}

func appendContactKey(dst []byte, d bucket.Day, user uint32, start int64, peer, dur uint32, encounterID string) []byte {
	dst = userPrefix(dst, spaceContact, d, user)
	dst = binary.BigEndian.AppendUint64(dst, uint64(start))
	dst = binary.BigEndian.AppendUint32(dst, peer)
	dst = binary.BigEndian.AppendUint32(dst, dur)
	dst = append(dst, byte(len(encounterID)))
	return append(dst, encounterID...)
}

type contactKey struct {
	user  uint32
	start int64
	peer  uint32
	dur   uint32
}

const contactFixed = 1 + 4 + 4 + 8 + 4 + 4 + 1

func decodeContactKey(k []byte) (contactKey, error) {
	if len(k) < contactFixed || k[0] != spaceContact {
		return contactKey{}, fmt.Errorf("contact key of %d bytes: %w", len(k), errKey)
	}
	if idLen := int(k[25]); len(k) != contactFixed+idLen {
		return contactKey{}, fmt.Errorf("contact key of %d bytes with id of %d: %w", len(k), idLen, errKey)
	}
	return contactKey{
		user:  binary.BigEndian.Uint32(k[5:]),
		start: int64(binary.BigEndian.Uint64(k[9:])),
		peer:  binary.BigEndian.Uint32(k[17:]),
		dur:   binary.BigEndian.Uint32(k[21:]),
	}, nil
}

func appendBitmapKey(dst []byte, d bucket.Day, venue, b uint32) []byte {
	dst = append(dst[:0], spaceBitmap)
	dst = binary.BigEndian.AppendUint32(dst, uint32(d))
	dst = binary.BigEndian.AppendUint32(dst, venue)
	return binary.BigEndian.AppendUint32(dst, b)
}

func decodeDayKey(k []byte) (bucket.Day, error) {
	if len(k) != 5 || k[0] != spaceDay {
		return 0, fmt.Errorf("day key of %d bytes: %w", len(k), errKey)
	}
	return bucket.Day(binary.BigEndian.Uint32(k[1:])), nil
}

func counterKey(name string) []byte { return append([]byte{spaceCounter}, name...) }
func metaKey(name string) []byte    { return append([]byte{spaceMeta}, name...) }
