package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/ingest"
	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue/qrsig"
	"github.com/truyvet/truyvet/venue/venuetest"
)

type discardProducer struct{}

func (discardProducer) Produce(context.Context, *event.Batch) error { return nil }

// TestVenueRegisteredOnOneIngestIsAcceptedByAnother runs two ingest
// replicas' venue sides over one PostgreSQL registry: a venue registered
// through one is accepted by the other's ingest within a few refreshes.
func TestVenueRegisteredOnOneIngestIsAcceptedByAnother(t *testing.T) {
	url := itenv.Require(t, "TRUYVET_IT_POSTGRES_URL", "PostgreSQL server")
	schema := fmt.Sprintf("venues_cli_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		require.NoError(t, err)
		_, err = conn.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		require.NoError(t, err)
		require.NoError(t, conn.Close(context.Background()))
	})
	secret := filepath.Join(t.TempDir(), "venue.secret")
	_, err := qrsig.EnsureFile(secret)
	require.NoError(t, err)
	vf := venueFlags{secretFile: secret, grace: time.Hour, require: true, refresh: 200 * time.Millisecond}
	side := func() (*venueSide, *http.ServeMux) {
		d := &deps{log: slog.New(slog.DiscardHandler), reg: prometheus.NewRegistry()}
		v, closeV, err := openDistributedVenues(t.Context(), url, schema, vf, d, time.Now)
		require.NoError(t, err)
		t.Cleanup(closeV)
		h, err := ingest.NewHandler(ingest.DefaultConfig(), discardProducer{}, ingest.NewMetrics(d.reg), d.log, time.Now, v.ingestOptions()...)
		require.NoError(t, err)
		mux := http.NewServeMux()
		h.Register(mux)
		v.routes(mux, nil, nil, d, time.Now)
		return v, mux
	}
	_, a := side()
	bSide, b := side()

	checkin := func(mux *http.ServeMux, venue uint32) string {
		body := fmt.Sprintf(`{"visit_id":"x","user_id":1,"venue_id":%d,"enter":%q}`, venue, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/checkins", bytes.NewBufferString(body)))
		require.Equal(t, http.StatusAccepted, rec.Code)
		return rec.Body.String()
	}
	require.Contains(t, checkin(b, 1), "unknown_venue")

	spec := venuetest.Spec(1)
	j := fmt.Sprintf(`{"name":%q,"kind":%q,"province":%q,"address":%q,"lat":%g,"lon":%g}`, spec.Name, spec.Kind, spec.Province, spec.Address, spec.Lat, spec.Lon)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/venues", bytes.NewBufferString(j)))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Contains(t, checkin(a, 1), `"accepted":1`, "the registering replica at once")

	start := time.Now()
	require.Eventually(t, func() bool { return bSide.known.Known(1) }, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, checkin(b, 1), `"accepted":1`, "the other replica within seconds")
	t.Logf("the other replica knew the venue after %v", time.Since(start).Round(time.Millisecond))
}

func TestRotateSecretCommand(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "venue.secret")
	_, err := qrsig.EnsureFile(secret)
	require.NoError(t, err)
	old, err := qrsig.LoadFile(secret, time.Hour, time.Now)
	require.NoError(t, err)
	var out bytes.Buffer
	require.Equal(t, 0, Main(t.Context(), Env{Args: []string{"venues", "rotate-secret", "--venue-secret-file", secret},
		Stdout: &out, Stderr: &out, LookupEnv: envOf(nil), Now: time.Now}), out.String())
	require.Contains(t, out.String(), "rotated")
	k, err := qrsig.LoadFile(secret, time.Hour, time.Now)
	require.NoError(t, err)
	require.NotEqual(t, old.Code(5), k.Code(5))
	id, err := k.Verify(old.Code(5))
	require.NoError(t, err, "old posters still verify")
	require.Equal(t, uint32(5), id)
	require.Equal(t, 2, Main(t.Context(), Env{Args: []string{"venues"}, Stdout: &out, Stderr: &out, LookupEnv: envOf(nil), Now: time.Now}))
}
