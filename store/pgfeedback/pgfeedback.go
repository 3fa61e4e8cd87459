// Package pgfeedback keeps the Safety Map's feedback queue of the
// distributed mode in PostgreSQL (safety.FeedbackStore), shared by every
// query replica. Ids come from a sequence, so they grow in the order
// reports were added; a resolution is one conditional UPDATE, so of two
// moderators resolving one report at once exactly one wins.
package pgfeedback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truyvet/truyvet/store/pgschema"

	"github.com/truyvet/truyvet/safety"
)

// Options configure the store.
type Options struct {
	URL    string // postgres://…
	Schema string // PostgreSQL schema of this deployment (created if missing); default "truyvet"
}

// Store is the PostgreSQL feedback queue. It is safe for concurrent use.
type Store struct {
	pool *pgschema.Pool
}

var _ safety.FeedbackStore = (*Store)(nil)

// ErrNoURL is returned without a PostgreSQL URL.
var ErrNoURL = pgschema.ErrNoURL

// Open connects and creates the table if missing.
func Open(ctx context.Context, opts Options) (*Store, error) {
	return pgschema.Open(ctx, opts.URL, opts.Schema, newStore)
}

// New uses a pool the caller owns and creates the table if missing.
func New(ctx context.Context, pool *pgxpool.Pool, schema string) (*Store, error) {
	return newStore(ctx, pgschema.Borrow(pool, schema))
}

func newStore(ctx context.Context, pool *pgschema.Pool) (*Store, error) {
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the connections if Open made them.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func (s *Store) table() string { return s.pool.Table("feedback") }

func (s *Store) migrate(ctx context.Context) error {
	return pgschema.Migrate(ctx, s.pool.Pool, s.pool.Schema, "feedback table", []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table() + ` (
			feedback_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			venue_id    bigint NOT NULL CHECK (venue_id BETWEEN 1 AND 4294967295),
			province    text NOT NULL,
			category    text NOT NULL,
			body        text NOT NULL,
			status      text NOT NULL CHECK (status IN ('open', 'resolved')),
			created_at  timestamptz NOT NULL,
			resolved_at timestamptz,
			resolved_by text NOT NULL DEFAULT '',
			resolution  text NOT NULL DEFAULT '')`,
		`CREATE INDEX IF NOT EXISTS feedback_open ON ` + s.table() + ` (venue_id) WHERE status = 'open'`,
	})
}

const columns = `feedback_id, venue_id, province, category, body, status, created_at, resolved_at, resolved_by, resolution`

func scan(row pgx.Row) (safety.Feedback, error) {
	var f safety.Feedback
	var id, venue int64
	var category, status string
	err := row.Scan(&id, &venue, &f.Province, &category, &f.Text, &status, &f.CreatedAt, &f.ResolvedAt, &f.ResolvedBy, &f.Resolution)
	f.ID, f.VenueID = uint64(id), uint32(venue) //nolint:gosec // the columns' CHECKs bound them
	f.Category, f.Status = safety.Category(category), safety.Status(status)
	f.CreatedAt = f.CreatedAt.UTC()
	if f.ResolvedAt != nil {
		t := f.ResolvedAt.UTC()
		f.ResolvedAt = &t
	}
	return f, err
}

// AddFeedback implements safety.FeedbackStore.
func (s *Store) AddFeedback(ctx context.Context, f safety.Feedback) (safety.Feedback, error) {
	out, err := scan(s.pool.QueryRow(ctx, `INSERT INTO `+s.table()+` (venue_id, province, category, body, status, created_at)
		VALUES ($1, $2, $3, $4, 'open', $5) RETURNING `+columns, int64(f.VenueID), f.Province, string(f.Category), f.Text, f.CreatedAt))
	if err != nil {
		return f, fmt.Errorf("add feedback: %w", err)
	}
	return out, nil
}

// ListFeedback implements safety.FeedbackStore.
func (s *Store) ListFeedback(ctx context.Context, ff safety.FeedbackFilter) ([]safety.Feedback, error) {
	limit := int64(ff.Limit)
	if limit <= 0 {
		limit = -1
	}
	provinces := ff.Provinces
	if provinces == nil {
		provinces = []string{}
	}
	if ff.After >= 1<<63 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM `+s.table()+`
		WHERE feedback_id > $1 AND ($2 = '' OR status = $2) AND ($3 = 0 OR venue_id = $3)
		  AND (cardinality($4::text[]) = 0 OR province = ANY($4))
		ORDER BY feedback_id LIMIT CASE WHEN $5 < 0 THEN NULL ELSE $5 END`,
		int64(ff.After), string(ff.Status), int64(ff.Venue), provinces, limit)
	if err != nil {
		return nil, fmt.Errorf("list feedback: %w", err)
	}
	defer rows.Close()
	var out []safety.Feedback
	for rows.Next() {
		f, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// ResolveFeedback implements safety.FeedbackStore.
func (s *Store) ResolveFeedback(ctx context.Context, id uint64, by, note string, at time.Time) (safety.Feedback, error) {
	if id >= 1<<63 {
		return safety.Feedback{}, fmt.Errorf("feedback %d: %w", id, safety.ErrFeedbackNotFound)
	}
	f, err := scan(s.pool.QueryRow(ctx, `UPDATE `+s.table()+` SET status = 'resolved', resolved_at = $2, resolved_by = $3, resolution = $4
		WHERE feedback_id = $1 AND status = 'open' RETURNING `+columns, int64(id), at, by, note))
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("resolve feedback %d: %w", id, err)
	}
	f, err = scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM `+s.table()+` WHERE feedback_id = $1`, int64(id)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return safety.Feedback{}, fmt.Errorf("feedback %d: %w", id, safety.ErrFeedbackNotFound)
	case err != nil:
		return f, fmt.Errorf("read feedback %d: %w", id, err)
	}
	return f, fmt.Errorf("feedback %d: %w", id, safety.ErrAlreadyResolved)
}

// OpenFeedback implements safety.FeedbackStore.
func (s *Store) OpenFeedback(ctx context.Context) (map[uint32]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT venue_id, count(*) FROM `+s.table()+` WHERE status = 'open' GROUP BY venue_id`)
	if err != nil {
		return nil, fmt.Errorf("count open feedback: %w", err)
	}
	defer rows.Close()
	out := map[uint32]int{}
	for rows.Next() {
		var v, n int64
		if err := rows.Scan(&v, &n); err != nil {
			return nil, err
		}
		out[uint32(v)] = int(n) //nolint:gosec // bounded by the column's CHECK
	}
	return out, rows.Err()
}
