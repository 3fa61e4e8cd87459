// Package pgstore keeps the state of the distributed mode that needs
// transactions in PostgreSQL: accounts and their token hashes
// (access.Store), registered cases (cases.Registry) and the hash-chained
// audit trail (audit.Log). Every ingest and query replica uses the same
// database, so a revocation holds at once on all of them (nothing is
// cached), and appends to the trail from any replica are serialised by a
// transaction-scoped advisory lock.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/store/pgschema"
)

// Options configure the store.
type Options struct {
	URL    string // postgres://…
	Schema string // PostgreSQL schema of this deployment (created if missing)
}

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	schema  string // sanitized identifier
	lock    int64  // advisory lock key of the trail
	channel string // NOTIFY channel of account changes (WatchRevocations)
}

var (
	_ access.Store   = (*Store)(nil)
	_ cases.Registry = (*Store)(nil)
	_ audit.Log      = (*Store)(nil)
)

// ErrNoURL is returned without a PostgreSQL URL.
var ErrNoURL = errors.New("--postgres-url is required")

// Open connects and creates the tables if missing.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URL == "" {
		return nil, ErrNoURL
	}
	if opts.Schema == "" {
		opts.Schema = "truyvet"
	}
	pool, err := pgxpool.New(ctx, opts.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("truyvet audit " + opts.Schema))
	s := &Store{pool: pool, schema: pgx.Identifier{opts.Schema}.Sanitize(), lock: int64(h.Sum64() >> 1), channel: fmt.Sprintf("truyvet_accounts_%016x", h.Sum64())}
	if err := s.migrate(ctx, opts.Schema); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context, schema string) error {
	return pgschema.Migrate(ctx, s.pool, schema, "accounts and cases", []string{
		`CREATE TABLE IF NOT EXISTS ` + s.schema + `.accounts (
			id text PRIMARY KEY,
			token_hash bytea NOT NULL UNIQUE,
			created_at timestamptz NOT NULL,
			admin boolean NOT NULL,
			revoked_at timestamptz,
			body text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + s.schema + `.cases (
			user_id bigint PRIMARY KEY,
			body text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + s.schema + `.audit_trail (
			seq bigint PRIMARY KEY,
			time timestamptz NOT NULL,
			case_id bigint NOT NULL,
			account_id text NOT NULL,
			account_name text NOT NULL,
			requester text NOT NULL,
			hash text NOT NULL,
			body text NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS audit_trail_case ON ` + s.schema + `.audit_trail (case_id, seq)`,
	})
}

// CreateAccount implements access.Store.
func (s *Store) CreateAccount(ctx context.Context, a access.Account, h access.TokenHash) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO `+s.schema+`.accounts (id, token_hash, created_at, admin, body) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, h[:], a.CreatedAt, a.HasRole(access.RoleAdmin), string(body))
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

func (s *Store) accountWhere(ctx context.Context, where string, arg any) (access.Account, error) {
	var body string
	err := s.pool.QueryRow(ctx, `SELECT body FROM `+s.schema+`.accounts WHERE `+where, arg).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return access.Account{}, access.ErrNotFound
	}
	if err != nil {
		return access.Account{}, fmt.Errorf("read account: %w", err)
	}
	var a access.Account
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return a, fmt.Errorf("account: %w", err)
	}
	return a, nil
}

// AccountByToken implements access.Store.
func (s *Store) AccountByToken(ctx context.Context, h access.TokenHash) (access.Account, error) {
	return s.accountWhere(ctx, "token_hash = $1", h[:])
}

// Account implements access.Store.
func (s *Store) Account(ctx context.Context, id string) (access.Account, error) {
	return s.accountWhere(ctx, "id = $1", id)
}

// Accounts implements access.Store.
func (s *Store) Accounts(ctx context.Context) ([]access.Account, error) {
	rows, err := s.pool.Query(ctx, `SELECT body FROM `+s.schema+`.accounts ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out := []access.Account{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var a access.Account
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return nil, fmt.Errorf("account: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RevokeAccount implements access.Store.
func (s *Store) RevokeAccount(ctx context.Context, id string, t time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var body string
		err := tx.QueryRow(ctx, `SELECT body FROM `+s.schema+`.accounts WHERE id = $1 FOR UPDATE`, id).Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			return access.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("revoke account: %w", err)
		}
		var a access.Account
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return fmt.Errorf("account: %w", err)
		}
		if a.RevokedAt != nil {
			return nil
		}
		t = t.UTC().Truncate(time.Microsecond)
		a.RevokedAt = &t
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE `+s.schema+`.accounts SET revoked_at = $2, body = $3 WHERE id = $1`, id, t, string(b)); err != nil {
			return err
		}
		// Delivered to every listening process when the revocation commits.
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, id)
		return err
	})
}

// HasAdmin implements access.Store.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.schema+`.accounts WHERE admin AND revoked_at IS NULL)`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for an admin: %w", err)
	}
	return ok, nil
}

// RegisterCase implements cases.Registry.
func (s *Store) RegisterCase(ctx context.Context, c cases.Case) (bool, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO `+s.schema+`.cases (user_id, body) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`,
		int64(c.UserID), string(body))
	if err != nil {
		return false, fmt.Errorf("register case %d: %w", c.UserID, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	old, err := s.Case(ctx, c.UserID)
	if err != nil {
		return false, err
	}
	if cases.Same(old, c) {
		return false, nil
	}
	return false, cases.ErrConflict
}

// Case implements cases.Registry.
func (s *Store) Case(ctx context.Context, id uint32) (cases.Case, error) {
	var body string
	err := s.pool.QueryRow(ctx, `SELECT body FROM `+s.schema+`.cases WHERE user_id = $1`, int64(id)).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return cases.Case{}, cases.ErrNotFound
	}
	if err != nil {
		return cases.Case{}, fmt.Errorf("read case %d: %w", id, err)
	}
	var c cases.Case
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return c, fmt.Errorf("case %d: %w", id, err)
	}
	return c, nil
}

// Append implements audit.Log: under the trail's advisory lock, read the
// head, chain e after it, insert.
func (s *Store) Append(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lock); err != nil {
			return err
		}
		var seq int64
		var prev string
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM `+s.schema+`.audit_trail ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		e = audit.Chain(e, uint64(seq), prev)
		body, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO `+s.schema+`.audit_trail (seq, time, case_id, account_id, account_name, requester, hash, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			int64(e.Seq), e.Time, int64(e.Case), e.Account.ID, e.Account.Name, e.Requester, e.Hash, string(body))
		return err
	})
	if err != nil {
		return e, fmt.Errorf("append audit entry: %w", err)
	}
	return e, nil
}

// Entries implements audit.Log.
func (s *Store) Entries(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	rows, err := s.pool.Query(ctx, `SELECT body FROM `+s.schema+`.audit_trail
		WHERE ($1 = 0 OR case_id = $1) AND ($2 = '' OR account_id = $2)
		  AND ($3 = '' OR requester = $3 OR account_name = $3) AND ($4::timestamptz IS NULL OR time >= $4)
		ORDER BY seq DESC LIMIT $5`, int64(f.Case), f.Account, f.Requester, since, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	out := []audit.Entry{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var e audit.Entry
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("audit entry: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// All implements audit.Log, in pages of 1000 entries.
func (s *Store) All(ctx context.Context) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		after := int64(0)
		for {
			rows, err := s.pool.Query(ctx, `SELECT seq, body FROM `+s.schema+`.audit_trail WHERE seq > $1 ORDER BY seq LIMIT 1000`, after)
			if err != nil {
				yield(audit.Entry{}, fmt.Errorf("read audit trail: %w", err))
				return
			}
			var page []audit.Entry
			var broken error
			for broken == nil && rows.Next() {
				var seq int64
				var body string
				if err := rows.Scan(&seq, &body); err != nil {
					broken = err
					break
				}
				var e audit.Entry
				if err := json.Unmarshal([]byte(body), &e); err != nil {
					broken = &audit.BrokenError{Seq: uint64(seq), Reason: "does not decode: " + err.Error()}
					break
				}
				page = append(page, e)
				after = seq
			}
			rows.Close()
			if broken == nil {
				broken = rows.Err()
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if broken != nil {
				yield(audit.Entry{}, broken)
				return
			}
			if len(page) < 1000 {
				return
			}
		}
	}
}

// SetTrailEntry overwrites the stored body of entry seq: tampering, for the
// tests that show Verify catches it.
func (s *Store) SetTrailEntry(ctx context.Context, seq uint64, raw []byte) error {
	_, err := s.pool.Exec(ctx, `UPDATE `+s.schema+`.audit_trail SET body = $2 WHERE seq = $1`, int64(seq), string(raw))
	return err
}

// DropSchema removes the deployment's tables (tests).
func (s *Store) DropSchema(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+s.schema+` CASCADE`)
	return err
}

var _ access.RevocationFeed = (*Store)(nil)

// listenCheck is how long WatchRevocations waits for a notification before
// it checks that its connection still answers: a connection lost without an
// error would otherwise leave the cache serving what it cannot vouch for.
const listenCheck = 5 * time.Second

// WatchRevocations implements access.RevocationFeed: it LISTENs on the
// schema's channel, which RevokeAccount notifies in its transaction, on a
// connection of its own, and starts again (after a backoff up to 5 s) when
// that connection fails, the cache bypassed meanwhile.
func (s *Store) WatchRevocations(ctx context.Context, c *access.TokenCache) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		heard, _ := s.listen(ctx, c)
		c.Listening(false)
		if heard {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen serves c from one connection until it fails; listened reports
// whether it got as far as listening.
func (s *Store) listen(ctx context.Context, c *access.TokenCache) (listened bool, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	conn := pc.Hijack() // a listening connection must not go back to the pool
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, err
	}
	c.Listening(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, listenCheck)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			c.Changed()
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			if _, err := conn.Exec(ctx, `SELECT 1`); err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}
