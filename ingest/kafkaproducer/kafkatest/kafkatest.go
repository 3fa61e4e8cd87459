// Package kafkatest gives tests a Kafka to talk to: an in-process
// Kafka-protocol broker (franz-go's kfake) for plain `go test`, or the real
// broker named by TRUYVET_IT_KAFKA_BROKERS (what deploy/local/up.sh prints as
// TRUYVET_KAFKA_BROKERS). Each test gets its own topic prefix, so tests share
// a broker without seeing each other's records, and its topics are deleted
// from the real broker when it ends.
package kafkatest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/internal/itenv"
)

// EnvBrokers names the real brokers integration tests use.
const EnvBrokers = "TRUYVET_IT_KAFKA_BROKERS"

// Fake starts an in-process broker for the test and returns its address.
func Fake(tb testing.TB) []string {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatalf("start in-process kafka: %v", err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Real returns the real brokers of TRUYVET_IT_KAFKA_BROKERS. Without them the
// test fails under CI=true and is skipped elsewhere, naming the variable.
func Real(tb testing.TB) []string {
	tb.Helper()
	return kafkaproducer.SplitBrokers(itenv.Require(tb, EnvBrokers, "Kafka broker"))
}

var seq atomic.Int64

// Prefix returns a topic prefix no other test uses. When the test ends, the
// topics under it are deleted from the real broker of
// TRUYVET_IT_KAFKA_BROKERS, if one is named: a broker holding the topics of
// thousands of past tests takes minutes to start after it was killed.
func Prefix(tb testing.TB) string {
	tb.Helper()
	prefix := newPrefix(tb)
	if brokers := os.Getenv(EnvBrokers); brokers != "" {
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := kafkaproducer.DeleteTopics(ctx, kafkaproducer.SplitBrokers(brokers), prefix); err != nil {
				tb.Logf("delete the test's topics %s*: %v", prefix, err)
			}
		})
	}
	return prefix
}

func newPrefix(tb testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, tb.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	return fmt.Sprintf("t%d-%d-%s.", time.Now().UnixNano()%1e9, seq.Add(1), name)
}

// Config returns a producer configuration for brokers under a fresh prefix,
// with few partitions so tests stay quick.
func Config(tb testing.TB, brokers []string) kafkaproducer.Config {
	cfg := kafkaproducer.DefaultConfig()
	cfg.Brokers = brokers
	cfg.TopicPrefix = Prefix(tb)
	cfg.Partitions = 4
	return cfg
}
