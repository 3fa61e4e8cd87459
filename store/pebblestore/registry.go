package pebblestore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/query/audit"
)

// The registry key spaces, outside retention:
//
//	accounts   'U' account_id        → JSON access.Account
//	tokens     'T' sha256:32         → account_id
//	cases      'C' user:4            → JSON cases.Case
//	trail      'A' seq:8             → JSON audit.Entry (hash-chained)
//
// Writes that read first (the trail's head, an account's revocation, a
// case's registration) hold registry.mu; one process owns a data directory,
// so that lock is the trail's lock.
const (
	spaceAccount = 'U'
	spaceToken   = 'T'
	spaceCase    = 'C'
	spaceTrail   = 'A'
)

var (
	_ access.Store   = (*Store)(nil)
	_ cases.Registry = (*Store)(nil)
	_ audit.Log      = (*Store)(nil)
)

type registry struct {
	mu       sync.Mutex
	seq      uint64 // the trail's last entry
	lastHash string
}

// openRegistry reads the trail's head and moves the entries of the old,
// unchained trail ('a') into the chain, in their order.
func (s *Store) openRegistry(ctx context.Context) error {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceTrail}, UpperBound: []byte{spaceTrail + 1}})
	if err != nil {
		return err
	}
	if it.Last() {
		var e audit.Entry
		if err := json.Unmarshal(it.Value(), &e); err != nil {
			_ = it.Close()
			return fmt.Errorf("audit trail head: %w", err)
		}
		s.reg.seq, s.reg.lastHash = e.Seq, e.Hash
	}
	if err := it.Close(); err != nil {
		return err
	}
	old, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceAudit}, UpperBound: []byte{spaceAudit + 1}})
	if err != nil {
		return err
	}
	defer func() { _ = old.Close() }()
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	n := 0
	for ok := old.First(); ok; ok = old.Next() {
		var e audit.Entry
		if err := json.Unmarshal(old.Value(), &e); err != nil {
			return fmt.Errorf("old audit entry: %w", err)
		}
		if e.Action == "" {
			e.Action = audit.ActionExposures
		}
		e = audit.Chain(e, s.reg.seq, s.reg.lastHash)
		if err := s.setEntry(wb, e); err != nil {
			return err
		}
		s.reg.seq, s.reg.lastHash = e.Seq, e.Hash
		n++
	}
	if n == 0 {
		return nil
	}
	if err := wb.DeleteRange([]byte{spaceAudit}, []byte{spaceAudit + 1}, nil); err != nil {
		return err
	}
	s.log.Info("moved the old audit trail into the hash chain", "entries", n)
	return wb.Commit(pebble.Sync)
}

func trailKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{spaceTrail}, seq) }

func (s *Store) setEntry(wb *pebble.Batch, e audit.Entry) error {
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return wb.Set(trailKey(e.Seq), val, nil)
}

// Append implements audit.Log.
func (s *Store) Append(_ context.Context, e audit.Entry) (audit.Entry, error) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	e = audit.Chain(e, s.reg.seq, s.reg.lastHash)
	val, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	if err := s.db.Set(trailKey(e.Seq), val, pebble.Sync); err != nil {
		return e, fmt.Errorf("write audit entry %d: %w", e.Seq, err)
	}
	s.reg.seq, s.reg.lastHash = e.Seq, e.Hash
	return e, nil
}

// Entries implements audit.Log, newest first.
func (s *Store) Entries(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceTrail}, UpperBound: []byte{spaceTrail + 1}})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	out := []audit.Entry{}
	for ok := it.Last(); ok && len(out) < f.Limit; ok = it.Prev() {
		var e audit.Entry
		if err := json.Unmarshal(it.Value(), &e); err != nil {
			return nil, fmt.Errorf("decode audit entry: %w", err)
		}
		if !f.Since.IsZero() && e.Time.Before(f.Since) {
			break // entries are in time order
		}
		if f.Match(e) {
			out = append(out, e)
		}
	}
	return out, it.Error()
}

// All implements audit.Log.
func (s *Store) All(ctx context.Context) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceTrail}, UpperBound: []byte{spaceTrail + 1}})
		if err != nil {
			yield(audit.Entry{}, err)
			return
		}
		defer func() { _ = it.Close() }()
		for ok := it.First(); ok; ok = it.Next() {
			var e audit.Entry
			if err := json.Unmarshal(it.Value(), &e); err != nil {
				seq := uint64(0)
				if k := it.Key(); len(k) == 9 {
					seq = binary.BigEndian.Uint64(k[1:])
				}
				yield(audit.Entry{}, &audit.BrokenError{Seq: seq, Reason: "does not decode: " + err.Error()})
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(audit.Entry{}, err)
		}
	}
}

// SetTrailEntry overwrites the stored entry seq with raw bytes: tampering,
// for the tests that show Verify catches it.
func (s *Store) SetTrailEntry(_ context.Context, seq uint64, raw []byte) error {
	return s.db.Set(trailKey(seq), raw, pebble.Sync)
}

func accountKey(id string) []byte { return append([]byte{spaceAccount}, id...) }

func tokenKey(h access.TokenHash) []byte { return append([]byte{spaceToken}, h[:]...) }

// CreateAccount implements access.Store.
func (s *Store) CreateAccount(_ context.Context, a access.Account, h access.TokenHash) error {
	val, err := json.Marshal(a)
	if err != nil {
		return err
	}
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	if err := wb.Set(accountKey(a.ID), val, nil); err != nil {
		return err
	}
	if err := wb.Set(tokenKey(h), []byte(a.ID), nil); err != nil {
		return err
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

// AccountByToken implements access.Store.
func (s *Store) AccountByToken(ctx context.Context, h access.TokenHash) (access.Account, error) {
	id, closer, err := s.db.Get(tokenKey(h))
	if errors.Is(err, pebble.ErrNotFound) {
		return access.Account{}, access.ErrNotFound
	}
	if err != nil {
		return access.Account{}, err
	}
	sid := string(id)
	_ = closer.Close()
	return s.Account(ctx, sid)
}

// Account implements access.Store.
func (s *Store) Account(_ context.Context, id string) (access.Account, error) {
	v, closer, err := s.db.Get(accountKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return access.Account{}, access.ErrNotFound
	}
	if err != nil {
		return access.Account{}, err
	}
	defer func() { _ = closer.Close() }()
	var a access.Account
	if err := json.Unmarshal(v, &a); err != nil {
		return a, fmt.Errorf("account %s: %w", id, err)
	}
	return a, nil
}

// Accounts implements access.Store, oldest first.
func (s *Store) Accounts(ctx context.Context) ([]access.Account, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceAccount}, UpperBound: []byte{spaceAccount + 1}})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	out := []access.Account{}
	for ok := it.First(); ok; ok = it.Next() {
		var a access.Account
		if err := json.Unmarshal(it.Value(), &a); err != nil {
			return nil, fmt.Errorf("account: %w", err)
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b access.Account) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, it.Error()
}

// RevokeAccount implements access.Store.
func (s *Store) RevokeAccount(ctx context.Context, id string, t time.Time) error {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	a, err := s.Account(ctx, id)
	if err != nil {
		return err
	}
	if a.RevokedAt != nil {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	a.RevokedAt = &t
	val, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.db.Set(accountKey(id), val, pebble.Sync)
}

// HasAdmin implements access.Store.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	as, err := s.Accounts(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.Active() && a.HasRole(access.RoleAdmin) {
			return true, nil
		}
	}
	return false, nil
}

func caseKey(id uint32) []byte { return binary.BigEndian.AppendUint32([]byte{spaceCase}, id) }

// RegisterCase implements cases.Registry.
func (s *Store) RegisterCase(ctx context.Context, c cases.Case) (bool, error) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	old, err := s.Case(ctx, c.UserID)
	switch {
	case err == nil && cases.Same(old, c):
		return false, nil
	case err == nil:
		return false, cases.ErrConflict
	case !errors.Is(err, cases.ErrNotFound):
		return false, err
	}
	val, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	if err := s.db.Set(caseKey(c.UserID), val, pebble.Sync); err != nil {
		return false, fmt.Errorf("register case %d: %w", c.UserID, err)
	}
	return true, nil
}

// Case implements cases.Registry.
func (s *Store) Case(_ context.Context, id uint32) (cases.Case, error) {
	v, closer, err := s.db.Get(caseKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return cases.Case{}, cases.ErrNotFound
	}
	if err != nil {
		return cases.Case{}, err
	}
	defer func() { _ = closer.Close() }()
	var c cases.Case
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("case %d: %w", id, err)
	}
	return c, nil
}
