package kafkaconsumer_test

import (
	"context"
	"fmt"
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
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
)

// Assessments travel on their own topic, are checked against the
// checklists (an unknown version is dead-lettered with its reason) and
// land in the store; producing them all again changes nothing.
func TestAssessmentsThroughKafka(t *testing.T) {
	brokers := kafkatest.Fake(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	t.Cleanup(kafka.DefaultTransport.(*kafka.Transport).CloseIdleConnections)
	pcfg := kafkatest.Config(t, brokers)
	topics, err := kafkaproducer.EnsureTopics(ctx, pcfg)
	require.NoError(t, err)
	require.Equal(t, pcfg.TopicPrefix+"assessments", topics.Assessments)
	prod, err := kafkaproducer.New(pcfg, kafkaproducer.NewMetrics(prometheus.NewRegistry()), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, prod.Close()) }()

	cat, err := checklist.Shipped()
	require.NoError(t, err)
	day := bucket.DayOf(time.Now().Unix())
	var as []event.Assessment
	for v := uint32(1); v <= 20; v++ {
		as = append(as, safetytest.Assessment(t, cat, v, venue.KindFactory, day, day.Start()+int64(v), fmt.Sprint("a", v), func(i int) bool { return i%3 != int(v)%3 }))
	}
	bad := as[0]
	bad.AssessmentID, bad.Version = "bad", 7
	batch := event.Batch{Assessments: append(as, bad)}
	require.NoError(t, prod.Produce(ctx, &batch))

	store, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	proc, err := processor.New(store.Layout(), store, nil)
	require.NoError(t, err)
	ccfg := kafkaconsumer.DefaultConfig()
	ccfg.Brokers, ccfg.TopicPrefix, ccfg.Group = brokers, pcfg.TopicPrefix, pcfg.TopicPrefix+"group"
	ccfg.FlushInterval, ccfg.LagInterval = 100*time.Millisecond, 200*time.Millisecond
	cons, err := kafkaconsumer.New(ccfg, proc, kafkaconsumer.NewMetrics(prometheus.NewRegistry()), nil)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx) }()
	require.Eventually(t, func() bool {
		stored, dead := cons.Counts()
		return stored == int64(len(as)) && dead == 1
	}, 30*time.Second, 20*time.Millisecond)
	got, err := store.DayAssessments(ctx, day)
	require.NoError(t, err)
	require.Equal(t, as, got)

	// A replay of everything.
	batch = event.Batch{Assessments: as}
	require.NoError(t, prod.Produce(ctx, &batch))
	require.Eventually(t, func() bool {
		stored, _ := cons.Counts()
		return stored == int64(2*len(as))
	}, 30*time.Second, 20*time.Millisecond)
	got, err = store.DayAssessments(ctx, day)
	require.NoError(t, err)
	require.Equal(t, as, got)
	stop()
	require.NoError(t, <-done)
}
