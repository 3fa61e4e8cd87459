// Package itenv reads where integration tests find the real services that
// deploy/local/up.sh starts (Kafka, ClickHouse, PostgreSQL). A test that
// needs a service the environment does not name fails under CI=true, where
// the services must be running, and is skipped elsewhere, naming the
// variable to set.
package itenv

import (
	"os"
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
