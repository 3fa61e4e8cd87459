package event_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas/event"
)

func randomBatch(rng *rand.Rand, n int) event.Batch {
	var b event.Batch
	ids := []string{"v-0123456789abcdef", "qr-7f3a", "tờ khai", strings.Repeat("x", 128), "\x00\"\\"}
	for range n {
		enter := int64(1_600_000_000 + rng.IntN(1_000_000))
		v := event.Visit{VisitID: ids[rng.IntN(len(ids))], UserID: rng.Uint32(), VenueID: rng.Uint32(), Enter: enter, Source: "ncovi"}
		if rng.IntN(2) == 0 {
			v.Exit = enter + int64(rng.IntN(86400))
		}
		b.Visits = append(b.Visits, v)
		e := event.Encounter{EncounterID: ids[rng.IntN(len(ids))], UserID: rng.Uint32(), PeerID: rng.Uint32(), Start: enter,
			DurationS: rng.Uint32N(86400) + 1, Source: "bluezone"}
		if rng.IntN(2) == 0 {
			e.RSSI, e.HasRSSI = int8(rng.IntN(256)-128), true
		}
		b.Encounters = append(b.Encounters, e)
	}
	return b
}

func TestWireRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 500} {
		b := randomBatch(rng, n)
		var got event.Batch
		require.NoError(t, event.DecodeWire(event.AppendVisitsWire(nil, b.Visits), &got))
		require.NoError(t, event.DecodeWire(event.AppendEncountersWire(nil, b.Encounters), &got))
		if n == 0 {
			require.Zero(t, got.Len())
			continue
		}
		require.Equal(t, b, got)
	}
}

func TestWireSize(t *testing.T) {
	v := event.Visit{VisitID: "v-0123456789abcdef", UserID: 1_000_000, VenueID: 10_000, Enter: 1_795_000_000, Exit: 1_795_003_600, Source: "ncovi"}
	msg := event.AppendVisitsWire(nil, []event.Visit{v})
	require.LessOrEqual(t, len(msg)-4, 40, "a check-in should take about 35 bytes")
	require.Less(t, len(msg)*3, len(event.AppendVisitJSON(nil, &v)))
}

func TestWireErrors(t *testing.T) {
	good := event.AppendVisitsWire(nil, []event.Visit{{VisitID: "a", UserID: 1, VenueID: 2, Enter: 3, Exit: 5}})
	for name, msg := range map[string][]byte{
		"empty":            nil,
		"bad magic":        append([]byte{'X'}, good[1:]...),
		"future version":   append([]byte{'T', 9}, good[2:]...),
		"unknown kind":     append([]byte{'T', 1, 7}, good[3:]...),
		"truncated":        good[:len(good)-1],
		"trailing bytes":   append(append([]byte(nil), good...), 0),
		"huge count":       {'T', 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"overlong varint":  {'T', 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0},
		"user over uint32": {'T', 1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 1, 0, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			b := event.Batch{Visits: []event.Visit{{VisitID: "keep"}}}
			err := event.DecodeWire(msg, &b)
			require.ErrorIs(t, err, event.ErrWire)
			require.Len(t, b.Visits, 1, "a failed decode leaves dst as it was")
		})
	}
	var b event.Batch
	require.ErrorIs(t, event.DecodeWire([]byte{'T', 2, 1, 0}, &b), event.ErrWireVersion)
}

// FuzzDecodeWire: no input panics; what decodes re-encodes to the same bytes
// or to bytes that decode to the same records.
func FuzzDecodeWire(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := randomBatch(rng, 3)
	f.Add(event.AppendVisitsWire(nil, b.Visits))
	f.Add(event.AppendEncountersWire(nil, b.Encounters))
	f.Add(event.AppendDeclarationsWire(nil, randomDeclarations(rng, 3)))
	f.Add([]byte{'T', 1, 1, 0})
	f.Add(event.AppendAssessmentsWire(nil, []event.Assessment{sampleAssessment(t0Day)}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var got event.Batch
		if err := event.DecodeWire(msg, &got); err != nil {
			require.Zero(t, got.Len())
			return
		}
		kind, err := event.WireKind(msg)
		require.NoError(t, err)
		var enc []byte
		switch kind {
		case event.KindVisit:
			enc = event.AppendVisitsWire(nil, got.Visits)
		case event.KindEncounter:
			enc = event.AppendEncountersWire(nil, got.Encounters)
		case event.KindAssessment:
			enc = event.AppendAssessmentsWire(nil, got.Assessments)
		default:
			enc = event.AppendDeclarationsWire(nil, got.Declarations)
		}
		var again event.Batch
		require.NoError(t, event.DecodeWire(enc, &again))
		require.Equal(t, got, again)
	})
}

func BenchmarkDecodeWire(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	batch := randomBatch(rng, 1000)
	msg := event.AppendVisitsWire(nil, batch.Visits)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	var dst event.Batch
	for b.Loop() {
		dst.Visits = dst.Visits[:0]
		if err := event.DecodeWire(msg, &dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}
