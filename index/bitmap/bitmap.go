// Package bitmap owns the serialised form of truyvet's co-location bitmaps:
// the portable Roaring format (github.com/RoaringBitmap/RoaringFormatSpec),
// readable by every Roaring implementation. Append writes it straight from a
// sorted list of user ids, without building a roaring.Bitmap; Decode reads it
// back, checking its structure so corrupt bytes are an error, never a panic.
package bitmap

import (
	"encoding/binary"
	"fmt"

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
	// Containers: runs of ids sharing their high 16 bits.
	nc := 0
	for i := 0; i < len(ids); {
		hi := ids[i] >> 16
		for i < len(ids) && ids[i]>>16 == hi {
			i++
		}
		nc++
	}
	dst = binary.LittleEndian.AppendUint32(dst, cookieNoRuns)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(nc))
	// Descriptive header: key and cardinality-1 of each container.
	for i := 0; i < len(ids); {
		hi := ids[i] >> 16
		j := i
		for j < len(ids) && ids[j]>>16 == hi {
			j++
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(hi))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(j-i-1))
		i = j
	}
	// Offset header: where each container starts, from the start of the bitmap.
	offset := 8 + 8*nc
	for i := 0; i < len(ids); {
		hi := ids[i] >> 16
		j := i
		for j < len(ids) && ids[j]>>16 == hi {
			j++
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(offset))
		offset += containerBytes(j - i)
		i = j
	}
	for i := 0; i < len(ids); {
		hi := ids[i] >> 16
		j := i
		for j < len(ids) && ids[j]>>16 == hi {
			j++
		}
		if j-i <= arrayMax {
			for _, id := range ids[i:j] {
				dst = binary.LittleEndian.AppendUint16(dst, uint16(id))
			}
		} else {
			start := len(dst)
			dst = append(dst, make([]byte, bitsetBytes)...)
			words := dst[start:]
			for _, id := range ids[i:j] {
				lo := uint16(id)
				w := int(lo>>6) * 8
				binary.LittleEndian.PutUint64(words[w:], binary.LittleEndian.Uint64(words[w:])|1<<(lo&63))
			}
		}
		i = j
	}
	return dst
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
