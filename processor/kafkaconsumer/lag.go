package kafkaconsumer

import (
	"context"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// watchLag measures the group's lag per partition every LagInterval: the
// partition's end offset minus the group's committed offset.
func (c *Consumer) watchLag(ctx context.Context) {
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 5 * time.Second}
	t := time.NewTicker(c.cfg.LagInterval)
	defer t.Stop()
	for {
		if lag, err := Lag(ctx, client, c.cfg.Group, []string{c.topics.Checkins, c.topics.Proximity}); err == nil {
			for tp, n := range lag {
				c.m.lag.WithLabelValues(c.topicLabel(tp.Topic), strconv.Itoa(tp.Partition)).Set(float64(n))
			}
		} else if ctx.Err() == nil {
			c.log.Debug("measuring lag failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
	if committed.Error != nil {
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
