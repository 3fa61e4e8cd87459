package chstore_test

import (
	"cmp"
	"iter"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/store/storetest"
)

const day = 24 * 3600

// suiteNow is the clock of the conformance suite's stores: three days after
// its records, so that the weekly tables hold every week the suite writes
// and its reads go through them.
func suiteNow() time.Time { return time.Unix(storetest.Base+3*day, 0) }

// personReads is what every read by person answers for users over w.
type personReads struct {
	Stays, SinceStays       map[uint32][]graph.Stay
	Contacts, SinceContacts map[uint32][]graph.Contact
}

// personStore is a store that reads by person, over one window or from each
// person's own start.
type personStore interface {
	graph.Store
	graph.SinceStore
}

func readPeople(t *testing.T, s personStore, users []uint32, w graph.Window) personReads {
	t.Helper()
	since := make([]graph.Since, len(users))
	for i, u := range users {
		since[i] = graph.Since{User: u, From: w.From + int64(u%5)*day} // windows that begin on different days
	}
	r := personReads{
		Stays:         byUser(t, s.Stays(t.Context(), users, w), func(us graph.UserStays) (uint32, []graph.Stay) { return us.User, us.Stays }),
		SinceStays:    byUser(t, s.StaysSince(t.Context(), since, w.To), func(us graph.UserStays) (uint32, []graph.Stay) { return us.User, us.Stays }),
		Contacts:      byUser(t, s.Contacts(t.Context(), users, w), func(uc graph.UserContacts) (uint32, []graph.Contact) { return uc.User, uc.Contacts }),
		SinceContacts: byUser(t, s.ContactsSince(t.Context(), since, w.To), func(uc graph.UserContacts) (uint32, []graph.Contact) { return uc.User, uc.Contacts }),
	}
	for _, cs := range []map[uint32][]graph.Contact{r.Contacts, r.SinceContacts} {
		for u := range cs {
			cs[u] = oneReport(cs[u])
		}
	}
	if ps, ok := s.(graph.PersonStore); ok {
		for _, u := range users {
			st, cs, err := ps.Person(t.Context(), u, w)
			require.NoError(t, err)
			require.Equal(t, r.Stays[u], nilIfEmpty(st), "Person's stays of %d", u)
			require.Equal(t, r.Contacts[u], nilIfEmpty(oneReport(cs)), "Person's encounters of %d", u)
		}
	}
	return r
}

// oneReport sorts cs and drops repeats of a meeting: a store may or may
// not fold the same meeting reported under several ids.
func oneReport(cs []graph.Contact) []graph.Contact {
	slices.SortFunc(cs, func(a, b graph.Contact) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.End, b.End))
	})
	return slices.Compact(cs)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func byUser[T, V any](t *testing.T, seq iter.Seq2[T, error], key func(T) (uint32, []V)) map[uint32][]V {
	t.Helper()
	out := map[uint32][]V{}
	for v, err := range seq {
		require.NoError(t, err)
		u, vs := key(v)
		require.NotContains(t, out, u, "user %d yielded twice", u)
		out[u] = append([]V(nil), vs...)
	}
	return out
}

// The weekly tables (weekly.go) answer every read by person as the
// embedded store does (the reference here) wherever the first day they are
// read for falls: before every record, inside a week, past every record
// (the day tables alone). Retention then drops their weeks that begin before
// its cutoff, and the reads still agree.
func TestWeeklyTablesAnswerAsDayTables(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	var now atomic.Int64
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.Retention = addr, db, 28*day*time.Second
	opts.Now = func() time.Time { return time.Unix(now.Load(), 0) }
	s := openWith(t, opts)
	ref, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: s.Layout()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ref.Close() })

	rng := rand.New(rand.NewPCG(8, 13))
	const people = 50
	var recs event.Batch
	for d := range int64(11) {
		b := storetest.RandomRecords(rng, people, 6, 90, storetest.Base+2*d*day)
		recs.Visits = append(recs.Visits, b.Visits...)
		recs.Encounters = append(recs.Encounters, b.Encounters...)
	}
	for _, st := range []processor.Sink{s, ref} {
		p, err := processor.New(s.Layout(), st, nil)
		require.NoError(t, err)
		require.NoError(t, p.Process(t.Context(), &recs))
	}

	users := make([]uint32, people+1) // one with no records
	for i := range users {
		users[i] = uint32(i + 1)
	}
	w := graph.Window{From: storetest.Base - day, To: storetest.Base + 22*day}
	want := readPeople(t, ref, users, w)
	require.NotEmpty(t, want.Stays)
	require.NotEmpty(t, want.Contacts)
	require.NotEmpty(t, want.SinceStays)
	require.NotEmpty(t, want.SinceContacts)
	for _, cut := range []int64{-30, 0, 3, 9, 12, 18, 40} { // the retention cutoff, days after Base
		now.Store(storetest.Base + cut*day + 28*day)
		require.Equal(t, want, readPeople(t, s, users, w), "cutoff %d days after the first records", cut)
	}

	// Retention at Base + 11 days (inside a week), with a clock that would still read the
	// dropped week from the weekly table: the store's own cutoff decides.
	now.Store(storetest.Base)
	cutoff := bucket.DayOf(storetest.Base + 11*day)
	_, err = s.DropBefore(t.Context(), cutoff)
	require.NoError(t, err)
	_, err = ref.DropBefore(t.Context(), cutoff)
	require.NoError(t, err)
	for _, table := range []string{"stays_weekly", "contacts_weekly"} {
		weeks := chtest.Parts(t, addr[0], db, table)
		require.NotEmpty(t, weeks, table)
		for p := range weeks {
			w, err := strconv.ParseUint(p, 10, 32)
			require.NoError(t, err)
			require.GreaterOrEqual(t, bucket.Day(7*w), cutoff, "%s keeps week %d, which begins before the cutoff", table, w)
		}
	}
	after := readPeople(t, ref, users, w)
	require.NotEqual(t, want, after, "retention dropped nothing the reads see")
	require.Equal(t, after, readPeople(t, s, users, w))
}
