package pebblestore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/query/audit"
)

// Audit implements audit.Trail: entries are kept under their own key space,
// outside retention, in time order.
func (s *Store) Audit(ctx context.Context, e audit.Entry) error {
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := []byte{spaceAudit}
	key = binary.BigEndian.AppendUint64(key, uint64(e.Time.UnixNano()))
	key = binary.BigEndian.AppendUint64(key, s.auditSeq.Add(1))
	return s.db.Set(key, val, s.wo)
}

// RecentAudit implements audit.Trail, newest first.
func (s *Store) RecentAudit(ctx context.Context, limit int) ([]audit.Entry, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceAudit}, UpperBound: []byte{spaceAudit + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []audit.Entry
	for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
		var e audit.Entry
		if err := json.Unmarshal(it.Value(), &e); err != nil {
			return nil, fmt.Errorf("decode audit entry: %w", err)
		}
		out = append(out, e)
	}
	return out, it.Error()
}
