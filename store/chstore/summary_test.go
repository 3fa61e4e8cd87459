package chstore_test

import (
	"testing"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/summary/summarytest"
)

func TestSummaryConformance(t *testing.T) {
	addr := chtest.Addr(t)
	summarytest.Run(t, open(t, addr, chtest.Database(t, addr), bucket.DefaultLayout()))
}

// The summary's counters on the 2x2 cluster: additions through the
// Distributed table, sums over each shard, retention's drops ON CLUSTER.
func TestClusterSummaryConformance(t *testing.T) {
	addr, cluster := chtest.Cluster(t)
	summarytest.Run(t, openCluster(t, addr, cluster, chtest.ClusterDatabase(t, addr, cluster), bucket.DefaultLayout()))
}
