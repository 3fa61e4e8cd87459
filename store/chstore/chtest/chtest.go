// Package chtest gives tests a ClickHouse database of their own on the real
// server named by TRUYVET_IT_CLICKHOUSE_ADDR (what deploy/local/up.sh prints
// as TRUYVET_CLICKHOUSE_ADDR). Without it a test fails under CI=true and is
// skipped elsewhere, naming the variable.
package chtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/truyvet/truyvet/internal/itenv"
)

// EnvAddr names the real server integration tests use.
const EnvAddr = "TRUYVET_IT_CLICKHOUSE_ADDR"

// The real cluster integration tests use (what deploy/local/cluster-up.sh
// prints as TRUYVET_CLICKHOUSE_CLUSTER_ADDR and TRUYVET_CLICKHOUSE_CLUSTER):
// the servers' addresses, and the cluster's name, truyvet_2x2 when unset.
const (
	EnvClusterAddr = "TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR"
	EnvCluster     = "TRUYVET_IT_CLICKHOUSE_CLUSTER"
)

// Cluster returns the cluster's server addresses and name, or fails or
// skips the test.
func Cluster(tb testing.TB) (addr []string, name string) {
	tb.Helper()
	addr = strings.Split(itenv.Require(tb, EnvClusterAddr, "ClickHouse cluster (deploy/local/cluster-up.sh)"), ",")
	name = os.Getenv(EnvCluster)
	if name == "" {
		name = "truyvet_2x2"
	}
	return addr, name
}

// ClusterDatabase is Database on a cluster: the database is dropped ON
// CLUSTER at the test's end, without waiting for servers that are down
// (they drop it when they return).
func ClusterDatabase(tb testing.TB, addr []string, cluster string) string {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e12, seq.Add(1))
	tb.Cleanup(func() {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr, Settings: clickhouse.Settings{"distributed_ddl_task_timeout": 0}})
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" ON CLUSTER "+cluster)
	})
	return name
}

// Addr returns the server's addresses, or fails or skips the test.
func Addr(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(itenv.Require(tb, EnvAddr, "ClickHouse server"), ",")
}

var seq atomic.Int64

// Database returns a fresh database name for the test, dropped at its end.
func Database(tb testing.TB, addr []string) string {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e12, seq.Add(1))
	tb.Cleanup(func() {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
	})
	return name
}
