// Package pgvenue keeps the venue registry of the distributed mode in
// PostgreSQL (venue.Registry). Registrations from any replica are serialised
// by a lock on the table, so ids and Seq grow in commit order and a cached
// copy that asks for what came after the last Seq it saw misses nothing.
package pgvenue

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truyvet/truyvet/store/pgschema"

	"github.com/truyvet/truyvet/venue"
)

// Options configure the registry.
type Options struct {
	URL    string // postgres://…
	Schema string // PostgreSQL schema of this deployment (created if missing); default "truyvet"
}

// Registry is the PostgreSQL venue registry. It is safe for concurrent use.
type Registry struct {
	pool *pgschema.Pool
}

var _ venue.Registry = (*Registry)(nil)

// ErrNoURL is returned without a PostgreSQL URL.
var ErrNoURL = pgschema.ErrNoURL

// Open connects and creates the table if missing.
func Open(ctx context.Context, opts Options) (*Registry, error) {
	return pgschema.Open(ctx, opts.URL, opts.Schema, newStore)
}

// New uses a pool the caller owns and creates the table if missing.
func New(ctx context.Context, pool *pgxpool.Pool, schema string) (*Registry, error) {
	return newStore(ctx, pgschema.Borrow(pool, schema))
}

func newStore(ctx context.Context, pool *pgschema.Pool) (*Registry, error) {
	r := &Registry{pool: pool}
	if err := r.migrate(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Close releases the connections if Open made them.
func (r *Registry) Close() error {
	r.pool.Close()
	return nil
}

func (r *Registry) migrate(ctx context.Context) error {
	return pgschema.Migrate(ctx, r.pool.Pool, r.pool.Schema, "venue registry", []string{
		`CREATE TABLE IF NOT EXISTS ` + r.table() + ` (
			venue_id bigint PRIMARY KEY CHECK (venue_id BETWEEN 1 AND 4294967295),
			seq      bigint NOT NULL UNIQUE CHECK (seq > 0),
			name     text NOT NULL,
			kind     text NOT NULL,
			province text NOT NULL,
			district text NOT NULL,
			commune  text NOT NULL,
			address  text NOT NULL,
			lat      double precision NOT NULL,
			lon      double precision NOT NULL,
			registered_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE INDEX IF NOT EXISTS venues_province_kind ON ` + r.table() + ` (province, kind)`,
	})
}

const columns = `venue_id, seq, name, kind, province, district, commune, address, lat, lon`

func scan(row pgx.Row) (venue.Venue, error) {
	var v venue.Venue
	var id, seq int64
	var kind string
	err := row.Scan(&id, &seq, &v.Name, &kind, &v.Province, &v.District, &v.Commune, &v.Address, &v.Lat, &v.Lon)
	v.ID, v.Seq, v.Kind = uint32(id), uint64(seq), venue.Kind(kind) //nolint:gosec // the columns' CHECKs bound them
	return v, err
}

// Register implements venue.Registry.
func (r *Registry) Register(ctx context.Context, specs []venue.Spec) ([]venue.Venue, error) {
	var answer []venue.Venue
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// EXCLUSIVE lets readers on and holds other registrations back.
		if _, err := tx.Exec(ctx, `LOCK TABLE `+r.table()+` IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock venue registry: %w", err)
		}
		var maxID, seq int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(venue_id), 0), coalesce(max(seq), 0) FROM `+r.table()).Scan(&maxID, &seq); err != nil {
			return fmt.Errorf("read venue registry head: %w", err)
		}
		stored, err := r.existing(ctx, tx, specs)
		if err != nil {
			return err
		}
		var fresh []venue.Venue
		answer, fresh, err = venue.Plan(specs, uint32(maxID), uint64(seq), func(id uint32) (venue.Venue, bool, error) { //nolint:gosec // bounded by the column's CHECK
			v, ok := stored[id]
			return v, ok, nil
		})
		if err != nil || len(fresh) == 0 {
			return err
		}
		rows := make([][]any, len(fresh))
		for i, v := range fresh {
			rows[i] = []any{int64(v.ID), int64(v.Seq), v.Name, string(v.Kind), v.Province, v.District, v.Commune, v.Address, v.Lat, v.Lon} //nolint:gosec // Seq < 2^63
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{r.pool.Schema, "venues"},
			[]string{"venue_id", "seq", "name", "kind", "province", "district", "commune", "address", "lat", "lon"}, pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("register %d venues: %w", len(fresh), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// table is the registry's table, quoted.
func (r *Registry) table() string { return r.pool.Table("venues") }

// existing reads the stored venues among the ids specs name.
func (r *Registry) existing(ctx context.Context, tx pgx.Tx, specs []venue.Spec) (map[uint32]venue.Venue, error) {
	var ids []int64
	for _, s := range specs {
		if s.ID != 0 {
			ids = append(ids, int64(s.ID))
		}
	}
	out := map[uint32]venue.Venue{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT `+columns+` FROM `+r.table()+` WHERE venue_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read venues to import: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[v.ID] = v
	}
	return out, rows.Err()
}

// Venue implements venue.Registry.
func (r *Registry) Venue(ctx context.Context, id uint32) (venue.Venue, error) {
	v, err := scan(r.pool.QueryRow(ctx, `SELECT `+columns+` FROM `+r.table()+` WHERE venue_id = $1`, int64(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return venue.Venue{}, fmt.Errorf("venue %d: %w", id, venue.ErrNotFound)
	}
	if err != nil {
		return venue.Venue{}, fmt.Errorf("read venue %d: %w", id, err)
	}
	return v, nil
}

// Venues implements venue.Registry.
func (r *Registry) Venues(ctx context.Context, f venue.Filter) iter.Seq2[venue.Venue, error] {
	return func(yield func(venue.Venue, error) bool) {
		rows, err := r.pool.Query(ctx, `SELECT `+columns+` FROM `+r.table()+
			` WHERE ($1 = '' OR province = $1) AND ($2 = '' OR kind = $2) ORDER BY venue_id`, f.Province, string(f.Kind))
		if err != nil {
			yield(venue.Venue{}, fmt.Errorf("list venues: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				yield(v, err)
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(venue.Venue{}, fmt.Errorf("list venues: %w", err))
		}
	}
}

// Since implements venue.Registry.
func (r *Registry) Since(ctx context.Context, seq uint64, limit int) ([]venue.Venue, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+columns+` FROM `+r.table()+` WHERE seq > $1 ORDER BY seq LIMIT $2`, int64(seq), limit) //nolint:gosec // Seq < 2^63
	if err != nil {
		return nil, fmt.Errorf("venues since %d: %w", seq, err)
	}
	defer rows.Close()
	var out []venue.Venue
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
