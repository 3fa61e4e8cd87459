package pebblestore

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
)

// mergerName is persisted by Pebble; a store opened with another merger fails.
const mergerName = "truyvet.merge.v1"

// merger ORs co-location bitmaps and adds counters. Both operations are
// commutative, associative and (for bitmaps) idempotent, which is what lets a
// replayed or reordered batch leave the store unchanged.
var merger = &pebble.Merger{
	Name: mergerName,
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		if len(key) > 0 && key[0] == spaceCounter {
			m := &counterMerger{}
			return m, m.add(value)
		}
		m := &bitmapMerger{bm: roaring.New()}
		return m, m.add(value)
	},
}

// DecodeBitmap reads a portable roaring bitmap and checks its structure, so
// corrupt bytes give an error, never a panic or a malformed set.
func DecodeBitmap(b []byte) (bm *roaring.Bitmap, err error) {
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
	// FromBuffer shares b; the caller's buffer may be reused, so own the data.
	bm.CloneCopyOnWriteContainers()
	return bm, nil
}

// EncodeBitmap serialises bm in the portable format after run-optimising it.
func EncodeBitmap(bm *roaring.Bitmap) ([]byte, error) {
	bm.RunOptimize()
	return bm.ToBytes()
}

type bitmapMerger struct{ bm *roaring.Bitmap }

func (m *bitmapMerger) add(v []byte) error {
	o, err := DecodeBitmap(v)
	if err != nil {
		return err
	}
	m.bm.Or(o)
	return nil
}

func (m *bitmapMerger) MergeNewer(v []byte) error { return m.add(v) }
func (m *bitmapMerger) MergeOlder(v []byte) error { return m.add(v) }
func (m *bitmapMerger) Finish(bool) ([]byte, io.Closer, error) {
	b, err := EncodeBitmap(m.bm)
	return b, nil, err
}

type counterMerger struct{ n int64 }

func (m *counterMerger) add(v []byte) error {
	if len(v) != 8 {
		return fmt.Errorf("counter operand of %d bytes: %w", len(v), errKey)
	}
	m.n += int64(binary.LittleEndian.Uint64(v))
	return nil
}

func (m *counterMerger) MergeNewer(v []byte) error { return m.add(v) }
func (m *counterMerger) MergeOlder(v []byte) error { return m.add(v) }
func (m *counterMerger) Finish(bool) ([]byte, io.Closer, error) {
	return binary.LittleEndian.AppendUint64(nil, uint64(m.n)), nil, nil
}
