// Package peerstest checks a peer's answers against the reference.
package peerstest

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/graph/reference"
	"github.com/truyvet/truyvet/store/storetest"
)

// RequireAgrees loads random worlds into p and checks its contact lists
// against the reference for random queries.
func RequireAgrees(t *testing.T, p peers.Peer) {
	t.Helper()
	for seed := uint64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		recs := storetest.RandomRecords(rng, 40, 5, 250, storetest.Base)
		require.NoError(t, p.Load(context.Background(), recs.Visits, recs.Encounters))
		for i := range 30 {
			q := graph.Query{Case: uint32(rng.IntN(40) + 1), Depth: 1 + i%2, MinSeconds: []int64{900, 0, 1800}[rng.IntN(3)]}
			from := storetest.Base - 8*3600 + rng.Int64N(30*3600)
			q.Window = graph.Window{From: from, To: from + []int64{2 * 3600, 12 * 3600, 40 * 3600}[rng.IntN(3)]}
			want := reference.Exposures(recs.Visits, recs.Encounters, peers.Dwell, q)
			got, err := peers.Exposures(context.Background(), p, q)
			require.NoError(t, err)
			require.True(t, peers.SameContacts(want.Nodes, got), "seed %d query %+v\nwant %+v\ngot  %+v", seed, q, want.Nodes, got)
		}
	}
}
