package cli

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
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

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	rows, err := conn.Query(t.Context(), "SELECT table, partition, toUInt64(count()) FROM system.parts WHERE database = ? AND active AND table IN ('stays', 'visitors', 'contacts') GROUP BY table, partition ORDER BY table, partition", db)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	days := map[string][]uint64{} // table → parts of each day, in day order
	for rows.Next() {
		var (
			table, partition string
			n                uint64
		)
		require.NoError(t, rows.Scan(&table, &partition, &n))
		days[table] = append(days[table], n)
	}
	require.NoError(t, rows.Err())
	require.Len(t, days, 3)
	for table, parts := range days {
		require.GreaterOrEqual(t, len(parts), 3, "%s: the load spans three days and the night before", table)
		for i, n := range parts[:len(parts)-1] {
			require.EqualValues(t, 1, n, "%s: day %d of %d is still in %d parts", table, i+1, len(parts), n)
		}
	}
}
