package qrsig_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/venue/qrsig"
)

// FuzzParse: no input crashes Parse or Verify; what parses is canonical (it
// spells back to the same text); only real codes verify.
func FuzzParse(f *testing.F) {
	k, err := qrsig.NewKeyring([]qrsig.Key{{Secret: bytes.Repeat([]byte{9}, 32)}}, time.Hour, time.Now)
	require.NoError(f, err)
	for _, seed := range []string{k.Code(1), k.Code(4294967295), "TV1.42.AAAAAAAAAAAAAAAA", "TV1.042.A", "TV1..", "TV1.4294967296.AAAAAAAAAAAAAAAA", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, code string) {
		id, sig, err := qrsig.Parse(code)
		if err == nil {
			require.Equal(t, code, qrsig.Prefix+strconv.FormatUint(uint64(id), 10)+"."+sig)
			require.NotZero(t, id)
		}
		vid, verr := k.Verify(code)
		if verr == nil {
			require.NoError(t, err)
			require.Equal(t, id, vid)
			require.Equal(t, k.Code(id), code)
		}
	})
}

// FuzzParseKeys: no secret file crashes the parser; what parses formats and
// parses back to the same keys.
func FuzzParseKeys(f *testing.F) {
	f.Add(qrsig.FormatKeys([]qrsig.Key{{Secret: bytes.Repeat([]byte{1}, 32)}, {Secret: bytes.Repeat([]byte{2}, 16), Retired: time.Unix(1e9, 0)}}))
	f.Add([]byte("# x\nAAAAAAAAAAAAAAAAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := qrsig.ParseKeys(b)
		if err != nil {
			return
		}
		again, err := qrsig.ParseKeys(qrsig.FormatKeys(keys))
		require.NoError(t, err)
		require.Len(t, again, len(keys))
		for i := range keys {
			require.Equal(t, keys[i].Secret, again[i].Secret)
			require.True(t, keys[i].Retired.Equal(again[i].Retired))
		}
	})
}
