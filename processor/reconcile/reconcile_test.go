package reconcile_test

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
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/kafkaconsumer"
	"github.com/truyvet/truyvet/processor/reconcile"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/storetest"
)

// kafka-go's shared transport (used by EnsureTopics and the producer) keeps
// its connections for the process's life.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*conn).run"))
}

var _ reconcile.Store = (*chstore.Store)(nil)

// Records produced twice (a replay), with an invalid one among them, are
// consumed into ClickHouse: the reconciliation finds every accepted id stored
// or dead-lettered. Records produced while no processor runs are reported
// missing, by id.
func TestReconcile(t *testing.T) {
	brokers := kafkatest.Real(t)
	addr := chtest.Addr(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pcfg := kafkatest.Config(t, brokers)
	topics, err := kafkaproducer.EnsureTopics(ctx, pcfg)
	require.NoError(t, err)
	prod, err := kafkaproducer.New(pcfg, kafkaproducer.NewMetrics(prometheus.NewRegistry()), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, prod.Close()) }()
	base := time.Now().Add(-30 * time.Hour).Unix()
	recs := storetest.RandomRecords(rand.New(rand.NewPCG(7, 8)), 40, 5, 200, base)
	require.NoError(t, prod.Produce(ctx, &recs))
	require.NoError(t, prod.Produce(ctx, &recs)) // replayed
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	raw := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: tr}
	require.NoError(t, raw.WriteMessages(ctx, kafka.Message{Topic: topics.Proximity, Key: event.ShardKey(4), Value: event.AppendEncountersWire(nil,
		[]event.Encounter{{EncounterID: "self", UserID: 7, PeerID: 7, Start: base, DurationS: 60}})}))
	require.NoError(t, raw.Close())

	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database = addr, chtest.Database(t, addr)
	store, err := chstore.Open(ctx, opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	proc, err := processor.New(bucket.DefaultLayout(), store, nil)
	require.NoError(t, err)
	ccfg := kafkaconsumer.DefaultConfig()
	ccfg.Brokers, ccfg.TopicPrefix, ccfg.Group = brokers, pcfg.TopicPrefix, pcfg.TopicPrefix+"group"
	ccfg.FlushInterval = 100 * time.Millisecond
	cons, err := kafkaconsumer.New(ccfg, proc, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx) }()
	require.Eventually(t, func() bool {
		stored, dead := cons.Counts()
		return stored == 2*int64(recs.Len()) && dead == 1
	}, time.Minute, 50*time.Millisecond)
	stop()
	require.NoError(t, <-done)

	cfg := reconcile.Config{Brokers: brokers, Topics: topics}
	rep, err := reconcile.Run(ctx, cfg, store)
	require.NoError(t, err)
	distinct := map[string]bool{}
	for _, v := range recs.Visits {
		distinct["v"+v.VisitID] = true
	}
	for _, e := range recs.Encounters {
		distinct["e"+e.EncounterID] = true
	}
	require.True(t, rep.OK, "%+v", rep)
	require.Equal(t, len(distinct)+1, rep.Accepted)
	require.Equal(t, len(distinct), rep.Stored)
	require.Equal(t, 1, rep.DeadLettered)
	require.Zero(t, rep.Missing)

	// Acknowledged by Kafka, never processed.
	late := event.Batch{Visits: []event.Visit{{VisitID: "never-stored", UserID: 3, VenueID: 4, Enter: base + 600, Source: "test"}}}
	require.NoError(t, prod.Produce(ctx, &late))
	rep, err = reconcile.Run(ctx, cfg, store)
	require.NoError(t, err)
	require.False(t, rep.OK)
	require.Equal(t, 1, rep.Missing)
	var missing []string
	for _, d := range rep.Days {
		missing = append(missing, d.MissingIDs...)
	}
	require.Equal(t, []string{"never-stored"}, missing)
}
