package peers_test

import (
	"testing"

	"github.com/truyvet/truyvet/bench/peers/naive"
	"github.com/truyvet/truyvet/bench/peers/peerstest"
)

func TestNaiveAgreesWithReference(t *testing.T) { peerstest.RequireAgrees(t, naive.New()) }
