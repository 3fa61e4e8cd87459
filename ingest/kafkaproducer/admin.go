package kafkaproducer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/truyvet/truyvet/schemas/event"
)

// EnsureTopics creates the deployment's topics if they do not exist yet, with
// cfg's partitions and replication (existing topics are left as they are).
func EnsureTopics(ctx context.Context, cfg Config) (event.Topics, error) {
	topics, err := event.TopicsFor(cfg.TopicPrefix)
	if err != nil {
		return topics, err
	}
	c := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: cfg.WriteTimeout}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics.All() {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.Replication,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: fmt.Sprint(min(2, cfg.Replication))}}})
	}
	resp, err := c.CreateTopics(ctx, req)
	if err != nil {
		return topics, fmt.Errorf("create topics %v: %w", topics.All(), err)
	}
	for t, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return topics, fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	// Wait until every partition has a leader, so the first writes do not fail.
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics.All()})
		if err == nil && leadersReady(md) {
			return topics, nil
		}
		if time.Now().After(deadline) {
			return topics, fmt.Errorf("topics %v have no leaders after 30s: %w", topics.All(), err)
		}
		select {
		case <-ctx.Done():
			return topics, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func leadersReady(md *kafka.MetadataResponse) bool {
	for _, t := range md.Topics {
		if t.Error != nil || len(t.Partitions) == 0 {
			return false
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.ID < 0 {
				return false
			}
		}
	}
	return true
}

// Ping checks that the brokers answer a metadata request for the topics.
func Ping(ctx context.Context, cfg Config) error {
	topics, err := event.TopicsFor(cfg.TopicPrefix)
	if err != nil {
		return err
	}
	c := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 2 * time.Second}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics.All()})
	if err != nil {
		return err
	}
	if !leadersReady(md) {
		return errors.New("kafka topics have partitions without a leader")
	}
	return nil
}
