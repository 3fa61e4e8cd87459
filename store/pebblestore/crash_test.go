package pebblestore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/storetest"
)

// crashChildEnv names the data directory a crash-test child writes to.
const crashChildEnv = "TRUYVET_PEBBLESTORE_CRASH_CHILD"

// crashBatches are the batches a crash-test child writes, in order: the same
// for parent and child. Every batch has visits, so the lifetime visit counter
// tells how many whole batches a store holds.
func crashBatches() []event.Batch {
	rng := rand.New(rand.NewPCG(7, 8))
	all := storetest.RandomRecords(rng, 200, 12, 2400, storetest.Base)
	const n = 120
	out := make([]event.Batch, n)
	for i := range n {
		v0, v1 := i*len(all.Visits)/n, (i+1)*len(all.Visits)/n
		e0, e1 := i*len(all.Encounters)/n, (i+1)*len(all.Encounters)/n
		out[i] = event.Batch{Visits: all.Visits[v0:v1], Encounters: all.Encounters[e0:e1]}
	}
	return out
}

// crashChild writes crashBatches to the store in dir and prints "ack i" once
// batch i is acknowledged (Process returned nil), then waits to be killed.
func crashChild(dir string) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: dir, Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	p, err := processor.New(s.Layout(), s, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i, b := range crashBatches() {
		if err := p.Process(ctx, &b); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ack", i)
	}
	fmt.Println("done")
	time.Sleep(time.Hour)
}

// TestAcknowledgedWritesSurviveKill9 runs a child process that writes synced
// batches, SIGKILLs it right after a random acknowledgement (while it is
// writing the next batches, and Pebble may be flushing or compacting), reopens
// the directory and checks DESIGN.md's rule: every acknowledged batch is
// there, batches are all-or-nothing, and queries over the reopened store
// answer as the reference does over exactly the batches it holds.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("runs child processes; not in -short")
	}
	rounds := 3
	if s := os.Getenv("TRUYVET_PEBBLESTORE_CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "TRUYVET_PEBBLESTORE_CRASH_ROUNDS")
		rounds = n
	}
	batches := crashBatches()
	prefixVisits := make([]int64, len(batches)+1) // visits in batches [0, i)
	for i, b := range batches {
		prefixVisits[i+1] = prefixVisits[i] + int64(len(b.Visits))
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for round := range rounds {
		crashRound(t, rng, round, batches, prefixVisits)
	}
}

// crashRound runs one child, kills it after a random acknowledgement and
// checks the reopened store.
func crashRound(t *testing.T, rng *rand.Rand, round int, batches []event.Batch, prefixVisits []int64) {
	killAfter := rng.IntN(len(batches))
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill9$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	acked := -1
	sc := bufio.NewScanner(out)
	for acked < killAfter && sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "ack "); ok {
			acked, err = strconv.Atoi(n)
			require.NoError(t, err, line)
			continue
		}
		require.NotContains(t, line, "error", "child")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Equal(t, killAfter, acked, "round %d: the child stopped before acknowledging batch %d", round, killAfter)

	s, err := Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
	require.NoError(t, err, "round %d: reopen after kill -9", round)
	defer func() { require.NoError(t, s.Close()) }()
	c, err := s.Counts(t.Context())
	require.NoError(t, err)
	held := -1 // the store holds batches [0, held)
	for i, v := range prefixVisits {
		if v == c.Visits {
			held = i
		}
	}
	require.NotEqual(t, -1, held, "round %d: %d visits stored is no whole number of batches", round, c.Visits)
	require.Greater(t, held, acked, "round %d: batch %d was acknowledged, the store holds %d batches", round, acked, held)

	var want event.Batch
	for _, b := range batches[:held] {
		want.Append(&b)
	}
	require.EqualValues(t, len(want.Encounters), c.Encounters, "round %d: encounters of %d batches", round, held)
	t.Logf("round %d: killed after ack %d; the store holds %d of %d batches", round, acked, held, len(batches))
	storetest.RequireAgrees(t, s, want, 200, storetest.Base, rng.Uint64(), 8)
}
