package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/store"
)

// downStore is a store whose counts fail with err.
type downStore struct {
	store.Backend
	err error
}

func (d downStore) Counts(context.Context) (store.Counts, error) { return store.Counts{}, d.err }
func (d downStore) Layout() bucket.Layout                        { return bucket.DefaultLayout() }

// An unreachable store is marked so and the status stands; any other
// failure is an error.
func TestStoreStatusUnreachable(t *testing.T) {
	st := Status{Processed: Count(7)}
	require.NoError(t, StoreStatus(t.Context(), &st, downStore{err: fmt.Errorf("count stays: %w: dial tcp", graph.ErrStoreUnavailable)}))
	require.Equal(t, &StoreReach{Reachable: false}, st.Store)
	require.Nil(t, st.Stored)
	require.EqualValues(t, 7, *st.Processed)
	require.NotNil(t, st.Layout)

	require.Error(t, StoreStatus(t.Context(), &st, downStore{err: fmt.Errorf("corrupt")}))
}
