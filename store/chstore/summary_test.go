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
