package pebblestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/event"
)

// RecordIDs calls yield with each distinct record id stored for kind on day
// (visit_id, encounter_id, declaration_id or assessment_id), for
// reconciliation (processor/reconcile.Store): one scan of the day's keys of
// the kind, the id read from each key.
func (s *Store) RecordIDs(ctx context.Context, kind event.Kind, day bucket.Day, yield func(id string)) error {
	var (
		lo     []byte
		idlen  int // offset of the id's length byte
		suffix int // bytes after the id
	)
	switch kind {
	case event.KindVisit:
		lo, idlen, suffix = dayPrefix(spaceStay, day), stayFixed-8-1, 8
	case event.KindEncounter:
		lo, idlen = dayPrefix(spaceContact, day), contactFixed-1
	case event.KindDeclaration:
		lo, idlen = append(dayPrefix(spaceDecl, day), declRecord), 1+4+1+4+8
	case event.KindAssessment:
		lo, idlen = dayPrefix(spaceAssessment, day), 1+4+4+8
	default:
		return fmt.Errorf("record ids of kind %d: %w", kind, errors.ErrUnsupported)
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	defer func() { _ = it.Close() }()
	seen := map[string]struct{}{} // a stay's records and an encounter's two directions share their id
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) <= idlen || len(k) != idlen+1+int(k[idlen])+suffix {
			return fmt.Errorf("%s key %x: %w", kind, k, errKey)
		}
		id := k[idlen+1 : idlen+1+int(k[idlen])]
		if _, ok := seen[string(id)]; ok {
			continue
		}
		seen[string(id)] = struct{}{}
		yield(string(id))
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan %s ids of %s: %w", kind, day, err)
	}
	return nil
}
