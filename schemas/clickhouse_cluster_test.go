package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every migration has a cluster form: each CREATE TABLE names its shard key
// and has a MergeTree-family engine, and nothing else is a statement the
// transform does not know. A migration added in the single-server style
// fails here until its tables say how they shard (schemas/README.md).
func TestEveryMigrationRunsOnACluster(t *testing.T) {
	ms, err := ClickHouseMigrations()
	require.NoError(t, err)
	for _, m := range ms {
		require.Len(t, m.ShardKeys, len(m.Statements))
		sts, err := m.OnCluster("c")
		require.NoError(t, err, "migration %d (%s): annotate each CREATE TABLE with a \"-- shard_key: EXPR\" line", m.Version, m.Name)
		for _, st := range sts {
			require.Contains(t, st, "{db}.")
			if strings.HasPrefix(st, "CREATE") {
				require.Contains(t, st, " ON CLUSTER c ")
			}
		}
	}
}

// The cluster form of the shipped migrations, as a golden file
// (UPDATE_GOLDEN=1 rewrites it).
func TestClusterGolden(t *testing.T) {
	ms, err := ClickHouseMigrations()
	require.NoError(t, err)
	var b strings.Builder
	for _, m := range ms {
		sts, err := m.OnCluster("truyvet_2x2")
		require.NoError(t, err)
		for _, st := range sts {
			b.WriteString(st + ";\n\n")
		}
	}
	golden := filepath.Join("testdata", "clickhouse_cluster.sql")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "missing golden file; run with UPDATE_GOLDEN=1")
	require.Equal(t, string(want), b.String())
}

func TestClusterStatements(t *testing.T) {
	const table = `CREATE TABLE IF NOT EXISTS {db}.x (
    day UInt32,
    v UInt64
) ENGINE = %s
PARTITION BY day
ORDER BY (day)`
	for _, tc := range []struct{ engine, replicated string }{
		{"MergeTree", "ReplicatedMergeTree('/clickhouse/tables/c/{shard}/{db}/x', '{replica}')"},
		{"ReplacingMergeTree", "ReplicatedReplacingMergeTree('/clickhouse/tables/c/{shard}/{db}/x', '{replica}')"},
		{"ReplacingMergeTree(v)", "ReplicatedReplacingMergeTree('/clickhouse/tables/c/{shard}/{db}/x', '{replica}', v)"},
		{"SummingMergeTree((v))", "ReplicatedSummingMergeTree('/clickhouse/tables/c/{shard}/{db}/x', '{replica}', (v))"},
		{"ReplacingMergeTree(v", ""},
		{"SummingMergeTree()", "ReplicatedSummingMergeTree('/clickhouse/tables/c/{shard}/{db}/x', '{replica}')"},
	} {
		st := strings.Replace(table, "%s", tc.engine, 1)
		sts, err := ClusterStatements(st, "intHash32(v)", "c")
		if tc.replicated == "" {
			require.Error(t, err, tc.engine)
			continue
		}
		require.NoError(t, err, tc.engine)
		require.Equal(t, []string{
			"CREATE TABLE IF NOT EXISTS {db}.x_local ON CLUSTER c (\n    day UInt32,\n    v UInt64\n) ENGINE = " + tc.replicated + "\nPARTITION BY day\nORDER BY (day)",
			"CREATE TABLE IF NOT EXISTS {db}.x ON CLUSTER c AS {db}.x_local ENGINE = Distributed(c, {db}, x_local, intHash32(v))",
		}, sts, tc.engine)
	}

	_, err := ClusterStatements(strings.Replace(table, "%s", "MergeTree", 1), "", "c")
	require.ErrorIs(t, err, ErrNoShardKey)
	_, err = ClusterStatements(strings.Replace(table, "%s", "Log", 1), "rand()", "c")
	require.ErrorIs(t, err, ErrNotMergeTreeTable)
	_, err = ClusterStatements("ALTER TABLE {db}.x ADD COLUMN y UInt8", "", "c")
	require.ErrorIs(t, err, ErrNotOnCluster)

	sts, err := ClusterStatements("CREATE VIEW {db}.v AS SELECT 1 AS a", "", "c")
	require.NoError(t, err)
	require.Equal(t, []string{"CREATE VIEW {db}.v ON CLUSTER c AS SELECT 1 AS a"}, sts)
	sts, err = ClusterStatements("INSERT INTO {db}.x SELECT * FROM {db}.y", "", "c")
	require.NoError(t, err)
	require.Equal(t, []string{"INSERT INTO {db}.x SELECT * FROM {db}.y"}, sts)
}

func TestSplitStatementsShardKeys(t *testing.T) {
	sts, keys := splitStatements("-- about a\n-- shard_key: intHash32(user)\nA (x);\n-- b has none\nB;\n  --  shard_key:  rand() \nC; D;\n")
	require.Equal(t, []string{"A (x)", "B", "C", "D"}, sts)
	require.Equal(t, []string{"intHash32(user)", "", "rand()", ""}, keys)
}
