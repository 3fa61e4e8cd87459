package pebblestore

import (
	"testing"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety/safetytest"
)

func TestAssessmentConformance(t *testing.T) {
	safetytest.RunAssessments(t, func(t *testing.T) safetytest.AssessmentBackend {
		return open(t, bucket.DefaultLayout()).(*Store)
	})
}
