package cli

import (
	"bytes"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/store/chstore/chtest"
)

// bench load into ClickHouse merges each loaded day but the last into one
// part per table before it measures, as the process stage's compaction
// would have: what it then reads is what a settled deployment reads. Small
// batches leave each day in many parts first.
func TestBenchLoadClickHouseSettlesDays(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	dir := t.TempDir()
	var out bytes.Buffer
	env := Env{Args: []string{"load", "--tier", "demo", "--people", "300", "--venues", "20", "--days", "3", "--cases", "2", "--batch", "500",
		"--clickhouse-addr", strings.Join(addr, ","), "--clickhouse-database", db, "--out", filepath.Join(dir, "load")},
		Stdout: &out, Stderr: io.Discard, LookupEnv: envOf(nil), Now: time.Now}
	require.NoError(t, runBench(t.Context(), env))
	require.Contains(t, out.String(), "compaction")
	require.Contains(t, out.String(), "F2 p99")

	for _, table := range []string{"stays", "visitors", "contacts"} {
		byDay := chtest.Parts(t, addr[0], db, table)
		days := slices.Sorted(maps.Keys(byDay)) // days of equal length: text order is day order
		require.GreaterOrEqual(t, len(days), 3, "%s: the load spans three days and the night before", table)
		for i, d := range days[:len(days)-1] {
			require.EqualValues(t, 1, byDay[d], "%s: day %d of %d is still in %d parts", table, i+1, len(days), byDay[d])
		}
	}
}
