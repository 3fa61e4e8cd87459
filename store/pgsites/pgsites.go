// Package pgsites keeps exposure sites and their alerts in PostgreSQL for the
// distributed mode (sites.Store).
//
// Each transition of a site is one transaction that locks the site's row,
// so two approvers racing get one success. Alerts are unique by alert_id
// (a UNIQUE key), and their delivery order seq is assigned under a table
// lock held until commit: an alert that commits later always has a greater
// seq. A sequence would not do: two writers take ids 7 and 8, 8 commits
// first, a reader sees 8 and moves its cursor past 7, which commits after —
// and is skipped for good. With the lock, a reader that has seen seq n has
// seen every alert up to n, so a cursor never skips one.
package pgsites

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truyvet/truyvet/store/pgschema"

	"github.com/truyvet/truyvet/sites"
)

// Options configure the store.
type Options struct {
	URL    string // postgres://…
	Schema string // PostgreSQL schema of this deployment (created if missing); default "truyvet"
}

// Store is the PostgreSQL site registry and alert store. It is safe for
// concurrent use, by any number of processes.
type Store struct {
	pool *pgschema.Pool
}

var _ sites.Store = (*Store)(nil)

// ErrNoURL is returned without a PostgreSQL URL.
var ErrNoURL = pgschema.ErrNoURL

// Open connects and creates the tables if missing.
func Open(ctx context.Context, opts Options) (*Store, error) {
	return pgschema.Open(ctx, opts.URL, opts.Schema, newStore)
}

// New uses a pool the caller owns and creates the tables if missing.
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

func (s *Store) table(name string) string { return s.pool.Table(name) }

func (s *Store) migrate(ctx context.Context) error {
	return pgschema.Migrate(ctx, s.pool.Pool, s.pool.Schema, "exposure site tables", []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table("exposure_sites") + ` (
			site_id bigint PRIMARY KEY CHECK (site_id > 0),
			status  text NOT NULL CHECK (status IN ('draft', 'published', 'retracted')),
			doc     jsonb NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS exposure_sites_status ON ` + s.table("exposure_sites") + ` (status)`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("alerts") + ` (
			seq      bigint PRIMARY KEY CHECK (seq > 0),
			alert_id text NOT NULL UNIQUE,
			site_id  bigint NOT NULL,
			type     text NOT NULL,
			user_id  bigint NOT NULL,
			doc      jsonb NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS alerts_site ON ` + s.table("alerts") + ` (site_id, type, seq)`,
	})
}

// Create implements sites.Registry.
func (s *Store) Create(ctx context.Context, site sites.Site) (sites.Site, error) {
	site.Status = sites.StatusDraft
	site.UpdatedAt = site.CreatedAt
	site.PublishedAt, site.RetractedAt, site.Swept = time.Time{}, time.Time{}, time.Time{}
	site.ApprovedBy, site.RetractedBy, site.RetractReason = "", "", ""
	site.LeaseHolder, site.LeaseUntil = "", time.Time{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE `+s.table("exposure_sites")+` IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock exposure sites: %w", err)
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(site_id), 0) FROM `+s.table("exposure_sites")).Scan(&last); err != nil {
			return fmt.Errorf("read exposure sites head: %w", err)
		}
		site.ID = uint64(last) + 1 //nolint:gosec // CHECK site_id > 0
		return s.write(ctx, tx, site, true)
	})
	if err != nil {
		return sites.Site{}, err
	}
	return site, nil
}

func (s *Store) write(ctx context.Context, tx pgx.Tx, site sites.Site, insert bool) error {
	doc, err := json.Marshal(site)
	if err != nil {
		return err
	}
	q := `UPDATE ` + s.table("exposure_sites") + ` SET status = $2, doc = $3 WHERE site_id = $1`
	if insert {
		q = `INSERT INTO ` + s.table("exposure_sites") + ` (site_id, status, doc) VALUES ($1, $2, $3)`
	}
	if _, err := tx.Exec(ctx, q, int64(site.ID), string(site.Status), doc); err != nil { //nolint:gosec // ids stay below 2^63
		return fmt.Errorf("write exposure site %d: %w", site.ID, err)
	}
	return nil
}

func decodeSite(id int64, doc []byte) (sites.Site, error) {
	var site sites.Site
	if err := json.Unmarshal(doc, &site); err != nil {
		return site, fmt.Errorf("stored exposure site %d: %w", id, err)
	}
	return site, nil
}

// Site implements sites.Registry.
func (s *Store) Site(ctx context.Context, id uint64) (sites.Site, error) {
	return s.read(ctx, s.pool, id, "")
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Store) read(ctx context.Context, q querier, id uint64, suffix string) (sites.Site, error) {
	var doc []byte
	err := q.QueryRow(ctx, `SELECT doc FROM `+s.table("exposure_sites")+` WHERE site_id = $1`+suffix, int64(id)).Scan(&doc) //nolint:gosec // ids stay below 2^63
	if errors.Is(err, pgx.ErrNoRows) {
		return sites.Site{}, fmt.Errorf("exposure site %d: %w", id, sites.ErrNotFound)
	}
	if err != nil {
		return sites.Site{}, fmt.Errorf("read exposure site %d: %w", id, err)
	}
	return decodeSite(int64(id), doc) //nolint:gosec // ids stay below 2^63
}

// transition applies change to site id in one transaction, its row locked.
func (s *Store) transition(ctx context.Context, id uint64, change func(*sites.Site) error) (sites.Site, error) {
	var site sites.Site
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if site, err = s.read(ctx, tx, id, " FOR UPDATE"); err != nil {
			return err
		}
		if err := change(&site); err != nil {
			return err
		}
		return s.write(ctx, tx, site, false)
	})
	if err != nil {
		return sites.Site{}, err
	}
	return site, nil
}

// Approve implements sites.Registry.
func (s *Store) Approve(ctx context.Context, id uint64, by string, at time.Time) (sites.Site, error) {
	return s.transition(ctx, id, func(site *sites.Site) error { return sites.ApproveRule(site, by, at) })
}

// Retract implements sites.Registry.
func (s *Store) Retract(ctx context.Context, id uint64, by, reason string, at time.Time) (sites.Site, error) {
	return s.transition(ctx, id, func(site *sites.Site) error { return sites.RetractRule(site, by, reason, at) })
}

// MarkSwept implements sites.Registry.
func (s *Store) MarkSwept(ctx context.Context, id uint64, began time.Time) error {
	_, err := s.transition(ctx, id, func(site *sites.Site) error {
		sites.SweptRule(site, began)
		return nil
	})
	return err
}

// Lease implements sites.Registry.
func (s *Store) Lease(ctx context.Context, id uint64, holder string, now, until time.Time) (bool, error) {
	_, err := s.transition(ctx, id, func(site *sites.Site) error { return sites.LeaseRule(site, holder, now, until) })
	if sites.LeaseHeld(err) {
		return false, nil
	}
	return err == nil, err
}

// Sites implements sites.Registry.
func (s *Store) Sites(ctx context.Context, statuses ...sites.Status) iter.Seq2[sites.Site, error] {
	return func(yield func(sites.Site, error) bool) {
		want := make([]string, len(statuses))
		for i, st := range statuses {
			want[i] = string(st)
		}
		rows, err := s.pool.Query(ctx, `SELECT site_id, doc FROM `+s.table("exposure_sites")+
			` WHERE cardinality($1::text[]) = 0 OR status = ANY($1) ORDER BY site_id`, want)
		if err != nil {
			yield(sites.Site{}, fmt.Errorf("list exposure sites: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var doc []byte
			if err := rows.Scan(&id, &doc); err != nil {
				yield(sites.Site{}, err)
				return
			}
			site, err := decodeSite(id, doc)
			if !yield(site, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(sites.Site{}, fmt.Errorf("list exposure sites: %w", err))
		}
	}
}

// Put implements sites.Alerts.
func (s *Store) Put(ctx context.Context, as []sites.Alert) ([]sites.Alert, error) {
	if len(as) == 0 {
		return nil, nil
	}
	var stored []sites.Alert
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored = stored[:0]
		// EXCLUSIVE holds other writers back until commit (seq in commit
		// order, see the package doc) and lets readers on.
		if _, err := tx.Exec(ctx, `LOCK TABLE `+s.table("alerts")+` IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock alerts: %w", err)
		}
		ids := make([]string, len(as))
		for i, a := range as {
			ids[i] = a.ID
		}
		have := map[string]bool{}
		rows, err := tx.Query(ctx, `SELECT alert_id FROM `+s.table("alerts")+` WHERE alert_id = ANY($1)`, ids)
		if err != nil {
			return fmt.Errorf("look up alerts: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			have[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM `+s.table("alerts")).Scan(&seq); err != nil {
			return fmt.Errorf("read alerts head: %w", err)
		}
		var copyRows [][]any
		for _, a := range as {
			if have[a.ID] {
				continue
			}
			have[a.ID] = true
			seq++
			a.Seq = uint64(seq) //nolint:gosec // CHECK seq > 0
			doc, err := json.Marshal(a)
			if err != nil {
				return err
			}
			copyRows = append(copyRows, []any{seq, a.ID, int64(a.SiteID), string(a.Type), int64(a.UserID), doc}) //nolint:gosec // ids stay below 2^63
			stored = append(stored, a)
		}
		if len(copyRows) == 0 {
			return nil
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{s.pool.Schema, "alerts"}, []string{"seq", "alert_id", "site_id", "type", "user_id", "doc"}, pgx.CopyFromRows(copyRows))
		if err != nil {
			return fmt.Errorf("store %d alerts: %w", len(copyRows), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		return nil, nil
	}
	return stored, nil
}

func (s *Store) alerts(ctx context.Context, q string, args ...any) ([]sites.Alert, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []sites.Alert
	for rows.Next() {
		var seq int64
		var doc []byte
		if err := rows.Scan(&seq, &doc); err != nil {
			return nil, err
		}
		var a sites.Alert
		if err := json.Unmarshal(doc, &a); err != nil {
			return nil, fmt.Errorf("stored alert %d: %w", seq, err)
		}
		a.Seq = uint64(seq) //nolint:gosec // CHECK seq > 0
		out = append(out, a)
	}
	return out, rows.Err()
}

// After implements sites.Alerts.
func (s *Store) After(ctx context.Context, seq uint64, limit int) ([]sites.Alert, error) {
	if seq >= 1<<63 {
		return nil, nil
	}
	return s.alerts(ctx, `SELECT seq, doc FROM `+s.table("alerts")+` WHERE seq > $1 ORDER BY seq LIMIT $2`, int64(seq), limit)
}

// Of implements sites.Alerts.
func (s *Store) Of(ctx context.Context, site uint64, t sites.Type) ([]sites.Alert, error) {
	if site >= 1<<63 {
		return nil, nil
	}
	return s.alerts(ctx, `SELECT seq, doc FROM `+s.table("alerts")+` WHERE site_id = $1 AND type = $2 ORDER BY seq`, int64(site), string(t))
}

// Has implements sites.Alerts.
func (s *Store) Has(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT alert_id FROM `+s.table("alerts")+` WHERE alert_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
