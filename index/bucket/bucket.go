// Package bucket maps time onto the index: fixed-length time buckets, the
// local days that partition storage, and the (venue, bucket) keys of the
// co-location bitmaps. Buckets are an index for finding candidates; nothing
// in this package decides whether two people were in contact.
package bucket

import (
	"errors"
	"fmt"
	"iter"
	"time"
)

// UTCOffset is the offset of Asia/Ho_Chi_Minh, which has kept UTC+07:00 with no
// daylight saving since 1975. Days for partitions and reports are local days.
const UTCOffset = 7 * 3600

// Day is a local day number: days since 1970-01-01 in Asia/Ho_Chi_Minh.
type Day uint32

// DayOf returns the local day containing the Unix time t (t >= -UTCOffset).
func DayOf(t int64) Day {
	if t < -UTCOffset {
		return 0
	}
	return Day((t + UTCOffset) / 86400)
}

// FirstDayReaching is the earliest day under which a record that lasts
// into the second t can be filed: records go under the day they begin, and
// last at most MaxSpan.
func FirstDayReaching(t int64) Day { return DayOf(t - MaxSpan) }

// DaysReaching yields, in order, the days under which records overlapping
// [from, to] can be filed: FirstDayReaching(from) to the day of to.
func DaysReaching(from, to int64) iter.Seq[Day] {
	return func(yield func(Day) bool) {
		for d := FirstDayReaching(from); d <= DayOf(to); d++ {
			if !yield(d) {
				return
			}
		}
	}
}

// Start is the Unix time of the local midnight that starts d.
func (d Day) Start() int64 { return int64(d)*86400 - UTCOffset }

// String formats d as a local date, 2006-01-02.
func (d Day) String() string {
	return time.Unix(d.Start()+UTCOffset, 0).UTC().Format(time.DateOnly)
}

// Layout fixes how records are indexed. It is persisted by each store and must
// not change over a store's life: bitmaps built with one layout cannot answer
// queries asked with another.
type Layout struct {
	BucketSeconds int64 // length of a time bucket; divides 3600
	DwellSeconds  int64 // assumed length of a stay without check-out
}

// Defaults from DESIGN.md.
const (
	DefaultBucket = 15 * time.Minute
	DefaultDwell  = 60 * time.Minute
	// MaxSpan bounds any stay or encounter; queries look this far back for
	// intervals that began before a window and reach into it.
	MaxSpan = 24 * 3600
)

// DefaultLayout is 15-minute buckets and a 60-minute default dwell.
func DefaultLayout() Layout {
	return Layout{BucketSeconds: int64(DefaultBucket / time.Second), DwellSeconds: int64(DefaultDwell / time.Second)}
}

// Errors returned by Layout.Validate.
var (
	ErrBucketSize = errors.New("bucket length must divide one hour evenly (e.g. 1m, 5m, 15m, 30m, 1h)")
	ErrDwell      = errors.New("default dwell must be between 1 minute and 24 hours")
)

// Validate checks that buckets tile local days exactly and that the dwell is sane.
func (l Layout) Validate() error {
	if l.BucketSeconds < 60 || 3600%l.BucketSeconds != 0 {
		return fmt.Errorf("bucket %ds: %w", l.BucketSeconds, ErrBucketSize)
	}
	if l.DwellSeconds < 60 || l.DwellSeconds > MaxSpan {
		return fmt.Errorf("dwell %ds: %w", l.DwellSeconds, ErrDwell)
	}
	return nil
}

// Of returns the bucket containing Unix time t.
func (l Layout) Of(t int64) uint32 {
	if t < 0 {
		return 0
	}
	return uint32(t / l.BucketSeconds)
}

// Cover returns the first and last buckets touched by the half-open interval
// [start, end). ok is false for an empty interval.
func (l Layout) Cover(start, end int64) (first, last uint32, ok bool) {
	if end <= start {
		return 0, 0, false
	}
	return l.Of(start), l.Of(end - 1), true
}

// StayEnd is when a stay that starts at enter ends, given the greatest exit
// among its records (0: none of them has one): that exit, or enter plus the
// default dwell (DESIGN's visit rule).
func (l Layout) StayEnd(enter, exit int64) int64 {
	if exit != 0 {
		return exit
	}
	return enter + l.DwellSeconds
}

// Start returns the Unix time at which bucket b begins.
func (l Layout) Start(b uint32) int64 { return int64(b) * l.BucketSeconds }

// DayOfBucket returns the local day that contains bucket b. Buckets never
// straddle midnight because their length divides an hour.
func (l Layout) DayOfBucket(b uint32) Day { return DayOf(l.Start(b)) }

// Key addresses one co-location bitmap: who was at Venue during Bucket.
type Key struct {
	Venue  uint32
	Bucket uint32
}

// Range asks for the bitmaps of one venue over buckets First..Last inclusive.
type Range struct {
	Venue       uint32
	First, Last uint32
}
