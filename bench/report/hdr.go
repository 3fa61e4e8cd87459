package report

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Range of a Distribution, in microseconds: 1 µs to one hour, three
// significant digits (a value is known to within 0.1 %).
const (
	hdrLowest  = 1
	hdrHighest = int64(time.Hour / time.Microsecond)
	hdrDigits  = 3
)

// Distribution is a latency distribution recorded in an HDR histogram: fixed
// memory (tens of KiB) however many values are recorded, percentiles to
// within 0.1 %, and an encoding other HdrHistogram tools read. It is safe for
// concurrent use.
type Distribution struct {
	mu      sync.Mutex
	h       *hdrhistogram.Histogram
	clamped int64 // values outside the range, recorded at its nearest end
}

// NewDistribution returns an empty distribution.
func NewDistribution() *Distribution {
	return &Distribution{h: hdrhistogram.New(hdrLowest, hdrHighest, hdrDigits)}
}

// DistributionOf records samples given in milliseconds (NaN and Inf
// dropped).
func DistributionOf(ms []float64) *Distribution {
	d := NewDistribution()
	for _, v := range ms {
		if finite(v) {
			d.Record(time.Duration(v * float64(time.Millisecond)))
		}
	}
	return d
}

func (d *Distribution) clamp(v time.Duration) int64 {
	us := v.Microseconds()
	if us < hdrLowest || us > hdrHighest {
		d.clamped++
		return min(max(us, hdrLowest), hdrHighest)
	}
	return us
}

// Record adds one value.
func (d *Distribution) Record(v time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.h.RecordValue(d.clamp(v)) // in range by construction
}

// Count is the number of values recorded.
func (d *Distribution) Count() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.h.TotalCount()
}

// Percentiles summarises the distribution in milliseconds; the zero value
// when it is empty.
func (d *Distribution) Percentiles() Percentiles {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.h.TotalCount()
	if n == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{
		P50: ms(d.h.ValueAtQuantile(50)), P90: ms(d.h.ValueAtQuantile(90)), P99: ms(d.h.ValueAtQuantile(99)),
		Max: ms(d.h.Max()), N: int(min(n, math.MaxInt32)),
	}
}

// Encoded is the distribution in HdrHistogram's compressed V2 encoding,
// base64: what `HistogramLogProcessor` and the other HdrHistogram tools
// decode, and what lets runs be merged exactly. Values are microseconds.
func (d *Distribution) Encoded() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := d.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// WritePercentiles writes the classic HdrHistogram percentile table (.hgrm)
// in milliseconds, which HdrHistogram's plotter reads.
func (d *Distribution) WritePercentiles(w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.h.PercentilesPrint(w, 5, 1000)
	return err
}

// bar is a count of values in [from, to] milliseconds.
type bar struct {
	from, to float64
	count    int64
}

func (d *Distribution) bars() []bar {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []bar
	for _, b := range d.h.Distribution() {
		if b.Count > 0 {
			out = append(out, bar{from: float64(b.From) / 1000, to: float64(b.To) / 1000, count: b.Count})
		}
	}
	return out
}
