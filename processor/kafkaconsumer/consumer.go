// Package kafkaconsumer feeds the processor from Kafka: a member of a consumer
// group that fetches messages, decodes and checks their records, has the
// processor build and write them, and only then commits the offsets
// (fetch → build → write → commit; never auto-commit). A crash between write
// and commit replays the batch, which the store absorbs (set unions, records
// keyed by id). Any number of replicas share the partitions; Kafka rebalances
// them when one dies or joins.
//
// Records that cannot be decoded or fail validation go to the dead-letter
// topic with the reason in the "truyvet-reason" header, and are counted: every
// record consumed is either written or dead-lettered. A dead letter carries at
// most DeadLetterMaxBytes of its payload (the "truyvet-truncated" header then
// holds the original length; the whole original stays at its source offset,
// named in the headers, for the topic's retention), so an oversized message
// cannot make a dead letter the broker refuses.
//
// A batch whose store or dead-letter write keeps failing is retried with
// backoff, never dropped; once it has failed for StuckAfter its partitions
// are reported stuck (metric and Ready) until it goes through.
//
// Metrics (see NewMetrics):
//
//	truyvet_processor_kafka_records_total{topic,result}     records consumed (result stored|deadlettered)
//	truyvet_processor_kafka_messages_total{topic}           messages consumed
//	truyvet_processor_deadletter_records_total{reason}      records sent to the dead-letter topic
//	truyvet_processor_flush_duration_seconds                time to build and write one batch (with retries)
//	truyvet_processor_flush_retries_total{stage}            failed store or dead-letter writes retried
//	truyvet_processor_commit_duration_seconds               time to commit a batch's offsets
//	truyvet_processor_commit_errors_total                   commits that failed (the batch will be replayed)
//	truyvet_processor_kafka_lag_records{topic,partition}    records not yet committed by the group, for the partitions this replica owns
//	truyvet_processor_partition_stuck{topic,partition}      1 while a partition's batch has failed to write for StuckAfter or longer
//	truyvet_processor_deadletter_truncated_total            dead letters whose payload was cut to fit
package kafkaconsumer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
)

// Config says what to consume and how big a batch may grow.
type Config struct {
	Brokers     []string
	TopicPrefix string
	Group       string
	MaxRecords  int // flush when a batch holds this many records
	// FlushInterval: or this long after its first record reached Kafka (its
	// message's timestamp), which is no earlier than when the batch before
	// was cut. Records that queued while that batch was being written have
	// waited since then: counting from their fetch would add a write's time
	// to their freshness.
	FlushInterval time.Duration
	LagInterval   time.Duration // how often consumer lag is measured
	Limits        event.Limits  // structural checks (the clock is not consulted)
	// Checklists check assessments' answers; nil: the shipped ones.
	Checklists *checklist.Catalog
	// DeadLetterMaxBytes is the most payload a dead letter carries; longer
	// payloads are cut (kept under the broker's message.max.bytes, 1 MB by
	// default, with room for the headers).
	DeadLetterMaxBytes int
	// StuckAfter is how long a batch may keep failing to write before its
	// partitions are reported stuck.
	StuckAfter time.Duration
}

// DefaultConfig returns the defaults: batches of up to 200 000 records or
// 500 ms. At the national peak a replica takes ~100 000 records a second; a
// batch cut by time rather than size writes fewer, larger parts, which
// ClickHouse merges for less, and 500 ms rather than 1 s halves freshness
// there (p99 0.78 against 1.45 s) for ~5 % more of ClickHouse's CPU
// (bench/README.md, The national peak).
func DefaultConfig() Config {
	return Config{
		TopicPrefix:   "truyvet.",
		Group:         "truyvet-processor",
		MaxRecords:    200_000,
		FlushInterval: 500 * time.Millisecond,
		LagInterval:   5 * time.Second,
		Limits:        event.DefaultLimits(),

		DeadLetterMaxBytes: 256 << 10,
		StuckAfter:         30 * time.Second,
	}
}

// Configuration errors.
var (
	ErrNoGroup   = errors.New("--kafka-group is required")
	ErrBadConfig = errors.New("batch size, flush and lag intervals, dead-letter size and stuck time must be positive")
)

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return kafkaproducer.ErrNoBrokers
	}
	if c.Group == "" {
		return ErrNoGroup
	}
	if c.MaxRecords < 1 || c.FlushInterval <= 0 || c.LagInterval <= 0 || c.DeadLetterMaxBytes < 1 || c.StuckAfter <= 0 {
		return ErrBadConfig
	}
	_, err := event.TopicsFor(c.TopicPrefix)
	return err
}

// Header names on dead-lettered messages.
const (
	HeaderReason    = "truyvet-reason"
	HeaderError     = "truyvet-error"
	HeaderTopic     = "truyvet-source-topic"
	HeaderPartition = "truyvet-source-partition"
	HeaderOffset    = "truyvet-source-offset"
	HeaderTruncated = "truyvet-truncated" // the payload's original length, when it was cut
)

// ReasonUndecodable is the dead-letter reason of a message that is not in the
// wire format; the other reasons are event.Reasons.
const ReasonUndecodable = "undecodable"

// Consumer is one member of the processor group.
type Consumer struct {
	cfg    Config
	topics event.Topics
	proc   *processor.Processor
	r      *kafka.Reader
	dlq    *kafka.Writer
	m      *Metrics
	log    *slog.Logger
	client string // the Kafka client id of this member, to find its assignment

	stored, dead atomic.Int64

	mu        sync.Mutex
	stuck     map[TopicPartition]time.Time // partitions of a failing batch → since when
	lagged    map[TopicPartition]bool      // partitions with a lag series
	lagErr    error                        // the last lag measurement's error: Kafka unreachable
	stuckTime time.Time                    // when the failing batch started failing
}

// New returns a consumer writing through proc.
func New(cfg Config, proc *processor.Processor, m *Metrics, log *slog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	topics, _ := event.TopicsFor(cfg.TopicPrefix)
	if cfg.Checklists == nil {
		cat, err := checklist.Shipped()
		if err != nil {
			return nil, err
		}
		cfg.Checklists = cat
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "processor", "group", cfg.Group)
	var id [8]byte
	_, _ = rand.Read(id[:])
	client := "truyvet-processor-" + hex.EncodeToString(id[:])
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:               cfg.Brokers,
		Dialer:                &kafka.Dialer{ClientID: client, Timeout: 10 * time.Second, DualStack: true},
		GroupID:               cfg.Group,
		GroupTopics:           topics.Records(),
		MinBytes:              1,
		MaxBytes:              16 << 20,
		MaxWait:               250 * time.Millisecond,
		CommitInterval:        0, // commits are synchronous, after the store has the data
		StartOffset:           kafka.FirstOffset,
		HeartbeatInterval:     time.Second,
		SessionTimeout:        10 * time.Second,
		RebalanceTimeout:      10 * time.Second,
		JoinGroupBackoff:      time.Second,
		WatchPartitionChanges: true,
		ReadBackoffMin:        50 * time.Millisecond,
		ReadBackoffMax:        time.Second,
		ErrorLogger:           kafka.LoggerFunc(func(msg string, args ...any) { log.Debug(fmt.Sprintf(msg, args...), "component", "kafka-reader") }),
	})
	dlq := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Transport:    &kafka.Transport{DialTimeout: 5 * time.Second, ClientID: client + "-deadletter"}, // closed with the consumer
		Topic:        topics.DeadLetter,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		Compression:  compress.Lz4,
		MaxAttempts:  5,
		BatchBytes:   int64(cfg.DeadLetterMaxBytes) + 64<<10,
	}
	return &Consumer{cfg: cfg, topics: topics, proc: proc, r: r, dlq: dlq, m: m, log: log, client: client,
		stuck: map[TopicPartition]time.Time{}, lagged: map[TopicPartition]bool{}}, nil
}

// Counts returns the records this consumer stored and dead-lettered.
func (c *Consumer) Counts() (stored, deadLettered int64) { return c.stored.Load(), c.dead.Load() }

// Run consumes until ctx ends, then leaves the group. It returns nil on a
// clean stop; uncommitted work is replayed by whoever takes the partitions.
func (c *Consumer) Run(ctx context.Context) error {
	defer func() {
		_ = c.r.Close()
		_ = c.dlq.Close()
		c.dlq.Transport.(*kafka.Transport).CloseIdleConnections()
	}()
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go c.watchLag(lagCtx)
	c.log.Info("consuming", "topics", c.topics.Records())
	var b pending
	var cut time.Time // when the last batch stopped taking records
	for ctx.Err() == nil {
		b.reset()
		err := c.fill(ctx, &b, cut)
		cut = time.Now()
		if err != nil {
			return err
		}
		if len(b.msgs) == 0 || ctx.Err() != nil {
			continue
		}
		if err := c.flush(ctx, &b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// pending is one batch on its way to the store.
type pending struct {
	msgs     []kafka.Message
	recs     event.Batch
	dead     []kafka.Message
	perTopic map[string][2]int // topic → stored, dead-lettered
	reasons  map[string]int    // dead-letter reason → records
}

func (b *pending) reset() {
	b.msgs, b.dead = b.msgs[:0], b.dead[:0]
	b.recs.Reset()
	b.perTopic = map[string][2]int{}
	b.reasons = map[string]int{}
}

// fill fetches messages until the batch is full or FlushInterval has passed
// since its first message reached Kafka (batchDeadline); cut is when the
// batch before stopped taking records.
func (c *Consumer) fill(ctx context.Context, b *pending, cut time.Time) error {
	var deadline time.Time
	for b.recs.Len() < c.cfg.MaxRecords {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			fctx, cancel = context.WithDeadline(ctx, deadline)
		}
		m, err := c.r.FetchMessage(fctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			return nil
		case errors.Is(err, io.EOF), errors.Is(err, kafka.ErrGroupClosed):
			return fmt.Errorf("kafka reader closed: %w", err)
		default:
			c.log.Warn("fetch failed; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		if deadline.IsZero() {
			deadline = batchDeadline(m.Time, cut, time.Now(), c.cfg.FlushInterval)
		}
		c.m.messages.WithLabelValues(c.topicLabel(m.Topic)).Inc()
		b.msgs = append(b.msgs, m)
		c.take(&m, b)
	}
	return nil
}

// batchDeadline is when a batch whose first message carries timestamp
// stamp, fetched at now, is cut: interval after the message reached Kafka.
// The stamp is another machine's clock, so it is only trusted between cut
// (the batch before stopped taking records; nothing in this one can be
// older) and now. A zero stamp or cut bounds nothing. The batch still takes
// records for a quarter of the interval: a replica behind, whose records
// are all overdue, then writes full batches rather than one message each.
func batchDeadline(stamp, cut, now time.Time, interval time.Duration) time.Time {
	at := now
	if !stamp.IsZero() && stamp.Before(now) {
		at = stamp
	}
	if !cut.IsZero() && at.Before(cut) {
		at = cut
	}
	if floor := now.Add(interval / 4); at.Add(interval).Before(floor) {
		return floor
	}
	return at.Add(interval)
}

// take decodes m into the batch, dead-lettering what cannot be taken.
func (c *Consumer) take(m *kafka.Message, b *pending) {
	nv, ne, nd, na := len(b.recs.Visits), len(b.recs.Encounters), len(b.recs.Declarations), len(b.recs.Assessments)
	if err := event.DecodeWire(m.Value, &b.recs); err != nil {
		b.dead = append(b.dead, c.deadLetter(m, m.Value, ReasonUndecodable, err))
		b.reasons[ReasonUndecodable]++
		c.count(b, m.Topic, 0, 1)
		return
	}
	// Keep the valid records in place; dead-letter the others one by one.
	var deadV, deadE, deadD, deadA int
	l := &c.cfg.Limits
	b.recs.Visits, deadV = keepValid(c, m, b, b.recs.Visits, nv, l.ValidateVisit, event.AppendVisitsWire)
	b.recs.Encounters, deadE = keepValid(c, m, b, b.recs.Encounters, ne, l.ValidateEncounter, event.AppendEncountersWire)
	b.recs.Declarations, deadD = keepValid(c, m, b, b.recs.Declarations, nd, l.ValidateDeclaration, event.AppendDeclarationsWire)
	b.recs.Assessments, deadA = keepValid(c, m, b, b.recs.Assessments, na,
		func(a *event.Assessment, never time.Time) error {
			return l.ValidateAssessment(a, c.cfg.Checklists, never)
		}, event.AppendAssessmentsWire)
	c.count(b, m.Topic, len(b.recs.Visits)-nv+len(b.recs.Encounters)-ne+len(b.recs.Declarations)-nd+len(b.recs.Assessments)-na,
		deadV+deadE+deadD+deadA)
}

// keepValid compacts recs[from:] to its valid records (checked without the
// clock: ingest checked that) and dead-letters the others one by one,
// encoded alone; it returns the records kept and how many were not.
func keepValid[T any](c *Consumer, m *kafka.Message, b *pending, recs []T, from int,
	validate func(*T, time.Time) error, encode func([]byte, []T) []byte) ([]T, int) {
	kept := from
	for i := from; i < len(recs); i++ {
		if err := validate(&recs[i], time.Time{}); err != nil {
			reason := string(event.ReasonOf(err))
			b.dead = append(b.dead, c.deadLetter(m, encode(nil, recs[i:i+1]), reason, err))
			b.reasons[reason]++
			continue
		}
		if kept != i {
			recs[kept] = recs[i]
		}
		kept++
	}
	return recs[:kept], len(recs) - kept
}

func (c *Consumer) count(b *pending, topic string, stored, dead int) {
	x := b.perTopic[topic]
	x[0] += stored
	x[1] += dead
	b.perTopic[topic] = x
}

func (c *Consumer) deadLetter(m *kafka.Message, value []byte, reason string, err error) kafka.Message {
	detail := err.Error()
	if len(detail) > 512 {
		detail = detail[:512]
	}
	dl := kafka.Message{Key: m.Key, Value: value, Headers: []kafka.Header{
		{Key: HeaderReason, Value: []byte(reason)},
		{Key: HeaderError, Value: []byte(detail)},
		{Key: HeaderTopic, Value: []byte(m.Topic)},
		{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
		{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	}}
	if len(value) > c.cfg.DeadLetterMaxBytes {
		c.truncate(&dl, c.cfg.DeadLetterMaxBytes)
	}
	return dl
}

// truncate cuts a dead letter's payload to n bytes and says so in a header.
func (c *Consumer) truncate(dl *kafka.Message, n int) {
	if len(dl.Value) <= n {
		return
	}
	for _, h := range dl.Headers {
		if h.Key == HeaderTruncated {
			dl.Value = dl.Value[:n]
			return
		}
	}
	dl.Headers = append(dl.Headers, kafka.Header{Key: HeaderTruncated, Value: []byte(strconv.Itoa(len(dl.Value)))})
	dl.Value = dl.Value[:n]
	c.m.truncated.Inc()
}

// writeDead writes the batch's dead letters. Should the broker still find
// them too large (its message.max.bytes below DeadLetterMaxBytes), they go
// again with no payload at all: the headers name the source offset.
func (c *Consumer) writeDead(ctx context.Context, b *pending) error {
	err := c.dlq.WriteMessages(ctx, b.dead...)
	if err == nil || !tooLarge(err) {
		return err
	}
	c.log.Warn("dead letters too large for the broker; sending them without payload", "messages", len(b.dead), "err", err)
	for i := range b.dead {
		c.truncate(&b.dead[i], 0)
	}
	return c.dlq.WriteMessages(ctx, b.dead...)
}

// tooLarge tells whether a write failed because a message is over a size
// limit, the writer's or the broker's.
func tooLarge(err error) bool {
	if errors.Is(err, kafka.MessageSizeTooLarge) || errors.As(err, new(kafka.MessageTooLargeError)) {
		return true
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && tooLarge(e) {
				return true
			}
		}
	}
	return false
}

// flush writes the batch and its dead letters, retrying until they are
// durable or ctx ends, then commits the offsets.
func (c *Consumer) flush(ctx context.Context, b *pending) error {
	start := time.Now()
	if b.recs.Len() > 0 {
		if !c.retry(ctx, b, "store", func() error { return c.proc.Process(ctx, &b.recs) }) {
			return ctx.Err()
		}
	}
	if len(b.dead) > 0 {
		if !c.retry(ctx, b, "deadletter", func() error { return c.writeDead(ctx, b) }) {
			return ctx.Err()
		}
	}
	c.unstick()
	c.m.flush.Observe(time.Since(start).Seconds())
	for reason, n := range b.reasons {
		c.m.deadLettered.WithLabelValues(reason).Add(float64(n))
	}
	for topic, x := range b.perTopic {
		c.m.records.WithLabelValues(c.topicLabel(topic), "stored").Add(float64(x[0]))
		c.m.records.WithLabelValues(c.topicLabel(topic), "deadlettered").Add(float64(x[1]))
		c.stored.Add(int64(x[0]))
		c.dead.Add(int64(x[1]))
	}
	start = time.Now()
	if err := c.r.CommitMessages(ctx, b.msgs...); err != nil {
		// The data is stored; a later owner of these partitions replays
		// the batch, which changes nothing.
		c.m.commitErrors.Inc()
		c.log.Warn("commit failed; the batch will be replayed", "messages", len(b.msgs), "err", err)
		return nil
	}
	c.m.commit.Observe(time.Since(start).Seconds())
	return nil
}

// retry runs f until it succeeds or ctx ends, backing off up to 10 s. Once
// it has failed for StuckAfter, the batch's partitions are reported stuck.
func (c *Consumer) retry(ctx context.Context, b *pending, stage string, f func() error) bool {
	wait := 100 * time.Millisecond
	first := time.Now()
	for {
		err := f()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if time.Since(first) >= c.cfg.StuckAfter {
			c.markStuck(b, stage, first, err)
		}
		c.m.retries.WithLabelValues(stage).Inc()
		c.log.Warn("write failed; retrying", "stage", stage, "backoff", wait.String(), "err", err)
		if !sleep(ctx, wait) {
			return false
		}
		wait = min(2*wait, 10*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// topicLabel maps a topic to its bounded metric label.
func (c *Consumer) topicLabel(topic string) string {
	switch topic {
	case c.topics.Checkins:
		return "checkins"
	case c.topics.Proximity:
		return "proximity"
	case c.topics.Declarations:
		return "declarations"
	case c.topics.Assessments:
		return "assessments"
	default:
		return "other"
	}
}

// markStuck reports the partitions of b stuck since first.
func (c *Consumer) markStuck(b *pending, stage string, first time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stuck) > 0 {
		return
	}
	c.stuckTime = first
	for i := range b.msgs {
		tp := TopicPartition{b.msgs[i].Topic, b.msgs[i].Partition}
		if _, ok := c.stuck[tp]; !ok {
			c.stuck[tp] = first
			c.m.stuck.WithLabelValues(c.topicLabel(tp.Topic), strconv.Itoa(tp.Partition)).Set(1)
		}
	}
	c.log.Error("partitions stuck: a batch keeps failing to write", "stage", stage, "since", first, "partitions", len(c.stuck), "err", err)
}

// unstick clears the stuck report once a batch went through.
func (c *Consumer) unstick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stuck) == 0 {
		return
	}
	for tp := range c.stuck {
		c.m.stuck.DeleteLabelValues(c.topicLabel(tp.Topic), strconv.Itoa(tp.Partition))
	}
	c.log.Info("stuck partitions moving again", "partitions", len(c.stuck), "stuck_for", time.Since(c.stuckTime).String())
	clear(c.stuck)
}

// ErrNotReady is wrapped by Ready's errors.
var ErrNotReady = errors.New("processor not ready")

// Ready tells whether this replica is doing its job: Kafka answered the last
// lag measurement and no partition is stuck. The error names what is wrong.
func (c *Consumer) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stuck) > 0 {
		names := make([]string, 0, len(c.stuck))
		for tp := range c.stuck {
			names = append(names, tp.Topic+"/"+strconv.Itoa(tp.Partition))
		}
		slices.Sort(names)
		return fmt.Errorf("%w: partitions stuck for %s: %s", ErrNotReady, time.Since(c.stuckTime).Round(time.Second), strings.Join(names, ", "))
	}
	if c.lagErr != nil {
		return fmt.Errorf("%w: kafka unreachable", ErrNotReady)
	}
	return nil
}

// Stuck returns the partitions reported stuck, sorted.
func (c *Consumer) Stuck() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TopicPartition, 0, len(c.stuck))
	for tp := range c.stuck {
		out = append(out, tp)
	}
	slices.SortFunc(out, func(a, b TopicPartition) int {
		if a.Topic != b.Topic {
			return strings.Compare(a.Topic, b.Topic)
		}
		return a.Partition - b.Partition
	})
	return out
}
