package pebblestore

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bitmap"
)

// mergerName is persisted by Pebble; a store opened with another merger fails.
const mergerName = "truyvet.merge.v1"

// merger ORs co-location bitmaps, adds counters (the status's and the
// summary's) and takes the later end per hour of visitor hour bounds. All three are commutative and associative, and
// bitmaps and bounds idempotent, which is what lets a
// replayed or reordered batch leave the store unchanged.
var merger = &pebble.Merger{
	Name: mergerName,
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		if len(key) > 0 && (key[0] == spaceCounter || key[0] == spaceSummary) {
			m := &counterMerger{}
			return m, m.add(value)
		}
		if isHourBoundsKey(key) {
			m := &hourBoundsMerger{}
			return m, m.add(value)
		}
		m := &bitmapMerger{bm: roaring.New()}
		return m, m.add(value)
	},
}

type bitmapMerger struct{ bm *roaring.Bitmap }

func (m *bitmapMerger) add(v []byte) error {
	o, err := bitmap.Decode(v)
	if err != nil {
		return err
	}
	m.bm.Or(o)
	return nil
}

func (m *bitmapMerger) MergeNewer(v []byte) error { return m.add(v) }
func (m *bitmapMerger) MergeOlder(v []byte) error { return m.add(v) }
func (m *bitmapMerger) Finish(bool) ([]byte, io.Closer, error) {
	b, err := bitmap.Encode(m.bm)
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
