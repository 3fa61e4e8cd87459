package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/reconcile"
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/store/storetest"
	"github.com/truyvet/truyvet/venue"
)

// `truyvet reconcile` without --clickhouse-addr reads the embedded store a
// stopped `truyvet process` left in --data-dir: every kind is counted, and
// an assessment acknowledged but not stored is missing.
func TestReconcileEmbeddedStore(t *testing.T) {
	brokers := kafkatest.Real(t)
	ctx := t.Context()
	pcfg := kafkatest.Config(t, brokers)
	_, err := kafkaproducer.EnsureTopics(ctx, pcfg)
	require.NoError(t, err)
	prod, err := kafkaproducer.New(pcfg, kafkaproducer.NewMetrics(prometheus.NewRegistry()), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, prod.Close()) }()
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	at := time.Now().Add(-time.Hour).Unix()
	recs := event.Batch{
		Visits:       []event.Visit{{VisitID: "v1", UserID: 1, VenueID: 2, Enter: at, Source: "test"}},
		Declarations: []event.Declaration{storetest.Declaration("d1", 1, 1, event.DeclVoluntary, at, "79", 0)},
		Assessments:  []event.Assessment{safetytest.Assessment(t, cat, 2, venue.KindMarket, bucket.DayOf(at), at, "a1", func(int) bool { return true })},
	}
	dir := filepath.Join(t.TempDir(), "data")
	st, err := pebblestore.Open(ctx, pebblestore.Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	p, err := processor.New(bucket.DefaultLayout(), st, nil)
	require.NoError(t, err)
	stored := recs
	require.NoError(t, p.Process(ctx, &stored))
	require.NoError(t, st.Close())
	require.NoError(t, prod.Produce(ctx, &recs))

	run := func(args ...string) (int, reconcile.Report) {
		var out bytes.Buffer
		code := Main(ctx, Env{Args: append([]string{"reconcile", "--kafka-brokers", brokers[0], "--kafka-topic-prefix", pcfg.TopicPrefix}, args...),
			Stdout: &out, Stderr: io.Discard, LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now})
		var rep reconcile.Report
		if code != 2 {
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
		}
		return code, rep
	}
	code, rep := run("--data-dir", dir)
	require.Equal(t, 0, code)
	require.True(t, rep.OK)
	require.Equal(t, 3, rep.Stored)
	kinds := map[string]int{}
	for _, d := range rep.Days {
		kinds[d.Kind] += d.Stored
	}
	require.Equal(t, map[string]int{"visit": 1, "declaration": 1, "assessment": 1}, kinds)

	late := event.Batch{Assessments: []event.Assessment{safetytest.Assessment(t, cat, 3, venue.KindMarket, bucket.DayOf(at), at, "a2", func(int) bool { return true })}}
	require.NoError(t, prod.Produce(ctx, &late))
	code, rep = run("--data-dir", dir)
	require.Equal(t, 1, code)
	require.Equal(t, 1, rep.Missing)

	code, _ = run("--data-dir", filepath.Join(t.TempDir(), "none"))
	require.Equal(t, 2, code, "no store there: a usage error, not an empty store made")
}
