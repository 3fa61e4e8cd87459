// Package venuetest is the conformance suite every venue.Registry runs: the
// embedded store's and PostgreSQL's.
package venuetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/venue"
)

// Spec returns a valid venue spec, numbered n, named in Vietnamese.
func Spec(n int) venue.Spec {
	return venue.Spec{
		Name: fmt.Sprintf("Chợ Bến Thành số %d", n), Kind: venue.KindMarket, Province: "79",
		District: "Quận 1", Commune: "Phường Bến Thành", Address: "Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh",
		Lat: 10.7725, Lon: 106.6980,
	}
}

// Run checks a Registry. open returns a new, empty registry for each subtest.
func Run(t *testing.T, open func(t *testing.T) venue.Registry) {
	ctx := t.Context()
	t.Run("assigns ids and keeps text as sent", func(t *testing.T) {
		r := open(t)
		nfd := Spec(2)
		nfd.Name = "Chu\u0300a Mo\u0323t Co\u0302\u0323t" // Chùa Một Cột, decomposed
		nfd.Kind, nfd.Province = venue.KindPagoda, "01"
		got, err := r.Register(ctx, []venue.Spec{Spec(1), nfd, Spec(3)})
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, v := range got {
			require.Equal(t, uint32(i+1), v.ID)
			require.Equal(t, uint64(i+1), v.Seq)
		}
		v, err := r.Venue(ctx, 2)
		require.NoError(t, err)
		want := nfd
		want.ID = 2
		require.Equal(t, venue.Venue{Spec: want, Seq: 2}, v)
		_, err = r.Venue(ctx, 4)
		require.ErrorIs(t, err, venue.ErrNotFound)
	})
	t.Run("imports ids, the same venue again is a no-op", func(t *testing.T) {
		r := open(t)
		imp := Spec(1)
		imp.ID = 500
		got, err := r.Register(ctx, []venue.Spec{imp, Spec(2)})
		require.NoError(t, err)
		require.Equal(t, []uint32{500, 501}, ids(got))
		again, err := r.Register(ctx, []venue.Spec{imp, imp})
		require.NoError(t, err)
		require.Equal(t, []venue.Venue{got[0], got[0]}, again)
		since, err := r.Since(ctx, 0, 10)
		require.NoError(t, err)
		require.Equal(t, got, since, "a no-op stores nothing")
	})
	t.Run("an id that is another venue conflicts and stores nothing", func(t *testing.T) {
		r := open(t)
		_, err := r.Register(ctx, []venue.Spec{Spec(1)})
		require.NoError(t, err)
		other := Spec(9)
		other.ID = 1
		_, err = r.Register(ctx, []venue.Spec{Spec(2), other})
		require.ErrorIs(t, err, venue.ErrConflict)
		var ce *venue.ConflictError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, venue.ConflictError{Index: 1, ID: 1}, *ce)
		_, err = r.Venue(ctx, 2)
		require.ErrorIs(t, err, venue.ErrNotFound, "all or none")

		dup := Spec(3)
		dup.ID = 7
		dup2 := Spec(4)
		dup2.ID = 7
		_, err = r.Register(ctx, []venue.Spec{dup, dup2})
		require.ErrorAs(t, err, &ce, "two venues with one id in one call")
		require.Equal(t, 1, ce.Index)
	})
	t.Run("lists by province and kind, in id order", func(t *testing.T) {
		r := open(t)
		specs := make([]venue.Spec, 6)
		for i := range specs {
			specs[i] = Spec(i)
			specs[i].ID = uint32(60 - 10*i) //nolint:gosec // small
			if i%2 == 1 {
				specs[i].Province = "01"
			}
			if i%3 == 0 {
				specs[i].Kind = venue.KindSchool
			}
		}
		_, err := r.Register(ctx, specs)
		require.NoError(t, err)
		require.Equal(t, []uint32{10, 20, 30, 40, 50, 60}, collect(t, r.Venues(ctx, venue.Filter{})))
		require.Equal(t, []uint32{10, 30, 50}, collect(t, r.Venues(ctx, venue.Filter{Province: "01"})))
		require.Equal(t, []uint32{30, 60}, collect(t, r.Venues(ctx, venue.Filter{Kind: venue.KindSchool})))
		require.Equal(t, []uint32{30}, collect(t, r.Venues(ctx, venue.Filter{Province: "01", Kind: venue.KindSchool})))
		require.Empty(t, collect(t, r.Venues(ctx, venue.Filter{Province: "02"})))
	})
	t.Run("since pages through registrations in order", func(t *testing.T) {
		r := open(t)
		for i := range 5 {
			_, err := r.Register(ctx, []venue.Spec{Spec(i)})
			require.NoError(t, err)
		}
		var seen []uint32
		seq := uint64(0)
		for {
			page, err := r.Since(ctx, seq, 2)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 2)
			for _, v := range page {
				require.Greater(t, v.Seq, seq)
				seq = v.Seq
				seen = append(seen, v.ID)
			}
		}
		require.Equal(t, []uint32{1, 2, 3, 4, 5}, seen)
	})
	t.Run("concurrent registrations get distinct ids", func(t *testing.T) {
		r := open(t)
		const workers, each = 4, 5
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					if _, err := r.Register(ctx, []venue.Spec{Spec(w*each + i)}); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		all := collect(t, r.Venues(ctx, venue.Filter{}))
		require.Len(t, all, workers*each)
		for i, id := range all {
			require.Equal(t, uint32(i+1), id) //nolint:gosec // small
		}
		since, err := r.Since(ctx, 0, 100)
		require.NoError(t, err)
		require.Len(t, since, workers*each)
	})
}

func ids(vs []venue.Venue) []uint32 {
	out := make([]uint32, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func collect(t *testing.T, seq func(func(venue.Venue, error) bool)) []uint32 {
	t.Helper()
	var out []uint32
	for v, err := range seq {
		require.NoError(t, err)
		out = append(out, v.ID)
	}
	return out
}

// Specs returns n valid specs with the ids 1..n, for a bulk import.
func Specs(n int) []venue.Spec {
	out := make([]venue.Spec, n)
	for i := range out {
		out[i] = Spec(i + 1)
		out[i].ID = uint32(i + 1) //nolint:gosec // test sizes
	}
	return out
}
