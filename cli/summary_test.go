package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/summary"
)

// TestSummaryAllInOne feeds an all-in-one node check-ins (one refused), an
// encounter, a case and a lookup, and reads them back from GET /v1/summary,
// by province and nationally; every answer is checked against the OpenAPI
// document on the way (client).
func TestSummaryAllInOne(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	_, url, token, stop := runNode(ctx, t, t.TempDir())
	defer func() { cancel(); stop() }()
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url+path, bytes.NewBufferString(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	code, b := do(http.MethodPost, "/v1/venues", `{"name":"Chợ Bến Thành","kind":"market","province":"79","district":"Quận 1","commune":"Bến Thành","address":"Lê Lợi","lat":10.77,"lon":106.70}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	var v struct {
		VenueID uint32 `json:"venue_id"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	enter := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	exit := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	code, b = do(http.MethodPost, "/v1/checkins", fmt.Sprintf(`[{"visit_id":"a","user_id":1,"venue_id":%d,"enter":%q,"exit":%q},{"visit_id":"b","user_id":2,"venue_id":%[1]d,"enter":%[2]q,"exit":%[3]q},{"visit_id":"c","venue_id":%[1]d,"enter":%[2]q}]`, v.VenueID, enter, exit))
	require.Equal(t, http.StatusAccepted, code, string(b))
	code, b = do(http.MethodPost, "/v1/proximity", fmt.Sprintf(`[{"encounter_id":"e","user_id":1,"peer_id":3,"start":%q,"duration_s":1200}]`, enter))
	require.Equal(t, http.StatusAccepted, code, string(b))
	code, b = do(http.MethodPost, "/v1/cases", fmt.Sprintf(`{"user_id":1,"province":"79","confirmed_at":%q}`, time.Now().UTC().Format(time.RFC3339)))
	require.Equal(t, http.StatusCreated, code, string(b))

	read := func(query string) summary.Day {
		t.Helper()
		code, b := do(http.MethodGet, "/v1/summary?"+query, "")
		require.Equal(t, http.StatusOK, code, string(b))
		var a summary.Answer
		require.NoError(t, json.Unmarshal(b, &a))
		return a.Days[len(a.Days)-1]
	}
	require.Eventually(t, func() bool {
		d := read("province=79")
		return d.RecordsIn["visit"] == 2 && d.CasesRegistered == 1
	}, 10*time.Second, 50*time.Millisecond, "check-ins at a venue of 79 and the case count there")
	code, b = do(http.MethodGet, "/v1/cases/1/exposures?purpose=summary+test", "")
	require.Equal(t, http.StatusOK, code, string(b))
	require.Eventually(t, func() bool {
		d := read("province=79")
		return d.Lookups == 1 && d.ContactsFound >= 2 // user 2 at the venue, user 3 by proximity
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		d := read("")
		return d.RecordsIn["visit"] == 2 && d.RecordsIn["encounter"] == 1 && d.Rejections["missing_field"] == 1
	}, 10*time.Second, 50*time.Millisecond, "national: encounters and rejections have no province")
	d := read("province=01")
	require.Zero(t, d.RecordsIn["visit"])
	require.Empty(t, d.Rejections)
}
