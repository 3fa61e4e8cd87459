package graph_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The engine refines tiers and assembles results on goroutines of its own;
// none may outlive the query.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
