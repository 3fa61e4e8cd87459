package pebblestore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/schemas/definition"
)

// definitionKey is 'f' name 0x00 version: names cannot hold a zero byte.
func definitionKey(d definition.Definition) []byte {
	k := append([]byte{spaceDef}, d.Name...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(d.Version))
}

// Definitions implements definitions.Store.
func (s *Store) Definitions(ctx context.Context) ([]definition.Definition, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceDef}, UpperBound: []byte{spaceDef + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []definition.Definition
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read definition: %w", err)
		}
		d, err := definition.Decode(v)
		if err != nil {
			return nil, fmt.Errorf("stored definition %q: %w", it.Key()[1:], err)
		}
		out = append(out, d)
	}
	return out, it.Error()
}

// AddDefinition implements definitions.Store: durable once the write-ahead
// log is synced.
func (s *Store) AddDefinition(_ context.Context, d definition.Definition) error {
	val, err := json.Marshal(d)
	if err != nil {
		return err
	}
	key := definitionKey(d)
	s.defMu.Lock()
	defer s.defMu.Unlock()
	_, closer, err := s.db.Get(key)
	switch {
	case err == nil:
		_ = closer.Close()
		return fmt.Errorf("%s: %w", d.Ref(), definitions.ErrExists)
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	return s.db.Set(key, val, s.wo)
}
