// Package alertkafka hands alerts to the Kafka topic <prefix>alerts
// (sites.Publisher): one JSON message (sites.Message) per alert, keyed by
// the user's id, so one user's alerts stay in order on one partition.
package alertkafka

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/truyvet/truyvet/sites"
)

// Publisher writes alerts to one topic.
type Publisher struct {
	w  *kafka.Writer
	tr *kafka.Transport
}

var _ sites.Publisher = (*Publisher)(nil)

// New returns a publisher to topic on brokers. It does not contact Kafka.
func New(brokers []string, topic string, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := &kafka.Transport{DialTimeout: 3 * time.Second}
	return &Publisher{tr: tr, w: &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Transport: tr,
		Balancer:     &kafka.Hash{},    // by user
		RequiredAcks: kafka.RequireAll, // acknowledged by every in-sync replica
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    1000,
		WriteTimeout: 10 * time.Second,
		MaxAttempts:  5,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Debug(fmt.Sprintf(msg, args...), "component", "alert-writer")
		}),
	}}
}

// PublishAlerts implements sites.Publisher.
func (p *Publisher) PublishAlerts(ctx context.Context, as []sites.Alert) error {
	msgs := make([]kafka.Message, len(as))
	for i, a := range as {
		b, err := json.Marshal(sites.ToMessage(a))
		if err != nil {
			return err
		}
		msgs[i] = kafka.Message{Key: strconv.AppendUint(nil, uint64(a.UserID), 10), Value: b}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write %d alerts to %s: %w", len(msgs), p.w.Topic, err)
	}
	return nil
}

// Close flushes and releases the connections.
func (p *Publisher) Close() error {
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	return err
}
