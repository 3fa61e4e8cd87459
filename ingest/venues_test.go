package ingest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/openapi/openapitest"
	"github.com/truyvet/truyvet/venue/qrsig"
)

// registered knows venues 72 and 73.
type registered struct{ *qrsig.Keyring }

func (registered) Known(id uint32) bool { return id == 72 || id == 73 }

func venueFixture(t *testing.T, requireRegistered bool) (*http.ServeMux, *fakeProducer, *qrsig.Keyring) {
	t.Helper()
	k, err := qrsig.NewKeyring([]qrsig.Key{{Secret: bytes.Repeat([]byte{5}, 32)}}, time.Hour, time.Now)
	require.NoError(t, err)
	prod := &fakeProducer{}
	h, err := NewHandler(DefaultConfig(), prod, NewMetrics(prometheus.NewRegistry()), nil, func() time.Time { return testNow },
		WithVenues(registered{k}, requireRegistered))
	require.NoError(t, err)
	inner := http.NewServeMux()
	h.Register(inner)
	mux := openapitest.Mux(t, inner)
	return mux, prod, k
}

func TestCheckinsByVenueCode(t *testing.T) {
	mux, prod, k := venueFixture(t, true)
	other, err := qrsig.NewKeyring([]qrsig.Key{{Secret: bytes.Repeat([]byte{6}, 32)}}, time.Hour, time.Now)
	require.NoError(t, err)
	good := k.Code(72)
	line := func(extra string) string {
		return `{"visit_id":"a","user_id":1,"enter":"2021-07-15T08:00:00Z"` + extra + "}\n"
	}
	body := line(`,"venue_code":"`+good+`"`) + // 0 accepted, venue from the code
		line(`,"venue_code":"`+other.Code(72)+`"`) + // 1 forged
		line(`,"venue_code":"`+good[:len(good)-2]+`"`) + // 2 truncated
		line(`,"venue_code":"TV1.73.`+good[len("TV1.72."):]+`"`) + // 3 another venue's signature
		line(`,"venue_code":"`+good+`","venue_id":73`) + // 4 disagrees with venue_id
		line(`,"venue_code":"`+good+`","venue_id":72`) + // 5 agrees: accepted
		line(`,"venue_id":74`) + // 6 unregistered
		line(`,"venue_code":"`+k.Code(74)+`"`) + // 7 signed, but unregistered
		line(`,"venue_code":17`) + // 8 not a string
		line(``) + // 9 no venue at all
		line(`,"venue_id":73`) // 10 accepted
	req := httptest.NewRequest(http.MethodPost, "/v1/checkins", bytes.NewBufferString(body))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	require.Equal(t, []string{
		"1 venue_code invalid_signature",
		"2 venue_code invalid_signature",
		"3 venue_code invalid_signature",
		"4 venue_code invalid_value",
		"6 venue_id unknown_venue",
		"7 venue_id unknown_venue",
		"8 venue_code invalid_value",
		"9 venue_id missing_field",
	}, want202(t, rec, 3))
	_, batches := prod.snapshot()
	require.Len(t, batches, 1)
	var venues []uint32
	for _, v := range batches[0].Visits {
		venues = append(venues, v.VenueID)
	}
	require.Equal(t, []uint32{72, 72, 73}, venues)
}

func TestUnregisteredVenuesWhenNotRequired(t *testing.T) {
	mux, _, _ := venueFixture(t, false)
	req := httptest.NewRequest(http.MethodPost, "/v1/checkins", bytes.NewBufferString(`{"visit_id":"a","user_id":1,"venue_id":999,"enter":"2021-07-15T08:00:00Z"}`))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	require.Empty(t, want202(t, rec, 1))
}

func TestVenueCodeWithoutRegistry(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.post(t, "/v1/checkins", []byte(`{"visit_id":"a","user_id":1,"venue_code":"TV1.72.AAAAAAAAAAAAAAAA","enter":"2021-07-15T08:00:00Z"}`))
	require.Equal(t, []string{"0 venue_code invalid_value"}, want202(t, rec, 0))
}
