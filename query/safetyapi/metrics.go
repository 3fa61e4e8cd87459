package safetyapi

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue"
)

// Metrics are the Safety Map's series; the package doc lists them.
type Metrics struct {
	assessments *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	feedback    *prometheus.CounterVec
	resolved    prometheus.Counter
	gauges      *gauges
}

// NewMetrics creates the series and registers them with reg (nil:
// unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		assessments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_safety_assessments_total", Help: "Venue self-assessments filed and made durable, by level.",
		}, []string{"level"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_safety_assessments_rejected_total", Help: "Venue self-assessments refused, by reason.",
		}, []string{"reason"}),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_safety_feedback_total", Help: "Citizen reports about venues taken, by category.",
		}, []string{"category"}),
		resolved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_safety_feedback_resolved_total", Help: "Citizen reports resolved by moderators.",
		}),
		gauges: &gauges{},
	}
	for _, l := range checklist.Levels() {
		if l != checklist.LevelNotAssessed {
			m.assessments.WithLabelValues(string(l))
		}
	}
	for _, r := range append(event.Reasons, "unknown_venue", "unavailable", "other") {
		m.rejected.WithLabelValues(string(r))
	}
	for _, c := range safety.Categories() {
		m.feedback.WithLabelValues(string(c))
	}
	if reg != nil {
		reg.MustRegister(m.assessments, m.rejected, m.feedback, m.resolved, m.gauges)
	}
	return m
}

// watch makes the gauges read h's counts of today when scraped.
func (m *Metrics) watch(h *Handler) {
	m.gauges.mu.Lock()
	defer m.gauges.mu.Unlock()
	m.gauges.h = h
}

// gaugeEvery is how often the gauges recount at most.
const gaugeEvery = 30 * time.Second

var (
	venuesDesc   = prometheus.NewDesc("truyvet_safety_venues", "Registered venues by today's safety level (not_assessed: no assessment today).", []string{"level"}, nil)
	byProvDesc   = prometheus.NewDesc("truyvet_safety_venues_by_province", "Registered venues by province and today's safety level.", []string{"province", "level"}, nil)
	missingDesc  = prometheus.NewDesc("truyvet_safety_assessments_missing_venues", "Registered venues with no assessment today.", nil, nil)
	openFeedDesc = prometheus.NewDesc("truyvet_safety_feedback_open", "Citizen reports waiting for moderation.", nil, nil)
)

// gauges is a collector of today's counts, recounted at most every
// gaugeEvery. Labels are bounded: five levels and the province list.
type gauges struct {
	mu   sync.Mutex
	h    *Handler
	at   time.Time
	last Counts
	ok   bool
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- venuesDesc
	ch <- byProvDesc
	ch <- missingDesc
	ch <- openFeedDesc
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.h == nil {
		return
	}
	if now := g.h.d.Now(); !g.ok || now.Sub(g.at) >= gaugeEvery {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d := g.h.today()
		ss, err := g.h.standings(ctx, venue.Filter{}, d)
		cancel()
		if err != nil {
			g.h.log.Warn("safety gauges: counting failed", "err", err)
		} else {
			g.last, g.at, g.ok = counts(d, ss), now, true
		}
	}
	if !g.ok {
		return
	}
	c := g.last
	for _, l := range checklist.Levels() {
		ch <- prometheus.MustNewConstMetric(venuesDesc, prometheus.GaugeValue, float64(c.Levels[l]), string(l))
	}
	known := province.Default()
	byLabel := map[string]map[checklist.Level]int{}
	var labels []string
	for _, p := range c.provinceCodes() {
		label := p
		if !known.Valid(p) {
			label = "other"
		}
		if byLabel[label] == nil {
			byLabel[label] = map[checklist.Level]int{}
			labels = append(labels, label)
		}
		for l, n := range c.Provinces[p].Levels {
			byLabel[label][l] += n
		}
	}
	for _, label := range labels {
		for _, l := range checklist.Levels() {
			ch <- prometheus.MustNewConstMetric(byProvDesc, prometheus.GaugeValue, float64(byLabel[label][l]), label, string(l))
		}
	}
	ch <- prometheus.MustNewConstMetric(missingDesc, prometheus.GaugeValue, float64(c.Missing))
	if c.Feedback != nil {
		ch <- prometheus.MustNewConstMetric(openFeedDesc, prometheus.GaugeValue, float64(*c.Feedback))
	}
}
