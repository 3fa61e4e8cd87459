package pebblestore

import (
	"bytes"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bitmap"
	"github.com/truyvet/truyvet/index/bucket"
)

func TestStayKeyRoundTripAndOrder(t *testing.T) {
	k := appendStayKey(nil, 18830, 7, 1_626_739_200, 42, "visit-1", 1_626_742_800)
	got, err := decodeStayKey(k)
	require.NoError(t, err)
	require.Equal(t, uint32(7), got.user)
	require.Equal(t, int64(1_626_739_200), got.enter)
	require.Equal(t, uint32(42), got.venue)
	require.Equal(t, int64(1_626_742_800), got.exit)
	require.Equal(t, k[:len(k)-8], got.identity)

	// The records of one stay sort together, the check-in (exit 0) first.
	open := appendStayKey(nil, 18830, 7, 1_626_739_200, 42, "visit-1", 0)
	other := appendStayKey(nil, 18830, 7, 1_626_739_200, 42, "visit-10", 0)
	require.Negative(t, bytes.Compare(open, k))
	require.Negative(t, bytes.Compare(k, other))
}

func TestContactKeyRoundTrip(t *testing.T) {
	k := appendContactKey(nil, 18830, 7, 1_626_739_200, 9, 900, "enc")
	got, err := decodeContactKey(k)
	require.NoError(t, err)
	require.Equal(t, contactKey{user: 7, start: 1_626_739_200, peer: 9, dur: 900}, got)
}

// Crashers found by fuzzing are kept here as rows.
var keyCrashers = [][]byte{nil, {spaceStay}, {spaceContact, 0, 0, 0, 0}, bytes.Repeat([]byte{spaceStay}, 30)}

func FuzzDecodeKeys(f *testing.F) {
	f.Add(appendStayKey(nil, 1, 2, 3, 4, "id", 5))
	f.Add(appendContactKey(nil, 1, 2, 3, 4, 5, "id"))
	f.Add(dayPrefix(spaceDay, 9))
	for _, c := range keyCrashers {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		if s, err := decodeStayKey(k); err == nil {
			id := k[stayFixed-8 : len(k)-8]
			re := appendStayKey(nil, bucket.Day(0), s.user, s.enter, s.venue, string(id), s.exit)
			require.Equal(t, k[5:], re[5:], "stay key must re-encode to itself")
		}
		if c, err := decodeContactKey(k); err == nil {
			re := appendContactKey(nil, 0, c.user, c.start, c.peer, c.dur, string(k[contactFixed:]))
			require.Equal(t, k[5:], re[5:], "contact key must re-encode to itself")
		}
		_, _ = decodeDayKey(k)
	})
}

func TestMergerORsBitmapsAndAddsCounters(t *testing.T) {
	a, err := bitmap.Encode(roaring.BitmapOf(1, 2))
	require.NoError(t, err)
	b, err := bitmap.Encode(roaring.BitmapOf(2, 3))
	require.NoError(t, err)
	vm, err := merger.Merge([]byte{spaceBitmap}, a)
	require.NoError(t, err)
	require.NoError(t, vm.MergeOlder(b))
	require.NoError(t, vm.MergeNewer(a))
	out, _, err := vm.Finish(true)
	require.NoError(t, err)
	bm, err := bitmap.Decode(out)
	require.NoError(t, err)
	require.Equal(t, []uint32{1, 2, 3}, bm.ToArray())

	_, err = merger.Merge([]byte{spaceBitmap}, []byte("garbage"))
	require.Error(t, err)

	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	vm, err = merger.Merge(counterKey("visits"), one)
	require.NoError(t, err)
	require.NoError(t, vm.MergeNewer(one))
	out, _, err = vm.Finish(true)
	require.NoError(t, err)
	require.Equal(t, []byte{2, 0, 0, 0, 0, 0, 0, 0}, out)
}
