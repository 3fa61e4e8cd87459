package demo

import (
	"context"
	"fmt"

	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
)

// LoadSafety writes the city's Safety Map — its venues' daily
// self-assessments through proc, its citizens' reports into queue — and
// notes how many in l.
func (l *Loaded) LoadSafety(ctx context.Context, proc *processor.Processor, queue safety.FeedbackStore) error {
	cat, err := checklist.Shipped()
	if err != nil {
		return err
	}
	as, err := l.City.Assessments(cat)
	if err != nil {
		return fmt.Errorf("the demo city's assessments: %w", err)
	}
	for len(as) > 0 {
		n := min(len(as), 5000)
		b := event.Batch{Assessments: as[:n]}
		if err := proc.Process(ctx, &b); err != nil {
			return fmt.Errorf("load the demo city's assessments: %w", err)
		}
		l.Assessments += n
		as = as[n:]
	}
	for _, f := range l.City.Feedback() {
		if _, err := queue.AddFeedback(ctx, f); err != nil {
			return fmt.Errorf("load the demo city's feedback: %w", err)
		}
		l.Feedback++
	}
	return nil
}
