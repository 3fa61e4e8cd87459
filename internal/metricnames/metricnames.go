// Package metricnames lists the /metrics series truyvet's stages register:
// each one's name, label names and whether it is a histogram, read from the
// metrics' descriptions (a vector with no children yet is not gathered at
// all). Tests use it to keep the names from changing silently (its own
// test, against testdata/metrics.golden, rewritten with UPDATE_GOLDEN=1)
// and to check that deploy/'s dashboards and rules name real series.
package metricnames

import (
	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/query/audit"
	"time"

	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/ingest/kafkaproducer"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/kafkaconsumer"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/safetyapi"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/summary"
)

// Family is one registered metric.
type Family struct {
	Name      string
	Labels    []string // variable label names, as declared
	Histogram bool
}

// Stage is what one package registers, by name.
type Stage struct {
	Package  string // the package's path below the module, e.g. "processor/kafkaconsumer"
	Families []Family
}

// Registered registers every stage's metrics on pedantic registries, through
// the constructors the truyvet commands call, and returns what each
// registered. dir is an empty directory for the embedded store, which
// registers its metrics when opened.
func Registered(ctx context.Context, dir string) ([]Stage, error) {
	stages := []struct {
		pkg      string
		register func(prometheus.Registerer) error
	}{
		{"access", func(reg prometheus.Registerer) error { access.NewMetrics(reg); return nil }},
		{"access/tokencache", func(reg prometheus.Registerer) error {
			access.NewTokenCache(time.Minute, 1, time.Now, reg)
			return nil
		}},
		{"ingest", func(reg prometheus.Registerer) error { ingest.NewMetrics(reg); return nil }},
		{"ingest/kafkaproducer", func(reg prometheus.Registerer) error { kafkaproducer.NewMetrics(reg); return nil }},
		{"processor", func(reg prometheus.Registerer) error { processor.NewMetrics(reg); return nil }},
		{"processor/kafkaconsumer", func(reg prometheus.Registerer) error { kafkaconsumer.NewMetrics(reg); return nil }},
		{"query/api", func(reg prometheus.Registerer) error { api.NewMetrics(reg); return nil }},
		{"query/audit", func(reg prometheus.Registerer) error { audit.NewCounted(nil, reg); return nil }},
		{"query/safetyapi", func(reg prometheus.Registerer) error { safetyapi.NewMetrics(reg); return nil }},
		{"sites", func(reg prometheus.Registerer) error { sites.NewMetrics(reg); return nil }},
		{"store/chstore", func(reg prometheus.Registerer) error { chstore.NewMetrics(reg); return nil }},
		{"summary", func(reg prometheus.Registerer) error { summary.NewMetrics(reg); return nil }},
		{"store/pebblestore", func(reg prometheus.Registerer) error {
			s, err := pebblestore.Open(ctx, pebblestore.Options{Dir: dir, Layout: bucket.DefaultLayout(), Registerer: reg})
			if err != nil {
				return err
			}
			return s.Close()
		}},
	}
	out := make([]Stage, 0, len(stages))
	for _, st := range stages {
		rec := &recorder{reg: prometheus.NewPedanticRegistry()}
		if err := st.register(rec); err != nil {
			return nil, fmt.Errorf("%s: %w", st.pkg, err)
		}
		if rec.err != nil {
			return nil, fmt.Errorf("%s: %w", st.pkg, rec.err)
		}
		slices.SortFunc(rec.families, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, Stage{Package: st.pkg, Families: rec.families})
	}
	return out, nil
}

// recorder is a prometheus.Registerer that registers on reg and notes each
// collector's metrics.
type recorder struct {
	reg      *prometheus.Registry
	families []Family
	err      error // the first description it could not read
}

var descString = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*variableLabels: \{([^{}]*)\}\}$`)

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	var histogram bool
	switch c.(type) {
	case *prometheus.HistogramVec, prometheus.Histogram:
		histogram = true
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		m := descString.FindStringSubmatch(d.String())
		if m == nil {
			if r.err == nil {
				r.err = fmt.Errorf("cannot read the description %s", d)
			}
			continue
		}
		f := Family{Name: m[1], Histogram: histogram}
		for l := range strings.SplitSeq(m[2], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				f.Labels = append(f.Labels, l)
			}
		}
		r.families = append(r.families, f)
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
