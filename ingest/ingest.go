// Package ingest is the HTTP front door for the tracing apps' backends:
// POST /v1/checkins, POST /v1/proximity and POST /v1/declarations take
// NDJSON or a JSON array,
// validate every record, hand the valid ones to a Producer and answer
// 202 {"accepted": n, "rejected": [...]} only once the Producer says they are
// durable. Ingest does not know what is behind the Producer: the in-process
// processor (all-in-one) or Kafka (distributed).
//
// Metrics (see NewMetrics):
//
//	truyvet_ingest_requests_total{endpoint,code}           requests answered
//	truyvet_ingest_request_duration_seconds{endpoint}      time to answer
//	truyvet_ingest_request_bytes_total{endpoint}           body bytes read
//	truyvet_ingest_events_received_total{kind}             records seen
//	truyvet_ingest_events_accepted_total{kind}             records acknowledged durable
//	truyvet_ingest_events_rejected_total{kind,reason}      records refused, by reason
//	truyvet_ingest_produce_duration_seconds{kind}          time for the producer to make a batch durable
package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/truyvet/truyvet/schemas/event"
)

// Producer publishes validated records. Produce returns nil only once every
// record of the batch is durable; on error none may be counted as accepted
// (some may still have been written: replays are harmless).
type Producer interface {
	Produce(ctx context.Context, b *event.Batch) error
}

// Config bounds what one request may carry and how long it may take.
type Config struct {
	MaxBodyBytes   int64         // decompressed body size limit
	MaxRecords     int           // records per request
	MaxRecordBytes int           // bytes per NDJSON line
	ProduceTimeout time.Duration // longest wait for the producer before answering 503
	Limits         event.Limits
}

// DefaultConfig returns the limits used unless flags say otherwise.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:   32 << 20,
		MaxRecords:     100_000,
		MaxRecordBytes: 16 << 10,
		ProduceTimeout: 30 * time.Second,
		Limits:         event.DefaultLimits(),
	}
}

// Config validation errors.
var (
	ErrBadLimit     = errors.New("ingest limits must be positive")
	ErrIDLimitRange = errors.New("id length limit must be between 1 and 255 bytes")
)

// Validate checks that every limit is usable.
func (c Config) Validate() error {
	if c.MaxBodyBytes <= 0 || c.MaxRecords <= 0 || c.MaxRecordBytes <= 0 || c.ProduceTimeout <= 0 ||
		c.Limits.Retention <= 0 || c.Limits.MaxFuture < 0 || c.Limits.MaxStay <= 0 || c.Limits.MaxTextBytes <= 0 {
		return ErrBadLimit
	}
	if c.Limits.MaxIDBytes < 1 || c.Limits.MaxIDBytes > 255 {
		return fmt.Errorf("%d: %w", c.Limits.MaxIDBytes, ErrIDLimitRange)
	}
	return nil
}

// Counts are what ingest has seen since the handler was made (Handler.Since):
// records received; accepted (answered 202, durable); rejected (invalid,
// named in a 202); and unavailable (valid, but answered 503 because the
// producer failed or ran out of time: not acknowledged, to be resent, though
// a write that outlived its deadline may have stored them anyway, so they
// are counted apart rather than as rejected).
type Counts struct {
	Received, Accepted, Rejected, Unavailable int64
}

type counts struct {
	received, accepted, rejected, unavailable atomic.Int64
}

func (c *counts) snapshot() Counts {
	return Counts{Received: c.received.Load(), Accepted: c.accepted.Load(), Rejected: c.rejected.Load(),
		Unavailable: c.unavailable.Load()}
}
