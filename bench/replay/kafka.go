package replay

import (
	"context"
	"errors"

	"github.com/truyvet/truyvet/ingest/kafkaproducer"
)

// OpenKafka returns ingest's own producer on the topics of cfg, created if
// missing, for Config.Kafka: records go straight to Kafka with every in-sync
// replica acknowledging, as after ingest's validation. Close it after Run.
func OpenKafka(ctx context.Context, cfg kafkaproducer.Config) (*kafkaproducer.Producer, error) {
	if _, err := kafkaproducer.EnsureTopics(ctx, cfg); err != nil {
		return nil, err
	}
	prod, err := kafkaproducer.New(cfg, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := prod.LearnPartitions(ctx); err != nil {
		return nil, errors.Join(err, prod.Close())
	}
	return prod, nil
}
