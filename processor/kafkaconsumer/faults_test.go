package kafkaconsumer_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/kafkaconsumer"
	"github.com/truyvet/truyvet/schemas/event"
)

// running is a consumer under test with its own registry.
type running struct {
	cons *kafkaconsumer.Consumer
	reg  *prometheus.Registry
	stop func()
	done chan error
}

func startConsumer(ctx context.Context, t *testing.T, ccfg kafkaconsumer.Config, sink processor.Sink) *running {
	t.Helper()
	proc, err := processor.New(bucket.DefaultLayout(), sink, nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	cons, err := kafkaconsumer.New(ccfg, proc, kafkaconsumer.NewMetrics(reg), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	r := &running{cons: cons, reg: reg, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- cons.Run(runCtx) }()
	t.Cleanup(func() { r.stop(); require.NoError(t, <-r.done) })
	return r
}

// series returns the label sets of a metric family, as "topic/partition"
// (none when gathering fails). It runs inside require.Eventually conditions,
// off the test goroutine, so it asserts nothing itself.
func (r *running) series(name string) []string {
	mfs, err := r.reg.Gather()
	if err != nil {
		return []string{"gather: " + err.Error()}
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out = append(out, labels(m))
		}
	}
	sort.Strings(out)
	return out
}

func labels(m *dto.Metric) string {
	var topic, part string
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "topic":
			topic = l.GetValue()
		case "partition":
			part = l.GetValue()
		}
	}
	return topic + "/" + part
}

// countSink counts what it is given and fails while failing is set.
type countSink struct {
	visits  atomic.Int64
	failing atomic.Bool
}

var errSinkDown = errors.New("store down")

func (s *countSink) Write(_ context.Context, b *processor.Batch) error {
	if s.failing.Load() {
		return errSinkDown
	}
	s.visits.Add(int64(len(b.Records.Visits)))
	return nil
}

func consumerConfig(brokers []string, prefix string) kafkaconsumer.Config {
	ccfg := kafkaconsumer.DefaultConfig()
	ccfg.Brokers, ccfg.TopicPrefix, ccfg.Group = brokers, prefix, prefix+"group"
	ccfg.FlushInterval, ccfg.MaxRecords, ccfg.LagInterval = 100*time.Millisecond, 300, 100*time.Millisecond
	return ccfg
}

func visits(n int, base int64, tag string) event.Batch {
	var b event.Batch
	for i := range n {
		b.Visits = append(b.Visits, event.Visit{VisitID: tag + strconv.Itoa(i), UserID: uint32(i%50 + 1), VenueID: uint32(i%7 + 1), Enter: base + int64(i)*60, Source: "test"})
	}
	return b
}

// A message of about 1 MB, which the broker takes, is dead-lettered with its
// payload cut to fit, and the records after it are stored: the partition
// keeps moving. (It used to make a dead letter too large for the broker,
// retried forever, and the replica fetched nothing more.)
func TestOversizedMessageDeadLettered(t *testing.T) {
	brokers := kafkatest.Real(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pcfg := kafkatest.Config(t, brokers)
	pcfg.Partitions = 1
	topics, err := kafkaproducer.EnsureTopics(ctx, pcfg)
	require.NoError(t, err)
	// Just under the broker's default message.max.bytes (1 048 588), and
	// incompressible, so the dead letter's headers push it over.
	big := make([]byte, 1_048_400)
	_, _ = rand.Read(big)
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	raw := &kafka.Writer{Addr: kafka.TCP(brokers...), Transport: tr, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 2 << 20}
	require.NoError(t, raw.WriteMessages(ctx, kafka.Message{Topic: topics.Checkins, Key: event.ShardKey(1), Value: big}))
	require.NoError(t, raw.Close())
	prod, err := kafkaproducer.New(pcfg, kafkaproducer.NewMetrics(prometheus.NewRegistry()), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, prod.Close()) }()
	after := visits(100, time.Now().Add(-2*time.Hour).Unix(), "after-")
	require.NoError(t, prod.Produce(ctx, &after))

	sink := &countSink{}
	r := startConsumer(ctx, t, consumerConfig(brokers, pcfg.TopicPrefix), sink)
	require.Eventually(t, func() bool {
		stored, dead := r.cons.Counts()
		return stored == 100 && dead == 1
	}, time.Minute, 50*time.Millisecond, "the records after the oversized message are stored")
	require.NoError(t, r.cons.Ready())

	dl := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topics.DeadLetter, GroupID: pcfg.TopicPrefix + "dl", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer func() { _ = dl.Close() }()
	m, err := dl.FetchMessage(ctx)
	require.NoError(t, err)
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	require.Equal(t, kafkaconsumer.ReasonUndecodable, h[kafkaconsumer.HeaderReason])
	require.Equal(t, strconv.Itoa(len(big)), h[kafkaconsumer.HeaderTruncated])
	require.Equal(t, "0", h[kafkaconsumer.HeaderOffset])
	require.Len(t, m.Value, kafkaconsumer.DefaultConfig().DeadLetterMaxBytes)
}

// A batch that keeps failing to write marks its partition stuck, in Ready
// and in truyvet_processor_partition_stuck, until it goes through; nothing
// is skipped.
func TestStuckPartitionVisible(t *testing.T) {
	brokers := kafkatest.Fake(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pcfg := kafkatest.Config(t, brokers)
	pcfg.Partitions = 1
	_, err := kafkaproducer.EnsureTopics(ctx, pcfg)
	require.NoError(t, err)
	prod, err := kafkaproducer.New(pcfg, kafkaproducer.NewMetrics(prometheus.NewRegistry()), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, prod.Close()) }()
	b := visits(20, time.Now().Add(-2*time.Hour).Unix(), "v-")
	require.NoError(t, prod.Produce(ctx, &b))

	sink := &countSink{}
	sink.failing.Store(true)
	ccfg := consumerConfig(brokers, pcfg.TopicPrefix)
	ccfg.StuckAfter = 300 * time.Millisecond
	r := startConsumer(ctx, t, ccfg, sink)
	require.Eventually(t, func() bool { return r.cons.Ready() != nil }, 30*time.Second, 20*time.Millisecond)
	require.ErrorIs(t, r.cons.Ready(), kafkaconsumer.ErrNotReady)
	require.ErrorContains(t, r.cons.Ready(), pcfg.TopicPrefix+"checkins/0")
	require.Equal(t, []string{"checkins/0"}, r.series("truyvet_processor_partition_stuck"))
	require.Zero(t, sink.visits.Load())

	sink.failing.Store(false)
	require.Eventually(t, func() bool { return sink.visits.Load() == 20 && r.cons.Ready() == nil }, 30*time.Second, 20*time.Millisecond)
	require.Empty(t, r.series("truyvet_processor_partition_stuck"))
}

// Each replica exports lag only for the partitions it owns, so the sum over
// replicas counts each partition once, and a partition's series goes when
// the partition moves to another replica.
func TestLagOnlyOwnedPartitions(t *testing.T) {
	brokers := kafkatest.Real(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pcfg := kafkatest.Config(t, brokers)
	_, err := kafkaproducer.EnsureTopics(ctx, pcfg)
	require.NoError(t, err)
	ccfg := consumerConfig(brokers, pcfg.TopicPrefix)
	all := []string{}
	for _, topic := range []string{"checkins", "proximity", "declarations", "assessments"} {
		for p := range pcfg.Partitions {
			all = append(all, topic+"/"+strconv.Itoa(p))
		}
	}
	sort.Strings(all)
	a := startConsumer(ctx, t, ccfg, &countSink{})
	b := startConsumer(ctx, t, ccfg, &countSink{})
	require.Eventually(t, func() bool {
		sa, sb := a.series("truyvet_processor_kafka_lag_records"), b.series("truyvet_processor_kafka_lag_records")
		union := append(append([]string{}, sa...), sb...)
		sort.Strings(union)
		return len(sa) > 0 && len(sb) > 0 && equal(union, all)
	}, time.Minute, 100*time.Millisecond, "the two replicas split the partitions' lag series")
	b.stop()
	require.NoError(t, <-b.done)
	b.done <- nil // for the cleanup
	require.Eventually(t, func() bool {
		return equal(a.series("truyvet_processor_kafka_lag_records"), all)
	}, time.Minute, 100*time.Millisecond, "the remaining replica owns every partition")
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
