package scaling

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPowerLaw(t *testing.T) {
	// Exact power laws come back exactly.
	for _, k := range []float64{0, 0.5, 1, 1.3} {
		sizes := []float64{250_000, 500_000, 1_000_000}
		var costs []float64
		for _, s := range sizes {
			costs = append(costs, 3*math.Pow(s, k))
		}
		f, err := PowerLaw(sizes, costs)
		require.NoError(t, err)
		require.InDelta(t, k, f.K, 1e-9)
		require.InEpsilon(t, 3*math.Pow(1e8, k), f.At(1e8), 1e-6)
		require.InDelta(t, 0, f.Residual, 1e-9)
	}
	// Noise shows in the residual.
	f, err := PowerLaw([]float64{1, 10, 100}, []float64{1, 20, 100})
	require.NoError(t, err)
	require.InDelta(t, 1, f.K, 0.01)
	require.Greater(t, f.Residual, 0.1)

	for _, bad := range [][2][]float64{{{1}, {1}}, {{1, 1}, {2, 3}}, {{1, 2}, {0, -1}}, {{1, 2}, {1}}} {
		_, err := PowerLaw(bad[0], bad[1])
		require.ErrorIs(t, err, ErrPoints)
	}
}
