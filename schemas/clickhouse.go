package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed clickhouse/*.sql
var clickhouseFiles embed.FS

// Migration is one versioned step of the ClickHouse schema.
type Migration struct {
	Version    int
	Name       string
	Statements []string // with {db} standing for the database
	// ShardKeys holds, for each statement, the expression of its
	// "-- shard_key:" line (empty without one); see ClusterStatements.
	ShardKeys []string
}

// OnCluster returns the migration's statements as a cluster named cluster
// runs them (ClusterStatements, in order).
func (m Migration) OnCluster(cluster string) ([]string, error) {
	var out []string
	for i, st := range m.Statements {
		sts, err := ClusterStatements(st, m.ShardKeys[i], cluster)
		if err != nil {
			return nil, fmt.Errorf("migration %d (%s), statement %d: %w", m.Version, m.Name, i+1, err)
		}
		out = append(out, sts...)
	}
	return out, nil
}

// ClickHouseMigrations returns the ClickHouse schema's migrations in order,
// from the embedded files clickhouse/NNNN_name.sql.
func ClickHouseMigrations() ([]Migration, error) {
	entries, err := fs.ReadDir(clickhouseFiles, "clickhouse")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := clickhouseFiles.ReadFile(path.Join("clickhouse", e.Name()))
		if err != nil {
			return nil, err
		}
		sts, keys := splitStatements(string(b))
		out = append(out, Migration{Version: v, Name: name, Statements: sts, ShardKeys: keys})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations numbered %d", out[i].Version)
		}
	}
	return out, nil
}

// splitSQL splits a file into statements at semicolons, dropping "--"
// comment lines. Statements hold no string literals with ";" or "--".
func splitSQL(s string) []string {
	sts, _ := splitStatements(s)
	return sts
}

// splitStatements is splitSQL that also returns, for each statement, the
// expression of the "-- shard_key:" line among its comments ("" without
// one).
func splitStatements(s string) (sts, keys []string) {
	var cur strings.Builder
	key := ""
	end := func() {
		if st := strings.TrimSpace(cur.String()); st != "" {
			sts, keys = append(sts, st), append(keys, key)
		}
		cur.Reset()
		key = ""
	}
	for l := range strings.SplitSeq(s, "\n") {
		t := strings.TrimSpace(l)
		if m := shardKeyLine.FindStringSubmatch(t); m != nil {
			key = m[1]
			continue
		}
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		for {
			before, after, found := strings.Cut(l, ";")
			cur.WriteString(before)
			if !found {
				break
			}
			end()
			l = after
		}
		cur.WriteByte('\n')
	}
	end()
	return sts, keys
}
