package kafkaproducer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
)

// TestWaitForLeaders: the wait ends once every partition is led, and when it
// gives up its error says what was wrong (a partition without a leader, a
// missing topic, the metadata error) instead of wrapping a nil error.
func TestWaitForLeaders(t *testing.T) {
	topics := []string{"a", "b"}
	led := func(leader int) *kafka.MetadataResponse {
		return &kafka.MetadataResponse{Topics: []kafka.Topic{
			{Name: "a", Partitions: []kafka.Partition{{Topic: "a", ID: 0, Leader: kafka.Broker{ID: 1}}}},
			{Name: "b", Partitions: []kafka.Partition{{Topic: "b", ID: 0, Leader: kafka.Broker{ID: 1}}, {Topic: "b", ID: 1, Leader: kafka.Broker{ID: leader}}}},
		}}
	}
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name    string
		answers []*kafka.MetadataResponse // the last one repeats
		err     error
		wantErr error
		wantMsg string
	}{
		{name: "ready", answers: []*kafka.MetadataResponse{led(1)}},
		{name: "ready after elections", answers: []*kafka.MetadataResponse{led(-1), led(-1), led(2)}},
		{name: "never led", answers: []*kafka.MetadataResponse{led(-1)}, wantErr: ErrNoLeader, wantMsg: "topic b partition 1: no leader"},
		{name: "topic missing", answers: []*kafka.MetadataResponse{{Topics: led(1).Topics[:1]}}, wantErr: ErrNoLeader, wantMsg: "topic b missing"},
		{name: "no partitions", answers: []*kafka.MetadataResponse{{Topics: []kafka.Topic{{Name: "a"}, {Name: "b"}}}}, wantErr: ErrNoLeader, wantMsg: "topic a has no partitions"},
		{name: "brokers down", err: down, wantErr: down, wantMsg: "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			metadata := func(context.Context, *kafka.MetadataRequest) (*kafka.MetadataResponse, error) {
				calls++
				if tc.err != nil {
					return nil, tc.err
				}
				return tc.answers[min(calls, len(tc.answers))-1], nil
			}
			err := waitForLeaders(t.Context(), metadata, topics, 20*time.Millisecond, time.Millisecond)
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, len(tc.answers), calls)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.ErrorContains(t, err, tc.wantMsg)
			require.NotContains(t, err.Error(), "%!")
		})
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := waitForLeaders(ctx, func(context.Context, *kafka.MetadataRequest) (*kafka.MetadataResponse, error) {
		return led(-1), nil
	}, topics, time.Minute, time.Minute)
	require.ErrorIs(t, err, context.Canceled)
}
