package pebblestore

import (
	"bytes"
	"testing"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/summary/summarytest"
)

func TestSummaryConformance(t *testing.T) {
	summarytest.Run(t, open(t, bucket.DefaultLayout()).(*Store))
}

func FuzzDecodeSummaryKey(f *testing.F) {
	f.Add([]byte{spaceSummary, 0, 0, 0, 1, 2, '7', '9', 4, 'a', 'b', 'c', 'd', 'k'})
	f.Add([]byte{spaceSummary, 0, 0, 0, 1, 200})
	f.Fuzz(func(t *testing.T, k []byte) {
		day, p, m, key, err := decodeSummaryKey(k)
		if err != nil {
			return
		}
		again, err := summaryKey(nil, summary.Delta{Day: day, Province: p, Metric: m, Key: key})
		if err != nil || !bytes.Equal(again, k) {
			t.Fatalf("%x decodes to %d %q %q %q, which encodes to %x (%v)", k, day, p, m, key, again, err)
		}
	})
}
