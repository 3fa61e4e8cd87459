// Package audit defines the trail of exposure lookups: every time someone
// asks who was exposed to a case, who asked, for what, and what came back.
// Health departments must be able to show who looked at whose contacts.
package audit

import (
	"context"
	"time"
)

// Entry records one exposure lookup.
type Entry struct {
	Time       time.Time `json:"time"`
	Requester  string    `json:"requester"` // the X-Requested-By header, as sent
	Remote     string    `json:"remote"`
	Case       uint32    `json:"case"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Depth      int       `json:"depth"`
	MinMinutes float64   `json:"min_minutes"`
	Format     string    `json:"format"`
	F1         int       `json:"f1"`
	F2         int       `json:"f2"`
	Status     int       `json:"status"`
}

// Trail stores entries durably and lists the most recent.
type Trail interface {
	Audit(ctx context.Context, e Entry) error
	RecentAudit(ctx context.Context, limit int) ([]Entry, error)
}
