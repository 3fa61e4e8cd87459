package metricnames

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/kafkaconsumer"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/pebblestore"
)

const golden = "testdata/metrics.golden"

// TestMetricNames lists the series each package registers, as
// "package name{label,...}" lines, and compares them with the golden file.
func TestMetricNames(t *testing.T) {
	stages := []struct {
		pkg      string
		register func(t *testing.T, reg prometheus.Registerer)
	}{
		{"ingest", func(_ *testing.T, reg prometheus.Registerer) { ingest.NewMetrics(reg) }},
		{"ingest/kafkaproducer", func(_ *testing.T, reg prometheus.Registerer) { kafkaproducer.NewMetrics(reg) }},
		{"processor", func(_ *testing.T, reg prometheus.Registerer) { processor.NewMetrics(reg) }},
		{"processor/kafkaconsumer", func(_ *testing.T, reg prometheus.Registerer) { kafkaconsumer.NewMetrics(reg) }},
		{"query/api", func(_ *testing.T, reg prometheus.Registerer) { api.NewMetrics(reg) }},
		{"store/chstore", func(_ *testing.T, reg prometheus.Registerer) { chstore.NewMetrics(reg) }},
		{"store/pebblestore", func(t *testing.T, reg prometheus.Registerer) {
			s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), Registerer: reg})
			require.NoError(t, err)
			require.NoError(t, s.Close())
		}},
	}
	var lines []string
	for _, st := range stages {
		rec := &recorder{reg: prometheus.NewPedanticRegistry()}
		st.register(t, rec)
		require.NotEmpty(t, rec.series, "%s registers no metrics", st.pkg)
		slices.Sort(rec.series)
		for _, s := range rec.series {
			require.Regexp(t, `^truyvet_[a-z]+_[a-z0-9_]+[{]`, s, "%s: names are truyvet_<stage>_<what>_<unit>", st.pkg)
			lines = append(lines, st.pkg+" "+s)
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "missing golden file: run UPDATE_GOLDEN=1 go test ./internal/metricnames/")
	require.Equal(t, string(want), got, "the /metrics names changed: if on purpose, rewrite %s with UPDATE_GOLDEN=1", golden)
}

// recorder registers on reg and keeps, for every descriptor, the series
// name and its variable labels.
type recorder struct {
	reg    *prometheus.Registry
	series []string
}

var descRE = regexp.MustCompile(`fqName: "([^"]*)".*variableLabels: \{([^}]*)\}`)

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			return fmt.Errorf("unparsed descriptor %s", d)
		}
		r.series = append(r.series, m[1]+"{"+m[2]+"}")
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }
