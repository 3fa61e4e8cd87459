package synth

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTierS builds the tier S city and generates all its records, as a
// consumer that drops each batch would see it. It reports records/s, the
// seconds one pass takes, the records (check-ins without an exit, encounter
// records) and the process's peak resident memory.
//
//	go test -run '^$' -bench TierS -benchtime 1x ./bench/synth/
func BenchmarkTierS(b *testing.B) { benchmarkCity(b, TierS()) }

// BenchmarkTierLSlice100 is L/100, a holiday country of tier S's size: 1 M
// people and 10 k venues in the 63 provinces over the 14 days of Tết.
//
//	go test -run '^$' -bench TierLSlice100 -benchtime 1x ./bench/synth/
func BenchmarkTierLSlice100(b *testing.B) { benchmarkCity(b, TierLSlice(100)) }

// BenchmarkTierMDay is one day of tier M: the whole population and venues
// of TierM, one ordinary day.
//
//	go test -run '^$' -bench TierMDay -benchtime 1x -timeout 30m ./bench/synth/
func BenchmarkTierMDay(b *testing.B) {
	c := TierM()
	c.Days = 1
	benchmarkCity(b, c)
}

// BenchmarkDemo is the same for the demo city.
func BenchmarkDemo(b *testing.B) { benchmarkCity(b, Demo()) }

func benchmarkCity(b *testing.B, cfg Config) {
	b.ReportAllocs()
	var records, checkins, encounters, passes int
	start := time.Now()
	for b.Loop() {
		c, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for batch := range c.Batches() {
			records += batch.Len()
			encounters += len(batch.Encounters)
			for i := range batch.Visits {
				if !batch.Visits[i].HasExit() {
					checkins++
				}
			}
		}
		passes++
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(records)/secs, "records/s")
	b.ReportMetric(secs/float64(passes), "s/city")
	b.ReportMetric(float64(records/passes), "records/city")
	b.ReportMetric(float64(checkins/passes), "checkins/city")
	b.ReportMetric(float64(encounters/passes), "encounters/city")
	if hwm := peakRSS(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MB")
}

// peakRSS is the process's peak resident set (VmHWM) in bytes, or 0 where
// /proc is not available.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
