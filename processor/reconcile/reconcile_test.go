package reconcile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
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
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/store/storetest"
	"github.com/truyvet/truyvet/venue"
)

// kafka-go's shared transport (used by EnsureTopics and the producer) keeps
// its connections for the process's life.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*conn).run"))
}

var (
	_ reconcile.Store = (*chstore.Store)(nil)
	_ reconcile.Store = (*pebblestore.Store)(nil)
)

// store is what the reconciliation runs against: a sink the processor
// writes to and that lists its record ids.
type store interface {
	processor.Sink
	reconcile.Store
}

func TestReconcileClickHouse(t *testing.T) {
	brokers := kafkatest.Real(t)
	addr := chtest.Addr(t)
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database = addr, chtest.Database(t, addr)
	st, err := chstore.Open(t.Context(), opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	testReconcile(t, brokers, st)
}

func TestReconcileEmbedded(t *testing.T) {
	brokers := kafkatest.Real(t)
	st, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	testReconcile(t, brokers, st)
}

// Records of every kind produced twice (a replay), with an invalid one
// among them, are consumed into the store: the reconciliation finds every
// accepted id stored or dead-lettered, accepted = stored + dead-lettered
// for each kind. Records produced while no processor runs are reported
// missing, by id, whatever their kind.
func testReconcile(t *testing.T, brokers []string, st store) {
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
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	for i := range 12 {
		at := base + int64(i)*3600
		recs.Declarations = append(recs.Declarations, storetest.Declaration(fmt.Sprintf("decl-%d", i), uint32(1+i), uint32(1+i),
			event.DeclVoluntary, at, "79", 0))
		recs.Assessments = append(recs.Assessments, safetytest.Assessment(t, cat, uint32(1+i%5), venue.KindMarket, bucket.DayOf(at), at,
			fmt.Sprintf("as-%d", i), func(int) bool { return i%2 == 0 }))
	}
	require.NoError(t, prod.Produce(ctx, &recs))
	require.NoError(t, prod.Produce(ctx, &recs)) // replayed
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	raw := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: tr}
	require.NoError(t, raw.WriteMessages(ctx, kafka.Message{Topic: topics.Proximity, Key: event.ShardKey(4), Value: event.AppendEncountersWire(nil,
		[]event.Encounter{{EncounterID: "self", UserID: 7, PeerID: 7, Start: base, DurationS: 60}})}))
	require.NoError(t, raw.Close())

	proc, err := processor.New(bucket.DefaultLayout(), st, nil)
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
	rep, err := reconcile.Run(ctx, cfg, st)
	require.NoError(t, err)
	distinct := map[string]bool{}
	for _, v := range recs.Visits {
		distinct["visit/"+v.VisitID] = true
	}
	for _, e := range recs.Encounters {
		distinct["encounter/"+e.EncounterID] = true
	}
	for _, d := range recs.Declarations {
		distinct["declaration/"+d.DeclarationID] = true
	}
	for _, a := range recs.Assessments {
		distinct["assessment/"+a.AssessmentID] = true
	}
	require.True(t, rep.OK, "%+v", rep)
	require.Equal(t, len(distinct)+1, rep.Accepted)
	require.Equal(t, len(distinct), rep.Stored)
	require.Equal(t, 1, rep.DeadLettered)
	require.Zero(t, rep.Missing)
	byKind := map[string][3]int{} // accepted, stored, dead-lettered
	for _, d := range rep.Days {
		k := byKind[d.Kind]
		byKind[d.Kind] = [3]int{k[0] + d.Accepted, k[1] + d.Stored, k[2] + d.DeadLettered}
		require.Equal(t, d.Accepted, d.Stored+d.DeadLettered, "%+v", d)
		require.Zero(t, d.StoredOnly, "%+v", d)
	}
	want := map[string][3]int{"encounter": {1, 0, 1}} // the self-encounter, dead-lettered
	for k := range distinct {
		kind, _, _ := strings.Cut(k, "/")
		w := want[kind]
		want[kind] = [3]int{w[0] + 1, w[1] + 1, w[2]}
	}
	require.Equal(t, want, byKind)
	require.Equal(t, [3]int{12, 12, 0}, byKind["declaration"])
	require.Equal(t, [3]int{12, 12, 0}, byKind["assessment"])

	// Acknowledged by Kafka, never processed.
	late := event.Batch{Visits: []event.Visit{{VisitID: "never-stored", UserID: 3, VenueID: 4, Enter: base + 600, Source: "test"}},
		Declarations: []event.Declaration{storetest.Declaration("decl-never", 3, 3, event.DeclVoluntary, base+600, "79", 0)},
		Assessments: []event.Assessment{safetytest.Assessment(t, cat, 9, venue.KindMarket, bucket.DayOf(base), base+600, "as-never",
			func(int) bool { return true })}}
	require.NoError(t, prod.Produce(ctx, &late))
	rep, err = reconcile.Run(ctx, cfg, st)
	require.NoError(t, err)
	require.False(t, rep.OK)
	require.Equal(t, 3, rep.Missing)
	var missing []string
	for _, d := range rep.Days {
		missing = append(missing, d.MissingIDs...)
	}
	slices.Sort(missing)
	require.Equal(t, []string{"as-never", "decl-never", "never-stored"}, missing)
}
