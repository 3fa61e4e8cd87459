package access_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/store/pgstore"
)

// BenchmarkGuard measures what the guard adds to a request: parse the
// bearer token, look its hash up (in memory, or in the embedded store, as
// all-in-one does on every request), match the route and decide, against
// the same request straight to the handler.
func BenchmarkGuard(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	pebble, err := pebblestore.Open(context.Background(), pebblestore.Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(b, err)
	defer func() { require.NoError(b, pebble.Close()) }()
	cases := []struct {
		name  string
		store access.Store
	}{{"none", nil}, {"memory", newMemStore()}, {"pebble", pebble}}
	if url := os.Getenv("TRUYVET_IT_POSTGRES_URL"); url != "" { // distributed mode: every replica asks PostgreSQL
		pg, err := pgstore.Open(context.Background(), pgstore.Options{URL: url, Schema: fmt.Sprintf("bench_guard_%d", time.Now().UnixNano())})
		require.NoError(b, err)
		defer func() {
			require.NoError(b, pg.DropSchema(context.Background()))
			require.NoError(b, pg.Close())
		}()
		cases = append(cases, struct {
			name  string
			store access.Store
		}{"postgres", pg})
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			h := http.Handler(ok)
			tok := ""
			if bc.store != nil {
				a, t, hash, err := access.NewAccount(access.Spec{Name: "epi", Roles: []access.Role{access.RoleEpidemiologist}, Provinces: []string{"01"}}, "b", time.Now())
				require.NoError(b, err)
				require.NoError(b, bc.store.CreateAccount(context.Background(), a, hash))
				tok = t
				g, err := access.NewGuard(access.Config{Policy: access.DefaultPolicy(), Auth: access.NewAuthenticator(bc.store, nil),
					Cases: func(context.Context, uint32) (string, bool, error) { return "01", true, nil }}, ok)
				require.NoError(b, err)
				h = g
			}
			req := httptest.NewRequest(http.MethodGet, "/v1/cases/7/exposures?purpose=trace", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
