package schemas

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A ClickHouse cluster holds each table of the single-server schema twice
// over: a ReplicatedMergeTree-family table NAME_local on every server, which
// holds the shard's rows and copies them to the shard's other replicas, and a
// Distributed table NAME over them, under the name the code reads and writes.
// The shard of a row is the table's shard key, named in its migration file
// by a comment line in the statement, before CREATE TABLE:
//
//	-- shard_key: intHash32(user)
//
// ClusterStatements turns one statement of a migration into what the cluster
// runs; schemas/README.md ("ClickHouse on a cluster") has the convention and
// each table's key.

// LocalSuffix ends the name of a table's local, replicated part on a cluster.
const LocalSuffix = "_local"

// Errors of the cluster transform.
var (
	ErrNoShardKey        = errors.New("CREATE TABLE has no \"-- shard_key: EXPR\" line")
	ErrNotOnCluster      = errors.New("statement has no cluster form (the transform knows CREATE TABLE, CREATE VIEW and INSERT … SELECT)")
	ErrNotMergeTreeTable = errors.New("a clustered table's engine must be of the MergeTree family")
)

var (
	createTable = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?\{db\}\.([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)$`)
	createView  = regexp.MustCompile(`(?is)^CREATE\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?\{db\}\.([A-Za-z_][A-Za-z0-9_]*)\s+(AS\s.*)$`)
	insert      = regexp.MustCompile(`(?is)^INSERT\s+INTO\s+\{db\}\.`)
	engine      = regexp.MustCompile(`(?is)\)\s*ENGINE\s*=\s*([A-Za-z]*MergeTree)\b`)
	anyEngine   = regexp.MustCompile(`(?is)\)\s*ENGINE\s*=\s*([A-Za-z_]+)`)
)

// ClusterStatements returns what a cluster named cluster runs for one
// statement st of a migration, with shardKey its "-- shard_key:" expression
// (empty when it has none):
//
//   - CREATE TABLE {db}.T (…) ENGINE = XMergeTree[(args)] … becomes
//     CREATE TABLE {db}.T_local ON CLUSTER c (…) ENGINE =
//     ReplicatedXMergeTree('/clickhouse/tables/c/{shard}/{db}/T', '{replica}'[, args]) …
//     and CREATE TABLE {db}.T ON CLUSTER c AS {db}.T_local ENGINE =
//     Distributed(c, {db}, T_local, shardKey); {shard} and {replica} are
//     each server's macros;
//   - CREATE VIEW runs ON CLUSTER, over the Distributed tables;
//   - INSERT … runs as it is, through the Distributed tables.
//
// Anything else is ErrNotOnCluster: a migration that needs it must teach
// the transform first (and its test).
func ClusterStatements(st, shardKey, cluster string) ([]string, error) {
	st = strings.TrimSpace(st)
	if m := createTable.FindStringSubmatch(st); m != nil {
		ifNot, name, rest := m[1], m[2], m[3]
		if strings.TrimSpace(shardKey) == "" {
			return nil, fmt.Errorf("table %s: %w", name, ErrNoShardKey)
		}
		e := engine.FindStringSubmatchIndex(rest)
		if e == nil {
			got := "none"
			if a := anyEngine.FindStringSubmatch(rest); a != nil {
				got = a[1]
			}
			return nil, fmt.Errorf("table %s (engine %s): %w", name, got, ErrNotMergeTreeTable)
		}
		params, after, err := engineArgs(rest[e[1]:])
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		args := fmt.Sprintf("'/clickhouse/tables/%s/{shard}/{db}/%s', '{replica}'", cluster, name)
		if params != "" {
			args += ", " + params
		}
		local := "CREATE TABLE " + ifNot + "{db}." + name + LocalSuffix + " ON CLUSTER " + cluster + " (" +
			rest[:e[0]] + ") ENGINE = Replicated" + rest[e[2]:e[3]] + "(" + args + ")" + after
		dist := fmt.Sprintf("CREATE TABLE %s{db}.%s ON CLUSTER %s AS {db}.%s%s ENGINE = Distributed(%s, {db}, %s%s, %s)",
			ifNot, name, cluster, name, LocalSuffix, cluster, name, LocalSuffix, strings.TrimSpace(shardKey))
		return []string{local, dist}, nil
	}
	if m := createView.FindStringSubmatch(st); m != nil {
		return []string{"CREATE VIEW " + m[1] + "{db}." + m[2] + " ON CLUSTER " + cluster + " " + m[3]}, nil
	}
	if insert.MatchString(st) {
		return []string{st}, nil
	}
	first, _, _ := strings.Cut(st, "\n")
	return nil, fmt.Errorf("%q: %w", first, ErrNotOnCluster)
}

// engineArgs splits what follows an engine's name into its parameters (the
// text inside a leading pair of parentheses, nested ones included; "" when
// there is none) and the rest of the statement.
func engineArgs(s string) (params, rest string, err error) {
	t := strings.TrimLeft(s, " \t\n")
	if !strings.HasPrefix(t, "(") {
		return "", s, nil
	}
	depth := 0
	for i, c := range t {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return strings.TrimSpace(t[1:i]), t[i+1:], nil
			}
		}
	}
	return "", "", errors.New("engine parameters without their closing parenthesis")
}

// shardKeyLine is the annotation naming a table's shard key.
var shardKeyLine = regexp.MustCompile(`^\s*--\s*shard_key:\s*(.+?)\s*$`)
