package summarytest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/venue"
)

// TierM is the counter data of a province-sized deployment: Days days of 64
// provinces (63 and unknown) with every metric the summary keeps (22 keys a
// day and province), each counter added in Operands separate writes (as a
// processor's batches add them, before merges fold them).
type TierM struct {
	Days, Operands int
}

// Fill adds the data into c, for the days ending at last.
func (m TierM) Fill(ctx context.Context, c summary.Counters, last bucket.Day) error {
	keys := []struct{ metric, key string }{
		{summary.RecordsIn, "visit"}, {summary.RecordsIn, "encounter"},
		{summary.CasesRegistered, ""}, {summary.Lookups, ""}, {summary.ContactsFound, ""},
		{summary.SitesPublished, ""}, {summary.AlertsSent, ""},
	}
	for _, r := range []string{"invalid_json", "missing_field", "invalid_value", "invalid_time", "future_time", "expired",
		"self_encounter", "too_large", "invalid_signature", "unknown_venue"} {
		keys = append(keys, struct{ metric, key string }{summary.Rejections, r})
	}
	for _, l := range summary.Levels {
		keys = append(keys, struct{ metric, key string }{summary.VenuesByLevel, l})
	}
	provinces := []string{summary.Unknown}
	for i := 1; len(provinces) < 64; i++ {
		provinces = append(provinces, string(rune('0'+i/10))+string(rune('0'+i%10)))
	}
	ds := make([]summary.Delta, 0, m.Days*len(provinces)*len(keys))
	for d := range m.Days {
		for _, p := range provinces {
			for _, k := range keys {
				ds = append(ds, summary.Delta{Day: last - bucket.Day(d), Province: p, Metric: k.metric, Key: k.key, N: 1000})
			}
		}
	}
	for range m.Operands {
		if err := c.AddCounts(ctx, ds); err != nil {
			return err
		}
	}
	return nil
}

// Latency times f n times and reports its p50 and p99 to b, in ms.
func Latency(b *testing.B, n int, f func() error) {
	b.Helper()
	ts := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		ts = append(ts, time.Since(t0))
	}
	slices.Sort(ts)
	b.ReportMetric(float64(ts[len(ts)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ts[len(ts)*99/100].Microseconds())/1000, "p99-ms")
}

// TierMLevels is the assessment traffic of a province-sized deployment:
// Venues venues (Unknown's and 63 provinces' alike, by venue id) assessing
// every day for Days days, a tenth of them twice the same day, written
// through a summary.Sink over the store in processor batches of Batch
// records.
type TierMLevels struct {
	Venues, Days, Batch int
}

// Fill writes the assessments of the days ending at last, returning the
// time the Sink spent in its writes and how many assessments it wrote.
func (m TierMLevels) Fill(ctx context.Context, s LevelBackend, last bucket.Day) (time.Duration, int, error) {
	cat, err := checklist.Shipped()
	if err != nil {
		return 0, 0, err
	}
	c, err := cat.For(venue.KindMarket, 0)
	if err != nil {
		return 0, 0, err
	}
	// One template per pattern of answers: every item met, the last unmet,
	// the first (critical) unmet.
	var templates []event.Assessment
	for _, unmet := range []int{-1, len(c.Items) - 1, 0} {
		ans := map[string]bool{}
		for i, it := range c.Items {
			ans[it.ID] = i != unmet
		}
		r, err := c.Score(ans)
		if err != nil {
			return 0, 0, err
		}
		templates = append(templates, event.Assessment{Kind: venue.KindMarket, Version: c.Version, Account: "acc_bench",
			Answers: event.AnswersFrom(ans), Tenths: uint16(r.Tenths), Level: r.Level}) //nolint:gosec // at most 1000
	}
	sink := &summary.Sink{Next: s, Counters: s, Provinces: tierMProvinces{}, Assessments: s, Now: time.Now}
	p, err := processor.New(bucket.DefaultLayout(), sink, nil)
	if err != nil {
		return 0, 0, err
	}
	var spent time.Duration
	n := 0
	batch := make([]event.Assessment, 0, m.Batch)
	flush := func() error {
		t0 := time.Now()
		recs := event.Batch{Assessments: batch}
		err := p.Process(ctx, &recs)
		spent += time.Since(t0)
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for d := last - bucket.Day(m.Days-1); d <= last; d++ {
		for round := range 2 {
			for v := 1; v <= m.Venues; v++ {
				if round == 1 && v%10 != 0 {
					continue
				}
				a := templates[(v+int(d)+round)%len(templates)]
				a.VenueID, a.Day = uint32(v), uint32(d) //nolint:gosec // small
				a.SubmittedAt = d.Start() + int64(8*3600+round*3600+v%3600)
				a.AssessmentID = fmt.Sprintf("as-%d-%d-%d", d, v, round)
				if batch = append(batch, a); len(batch) == m.Batch {
					if err := flush(); err != nil {
						return spent, n, err
					}
				}
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return spent, n, err
		}
	}
	return spent, n, nil
}

type tierMProvinces struct{}

// ProvincesOf places venue v in one of 64 provinces, Unknown's among them.
func (tierMProvinces) ProvincesOf(ids []uint32, dst []string) {
	for i, id := range ids {
		if p := id % 64; p == 0 {
			dst[i] = ""
		} else {
			dst[i] = fmt.Sprintf("%02d", p)
		}
	}
}

// BenchLevels fills s with TierMLevels of 100 000 venues over 14 days and
// reports, to b: the assessments written per second through the Sink, the
// read of one batch's prior assessments (5 000 venues of a stored day, the
// Sink's added cost per batch) and the 14-day summary's latency with
// venues_by_level, nationally and for a province, in ms, right after the
// fill and once more after Settle.
// Each of also runs on the filled store, given the last day.
func BenchLevels(b *testing.B, s LevelBackend, also ...func(b *testing.B, last bucket.Day)) {
	ctx := b.Context()
	last := bucket.DayOf(time.Now().Unix())
	m := TierMLevels{Venues: 100_000, Days: 14, Batch: 5_000}
	filled := false
	b.Run("fill", func(b *testing.B) {
		if filled {
			b.Skip("filled once")
		}
		filled = true
		spent, n, err := m.Fill(ctx, s, last)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "assessments")
		b.ReportMetric(float64(n)/spent.Seconds(), "assessments/s")
	})
	if !filled {
		b.Fatal("not filled")
	}
	a, err := summary.Read(ctx, s, summary.Query{From: last - 13, To: last})
	if err != nil {
		b.Fatal(err)
	}
	a.NotAssessed(int64(m.Venues))
	for _, d := range a.Days {
		var sum int64
		for _, c := range d.VenuesByLevel {
			sum += c
		}
		if sum != int64(m.Venues) || d.VenuesByLevel["not_assessed"] != 0 {
			b.Fatalf("day %s: %v, not %d venues at a level", d.Day, d.VenuesByLevel, m.Venues)
		}
	}
	keys := make([]safety.VenueDay, 0, m.Batch)
	for v := 1; v <= m.Batch; v++ {
		keys = append(keys, safety.VenueDay{Venue: uint32(v * 20), Day: last - 3}) //nolint:gosec // small
	}
	b.Run("prior-read", func(b *testing.B) {
		for range b.N {
			Latency(b, 20, func() error {
				_, err := s.VenueDayAssessments(ctx, keys)
				return err
			})
		}
	})
	// Right after the fill, while a server still merges what it took, and
	// once it had Settle to do so.
	for _, phase := range []string{"now", "settled"} {
		if phase == "settled" {
			time.Sleep(Settle)
		}
		for _, p := range []string{"", "48"} {
			b.Run("summary/"+phase+"/province="+p, func(b *testing.B) {
				for range b.N {
					Latency(b, 100, func() error {
						a, err := summary.Read(ctx, s, summary.Query{From: last - 13, To: last, Province: p})
						a.NotAssessed(int64(m.Venues / 64))
						return err
					})
				}
			})
		}
	}
	for _, f := range also {
		f(b, last)
	}
}

// Settle is how long BenchLevels waits before its second summary reads.
const Settle = 30 * time.Second
