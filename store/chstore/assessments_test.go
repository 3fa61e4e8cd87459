package chstore_test

import (
	"testing"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

func TestAssessmentConformance(t *testing.T) {
	addr := chtest.Addr(t)
	safetytest.RunAssessments(t, func(t *testing.T) safetytest.AssessmentBackend {
		return open(t, addr, chtest.Database(t, addr), bucket.DefaultLayout())
	})
}
