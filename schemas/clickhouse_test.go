package schemas

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClickHouseMigrations(t *testing.T) {
	ms, err := ClickHouseMigrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	require.Equal(t, 1, ms[0].Version)
	for _, m := range ms {
		for _, st := range m.Statements {
			require.Contains(t, st, "{db}.", "%s: every statement names the database", m.Name)
			require.NotContains(t, st, "--")
			require.NotContains(t, st, "TTL", "18.16 has no TTL")
			require.NotContains(t, st, "CODEC", "18.16 has no codecs")
		}
	}
	require.Len(t, ms[0].Statements, 5)
	require.True(t, strings.HasPrefix(ms[0].Statements[0], "CREATE TABLE IF NOT EXISTS {db}.stays"))
}

func TestSplitSQL(t *testing.T) {
	require.Equal(t, []string{"A", "B\nC"}, splitSQL("-- c\nA;\n  -- x\nB\nC;\n\n"))
}
