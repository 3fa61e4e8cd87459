package chstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/schemas/definition"
)

// Definitions implements definitions.Store: of the rows of one name@version,
// the first added.
func (s *Store) Definitions(ctx context.Context) ([]definition.Definition, error) {
	rows, err := s.conn.Query(ctx, "SELECT definition FROM "+s.db+".definitions ORDER BY name, version, added, definition LIMIT 1 BY name, version")
	if err != nil {
		s.m.errors.WithLabelValues("definitions").Inc()
		return nil, fmt.Errorf("read definitions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []definition.Definition
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		d, err := definition.Decode([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("stored definition: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// AddDefinition implements definitions.Store. It refuses a version already
// stored, writes, and reads the version back: when another server's row for
// it came first, this one lost (definitions.ErrExists) and its row is never
// read.
func (s *Store) AddDefinition(ctx context.Context, d definition.Definition) error {
	val, err := json.Marshal(d)
	if err != nil {
		return err
	}
	first := func() (string, error) {
		rows, err := s.conn.Query(ctx, "SELECT definition FROM "+s.db+".definitions WHERE name = ? AND version = ? ORDER BY added, definition LIMIT 1",
			d.Name, uint32(d.Version))
		if err != nil {
			return "", fmt.Errorf("read definition %s: %w", d.Ref(), err)
		}
		defer func() { _ = rows.Close() }()
		var raw string
		if rows.Next() {
			if err := rows.Scan(&raw); err != nil {
				return "", err
			}
		}
		return raw, rows.Err()
	}
	if have, err := first(); err != nil || have != "" {
		if err == nil {
			err = fmt.Errorf("%s: %w", d.Ref(), definitions.ErrExists)
		}
		return err
	}
	if err := s.insertRow(ctx, "definitions", "name, version, added, definition", d.Name, uint32(d.Version), time.Now().UnixNano(), string(val)); err != nil {
		s.m.errors.WithLabelValues("definitions").Inc()
		return fmt.Errorf("write definition %s: %w", d.Ref(), err)
	}
	have, err := first()
	if err != nil {
		return err
	}
	if have != string(val) {
		return fmt.Errorf("%s: %w", d.Ref(), definitions.ErrExists)
	}
	return nil
}
