// Package audittest is an in-memory audit.Log for the tests of the packages
// that write the trail.
package audittest

import (
	"context"
	"iter"
	"sync"

	"github.com/truyvet/truyvet/query/audit"
)

// Memory is an in-memory audit.Log, safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	entries []audit.Entry
}

var _ audit.Log = (*Memory)(nil)

// Append implements audit.Log.
func (m *Memory) Append(_ context.Context, e audit.Entry) (audit.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := ""
	if n := len(m.entries); n > 0 {
		prev = m.entries[n-1].Hash
	}
	e = audit.Chain(e, uint64(len(m.entries)), prev)
	m.entries = append(m.entries, e)
	return e, nil
}

// Entries implements audit.Log.
func (m *Memory) Entries(_ context.Context, f audit.Filter) ([]audit.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []audit.Entry{}
	for i := len(m.entries) - 1; i >= 0 && len(out) < f.Limit; i-- {
		if f.Match(m.entries[i]) {
			out = append(out, m.entries[i])
		}
	}
	return out, nil
}

// All implements audit.Log.
func (m *Memory) All(context.Context) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		for _, e := range m.Snapshot() {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Snapshot returns the entries so far, oldest first.
func (m *Memory) Snapshot() []audit.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Entry(nil), m.entries...)
}
