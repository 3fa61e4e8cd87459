package kafkaconsumer_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/kafkaconsumer"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/store/storetest"
)

func TestPipelineFake(t *testing.T) { testPipeline(t, kafkatest.Fake(t)) }

func TestPipelineReal(t *testing.T) { testPipeline(t, kafkatest.Real(t)) }

// testPipeline produces a random world through the producer, with a poison
// message and an invalid record among the good ones, consumes it into an
// embedded store, and checks every record is stored or dead-lettered, the
// dead letters carry their reasons, and the answers match the reference.
func testPipeline(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// The consumer's dead-letter writer and lag client (consumer.go,
	// lag.go) use kafka-go's DefaultTransport, whose connection pools
	// outlive Consumer.Run; close them so goleak sees only real leaks.
	t.Cleanup(kafka.DefaultTransport.(*kafka.Transport).CloseIdleConnections)
	// The test's own writer and client get a transport they close.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	pcfg := kafkatest.Config(t, brokers)
	topics, err := kafkaproducer.EnsureTopics(ctx, pcfg)
	require.NoError(t, err)
	prod, err := kafkaproducer.New(pcfg, kafkaproducer.NewMetrics(prometheus.NewRegistry()), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, prod.Close()) }()

	base := time.Now().Add(-30 * time.Hour).Unix()
	recs := storetest.RandomRecords(rand.New(rand.NewPCG(5, 6)), 50, 5, 250, base)
	half := func(s int) (event.Batch, event.Batch) {
		return event.Batch{Visits: recs.Visits[:len(recs.Visits)/s], Encounters: recs.Encounters[:len(recs.Encounters)/s]},
			event.Batch{Visits: recs.Visits[len(recs.Visits)/s:], Encounters: recs.Encounters[len(recs.Encounters)/s:]}
	}
	first, rest := half(2)
	require.NoError(t, prod.Produce(ctx, &first))

	// A poison message and a wire message holding one invalid record, in the
	// middle of the stream.
	raw := &kafka.Writer{Addr: kafka.TCP(brokers...), Transport: tr, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	require.NoError(t, raw.WriteMessages(ctx,
		kafka.Message{Topic: topics.Checkins, Key: event.ShardKey(3), Value: []byte("this is not a wire message")},
		kafka.Message{Topic: topics.Proximity, Key: event.ShardKey(4), Value: event.AppendEncountersWire(nil,
			[]event.Encounter{{EncounterID: "self", UserID: 7, PeerID: 7, Start: base, DurationS: 60}})},
	))
	require.NoError(t, raw.Close())
	require.NoError(t, prod.Produce(ctx, &rest))

	store, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	proc, err := processor.New(store.Layout(), store, nil)
	require.NoError(t, err)
	ccfg := kafkaconsumer.DefaultConfig()
	ccfg.Brokers, ccfg.TopicPrefix, ccfg.Group = brokers, pcfg.TopicPrefix, pcfg.TopicPrefix+"group"
	ccfg.FlushInterval, ccfg.MaxRecords, ccfg.LagInterval = 200*time.Millisecond, 300, 200*time.Millisecond
	reg := prometheus.NewRegistry()
	cons, err := kafkaconsumer.New(ccfg, proc, kafkaconsumer.NewMetrics(reg), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx) }()

	require.Eventually(t, func() bool {
		stored, dead := cons.Counts()
		return stored == int64(recs.Len()) && dead == 2
	}, time.Minute, 50*time.Millisecond, "every record stored or dead-lettered")
	// Offsets are committed: the group's lag drains to zero.
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	require.Eventually(t, func() bool {
		lag, err := kafkaconsumer.Lag(ctx, client, ccfg.Group, []string{topics.Checkins, topics.Proximity})
		if err != nil {
			return false
		}
		var n int64
		for _, l := range lag {
			n += l
		}
		return n == 0
	}, 30*time.Second, 100*time.Millisecond)
	stop()
	require.NoError(t, <-done)

	// The dead letters, with their reasons.
	reasons := map[string]int{}
	dl := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topics.DeadLetter, GroupID: ccfg.Group + "-dl", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer func() { _ = dl.Close() }()
	for range 2 {
		m, err := dl.FetchMessage(ctx)
		require.NoError(t, err)
		for _, h := range m.Headers {
			if h.Key == kafkaconsumer.HeaderReason {
				reasons[string(h.Value)]++
			}
		}
	}
	require.Equal(t, map[string]int{"undecodable": 1, "self_encounter": 1}, reasons)

	storetest.RequireAgrees(t, store, recs, 50, base, 9, 20)
}
