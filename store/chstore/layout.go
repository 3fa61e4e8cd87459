package chstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/truyvet/truyvet/index/bucket"
)

// The bucket layout is recorded once per database, by whichever process
// gets there first, and checked by every process after it. ClickHouse has no
// transactions, so two inserts (or an insert after a read) race; a CREATE is
// atomic instead: the server lets one CREATE VIEW of a name succeed and
// answers every other one "already exists". The layout is therefore the
// definition of the view {db}.layout, a constant SELECT, and whoever created
// it set the layout for the database's life. Every opener, the creator too,
// reads the view back and compares.
//
// Databases from before the view have the layout as rows of {db}.meta; the
// first opener proposes those values, so the view records what was written.

// checkLayout records the layout in a new database, or checks it against the
// one recorded.
func (s *Store) checkLayout(ctx context.Context) error {
	have, err := s.recordedLayout(ctx)
	if errors.Is(err, errNoLayout) {
		propose, lerr := s.legacyLayout(ctx)
		if lerr != nil {
			return lerr
		}
		if propose == (bucket.Layout{}) {
			propose = s.layout
		}
		if cerr := s.createLayout(ctx, propose); cerr != nil {
			return cerr
		}
		have, err = s.recordedLayout(ctx)
	}
	if err != nil {
		return err
	}
	if have.BucketSeconds != s.layout.BucketSeconds {
		return fmt.Errorf("%w: bucket_seconds is %d, not %d", ErrLayoutMismatch, have.BucketSeconds, s.layout.BucketSeconds)
	}
	if have.DwellSeconds != s.layout.DwellSeconds {
		return fmt.Errorf("%w: dwell_seconds is %d, not %d", ErrLayoutMismatch, have.DwellSeconds, s.layout.DwellSeconds)
	}
	return nil
}

var errNoLayout = errors.New("no layout recorded")

// recordedLayout reads the layout view; errNoLayout when there is none.
func (s *Store) recordedLayout(ctx context.Context) (bucket.Layout, error) {
	var l bucket.Layout
	err := s.conn.QueryRow(ctx, "SELECT bucket_seconds, dwell_seconds FROM "+s.db+".layout").Scan(&l.BucketSeconds, &l.DwellSeconds)
	if ex := (*clickhouse.Exception)(nil); errors.As(err, &ex) && ex.Code == codeUnknownTable {
		return l, errNoLayout
	}
	if err != nil {
		return l, fmt.Errorf("read layout: %w", err)
	}
	return l, nil
}

// createLayout creates the layout view with l, unless another process did.
func (s *Store) createLayout(ctx context.Context, l bucket.Layout) error {
	onCluster := ""
	if s.cluster != "" {
		// Every server runs the queue of ON CLUSTER statements in one order,
		// so the first CREATE queued is the one every server keeps.
		onCluster = " ON CLUSTER " + s.cluster
	}
	q := fmt.Sprintf("CREATE VIEW %s.layout%s AS SELECT toInt64(%d) AS bucket_seconds, toInt64(%d) AS dwell_seconds",
		s.db, onCluster, l.BucketSeconds, l.DwellSeconds)
	// A concurrent CREATE of the same name may be refused while the other
	// one is under way ("is creating or attaching right now", also code 57);
	// the view is then there once that one finishes.
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		err := s.ddl(ctx, q)
		if err == nil {
			s.log.Info("recorded bucket layout", "database", s.db, "bucket_seconds", l.BucketSeconds, "dwell_seconds", l.DwellSeconds)
			return nil
		}
		ex := (*clickhouse.Exception)(nil)
		if !errors.As(err, &ex) || ex.Code != codeTableAlreadyExists {
			return fmt.Errorf("record layout: %w", err)
		}
		if _, err := s.recordedLayout(ctx); !errors.Is(err, errNoLayout) || wait > time.Second {
			return nil // recorded by another process (or read errors surface in the caller)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// legacyLayout returns the layout recorded as rows of {db}.meta by earlier
// versions, or the zero layout when they are not both there.
func (s *Store) legacyLayout(ctx context.Context) (bucket.Layout, error) {
	rows, err := s.conn.Query(ctx, "SELECT name, value FROM "+s.db+".meta")
	if err != nil {
		if ex := (*clickhouse.Exception)(nil); errors.As(err, &ex) && ex.Code == codeUnknownTable {
			return bucket.Layout{}, ErrNotMigrated
		}
		return bucket.Layout{}, fmt.Errorf("read meta: %w", err)
	}
	defer func() { _ = rows.Close() }()
	have := map[string]int64{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return bucket.Layout{}, err
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			have[k] = n
		}
	}
	if err := rows.Err(); err != nil {
		return bucket.Layout{}, err
	}
	b, okB := have["bucket_seconds"]
	d, okD := have["dwell_seconds"]
	if !okB || !okD {
		return bucket.Layout{}, nil
	}
	return bucket.Layout{BucketSeconds: b, DwellSeconds: d}, nil
}
