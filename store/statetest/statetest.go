// Package statetest is the conformance suite of the stores that keep
// accounts, cases and the audit trail (the embedded store in all-in-one,
// PostgreSQL in distributed mode): one suite, run against each.
package statetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/query/audit"
)

// Store is what the suite checks.
type Store interface {
	access.Store
	cases.Registry
	audit.Log
	// SetTrailEntry overwrites a stored entry, to show tampering is caught.
	SetTrailEntry(ctx context.Context, seq uint64, raw []byte) error
}

// Run runs the suite; open returns a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open(t)) })
	t.Run("Cases", func(t *testing.T) { testCases(t, open(t)) })
	t.Run("Trail", func(t *testing.T) { testTrail(t, open(t)) })
	t.Run("TrailConcurrent", func(t *testing.T) { testTrailConcurrent(t, open(t)) })
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func testAccounts(t *testing.T, s Store) {
	ctx := t.Context()
	has, err := s.HasAdmin(ctx)
	require.NoError(t, err)
	require.False(t, has)
	_, err = s.AccountByToken(ctx, access.HashToken("nope"))
	require.ErrorIs(t, err, access.ErrNotFound)

	epi, epiTok, epiHash, err := access.NewAccount(access.Spec{Name: "Đội truy vết Hà Nội", Roles: []access.Role{access.RoleEpidemiologist}, Provinces: []string{"01"}}, "bootstrap", t0)
	require.NoError(t, err)
	require.NoError(t, s.CreateAccount(ctx, epi, epiHash))
	adm, _, admHash, err := access.NewAccount(access.Spec{Name: "ops", Roles: []access.Role{access.RoleAdmin}, Provinces: []string{"*"}}, "bootstrap", t0.Add(time.Second))
	require.NoError(t, err)
	require.NoError(t, s.CreateAccount(ctx, adm, admHash))
	va, _, vaHash, err := access.NewAccount(access.Spec{Name: "school", Roles: []access.Role{access.RoleVenueAdmin}, Provinces: []string{"79"}, Venues: []uint32{5, 6}}, adm.ID, t0.Add(2*time.Second))
	require.NoError(t, err)
	require.NoError(t, s.CreateAccount(ctx, va, vaHash))

	got, err := s.AccountByToken(ctx, access.HashToken(epiTok))
	require.NoError(t, err)
	require.Equal(t, epi, got)
	got, err = s.Account(ctx, va.ID)
	require.NoError(t, err)
	require.Equal(t, []uint32{5, 6}, got.Venues)
	all, err := s.Accounts(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{epi.ID, adm.ID, va.ID}, []string{all[0].ID, all[1].ID, all[2].ID})
	has, err = s.HasAdmin(ctx)
	require.NoError(t, err)
	require.True(t, has)

	require.ErrorIs(t, s.RevokeAccount(ctx, "acc_none", t0), access.ErrNotFound)
	require.NoError(t, s.RevokeAccount(ctx, adm.ID, t0.Add(time.Hour)))
	require.NoError(t, s.RevokeAccount(ctx, adm.ID, t0.Add(2*time.Hour)), "revoking twice is harmless")
	got, err = s.AccountByToken(ctx, admHash)
	require.NoError(t, err)
	require.NotNil(t, got.RevokedAt)
	require.True(t, got.RevokedAt.Equal(t0.Add(time.Hour)), "the first revocation time stays")
	has, err = s.HasAdmin(ctx)
	require.NoError(t, err)
	require.False(t, has, "a revoked admin is no admin")
}

func testCases(t *testing.T, s Store) {
	ctx := t.Context()
	_, err := s.Case(ctx, 1953)
	require.ErrorIs(t, err, cases.ErrNotFound)
	sample := time.Date(2026, 11, 27, 15, 30, 0, 0, cases.Local)
	c := cases.Case{UserID: 1953, Province: "01", ConfirmedAt: time.Date(2026, 11, 28, 9, 0, 0, 0, cases.Local),
		Onset: "2026-11-25", SampleAt: &sample, RegisteredBy: "acc_1", RegisteredAt: t0}
	created, err := s.RegisterCase(ctx, c)
	require.NoError(t, err)
	require.True(t, created)
	again := c
	again.RegisteredBy, again.RegisteredAt = "acc_2", t0.Add(time.Hour)
	created, err = s.RegisterCase(ctx, again)
	require.NoError(t, err)
	require.False(t, created, "the same facts again are a no-op")
	other := c
	other.Province = "79"
	_, err = s.RegisterCase(ctx, other)
	require.ErrorIs(t, err, cases.ErrConflict)
	got, err := s.Case(ctx, 1953)
	require.NoError(t, err)
	require.True(t, cases.Same(c, got))
	require.Equal(t, "acc_1", got.RegisteredBy)
}

func entry(i int) audit.Entry {
	return audit.Entry{
		Time: t0.Add(time.Duration(i) * time.Minute), Action: audit.ActionExposures,
		Account: audit.Actor{ID: "acc_" + string(rune('a'+i%3)), Name: "team " + string(rune('a'+i%3)), Roles: []string{"epidemiologist"}},
		Purpose: "trace the school cluster", Requester: "hcdc", Remote: "127.0.0.1:5000",
		Case: uint32(100 + i%4), From: t0.Add(-48 * time.Hour), To: t0, Depth: 2, MinMinutes: 15, Format: "json",
		F1: i, F2: 2 * i, Status: 200,
	}
}

func testTrail(t *testing.T, s Store) {
	ctx := t.Context()
	n, _, err := audit.Verify(ctx, s)
	require.NoError(t, err)
	require.Zero(t, n)
	for i := range 10 {
		e, err := s.Append(ctx, entry(i))
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), e.Seq)
		require.Len(t, e.Hash, 64)
	}
	big := entry(10)
	big.Requester = string(make([]byte, 10_000))
	e, err := s.Append(ctx, big)
	require.NoError(t, err)
	require.LessOrEqual(t, len(e.Requester), audit.MaxRequester)

	n, last, err := audit.Verify(ctx, s)
	require.NoError(t, err)
	require.Equal(t, uint64(11), n)
	require.Equal(t, e.Hash, last)

	got, err := s.Entries(ctx, audit.Filter{Limit: 3})
	require.NoError(t, err)
	require.Equal(t, []uint64{11, 10, 9}, []uint64{got[0].Seq, got[1].Seq, got[2].Seq})
	got, err = s.Entries(ctx, audit.Filter{Case: 101, Limit: 100})
	require.NoError(t, err)
	require.Len(t, got, 3) // 1, 5, 9
	got, err = s.Entries(ctx, audit.Filter{Account: "acc_a", Limit: 100})
	require.NoError(t, err)
	require.Len(t, got, 4) // 0, 3, 6, 9
	got, err = s.Entries(ctx, audit.Filter{Requester: "team b", Limit: 100})
	require.NoError(t, err)
	require.Len(t, got, 4) // 1, 4, 7, 10
	got, err = s.Entries(ctx, audit.Filter{Since: t0.Add(8 * time.Minute), Limit: 100})
	require.NoError(t, err)
	require.Len(t, got, 3) // 8, 9, 10
	got, err = s.Entries(ctx, audit.Filter{Requester: "hcdc", Case: 100, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(9), got[0].Seq)

	// Alter entry 4 on disk: Verify names it.
	got, err = s.Entries(ctx, audit.Filter{Since: t0.Add(3 * time.Minute), Limit: 100})
	require.NoError(t, err)
	four := got[len(got)-1]
	require.Equal(t, uint64(4), four.Seq)
	four.F1 = 0 // hide a contact
	raw, err := json.Marshal(four)
	require.NoError(t, err)
	require.NoError(t, s.SetTrailEntry(ctx, 4, raw))
	_, _, err = audit.Verify(ctx, s)
	var be *audit.BrokenError
	require.ErrorAs(t, err, &be)
	require.Equal(t, uint64(4), be.Seq)
	require.ErrorIs(t, err, audit.ErrBroken)

	// Rehashing the altered entry breaks the link from the next one.
	four.Hash = four.ComputeHash()
	raw, err = json.Marshal(four)
	require.NoError(t, err)
	require.NoError(t, s.SetTrailEntry(ctx, 4, raw))
	_, _, err = audit.Verify(ctx, s)
	require.ErrorAs(t, err, &be)
	require.Equal(t, uint64(5), be.Seq)

	require.NoError(t, s.SetTrailEntry(ctx, 6, []byte("{not json")))
	_, _, err = audit.Verify(ctx, s)
	require.ErrorAs(t, err, &be)
	require.Equal(t, uint64(5), be.Seq)
}

func testTrailConcurrent(t *testing.T, s Store) {
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := s.Append(ctx, entry(i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n, _, err := audit.Verify(ctx, s)
	require.NoError(t, err)
	require.Equal(t, uint64(40), n)
}
