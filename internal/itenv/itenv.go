// Package itenv reads where integration tests find the real services that
// deploy/local/up.sh starts (Kafka, ClickHouse, PostgreSQL). A test that
// needs a service the environment does not name fails under CI=true, where
// the services must be running, and is skipped elsewhere, naming the
// variable to set.
package itenv

import (
	"net"
	"os"
	"strings"
	"testing"
)

// Require returns the value of the environment variable name, which locates
// service. Without it the test fails under CI=true and is skipped
// elsewhere.
func Require(tb testing.TB, name, service string) string {
	tb.Helper()
	v := os.Getenv(name)
	switch {
	case v != "":
	case os.Getenv("CI") == "true":
		tb.Fatalf("%s is not set: CI must run the real %s (deploy/local/up.sh)", name, service)
	default:
		tb.Skipf("%s not set; start the %s with deploy/local/up.sh and export it", name, service)
	}
	return v
}

// Default ports of deploy/local/up.sh.
const (
	defaultKafkaPort      = "19092"
	defaultClickHousePort = "19000"
)

// LocalServiceEnv returns the environment for running deploy/local/up.sh
// and down.sh on the instance that the TRUYVET_IT_* variables point at: the
// Kafka and ClickHouse ports come from TRUYVET_IT_KAFKA_BROKERS and
// TRUYVET_IT_CLICKHOUSE_ADDR, the rest (TRUYVET_LOCAL_DIR, the controller and
// HTTP ports) from the environment as it is. An instance on other ports than
// the defaults must have its TRUYVET_LOCAL_DIR set too, or the test fails:
// the scripts would otherwise stop or start the default instance.
func LocalServiceEnv(tb testing.TB) []string {
	tb.Helper()
	env := os.Environ()
	custom := false
	for _, v := range []struct{ it, port, def string }{
		{"TRUYVET_IT_KAFKA_BROKERS", "TRUYVET_KAFKA_PORT", defaultKafkaPort},
		{"TRUYVET_IT_CLICKHOUSE_ADDR", "TRUYVET_CLICKHOUSE_PORT", defaultClickHousePort},
	} {
		addr, _, _ := strings.Cut(os.Getenv(v.it), ",")
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		if port != v.def {
			custom = true
		}
		env = append(env, v.port+"="+port)
	}
	if custom && os.Getenv("TRUYVET_LOCAL_DIR") == "" {
		tb.Fatalf("the TRUYVET_IT_* services are not on the default ports: set TRUYVET_LOCAL_DIR (and the other TRUYVET_*_PORT variables) to the instance's, so deploy/local/down.sh stops that one")
	}
	return env
}

// Defaults of deploy/local/cluster-up.sh.
const (
	defaultClusterBasePort = "29000"
	defaultClusterName     = "truyvet_2x2"
)

// LocalClusterEnv returns the environment for running
// deploy/local/cluster-up.sh and cluster-down.sh on the cluster that
// TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR (its first server's port is the base
// port) and TRUYVET_IT_CLICKHOUSE_CLUSTER point at. As LocalServiceEnv, a
// cluster on other than the default ports needs its TRUYVET_LOCAL_DIR set.
func LocalClusterEnv(tb testing.TB) []string {
	tb.Helper()
	env := os.Environ()
	first, _, _ := strings.Cut(os.Getenv("TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR"), ",")
	if _, port, err := net.SplitHostPort(first); err == nil {
		if port != defaultClusterBasePort && os.Getenv("TRUYVET_LOCAL_DIR") == "" {
			tb.Fatalf("the TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR cluster is not on the default ports: set TRUYVET_LOCAL_DIR to its instance's, so deploy/local/cluster-down.sh stops that one")
		}
		env = append(env, "TRUYVET_CLUSTER_BASE_PORT="+port)
	}
	if name := os.Getenv("TRUYVET_IT_CLICKHOUSE_CLUSTER"); name != "" && name != defaultClusterName {
		env = append(env, "TRUYVET_CLICKHOUSE_CLUSTER="+name)
	}
	return env
}
