// Package chtest gives tests a ClickHouse database of their own on the real
// server named by TRUYVET_IT_CLICKHOUSE_ADDR (what deploy/local/up.sh prints
// as TRUYVET_CLICKHOUSE_ADDR). Without it a test fails under CI=true and is
// skipped elsewhere, naming the variable.
package chtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
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

// EnvClusterFaults is the variable that, set to 1, lets tests stop and
// start servers of the cluster (scripts/test.sh sets it in a phase of its own, after the other
// tests, which share the cluster).
const EnvClusterFaults = "TRUYVET_IT_CLUSTER_FAULTS"

// StopReplica stops one server of the local cluster (deploy/local's
// cluster-down.sh, e.g. "s1r1": shard 1's first replica) for the rest of the
// test, and starts it again at its end. Without TRUYVET_IT_CLUSTER_FAULTS=1
// the test is skipped: it would break the other tests sharing the cluster.
//
// Tests that stop servers of one cluster take turns, across test binaries
// too (go test runs packages in parallel): each holds a lock on the cluster
// (lockCluster) from the stop until the server is back. Otherwise one
// test's reads, made on the understanding that only its server is down,
// would meet another test's server stopped and restarted under them (the
// store's suite with shard 1's first replica stopped once found 7 of 26
// people in a depth-2 lookup when it ran beside the topology test, which
// stops and restarts shard 2's).
func StopReplica(tb testing.TB, server string) {
	tb.Helper()
	if os.Getenv(EnvClusterFaults) != "1" {
		tb.Skipf("stops a server of the shared cluster; set %s=1 (scripts/test.sh does, after the other tests)", EnvClusterFaults)
	}
	lockCluster(tb)
	run := func(script string) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(tb), "deploy", "local", script), server) //nolint:gosec // the repo's own script, a server name the test gives
		cmd.Env = itenv.LocalClusterEnv(tb)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s %s: %v\n%s", script, server, err, out)
		}
	}
	run("cluster-down.sh")
	tb.Cleanup(func() { run("cluster-up.sh") })
}

// lockCluster takes the lock of the cluster's fault tests, a file lock
// named by the cluster's first server address in the temporary directory,
// waiting for the test that holds it; the lock is released at the test's
// end, after the cleanups registered later (a server's restart) have run.
func lockCluster(tb testing.TB) {
	tb.Helper()
	first, _, _ := strings.Cut(os.Getenv(EnvClusterAddr), ",")
	name := "truyvet-cluster-faults-" + strings.NewReplacer(":", "_", "/", "_").Replace(first) + ".lock"
	f, err := os.OpenFile(filepath.Join(os.TempDir(), name), os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // a name of the test's own making, without separators
	if err != nil {
		tb.Fatalf("lock the cluster's fault tests: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		tb.Logf("waiting for another test that stops servers of the cluster (%s)", f.Name())
		start := time.Now()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			_ = f.Close()
			tb.Fatalf("lock the cluster's fault tests: %v", err)
		}
		tb.Logf("waited %s for the cluster", time.Since(start).Round(time.Second))
	}
	tb.Cleanup(func() { _ = f.Close() }) // closing releases the lock
}

// repoRoot is the directory holding go.mod, above the test's directory.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Parts counts the active parts of each partition (a day, as ClickHouse
// names it) of table in db on the server at addr.
func Parts(tb testing.TB, addr, db, table string) map[string]uint64 {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		tb.Fatalf("connect to %s: %v", addr, err)
	}
	defer func() { _ = conn.Close() }()
	rows, err := conn.Query(context.Background(), "SELECT partition, toUInt64(count()) FROM system.parts WHERE database = ? AND table = ? AND active GROUP BY partition", db, table)
	if err != nil {
		tb.Fatalf("parts of %s.%s on %s: %v", db, table, addr, err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]uint64{}
	for rows.Next() {
		var (
			p string
			n uint64
		)
		if err := rows.Scan(&p, &n); err != nil {
			tb.Fatalf("parts of %s.%s on %s: %v", db, table, addr, err)
		}
		out[p] = n
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("parts of %s.%s on %s: %v", db, table, addr, err)
	}
	return out
}
