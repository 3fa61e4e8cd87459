package kafkaconsumer

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// watchLag measures the group's lag every LagInterval: the partition's end
// offset minus the group's committed offset, for the partitions assigned to
// this member (so a sum over replicas counts each partition once); the series
// of a partition that moved to another member is deleted.
func (c *Consumer) watchLag(ctx context.Context) {
	t := time.NewTicker(c.cfg.LagInterval)
	defer t.Stop()
	for {
		// A transport of its own per round: kafka-go's default one answers
		// metadata from its cache, which would hide a dead broker.
		tr := &kafka.Transport{DialTimeout: 5 * time.Second, ClientID: c.client + "-lag"}
		client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 5 * time.Second, Transport: tr}
		err := c.measureLag(ctx, client)
		tr.CloseIdleConnections()
		if err != nil && ctx.Err() == nil {
			c.log.Debug("measuring lag failed", "err", err)
		}
		c.mu.Lock()
		c.lagErr = err
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Consumer) measureLag(ctx context.Context, client *kafka.Client) error {
	lag, err := Lag(ctx, client, c.cfg.Group, c.topics.Records())
	if err != nil {
		return err
	}
	owned, err := Assigned(ctx, client, c.cfg.Group, c.client)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for tp := range c.lagged {
		if !owned[tp] {
			c.m.lag.DeleteLabelValues(c.topicLabel(tp.Topic), strconv.Itoa(tp.Partition))
			delete(c.lagged, tp)
		}
	}
	for tp, n := range lag {
		if owned[tp] {
			c.m.lag.WithLabelValues(c.topicLabel(tp.Topic), strconv.Itoa(tp.Partition)).Set(float64(n))
			c.lagged[tp] = true
		}
	}
	return nil
}

// Assigned returns the partitions the group assigned to the member whose
// Kafka client id is clientID (none while it is not a member).
func Assigned(ctx context.Context, client *kafka.Client, group, clientID string) (map[TopicPartition]bool, error) {
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return nil, err
	}
	out := map[TopicPartition]bool{}
	for _, g := range resp.Groups {
		if errors.Is(g.Error, kafka.GroupIdNotFound) {
			continue // the group is still forming: the broker answered, nothing is assigned yet
		}
		if g.Error != nil {
			return nil, g.Error
		}
		for _, m := range g.Members {
			if m.ClientID != clientID {
				continue
			}
			for _, t := range m.MemberAssignments.Topics {
				for _, p := range t.Partitions {
					out[TopicPartition{t.Topic, p}] = true
				}
			}
		}
	}
	return out, nil
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int
}

// Lag returns, per partition of topics, how many records group has not yet
// committed (the whole partition when it never committed).
func Lag(ctx context.Context, client *kafka.Client, group string, topics []string) (map[TopicPartition]int64, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	parts := map[string][]int{}
	offReq := map[string][]kafka.OffsetRequest{}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
			offReq[t.Name] = append(offReq[t.Name], kafka.LastOffsetOf(p.ID), kafka.FirstOffsetOf(p.ID))
		}
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: offReq})
	if err != nil {
		return nil, err
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
	if err != nil {
		return nil, err
	}
	if committed.Error != nil && !errors.Is(committed.Error, kafka.GroupIdNotFound) { // a group still forming has committed nothing
		return nil, committed.Error
	}
	done := map[TopicPartition]int64{}
	for t, ps := range committed.Topics {
		for _, p := range ps {
			if p.Error == nil {
				done[TopicPartition{t, p.Partition}] = p.CommittedOffset
			}
		}
	}
	out := map[TopicPartition]int64{}
	for t, ps := range ends.Topics {
		for _, p := range ps {
			if p.Error != nil {
				continue
			}
			tp := TopicPartition{t, p.Partition}
			from, ok := done[tp]
			if !ok || from < 0 {
				from = p.FirstOffset
			}
			out[tp] = max(0, p.LastOffset-from)
		}
	}
	return out, nil
}
