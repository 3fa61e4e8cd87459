package bitmap

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/require"
)

func TestAppendMatchesRoaring(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := [][]uint32{
		nil,
		{1},
		{0, 1, 2, 65535, 65536, 1 << 31, 4294967295},
	}
	for range 200 {
		n := rng.IntN(3000)
		spread := []uint32{100, 70_000, 1_000_000, 4_294_967_295}[rng.IntN(4)]
		ids := make([]uint32, n)
		for i := range ids {
			ids[i] = rng.Uint32N(spread)
		}
		cases = append(cases, ids)
	}
	dense := make([]uint32, 0, 10_000)
	for i := range uint32(10_000) {
		dense = append(dense, 3*65536+i*3) // one container above the array limit
	}
	cases = append(cases, dense)
	for _, ids := range cases {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		want, err := roaring.BitmapOf(ids...).ToBytes()
		require.NoError(t, err)
		got := Append([]byte("prefix"), ids)
		require.Equal(t, want, got[len("prefix"):], "ids %v", ids[:min(len(ids), 8)])
		// Into a reused buffer whose spare capacity holds old bytes.
		dirty := slices.Repeat([]byte{0xff}, len(want)+16)[:0]
		require.Equal(t, want, Append(dirty, ids), "ids %v into a dirty buffer", ids[:min(len(ids), 8)])
		bm, err := Decode(got[len("prefix"):])
		require.NoError(t, err)
		require.Equal(t, len(ids), int(bm.GetCardinality()))
		if len(ids) > 0 {
			require.Equal(t, ids, bm.ToArray())
		}
	}
}

// Crashers found by fuzzing are kept here as rows.
var decodeCrashers = [][]byte{
	nil,
	{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0xff, 0xff},
	{0x3b, 0x30, 0, 0, 0xff, 0xff, 0xff, 0x7f},
}

func TestDecodeRejectsCorruptBytes(t *testing.T) {
	for _, b := range decodeCrashers[1:] {
		_, err := Decode(b)
		require.Error(t, err)
	}
	good := Append(nil, []uint32{1, 2, 3})
	_, err := Decode(append(good, 0))
	require.Error(t, err, "trailing bytes")
	_, err = Decode(good[:len(good)-1])
	require.Error(t, err, "truncated")
}

func FuzzBucketFromBytes(f *testing.F) {
	f.Add(Append(nil, []uint32{1, 2, 3, 70000, 1 << 31}))
	dense := roaring.New()
	dense.AddRange(100, 50_000)
	b, err := Encode(dense)
	require.NoError(f, err)
	f.Add(b)
	for _, c := range decodeCrashers {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bm, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes, through our writer, to the same set.
		again, err := Decode(Append(nil, bm.ToArray()))
		require.NoError(t, err)
		require.True(t, bm.Equals(again))
	})
}
