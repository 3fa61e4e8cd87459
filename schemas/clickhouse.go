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
		out = append(out, Migration{Version: v, Name: name, Statements: splitSQL(string(b))})
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
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for st := range strings.SplitSeq(strings.Join(lines, "\n"), ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}
