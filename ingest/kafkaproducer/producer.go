// Package kafkaproducer is the ingest.Producer of the distributed mode: it
// writes validated records to Kafka in the wire format of schemas/event, and
// returns only once every in-sync replica has them.
//
// Records are grouped by virtual shard (event.VisitShard, event.EncounterShard)
// into one message per shard and kind, keyed by the shard; ShardBalancer sends
// a shard always to the same partition, so one processor owns a venue's
// check-ins and both phones' reports of a meeting.
//
// Metrics (see NewMetrics):
//
//	truyvet_ingest_kafka_records_total{topic,result}        records produced (result ok|error)
//	truyvet_ingest_kafka_messages_total{topic,result}       Kafka messages produced
//	truyvet_ingest_kafka_bytes_total{topic}                 message value bytes acknowledged
//	truyvet_ingest_kafka_write_duration_seconds             time from Produce to acknowledgement
package kafkaproducer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/schemas/event"
)

// Config says where and how to produce.
type Config struct {
	Brokers      []string
	TopicPrefix  string
	Partitions   int           // partitions of topics this process creates
	Replication  int           // replication factor of topics this process creates
	BatchTimeout time.Duration // linger before a partial batch is sent
	WriteTimeout time.Duration // longest a write to a broker may take
	MaxPerMsg    int           // most records in one Kafka message
	Compression  string        // none, lz4, snappy, gzip or zstd
}

// DefaultConfig returns safe producer settings for brokers.
func DefaultConfig() Config {
	return Config{
		TopicPrefix:  "truyvet.",
		Partitions:   16,
		Replication:  1,
		BatchTimeout: 10 * time.Millisecond, // at the peak: half the broker's requests of 2 ms, freshness p99 1.4 against 2.5 s (bench/README.md)
		WriteTimeout: 10 * time.Second,
		MaxPerMsg:    2000,
		Compression:  "lz4",
	}
}

// Configuration errors.
var (
	ErrNoBrokers = errors.New("--kafka-brokers is required")
	ErrBadConfig = errors.New("kafka settings must be positive")
)

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return ErrNoBrokers
	}
	if c.Partitions < 1 || c.Partitions > event.Shards || c.Replication < 1 || c.BatchTimeout <= 0 ||
		c.WriteTimeout <= 0 || c.MaxPerMsg < 1 {
		return fmt.Errorf("%w (partitions 1..%d)", ErrBadConfig, event.Shards)
	}
	if _, err := codec(c.Compression); err != nil {
		return err
	}
	_, err := event.TopicsFor(c.TopicPrefix)
	return err
}

// ErrBadCompression is returned for an unknown compression name.
var ErrBadCompression = errors.New("kafka compression must be none, lz4, snappy, gzip or zstd")

func codec(name string) (compress.Compression, error) {
	switch name {
	case "none", "":
		return 0, nil
	case "lz4":
		return compress.Lz4, nil
	case "snappy":
		return compress.Snappy, nil
	case "gzip":
		return compress.Gzip, nil
	case "zstd":
		return compress.Zstd, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadCompression, name)
}

// SplitBrokers parses a comma-separated broker list.
func SplitBrokers(s string) []string {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Producer writes batches to Kafka.
type Producer struct {
	cfg    Config
	topics event.Topics
	w      *kafka.Writer
	// tr holds the connections of w and of LearnPartitions; Close closes
	// them (kafka-go's shared DefaultTransport keeps its pools forever).
	tr *kafka.Transport
	m  *Metrics
	// Partition counts of the check-in, proximity and declaration topics,
	// once learned (LearnPartitions); 0 until then.
	checkinParts, proximityParts, declarationParts atomic.Int32
}

var _ ingest.Producer = (*Producer)(nil)

// New returns a producer. It does not contact Kafka; see EnsureTopics.
func New(cfg Config, m *Metrics, log *slog.Logger) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	topics, _ := event.TopicsFor(cfg.TopicPrefix)
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	comp, _ := codec(cfg.Compression)
	tr := newTransport()
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Transport:    tr,
		Balancer:     ShardBalancer{},
		RequiredAcks: kafka.RequireAll, // acknowledged by every in-sync replica
		BatchTimeout: cfg.BatchTimeout, // kafka-go's default linger is 1 s
		BatchSize:    1000,
		BatchBytes:   1 << 20, // the broker's default message.max.bytes
		Compression:  comp,
		WriteTimeout: cfg.WriteTimeout,
		ReadTimeout:  cfg.WriteTimeout,
		MaxAttempts:  5,
		ErrorLogger:  kafka.LoggerFunc(func(msg string, args ...any) { log.Debug(fmt.Sprintf(msg, args...), "component", "kafka-writer") }),
	}
	return &Producer{cfg: cfg, topics: topics, w: w, tr: tr, m: m}, nil
}

// Topics returns the topics written to.
func (p *Producer) Topics() event.Topics { return p.topics }

// Produce writes b and returns nil once Kafka acknowledged every record.
func (p *Producer) Produce(ctx context.Context, b *event.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	start := time.Now()
	msgs := p.messages(b)
	err := p.w.WriteMessages(ctx, msgs...)
	p.m.write.Observe(time.Since(start).Seconds())
	result := "ok"
	if err != nil {
		result = "error"
	}
	var nmsg, nbytes [4]int
	for i := range msgs {
		t := 1
		switch msgs[i].Topic {
		case p.topics.Checkins:
			t = 0
		case p.topics.Declarations:
			t = 2
		case p.topics.Assessments:
			t = 3
		}
		nmsg[t]++
		nbytes[t] += len(msgs[i].Value)
	}
	for t, n := range [4]int{len(b.Visits), len(b.Encounters), len(b.Declarations), len(b.Assessments)} {
		if n == 0 && nmsg[t] == 0 && t >= 2 {
			continue // keep the declarations and assessments series away until there are some
		}
		p.m.records.WithLabelValues(topicLabels[t], result).Add(float64(n))
		p.m.messages.WithLabelValues(topicLabels[t], result).Add(float64(nmsg[t]))
		if err == nil {
			p.m.bytes.WithLabelValues(topicLabels[t]).Add(float64(nbytes[t]))
		}
	}
	if err != nil {
		return fmt.Errorf("produce %d records to kafka: %w", b.Len(), err)
	}
	return nil
}

// messages encodes b as one or more messages per (kind, group of shards).
// Shards whose records land on the same partition (shard mod partitions,
// ShardBalancer's rule) share messages, keyed by the group: the partition
// is the one each record's own shard would choose, and a 5 000-record
// request becomes a message per partition instead of one per shard, which
// the broker and the consumers handle at a fraction of the cost. Until the
// partition counts are known every shard is its own group.
func (p *Producer) messages(b *event.Batch) []kafka.Message {
	msgs := grouped(nil, p.topics.Checkins, b.Visits, p.checkinParts.Load(), p.cfg.MaxPerMsg, event.VisitShard, event.AppendVisitsWire)
	msgs = grouped(msgs, p.topics.Proximity, b.Encounters, p.proximityParts.Load(), p.cfg.MaxPerMsg, event.EncounterShard, event.AppendEncountersWire)
	msgs = grouped(msgs, p.topics.Declarations, b.Declarations, p.declarationParts.Load(), p.cfg.MaxPerMsg, event.DeclarationShard, event.AppendDeclarationsWire)
	// Assessments are few (one a venue a day): a message per shard.
	return grouped(msgs, p.topics.Assessments, b.Assessments, 0, p.cfg.MaxPerMsg, event.AssessmentShard, event.AppendAssessmentsWire)
}

// topicLabels are the metric labels of the checkins, proximity,
// declarations and assessments topics.
var topicLabels = [4]string{"checkins", "proximity", "declarations", "assessments"}

// grouped appends to msgs the records of one kind for topic, grouped by
// shard mod parts (every shard on its own while parts is unknown), at most
// maxPerMsg in a message.
func grouped[T any](msgs []kafka.Message, topic string, recs []T, parts int32, maxPerMsg int,
	shard func(*T) uint16, encode func([]byte, []T) []byte) []kafka.Message {
	n := event.Shards
	if parts > 0 && parts <= event.Shards {
		n = int(parts)
	}
	groups := make([][]T, n)
	for i := range recs {
		g := int(shard(&recs[i])) % n
		groups[g] = append(groups[g], recs[i])
	}
	if len(recs) == 0 {
		return msgs
	}
	for g := range groups {
		for chunk := range chunks(groups[g], maxPerMsg) {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: event.ShardKey(uint16(g)), Value: encode(nil, chunk)})
		}
	}
	return msgs
}

// LearnPartitions reads the partition counts of the producer's topics, so
// that records bound for one partition travel in shared messages. Records
// still reach the partition of their own shard either way; a producer that
// never learns the counts sends one message per shard. After partitions are
// added to a topic, a producer keeps its old grouping until it learns again:
// its records then stay on the old partitions, which costs bitmap locality,
// not correctness (any processor may write any bitmap).
func (p *Producer) LearnPartitions(ctx context.Context) error {
	c := &kafka.Client{Addr: kafka.TCP(p.cfg.Brokers...), Timeout: p.cfg.WriteTimeout, Transport: p.tr}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.topics.Checkins, p.topics.Proximity, p.topics.Declarations}})
	if err != nil {
		return fmt.Errorf("read partitions of %s, %s and %s: %w", p.topics.Checkins, p.topics.Proximity, p.topics.Declarations, err)
	}
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("read partitions of %s: %w", t.Name, t.Error)
		}
		switch t.Name {
		case p.topics.Checkins:
			p.checkinParts.Store(int32(len(t.Partitions)))
		case p.topics.Proximity:
			p.proximityParts.Store(int32(len(t.Partitions)))
		case p.topics.Declarations:
			p.declarationParts.Store(int32(len(t.Partitions)))
		}
	}
	return nil
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// Close flushes and closes the writer and its connections.
func (p *Producer) Close() error {
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	return err
}

// newTransport returns a transport of the producer's own, with
// kafka-go's default dial timeout.
func newTransport() *kafka.Transport { return &kafka.Transport{DialTimeout: 3 * time.Second} }

// ShardBalancer sends a message keyed by a shard (event.ShardKey) to
// partition shard mod n, so shards spread evenly and stay put; other keys go
// by hash.
type ShardBalancer struct{}

// Balance implements kafka.Balancer.
func (ShardBalancer) Balance(msg kafka.Message, partitions ...int) int {
	if len(msg.Key) == 2 {
		shard := int(msg.Key[0])<<8 | int(msg.Key[1])
		return partitions[shard%len(partitions)]
	}
	return (&kafka.Hash{}).Balance(msg, partitions...)
}

// Metrics of the producer.
type Metrics struct {
	records, messages *prometheus.CounterVec
	bytes             *prometheus.CounterVec
	write             prometheus.Histogram
}

// NewMetrics registers the producer's metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_ingest_kafka_records_total",
			Help: "Records produced to Kafka, by topic and result (ok|error)."}, []string{"topic", "result"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_ingest_kafka_messages_total",
			Help: "Kafka messages produced, by topic and result (ok|error)."}, []string{"topic", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truyvet_ingest_kafka_bytes_total",
			Help: "Message value bytes acknowledged by Kafka, by topic."}, []string{"topic"}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truyvet_ingest_kafka_write_duration_seconds",
			Help:    "Time from handing a batch to Kafka to its acknowledgement by all in-sync replicas.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.messages, m.bytes, m.write)
	}
	return m
}
