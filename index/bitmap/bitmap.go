// Package bitmap owns the serialised form of truyvet's co-location bitmaps:
// the portable Roaring format (github.com/RoaringBitmap/RoaringFormatSpec),
// readable by every Roaring implementation. Append writes it straight from a
// sorted list of user ids, without building a roaring.Bitmap; Decode reads it
// back, checking its structure so corrupt bytes are an error, never a panic.
package bitmap

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Constants of the portable format.
const (
	cookieNoRuns = 12346 // SERIAL_COOKIE_NO_RUNCONTAINER
	arrayMax     = 4096  // largest array container; larger ones are bitsets
	bitsetBytes  = 8192
)

// Append appends the portable serialisation of the set ids to dst. ids must be
// sorted ascending without duplicates. The result equals what roaring's
// ToBytes writes for the same set before RunOptimize.
func Append(dst []byte, ids []uint32) []byte {
	// Containers: runs of ids sharing their high 16 bits. One pass sizes the
	// whole bitmap so dst grows once and every field is put in place.
	nc, body := 0, 0
	for i := 0; i < len(ids); {
		j := containerEnd(ids, i)
		nc++
		body += containerBytes(j - i)
		i = j
	}
	base := len(dst)
	header := 8 + 8*nc
	dst = slices.Grow(dst, header+body)[:base+header+body]
	out := dst[base:]
	le := binary.LittleEndian
	le.PutUint32(out, cookieNoRuns)
	le.PutUint32(out[4:], uint32(nc))
	// Descriptive header (key and cardinality-1 of each container), offset
	// header (where each container starts, from the start of the bitmap),
	// then the containers.
	desc, offs, off := out[8:], out[8+4*nc:], header
	for i, c := 0, 0; i < len(ids); c++ {
		j := containerEnd(ids, i)
		le.PutUint16(desc[4*c:], uint16(ids[i]>>16))
		le.PutUint16(desc[4*c+2:], uint16(j-i-1))
		le.PutUint32(offs[4*c:], uint32(off))
		data := out[off : off+containerBytes(j-i)]
		if j-i <= arrayMax {
			for k, id := range ids[i:j] {
				le.PutUint16(data[2*k:], uint16(id))
			}
		} else {
			clear(data)
			for _, id := range ids[i:j] {
				lo := uint16(id)
				w := int(lo>>6) * 8
				le.PutUint64(data[w:], le.Uint64(data[w:])|1<<(lo&63))
			}
		}
		off += len(data)
		i = j
	}
	return dst
}

// containerEnd returns the end of the container that starts at ids[i].
func containerEnd(ids []uint32, i int) int {
	hi := ids[i] >> 16
	j := i + 1
	for j < len(ids) && ids[j]>>16 == hi {
		j++
	}
	return j
}

func containerBytes(card int) int {
	if card <= arrayMax {
		return 2 * card
	}
	return bitsetBytes
}

// Decode reads a portable Roaring bitmap. The result does not share b.
func Decode(b []byte) (bm *roaring.Bitmap, err error) {
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, fmt.Errorf("decode bitmap of %d bytes: %v", len(b), r)
		}
	}()
	bm = roaring.New()
	n, err := bm.FromBuffer(b)
	if err != nil {
		return nil, fmt.Errorf("decode bitmap of %d bytes: %w", len(b), err)
	}
	if int(n) != len(b) {
		return nil, fmt.Errorf("decode bitmap: %d trailing bytes", len(b)-int(n))
	}
	if err := bm.Validate(); err != nil {
		return nil, fmt.Errorf("decode bitmap of %d bytes: %w", len(b), err)
	}
	bm.CloneCopyOnWriteContainers()
	return bm, nil
}

// Encode serialises bm in the portable format after run-optimising it.
func Encode(bm *roaring.Bitmap) ([]byte, error) {
	bm.RunOptimize()
	return bm.ToBytes()
}
