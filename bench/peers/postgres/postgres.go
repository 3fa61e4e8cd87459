// Package postgres is the PostgreSQL peer: stays as int8range intervals with
// a GiST index on (venue, during) (btree_gist for the venue), encounters with
// a btree on the person, and contact finding as range-overlap self-joins —
// how a health department's analyst would model it in PostgreSQL.
package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Peer is the PostgreSQL peer.
type Peer struct {
	pool   *pgxpool.Pool
	schema string
}

var _ peers.Peer = (*Peer)(nil)

// New connects to url and keeps its tables in schema (created if missing).
func New(ctx context.Context, url, schema string) (*Peer, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	p := &Peer{pool: pool, schema: pgx.Identifier{schema}.Sanitize()}
	for _, st := range []string{"CREATE EXTENSION IF NOT EXISTS btree_gist", "CREATE SCHEMA IF NOT EXISTS " + p.schema} {
		if _, err := pool.Exec(ctx, st); err != nil {
			pool.Close()
			return nil, fmt.Errorf("%s: %w", st, err)
		}
	}
	return p, nil
}

// Name implements peers.Peer.
func (p *Peer) Name() string { return "PostgreSQL 15 (int8range, GiST)" }

// Load implements peers.Peer: COPY the records in, combine stays by the visit
// rule in SQL, then index and analyze.
func (p *Peer) Load(ctx context.Context, visits []event.Visit, encounters []event.Encounter) error {
	s := p.schema
	for _, st := range []string{
		"DROP TABLE IF EXISTS " + s + ".visits, " + s + ".stays, " + s + ".encounters_raw, " + s + ".encounters",
		"CREATE UNLOGGED TABLE " + s + ".visits (visit_id text, user_id bigint, venue bigint, enter bigint, exit bigint)",
		"CREATE UNLOGGED TABLE " + s + ".encounters_raw (user_id bigint, peer_id bigint, start bigint, stop bigint)",
	} {
		if _, err := p.pool.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	if _, err := p.pool.CopyFrom(ctx, pgx.Identifier{unquote(s), "visits"}, []string{"visit_id", "user_id", "venue", "enter", "exit"},
		pgx.CopyFromSlice(len(visits), func(i int) ([]any, error) {
			v := &visits[i]
			return []any{v.VisitID, int64(v.UserID), int64(v.VenueID), v.Enter, v.Exit}, nil
		})); err != nil {
		return fmt.Errorf("copy visits: %w", err)
	}
	// Encounters both ways, so each side's lookups find them by user_id.
	if _, err := p.pool.CopyFrom(ctx, pgx.Identifier{unquote(s), "encounters_raw"}, []string{"user_id", "peer_id", "start", "stop"},
		pgx.CopyFromSlice(2*len(encounters), func(i int) ([]any, error) {
			e := &encounters[i/2]
			a, b := int64(e.UserID), int64(e.PeerID)
			if i%2 == 1 {
				a, b = b, a
			}
			return []any{a, b, e.Start, e.End()}, nil
		})); err != nil {
		return fmt.Errorf("copy encounters: %w", err)
	}
	for _, st := range []string{
		fmt.Sprintf(`CREATE UNLOGGED TABLE %s.stays AS
			SELECT user_id, venue, int8range(enter, CASE WHEN max(exit) = 0 THEN enter + %d ELSE max(exit) END) AS during
			FROM %s.visits GROUP BY user_id, venue, visit_id, enter`, s, peers.Dwell, s),
		"DELETE FROM " + s + ".stays WHERE isempty(during)",
		"CREATE UNLOGGED TABLE " + s + ".encounters AS SELECT user_id, peer_id, int8range(start, stop) AS during FROM " + s + ".encounters_raw",
		"DROP TABLE " + s + ".encounters_raw",
		"CREATE INDEX ON " + s + ".stays USING gist (venue, during)",
		"CREATE INDEX ON " + s + ".stays (user_id)",
		"CREATE INDEX ON " + s + ".encounters (user_id)",
		"ANALYZE " + s + ".stays",
		"ANALYZE " + s + ".encounters",
	} {
		if _, err := p.pool.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	return nil
}

// Contacts implements peers.Peer with one query: the sources' stays, joined
// to everyone's overlapping stays at the same venue through the GiST index,
// plus the sources' encounters.
func (p *Peer) Contacts(ctx context.Context, sources map[uint32]int64, to int64) ([]peers.Span, error) {
	us := make([]int64, 0, len(sources))
	los := make([]int64, 0, len(sources))
	for u, lo := range sources {
		us, los = append(us, int64(u)), append(los, lo)
	}
	s := p.schema
	rows, err := p.pool.Query(ctx, `
		WITH src AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS t(u, lo)),
		ss AS (
			SELECT src.u, st.venue, st.during * int8range(src.lo, $3) AS r
			FROM src JOIN `+s+`.stays st ON st.user_id = src.u
			WHERE st.during && int8range(src.lo, $3))
		SELECT ss.u, o.user_id, lower(ss.r * o.during), upper(ss.r * o.during), 2
		FROM ss JOIN `+s+`.stays o ON o.venue = ss.venue AND o.during && ss.r AND o.user_id <> ss.u
		UNION ALL
		SELECT src.u, e.peer_id, lower(e.during), upper(e.during), 1
		FROM src JOIN `+s+`.encounters e ON e.user_id = src.u
		WHERE e.during && int8range(src.lo, $3)`, us, los, to)
	if err != nil {
		return nil, fmt.Errorf("find contacts: %w", err)
	}
	defer rows.Close()
	var out []peers.Span
	for rows.Next() {
		var src, other, start, end int64
		var ch int32
		if err := rows.Scan(&src, &other, &start, &end, &ch); err != nil {
			return nil, err
		}
		out = append(out, peers.Span{Source: uint32(src), Other: uint32(other), Start: start, End: end, Channel: graph.Channel(ch)})
	}
	return out, rows.Err()
}

// Drop deletes the peer's schema and tables.
func (p *Peer) Drop(ctx context.Context) error {
	_, err := p.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+p.schema+" CASCADE")
	return err
}

// Close implements peers.Peer.
func (p *Peer) Close() error {
	p.pool.Close()
	return nil
}

// unquote returns the raw name of a sanitized identifier.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
