package kafkaproducer_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/internal/metricstest"
	"github.com/truyvet/truyvet/schemas/event"
)

func TestShardBalancer(t *testing.T) {
	parts := []int{0, 1, 2, 3, 4}
	for shard := range uint16(event.Shards) {
		p := kafkaproducer.ShardBalancer{}.Balance(kafka.Message{Key: event.ShardKey(shard)}, parts...)
		require.Equal(t, int(shard)%5, p)
	}
	// Other keys still land on a partition.
	p := kafkaproducer.ShardBalancer{}.Balance(kafka.Message{Key: []byte("other")}, parts...)
	require.Contains(t, parts, p)
}

func TestConfigValidate(t *testing.T) {
	cfg := kafkaproducer.DefaultConfig()
	require.ErrorIs(t, cfg.Validate(), kafkaproducer.ErrNoBrokers)
	cfg.Brokers = []string{"127.0.0.1:1"}
	require.NoError(t, cfg.Validate())
	cfg.Partitions = event.Shards + 1
	require.ErrorIs(t, cfg.Validate(), kafkaproducer.ErrBadConfig)
	cfg = kafkaproducer.DefaultConfig()
	cfg.Brokers, cfg.TopicPrefix = []string{"b"}, "bad prefix/"
	require.ErrorIs(t, cfg.Validate(), event.ErrBadTopicPrefix)
	cfg = kafkaproducer.DefaultConfig()
	cfg.Brokers = []string{"b"}
	for _, c := range []string{"none", "lz4", "snappy", "gzip", "zstd"} {
		cfg.Compression = c
		require.NoError(t, cfg.Validate(), c)
	}
	cfg.Compression = "brotli"
	require.ErrorIs(t, cfg.Validate(), kafkaproducer.ErrBadCompression)
	require.Equal(t, []string{"a:1", "b:2"}, kafkaproducer.SplitBrokers(" a:1, ,b:2,"))
}

// Every record produced comes back from its topic, on the partition of its
// own shard (shard mod partitions) — sent one message per shard before the
// producer knows the partition counts, and in shared messages per partition
// after — with the metrics counting them.
func TestProduceFake(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	brokers := kafkatest.Fake(t)
	cfg := kafkatest.Config(t, brokers)
	cfg.MaxPerMsg = 7
	topics, err := kafkaproducer.EnsureTopics(ctx, cfg)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	p, err := kafkaproducer.New(cfg, kafkaproducer.NewMetrics(reg), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	batch := func(base int) event.Batch {
		var b event.Batch
		for i := base; i < base+300; i++ {
			b.Visits = append(b.Visits, event.Visit{VisitID: "v", UserID: uint32(i + 1), VenueID: uint32(i%40 + 1), Enter: 1_790_000_000})
			b.Encounters = append(b.Encounters, event.Encounter{EncounterID: "e", UserID: uint32(i + 1), PeerID: uint32(i + 2), Start: 1_790_000_000, DurationS: 60})
		}
		return b
	}
	messages := func() float64 {
		var n float64
		for _, topic := range []string{"checkins", "proximity"} {
			n += metricstest.Value(t, reg, "truyvet_ingest_kafka_messages_total", "topic", topic, "result", "ok")
		}
		return n
	}
	perShard := batch(0)
	require.NoError(t, p.Produce(ctx, &perShard))
	before := messages()
	require.NoError(t, p.LearnPartitions(ctx))
	grouped := batch(1000)
	require.NoError(t, p.Produce(ctx, &grouped))
	after := messages() - before
	// 300 records of each kind in at most 7 per message: per shard, about
	// one message per distinct shard; per partition, about 300/7 per kind.
	require.Less(t, after, before, "grouping by partition sends fewer messages")
	require.LessOrEqual(t, after, float64(2*(300/7+cfg.Partitions)))

	var got event.Batch
	for _, topic := range []string{topics.Checkins, topics.Proximity} {
		for part := range cfg.Partitions {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part, MaxWait: 50 * time.Millisecond})
			end, err := r.ReadLag(ctx)
			require.NoError(t, err)
			for range end {
				m, err := r.ReadMessage(ctx)
				require.NoError(t, err)
				var one event.Batch
				require.NoError(t, event.DecodeWire(m.Value, &one))
				for i := range one.Visits {
					require.Equal(t, part, int(event.VisitShard(&one.Visits[i]))%cfg.Partitions, "check-in on the wrong partition")
				}
				for i := range one.Encounters {
					require.Equal(t, part, int(event.EncounterShard(&one.Encounters[i]))%cfg.Partitions, "encounter on the wrong partition")
				}
				got.Append(&one)
			}
			require.NoError(t, r.Close())
		}
	}
	want := perShard
	want.Append(&grouped)
	require.ElementsMatch(t, want.Visits, got.Visits)
	require.ElementsMatch(t, want.Encounters, got.Encounters)
	require.Equal(t, 600.0, metricstest.Value(t, reg, "truyvet_ingest_kafka_records_total", "topic", "checkins", "result", "ok"))
	require.Equal(t, 600.0, metricstest.Value(t, reg, "truyvet_ingest_kafka_records_total", "topic", "proximity", "result", "ok"))
	require.Equal(t, 1, testutil.CollectAndCount(reg, "truyvet_ingest_kafka_write_duration_seconds"))
}

// With Kafka unreachable, ingest answers 503 with Retry-After and counts
// nothing as accepted.
func TestUnavailableKafkaIs503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	cfg := kafkaproducer.DefaultConfig()
	cfg.Brokers, cfg.WriteTimeout = []string{addr}, 200*time.Millisecond
	p, err := kafkaproducer.New(cfg, nil, nil)
	require.NoError(t, err)
	defer func() { _ = p.Close() }()
	icfg := ingest.DefaultConfig()
	icfg.ProduceTimeout = time.Second
	now := time.Now()
	h, err := ingest.NewHandler(icfg, p, ingest.NewMetrics(prometheus.NewRegistry()), nil, func() time.Time { return now })
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.Register(mux)
	v := event.Visit{VisitID: "v1", UserID: 1, VenueID: 2, Enter: now.Add(-time.Hour).Unix()}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/checkins", bytes.NewReader(event.AppendVisitJSON(nil, &v))))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	require.Zero(t, h.Counts().Accepted)
}

// Ping dials the brokers each time: once they are gone it fails, instead of
// answering from metadata cached by an earlier call.
func TestPingSeesDeadBroker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	cfg := kafkaproducer.DefaultConfig()
	cfg.Brokers, cfg.TopicPrefix, cfg.Partitions = c.ListenAddrs(), "ping.", 1
	_, err = kafkaproducer.EnsureTopics(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, kafkaproducer.Ping(t.Context(), cfg))
	c.Close()
	require.ErrorIs(t, kafkaproducer.Ping(t.Context(), cfg), kafkaproducer.ErrUnreachable)
}
