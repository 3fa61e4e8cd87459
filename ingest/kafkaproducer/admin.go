package kafkaproducer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/truyvet/truyvet/schemas/event"
)

// ErrNoLeader is wrapped by the errors of EnsureTopics and Ping when a
// partition of a topic has no leader (yet), or a topic is missing.
var ErrNoLeader = errors.New("no leader")

// EnsureTopics creates the deployment's topics if they do not exist yet, with
// cfg's partitions and replication (existing topics are left as they are),
// and waits up to 30 s until every partition has a leader.
func EnsureTopics(ctx context.Context, cfg Config) (event.Topics, error) {
	topics, err := event.TopicsFor(cfg.TopicPrefix)
	if err != nil {
		return topics, err
	}
	tr := newTransport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: cfg.WriteTimeout, Transport: tr}
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
	return topics, waitForLeaders(ctx, c.Metadata, topics.All(), 30*time.Second, 200*time.Millisecond)
}

// metadataFunc is kafka.Client.Metadata.
type metadataFunc func(context.Context, *kafka.MetadataRequest) (*kafka.MetadataResponse, error)

// waitForLeaders asks for the topics' metadata every interval until every
// partition has a leader, ctx ends or timeout passes; the error then says
// what was still wrong.
func waitForLeaders(ctx context.Context, metadata metadataFunc, topics []string, timeout, interval time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		md, err := metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		if err == nil {
			err = leaderless(md, topics)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics %v not ready after %s: %w", topics, timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leaders of %v: %w", topics, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// leaderless returns nil when md holds every topic of want with every
// partition led, or an error naming the first topic or partition that is not.
func leaderless(md *kafka.MetadataResponse, want []string) error {
	seen := make(map[string]bool, len(md.Topics))
	for _, t := range md.Topics {
		seen[t.Name] = true
		if t.Error != nil {
			return fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		if len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s has no partitions: %w", t.Name, ErrNoLeader)
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return fmt.Errorf("topic %s partition %d: %w", t.Name, p.ID, p.Error)
			}
			if p.Leader.ID < 0 {
				return fmt.Errorf("topic %s partition %d: %w", t.Name, p.ID, ErrNoLeader)
			}
		}
	}
	for _, t := range want {
		if !seen[t] {
			return fmt.Errorf("topic %s missing from the metadata: %w", t, ErrNoLeader)
		}
	}
	return nil
}

// ErrUnreachable is wrapped by Ping's error when no broker answered.
var ErrUnreachable = errors.New("kafka unreachable")

// Ping checks that the brokers answer a metadata request for the topics and
// that every partition has a leader. It dials afresh each time: kafka-go's
// shared transport answers metadata from its cache, which kept saying
// "ready" through a broker outage.
func Ping(ctx context.Context, cfg Config) error {
	topics, err := event.TopicsFor(cfg.TopicPrefix)
	if err != nil {
		return err
	}
	tr := newTransport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 2 * time.Second, Transport: tr}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics.All()})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	if err := leaderless(md, topics.All()); err != nil {
		return fmt.Errorf("kafka topics not ready: %w", err)
	}
	return nil
}

// DeleteTopics deletes every topic of the brokers whose name starts with
// prefix; none is not an error.
func DeleteTopics(ctx context.Context, brokers []string, prefix string) error {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var names []string
	for _, t := range md.Topics {
		if strings.HasPrefix(t.Name, prefix) {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	resp, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names})
	if err != nil {
		return fmt.Errorf("delete %d topics: %w", len(names), err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s: %w", name, err)
		}
	}
	return nil
}
