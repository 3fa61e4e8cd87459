package itenv

import (
	"slices"
	"testing"
)

// recorder notes how a test ended without ending the real one.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, _ ...any) { r.fatal = format }
func (r *recorder) Skipf(format string, _ ...any)  { r.skip = format }

func TestRequire(t *testing.T) {
	const name = "TRUYVET_IT_ITENV_PROBE"
	t.Setenv(name, "127.0.0.1:1")
	if got := Require(t, name, "probe"); got != "127.0.0.1:1" {
		t.Fatalf("Require = %q", got)
	}

	t.Setenv(name, "")
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	Require(r, name, "probe")
	if r.fatal == "" || r.skip != "" {
		t.Fatalf("under CI a missing service must fail the test: fatal %q skip %q", r.fatal, r.skip)
	}

	t.Setenv("CI", "")
	r = &recorder{TB: t}
	Require(r, name, "probe")
	if r.skip == "" || r.fatal != "" {
		t.Fatalf("outside CI a missing service skips the test: fatal %q skip %q", r.fatal, r.skip)
	}
}

func TestLocalClusterEnv(t *testing.T) {
	t.Setenv("TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR", "127.0.0.1:29000,127.0.0.1:29001")
	t.Setenv("TRUYVET_IT_CLICKHOUSE_CLUSTER", "other")
	t.Setenv("TRUYVET_LOCAL_DIR", "")
	env := LocalClusterEnv(t)
	if !slices.Contains(env, "TRUYVET_CLUSTER_BASE_PORT=29000") || !slices.Contains(env, "TRUYVET_CLICKHOUSE_CLUSTER=other") {
		t.Fatalf("env lacks the cluster's base port or name: %v", env[len(env)-2:])
	}
	// On other ports, without the instance's directory, the scripts would
	// stop the default cluster: refused.
	t.Setenv("TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR", "127.0.0.1:39000")
	r := &recorder{TB: t}
	LocalClusterEnv(r)
	if r.fatal == "" {
		t.Fatal("a cluster on other ports without TRUYVET_LOCAL_DIR must fail the test")
	}
}
