package audit

import (
	"context"
	"iter"

	"github.com/prometheus/client_golang/prometheus"
)

// Counted is a Log that counts what it writes:
//
//	truyvet_audit_entries_written_total{action}   entries appended
//	truyvet_audit_write_errors_total              appends that failed
type Counted struct {
	Log
	written *prometheus.CounterVec
	errors  prometheus.Counter
}

// NewCounted wraps l, registering its metrics with reg (nil: unregistered).
func NewCounted(l Log, reg prometheus.Registerer) *Counted {
	c := &Counted{
		Log: l,
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_audit_entries_written_total", Help: "Audit entries appended, by action.",
		}, []string{"action"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_audit_write_errors_total", Help: "Audit appends that failed.",
		}),
	}
	for _, a := range []string{ActionExposures, ActionVisitors, ActionCaseRegister, ActionAccountCreate, ActionAccountRevoke,
		ActionSiteCreate, ActionSiteApprove, ActionSiteRetract} {
		c.written.WithLabelValues(a)
	}
	if reg != nil {
		reg.MustRegister(c.written, c.errors)
	}
	return c
}

// Append implements Log.
func (c *Counted) Append(ctx context.Context, e Entry) (Entry, error) {
	e, err := c.Log.Append(ctx, e)
	if err != nil {
		c.errors.Inc()
		return e, err
	}
	c.written.WithLabelValues(actionLabel(e.Action)).Inc()
	return e, nil
}

// All implements Log.
func (c *Counted) All(ctx context.Context) iter.Seq2[Entry, error] { return c.Log.All(ctx) }

func actionLabel(a string) string {
	switch a {
	case ActionExposures, ActionVisitors, ActionCaseRegister, ActionAccountCreate, ActionAccountRevoke,
		ActionSiteCreate, ActionSiteApprove, ActionSiteRetract:
		return a
	}
	return "other"
}
