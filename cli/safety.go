package cli

import (
	"context"
	"net/http"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/safetyapi"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pgfeedback"
	"github.com/truyvet/truyvet/venue"
)

// safetySide is what a process serves of the Safety Map (query/safetyapi):
// a nil field leaves its routes out (see safetyapi.Deps).
type safetySide struct {
	registry    venue.Registry
	producer    safetyapi.Producer
	assessments safety.AssessmentStore
	feedback    safety.FeedbackStore
	sites       safetyapi.ActiveSites
	limits      event.Limits
}

// routes adds the Safety Map's routes to mux.
func (s safetySide) routes(mux *http.ServeMux, d *deps, now func() time.Time) error {
	h, err := safetyapi.New(safetyapi.Deps{
		Registry: s.registry, Producer: s.producer, Assessments: s.assessments, Feedback: s.feedback, Sites: s.sites,
		Limits: s.limits, Metrics: safetyapi.NewMetrics(d.reg), Logger: d.log, Now: now,
	})
	if err != nil {
		return err
	}
	h.Register(mux)
	return nil
}

// openFeedback opens the distributed mode's feedback queue in PostgreSQL.
func openFeedback(ctx context.Context, af accessFlags) (*pgfeedback.Store, error) {
	return pgfeedback.Open(ctx, pgfeedback.Options{URL: af.pgURL, Schema: af.pgSchema})
}

// activeSites counts a venue's active exposure sites for the Safety Map
// (safetyapi.ActiveSites): published, not retracted, and on the public list
// on that local day — a window that began by the day's end and ended at most
// sites.PublicFor before it.
type activeSites struct{ reg sites.Registry }

func (a activeSites) ActiveSites(ctx context.Context, day bucket.Day) (map[uint32]int, error) {
	end := time.Unix((day + 1).Start(), 0)
	out := map[uint32]int{}
	for s, err := range a.reg.Sites(ctx, sites.StatusPublished) {
		if err != nil {
			return nil, err
		}
		if !s.From.After(end) && !s.To.Before(end.Add(-sites.PublicFor)) {
			out[s.VenueID]++
		}
	}
	return out, nil
}
