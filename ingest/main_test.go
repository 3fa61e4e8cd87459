package ingest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them (an HTTP
// server, a producer call that was not waited for).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
