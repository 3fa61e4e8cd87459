package chjoin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/peers/chjoin"
	"github.com/truyvet/truyvet/bench/peers/peerstest"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

func TestAgreesWithReference(t *testing.T) {
	addr := chtest.Addr(t)
	p, err := chjoin.New(context.Background(), addr, fmt.Sprintf("peer_%d", time.Now().UnixNano()))
	require.NoError(t, err)
	defer func() {
		require.NoError(t, p.Drop(context.Background()))
		require.NoError(t, p.Close())
	}()
	peerstest.RequireAgrees(t, p)
}
