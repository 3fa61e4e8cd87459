// Package chjoin is the ClickHouse peer without bitmaps: stays and encounters
// in plain MergeTree tables and contact finding as a SQL self-join on venue
// with the interval overlap in WHERE — what one would write on ClickHouse
// without truyvet's index. It runs on ClickHouse 18.16 (USING joins, inserts
// as data blocks).
package chjoin

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Peer is the ClickHouse self-join peer.
type Peer struct {
	conn driver.Conn
	db   string
}

var _ peers.Peer = (*Peer)(nil)

// New connects and uses database db (created if missing; a plain name).
func New(ctx context.Context, addr []string, db string) (*Peer, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
	if err != nil {
		return nil, err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &Peer{conn: conn, db: db}, nil
}

// Name implements peers.Peer.
func (p *Peer) Name() string { return "ClickHouse self-join (no bitmaps)" }

// Load implements peers.Peer.
func (p *Peer) Load(ctx context.Context, visits []event.Visit, encounters []event.Encounter) error {
	d := p.db
	for _, st := range []string{
		"DROP TABLE IF EXISTS " + d + ".visits", "DROP TABLE IF EXISTS " + d + ".stays", "DROP TABLE IF EXISTS " + d + ".encounters",
		"CREATE TABLE " + d + ".visits (user UInt32, venue UInt32, visit_id String, enter Int64, exit Int64) ENGINE = MergeTree ORDER BY (user, enter)",
		"CREATE TABLE " + d + ".stays (user UInt32, venue UInt32, start Int64, stop Int64) ENGINE = MergeTree ORDER BY (venue, start)",
		"CREATE TABLE " + d + ".encounters (user UInt32, peer UInt32, start Int64, stop Int64) ENGINE = MergeTree ORDER BY (user, start)",
	} {
		if err := p.conn.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	for chunk := range slices.Chunk(visits, 100_000) {
		b, err := p.conn.PrepareBatch(ctx, "INSERT INTO "+d+".visits (user, venue, visit_id, enter, exit)")
		if err != nil {
			return err
		}
		for i := range chunk {
			v := &chunk[i]
			if err := b.Append(v.UserID, v.VenueID, v.VisitID, v.Enter, v.Exit); err != nil {
				return err
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert visits: %w", err)
		}
	}
	for chunk := range slices.Chunk(encounters, 100_000) {
		b, err := p.conn.PrepareBatch(ctx, "INSERT INTO "+d+".encounters (user, peer, start, stop)")
		if err != nil {
			return err
		}
		for i := range chunk {
			e := &chunk[i]
			if err := b.Append(e.UserID, e.PeerID, e.Start, e.End()); err != nil {
				return err
			}
			if err := b.Append(e.PeerID, e.UserID, e.Start, e.End()); err != nil {
				return err
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert encounters: %w", err)
		}
	}
	st := fmt.Sprintf(`INSERT INTO %s.stays (user, venue, start, stop)
		SELECT user, venue, enter, if(max(exit) = 0, enter + %d, max(exit)) AS stop
		FROM %s.visits GROUP BY user, venue, visit_id, enter HAVING stop > enter`, d, peers.Dwell, d)
	if err := p.conn.Exec(ctx, st); err != nil {
		return fmt.Errorf("combine stays: %w", err)
	}
	return nil
}

// Contacts implements peers.Peer: the sources' stays self-joined with every
// stay on venue, overlap in WHERE; plus the sources' encounters.
func (p *Peer) Contacts(ctx context.Context, sources map[uint32]int64, to int64) ([]peers.Span, error) {
	if len(sources) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(sources))
	lo := to
	for u, l := range sources {
		ids = append(ids, strconv.FormatUint(uint64(u), 10))
		lo = min(lo, l)
	}
	in := strings.Join(ids, ",")
	d := p.db
	q := fmt.Sprintf(`
		SELECT src, other, greatest(s_start, o_start) AS a, least(s_stop, o_stop) AS b, 2 AS channel
		FROM (SELECT user AS src, venue, start AS s_start, stop AS s_stop FROM %[1]s.stays
		      WHERE user IN (%[2]s) AND stop > %[3]d AND start < %[4]d)
		ALL INNER JOIN
		     (SELECT user AS other, venue, start AS o_start, stop AS o_stop FROM %[1]s.stays
		      WHERE stop > %[3]d AND start < %[4]d)
		USING (venue)
		WHERE o_start < s_stop AND o_stop > s_start AND other != src
		UNION ALL
		SELECT user AS src, peer AS other, start AS a, stop AS b, 1 AS channel FROM %[1]s.encounters
		WHERE user IN (%[2]s) AND stop > %[3]d AND start < %[4]d`, d, in, lo, to)
	rows, err := p.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("find contacts: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []peers.Span
	for rows.Next() {
		var src, other uint32
		var a, b int64
		var ch uint8
		if err := rows.Scan(&src, &other, &a, &b, &ch); err != nil {
			return nil, err
		}
		out = append(out, peers.Span{Source: src, Other: other, Start: a, End: b, Channel: graph.Channel(ch)})
	}
	return out, rows.Err()
}

// Drop deletes the peer's database.
func (p *Peer) Drop(ctx context.Context) error {
	return p.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+p.db)
}

// Close implements peers.Peer.
func (p *Peer) Close() error { return p.conn.Close() }
