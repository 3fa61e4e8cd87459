package audit_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/query/audit"
)

func TestCut(t *testing.T) {
	require.Equal(t, "Đội truy vết Hà Nội", audit.Cut("Đội truy vết Hà Nội", 200), "diacritics are kept")
	long := strings.Repeat("ế", 100) // 3 bytes each
	c := audit.Cut(long, 50)
	require.LessOrEqual(t, len(c), 50)
	require.True(t, utf8.ValidString(c))
	require.True(t, strings.HasSuffix(c, "…"))
	require.Equal(t, "a\uFFFDb\uFFFD", audit.Cut("a\x00b\xff", 10))
}

func TestChainHashesTheEntryBefore(t *testing.T) {
	a := audit.Chain(audit.Entry{Action: audit.ActionExposures, Case: 1}, 0, "")
	b := audit.Chain(audit.Entry{Action: audit.ActionExposures, Case: 2}, a.Seq, a.Hash)
	require.Equal(t, uint64(1), a.Seq)
	require.Equal(t, uint64(2), b.Seq)
	require.Equal(t, a.Hash, b.Prev)
	require.Equal(t, b.Hash, b.ComputeHash())
	b2 := audit.Chain(audit.Entry{Action: audit.ActionExposures, Case: 2}, a.Seq, strings.Repeat("0", 64))
	require.NotEqual(t, b.Hash, b2.Hash, "the hash covers the link")
	big := audit.Chain(audit.Entry{Requester: strings.Repeat("x", 10_000), Purpose: strings.Repeat("y", 10_000)}, 0, "")
	require.LessOrEqual(t, len(big.Requester), audit.MaxRequester)
	require.LessOrEqual(t, len(big.Purpose), audit.MaxPurpose)
}

func FuzzCut(f *testing.F) {
	f.Add("Đội truy vết", 5)
	f.Add("\xff\x00abc", 2)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = max(4, n%1000)
		c := audit.Cut(s, n)
		require.LessOrEqual(t, len(c), n)
		require.True(t, utf8.ValidString(c))
	})
}
