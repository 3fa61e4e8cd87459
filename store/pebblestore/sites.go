package pebblestore

import (
	"cmp"
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

	"github.com/truyvet/truyvet/sites"
)

// The exposure sites' key spaces, outside retention:
//
//	sites        'X' site:8                 → JSON sites.Site
//	site alerts  'x' site:8 type:1 user:4   → seq:8 (the alerts of a site)
//	alerts       'Y' seq:8                  → JSON sites.Alert (delivery order)
//	alert ids    'y' alert_id               → seq:8 (each id once)
//
// Writes hold siteLock.mu (one process owns a data directory): a transition
// reads a site, then writes it; Put reads the last Seq and the ids, then
// writes, so Seq grows in commit order and a reader never misses an alert
// stored after its cursor.
const (
	spaceSite       = 'X'
	spaceSiteAlert  = 'x'
	spaceAlert      = 'Y'
	spaceAlertID    = 'y'
	typeByteExpo    = 'e'
	typeByteRetract = 'r'
)

var _ sites.Store = (*Store)(nil)

type siteLock struct{ mu sync.Mutex }

func siteKey(id uint64) []byte { return binary.BigEndian.AppendUint64([]byte{spaceSite}, id) }

func alertKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{spaceAlert}, seq) }

func alertIDKey(id string) []byte { return append([]byte{spaceAlertID}, id...) }

func siteAlertPrefix(site uint64, t sites.Type) []byte {
	k := binary.BigEndian.AppendUint64([]byte{spaceSiteAlert}, site)
	if t == sites.TypeRetraction {
		return append(k, typeByteRetract)
	}
	return append(k, typeByteExpo)
}

// Create implements sites.Registry.
func (s *Store) Create(ctx context.Context, site sites.Site) (sites.Site, error) {
	s.sites.mu.Lock()
	defer s.sites.mu.Unlock()
	last, err := s.lastKey(ctx, spaceSite, 8)
	if err != nil {
		return sites.Site{}, err
	}
	site.ID, site.Status = last+1, sites.StatusDraft
	site.UpdatedAt = site.CreatedAt
	site.PublishedAt, site.RetractedAt, site.Swept = time.Time{}, time.Time{}, time.Time{}
	site.ApprovedBy, site.RetractedBy, site.RetractReason = "", "", ""
	site.LeaseHolder, site.LeaseUntil = "", time.Time{}
	return site, s.putSite(site)
}

func (s *Store) putSite(site sites.Site) error {
	b, err := json.Marshal(site)
	if err != nil {
		return err
	}
	if err := s.db.Set(siteKey(site.ID), b, s.wo); err != nil {
		return fmt.Errorf("write exposure site %d: %w", site.ID, err)
	}
	return nil
}

// Site implements sites.Registry.
func (s *Store) Site(_ context.Context, id uint64) (sites.Site, error) {
	b, closer, err := s.db.Get(siteKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return sites.Site{}, fmt.Errorf("exposure site %d: %w", id, sites.ErrNotFound)
	}
	if err != nil {
		return sites.Site{}, fmt.Errorf("read exposure site %d: %w", id, err)
	}
	defer func() { _ = closer.Close() }()
	var site sites.Site
	if err := json.Unmarshal(b, &site); err != nil {
		return sites.Site{}, fmt.Errorf("stored exposure site %d: %w", id, err)
	}
	return site, nil
}

// transition applies change to site id under the lock and stores it.
func (s *Store) transition(ctx context.Context, id uint64, change func(*sites.Site) error) (sites.Site, error) {
	s.sites.mu.Lock()
	defer s.sites.mu.Unlock()
	site, err := s.Site(ctx, id)
	if err != nil {
		return site, err
	}
	if err := change(&site); err != nil {
		return sites.Site{}, err
	}
	return site, s.putSite(site)
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
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceSite}, UpperBound: []byte{spaceSite + 1}})
		if err != nil {
			yield(sites.Site{}, err)
			return
		}
		defer func() { _ = it.Close() }()
		for ok := it.First(); ok; ok = it.Next() {
			var site sites.Site
			if err := json.Unmarshal(it.Value(), &site); err != nil {
				yield(site, fmt.Errorf("stored exposure site %x: %w", it.Key(), err))
				return
			}
			if (len(statuses) == 0 || slices.Contains(statuses, site.Status)) && !yield(site, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(sites.Site{}, err)
		}
	}
}

// Put implements sites.Alerts.
func (s *Store) Put(ctx context.Context, as []sites.Alert) ([]sites.Alert, error) {
	s.sites.mu.Lock()
	defer s.sites.mu.Unlock()
	seq, err := s.lastKey(ctx, spaceAlert, 8)
	if err != nil {
		return nil, err
	}
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	seen := map[string]bool{}
	var stored []sites.Alert
	for _, a := range as {
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		_, closer, err := s.db.Get(alertIDKey(a.ID))
		if err == nil {
			_ = closer.Close()
			continue
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return nil, fmt.Errorf("look up alert %s: %w", a.ID, err)
		}
		seq++
		a.Seq = seq
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		sk := binary.BigEndian.AppendUint64(nil, seq)
		if err := errors.Join(wb.Set(alertKey(seq), b, nil), wb.Set(alertIDKey(a.ID), sk, nil),
			wb.Set(binary.BigEndian.AppendUint32(siteAlertPrefix(a.SiteID, a.Type), a.UserID), sk, nil)); err != nil {
			return nil, err
		}
		stored = append(stored, a)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	if err := wb.Commit(s.wo); err != nil {
		return nil, fmt.Errorf("store %d alerts: %w", len(stored), err)
	}
	return stored, nil
}

func (s *Store) alert(seq uint64) (sites.Alert, error) {
	b, closer, err := s.db.Get(alertKey(seq))
	if err != nil {
		return sites.Alert{}, fmt.Errorf("read alert %d: %w", seq, err)
	}
	defer func() { _ = closer.Close() }()
	var a sites.Alert
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("stored alert %d: %w", seq, err)
	}
	a.Seq = seq
	return a, nil
}

// After implements sites.Alerts.
func (s *Store) After(ctx context.Context, seq uint64, limit int) ([]sites.Alert, error) {
	if seq == ^uint64(0) {
		return nil, nil
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: alertKey(seq + 1), UpperBound: []byte{spaceAlert + 1}})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	var out []sites.Alert
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		var a sites.Alert
		if err := json.Unmarshal(it.Value(), &a); err != nil {
			return nil, fmt.Errorf("stored alert %x: %w", it.Key(), err)
		}
		a.Seq = binary.BigEndian.Uint64(it.Key()[1:])
		out = append(out, a)
	}
	return out, it.Error()
}

// Of implements sites.Alerts.
func (s *Store) Of(ctx context.Context, site uint64, t sites.Type) ([]sites.Alert, error) {
	p := siteAlertPrefix(site, t)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: append(slices.Clip(p), 0xff, 0xff, 0xff, 0xff, 0xff)})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	var out []sites.Alert
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Value()) != 8 {
			return nil, fmt.Errorf("site alert %x: %w", it.Key(), errKey)
		}
		a, err := s.alert(binary.BigEndian.Uint64(it.Value()))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b sites.Alert) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// Has implements sites.Alerts.
func (s *Store) Has(_ context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		_, closer, err := s.db.Get(alertIDKey(id))
		switch {
		case err == nil:
			_ = closer.Close()
			out[id] = true
		case !errors.Is(err, pebble.ErrNotFound):
			return nil, fmt.Errorf("look up alert %s: %w", id, err)
		}
	}
	return out, nil
}
