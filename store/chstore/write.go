package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
)

// Write implements processor.Sink: one columnar insert per table, the
// tables' inserts in flight together (ClickHouse sorts and compresses each
// on its own thread), the assessments' after them. It returns nil once
// ClickHouse has every row. A failed write may have inserted some tables;
// the caller retries the whole batch, and replays change nothing (the
// stays, visitors and contacts tables fold exact duplicates, bitmaps are
// OR-ed, declarations are counted by id).
func (s *Store) Write(ctx context.Context, b *processor.Batch) error {
	g, gctx := errgroup.WithContext(ctx)
	if len(b.Records.Visits) > 0 {
		g.Go(func() error { return s.writeVisits(gctx, b.Records.Visits) })
	}
	if len(b.Records.Encounters) > 0 {
		g.Go(func() error { return s.writeEncounters(gctx, b.Records.Encounters) })
	}
	if len(b.Records.Declarations) > 0 {
		g.Go(func() error { return s.writeDeclarations(gctx, b.Records.Declarations) })
	}
	if len(b.Bitmaps) > 0 {
		g.Go(func() error { return s.writeBitmaps(gctx, b.Bitmaps) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Assessments last: a write that fails before them leaves none stored,
	// so its retry moves the venues' levels for the summary as the first
	// try would have (summary.Sink).
	return s.writeAssessments(ctx, b.Records.Assessments)
}

// writeVisits inserts vs into stays (by person) and visitors (by venue),
// the two inserts in flight together.
func (s *Store) writeVisits(ctx context.Context, vs []event.Visit) error {
	if n := len(vs); n > 0 {
		day := make([]uint32, n)
		user := make([]uint32, n)
		enter := make([]int64, n)
		venue := make([]uint32, n)
		id := make([]string, n)
		exit := make([]int64, n)
		source := make([]string, n)
		bytes := 0
		for i := range vs {
			v := &vs[i]
			day[i], user[i], enter[i], venue[i] = uint32(bucket.DayOf(v.Enter)), v.UserID, v.Enter, v.VenueID
			id[i], exit[i], source[i] = v.VisitID, v.Exit, v.Source
			bytes += 32 + len(v.VisitID) + len(v.Source)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			return s.insert(gctx, "stays", "day, user, enter, venue, visit_id, exit, source", n, bytes,
				day, user, enter, venue, id, exit, source)
		})
		g.Go(func() error {
			return s.insert(gctx, "visitors", "day, venue, enter, user, visit_id, exit", n, bytes,
				day, venue, enter, user, id, exit)
		})
		return g.Wait()
	}
	return nil
}

// writeEncounters inserts es into contacts, each in both directions.
func (s *Store) writeEncounters(ctx context.Context, es []event.Encounter) error {
	if n := len(es); n > 0 {
		// Both directions, so each side's lookups find it.
		day := make([]uint32, 0, 2*n)
		user := make([]uint32, 0, 2*n)
		start := make([]int64, 0, 2*n)
		peer := make([]uint32, 0, 2*n)
		dur := make([]uint32, 0, 2*n)
		id := make([]string, 0, 2*n)
		rssi := make([]int16, 0, 2*n)
		source := make([]string, 0, 2*n)
		bytes := 0
		for i := range es {
			e := &es[i]
			r := int16(-1000) // none
			if e.HasRSSI {
				r = int16(e.RSSI)
			}
			d := uint32(bucket.DayOf(e.Start))
			for _, side := range [2][2]uint32{{e.UserID, e.PeerID}, {e.PeerID, e.UserID}} {
				day, user, start, peer = append(day, d), append(user, side[0]), append(start, e.Start), append(peer, side[1])
				dur, id, rssi, source = append(dur, e.DurationS), append(id, e.EncounterID), append(rssi, r), append(source, e.Source)
				bytes += 30 + len(e.EncounterID) + len(e.Source)
			}
		}
		return s.insert(ctx, "contacts", "day, user, start, peer, duration, encounter_id, rssi, source", 2*n, bytes,
			day, user, start, peer, dur, id, rssi, source)
	}
	return nil
}

// writeBitmaps inserts the batch's co-location bitmaps.
func (s *Store) writeBitmaps(ctx context.Context, bms []processor.Bitmap) error {
	if n := len(bms); n > 0 {
		day := make([]uint32, n)
		venue := make([]uint32, n)
		bkt := make([]uint32, n)
		users := make([]uint32, n)
		bm := make([][]byte, n) // the driver copies them into its column: no string per bitmap
		bytes := 0
		for i := range bms {
			k := &bms[i]
			day[i], venue[i], bkt[i] = uint32(s.layout.DayOfBucket(k.Key.Bucket)), k.Key.Venue, k.Key.Bucket
			users[i], bm[i] = uint32(k.Users), k.Bytes
			bytes += 16 + len(k.Bytes)
		}
		return s.insert(ctx, "bitmaps", "day, venue, bucket, users, bitmap", n, bytes, day, venue, bkt, users, bm)
	}
	return nil
}

// insert sends one batch of columns to table.
func (s *Store) insert(ctx context.Context, table, columns string, rows, bytes int, cols ...any) error {
	start := time.Now()
	err := s.insertColumns(ctx, table, columns, cols)
	s.m.insert.WithLabelValues(table).Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.errors.WithLabelValues("insert_" + table).Inc()
		return unavailable(fmt.Sprintf("insert %d rows into %s.%s", rows, s.db, table), err)
	}
	s.m.rows.WithLabelValues(table).Add(float64(rows))
	s.m.bytes.WithLabelValues(table).Add(float64(bytes))
	return nil
}

func (s *Store) insertColumns(ctx context.Context, table, columns string, cols []any) error {
	var batch driver.Batch
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+"."+table+" ("+columns+")")
	if err != nil {
		return err
	}
	defer func() { _ = batch.Abort() }()
	for i, c := range cols {
		if err := batch.Column(i).Append(c); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return batch.Send()
}

// insertRow inserts one row. Inserts always go as data blocks: ClickHouse
// 18.16 does not take INSERT … VALUES through the native protocol.
func (s *Store) insertRow(ctx context.Context, table, columns string, values ...any) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+"."+table+" ("+columns+")")
	if err != nil {
		return err
	}
	defer func() { _ = batch.Abort() }()
	if err := batch.Append(values...); err != nil {
		return err
	}
	return batch.Send()
}
