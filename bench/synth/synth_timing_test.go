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
// seconds one pass takes, and the process's peak resident memory.
//
//	go test -run '^$' -bench TierS -benchtime 1x ./bench/synth/
func BenchmarkTierS(b *testing.B) { benchmarkCity(b, TierS()) }

// BenchmarkDemo is the same for the demo city.
func BenchmarkDemo(b *testing.B) { benchmarkCity(b, Demo()) }

func benchmarkCity(b *testing.B, cfg Config) {
	b.ReportAllocs()
	var records, passes int
	start := time.Now()
	for b.Loop() {
		c, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for batch := range c.Batches() {
			records += batch.Len()
		}
		passes++
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(records)/secs, "records/s")
	b.ReportMetric(secs/float64(passes), "s/city")
	b.ReportMetric(float64(records/passes), "records/city")
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
