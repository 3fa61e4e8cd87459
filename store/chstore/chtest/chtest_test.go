package chtest

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// cleanupTB runs its cleanups when told, not at the test's end.
type cleanupTB struct {
	testing.TB
	cleanups []func()
}

func (c *cleanupTB) Helper()             {}
func (c *cleanupTB) Logf(string, ...any) {}
func (c *cleanupTB) Cleanup(f func())    { c.cleanups = append(c.cleanups, f) }
func (c *cleanupTB) end() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.cleanups[i]()
	}
}

// Two tests that stop servers of one cluster take turns: the second waits
// until the first has ended.
func TestLockClusterTakesTurns(t *testing.T) {
	t.Setenv(EnvClusterAddr, fmt.Sprintf("127.0.0.1:%d,127.0.0.1:1", os.Getpid()))
	first := &cleanupTB{TB: t}
	lockCluster(first)
	got := make(chan struct{})
	go func() {
		second := &cleanupTB{TB: t}
		lockCluster(second)
		close(got)
		second.end()
	}()
	select {
	case <-got:
		t.Fatal("the second test took the cluster while the first held it")
	case <-time.After(300 * time.Millisecond):
	}
	first.end()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the second test never got the cluster")
	}
}
