package cli_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/venue"
)

// postJSON posts a JSON body with the token (none: "") and decodes the answer.
func postJSON(t *testing.T, token, url string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// venueAdmin creates, on the store named by where, an administrator of
// venue 1 (province 79) and returns its token.
func venueAdmin(t *testing.T, bin string, where ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"accounts", "create", "--name", "Chợ Bến Thành", "--roles", "venue_admin",
		"--provinces", "79", "--venues", "1"}, where...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var c struct{ Token string }
	require.NoError(t, json.Unmarshal(out, &c))
	return c.Token
}

// marketAnswers is a market's assessment of today meeting every item but
// those named.
func marketAnswers(t *testing.T, unmet ...string) []byte {
	t.Helper()
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	c, err := cat.For(venue.KindMarket, 0)
	require.NoError(t, err)
	ans := map[string]bool{}
	for _, it := range c.Items {
		ans[it.ID] = true
	}
	for _, id := range unmet {
		ans[id] = false
	}
	today := time.Now().In(time.FixedZone("ICT", 7*3600)).Format(time.DateOnly)
	b, err := json.Marshal(map[string]any{"date": today, "version": c.Version, "answers": ans})
	require.NoError(t, err)
	return b
}

const market = `{"venue_id":1,"name":"Chợ Bến Thành","kind":"market","province":"79","address":"Lê Lợi, Quận 1","lat":10.7725,"lon":106.698}`

// levelOf reads venue 1's level and score off the map p serves.
func levelOf(p *proc) (string, float64, bool) {
	code, body, err := fetch("", p.url("/v1/safety-map.geojson"), "")
	if err != nil || code != http.StatusOK {
		return "", 0, false
	}
	var fc struct {
		Features []struct {
			Properties struct {
				VenueID uint32 `json:"venue_id"`
				Level   string
				Score   *float64
			}
		}
	}
	if json.Unmarshal(body, &fc) != nil {
		return "", 0, false
	}
	for _, f := range fc.Features {
		if f.Properties.VenueID == 1 && f.Properties.Score != nil {
			return f.Properties.Level, *f.Properties.Score, true
		}
		if f.Properties.VenueID == 1 {
			return f.Properties.Level, 0, true
		}
	}
	return "", 0, false
}

// safetyRoad files two assessments of one day at in (the second counts),
// reads them back off the map out serves, and has a citizen's report
// moderated there.
func safetyRoad(t *testing.T, in, out *proc, admin string) {
	t.Helper()
	code, body := postJSON(t, in.token, in.url("/v1/venues"), []byte(market))
	require.Equal(t, http.StatusCreated, code, body)
	code, body = postJSON(t, admin, in.url("/v1/venues/1/assessments"), marketAnswers(t, "ventilation"))
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "green", body["level"])
	require.InDelta(t, 94.0, body["score"], 1e-9)
	code, body = postJSON(t, in.token, in.url("/v1/venues/1/assessments"), marketAnswers(t))
	require.Equal(t, http.StatusForbidden, code, "a tracing account is not the venue's admin: %v", body)
	require.Eventually(t, func() bool { l, _, ok := levelOf(out); return ok && l == "green" }, time.Minute, 100*time.Millisecond, "the assessment reaches the map")

	code, body = postJSON(t, admin, in.url("/v1/venues/1/assessments"), marketAnswers(t, "masks"))
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "red", body["level"], "masks are critical")
	require.Eventually(t, func() bool { l, _, ok := levelOf(out); return ok && l == "red" }, time.Minute, 100*time.Millisecond, "the second assessment of the day counts")
	code, raw := get(t, "", out.url("/v1/safety-map/venues/1?days=2"), "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(raw), `"filed":2`)
	// The dashboard's summary counts the venue at its day's level, as the
	// map's own summary does: red (the second assessment replaced the
	// first's green), in its province and nationally.
	want := map[string]int64{"green": 0, "yellow": 0, "orange": 0, "red": 1, "not_assessed": 0}
	for _, province := range []string{"79", ""} {
		require.Eventually(t, func() bool {
			return summaryLevels(t, out, province) != nil && maps.Equal(want, summaryLevels(t, out, province))
		},
			time.Minute, 100*time.Millisecond, "venues_by_level of %q: %v", province, summaryLevels(t, out, province))
	}
	code, raw = get(t, "", out.url("/v1/safety-map/summary?province=79"), "")
	require.Equal(t, http.StatusOK, code)
	var counts struct{ Levels map[string]int64 }
	require.NoError(t, json.Unmarshal(raw, &counts))
	require.Equal(t, want, counts.Levels, "the map's summary agrees")
	require.Equal(t, map[string]int64{"green": 0, "yellow": 0, "orange": 0, "red": 0, "not_assessed": 0}, summaryLevels(t, out, "01"))

	code, body = postJSON(t, "", out.url("/v1/venues/1/feedback"), []byte(`{"category":"crowding","text":"Đông quá"}`))
	require.Equal(t, http.StatusAccepted, code, body)
	code, raw = get(t, out.token, out.url("/v1/feedback?status=open"), "")
	require.Equal(t, http.StatusOK, code, string(raw))
	require.Contains(t, string(raw), `"category":"crowding"`)
	code, body = postJSON(t, out.token, out.url("/v1/feedback/1/resolve"), []byte(`{"resolution":"ok"}`))
	require.Equal(t, http.StatusOK, code, body)
	code, raw = get(t, "", out.url("/v1/safety-map/summary"), "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(raw), `"open_feedback":0`)
	_, raw = get(t, "", in.url("/metrics"), "")
	require.Contains(t, string(raw), `truyvet_safety_assessments_total{level="red"} 1`)
}

// summaryLevels reads today's venues_by_level of province ("": national)
// off GET /v1/summary at p, nil when it does not answer.
func summaryLevels(t *testing.T, p *proc, province string) map[string]int64 {
	t.Helper()
	path := "/v1/summary"
	if province != "" {
		path += "?province=" + province
	}
	code, body, err := fetch(p.token, p.url(path), "")
	if err != nil || code != http.StatusOK {
		return nil
	}
	var a struct {
		Days []struct {
			VenuesByLevel map[string]int64 `json:"venues_by_level"`
		}
	}
	if json.Unmarshal(body, &a) != nil || len(a.Days) == 0 {
		return nil
	}
	return a.Days[len(a.Days)-1].VenuesByLevel
}

func TestSafetyMapAllInOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	tok := account(t, bin, "--data-dir", dir)
	admin := venueAdmin(t, bin, "--data-dir", dir)
	p := start(t, bin, "all-in-one", "--listen", "127.0.0.1:0", "--data-dir", dir)
	p.token = tok
	safetyRoad(t, p, p, admin)
	code, raw := get(t, "", p.url("/map"), "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(raw), "Safety Map")
}

// In distributed mode an assessment goes to ingest, through Kafka to a
// processor on ClickHouse, and the query server shows it on the map.
func TestSafetyMapDistributed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	brokers, chAddr := kafkatest.Fake(t), chtest.Addr(t)
	bin := buildBinary(t)
	prefix := kafkatest.Prefix(t)
	kafka := []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", prefix, "--kafka-partitions", "2"}
	ch := []string{"--clickhouse-addr", strings.Join(chAddr, ","), "--clickhouse-database", chtest.Database(t, chAddr)}
	pg := pgArgs(t)
	secret := []string{"--venue-secret-file", filepath.Join(t.TempDir(), "venue.secret")}
	require.NoError(t, exec.Command(bin, append([]string{"venues", "rotate-secret"}, secret...)...).Run())
	tok := account(t, bin, pg...)
	admin := venueAdmin(t, bin, pg...)
	ing := start(t, bin, append(append(append([]string{"ingest", "--listen", "127.0.0.1:0"}, kafka...), pg...), secret...)...)
	ing.token = tok
	start(t, bin, append(append(append([]string{"process", "--listen", "127.0.0.1:0", "--flush-interval", "100ms",
		"--kafka-group", prefix + "processor"}, kafka...), ch...), pg...)...)
	q := start(t, bin, append(append(append([]string{"query", "--listen", "127.0.0.1:0"}, ch...), pg...), secret...)...)
	q.token = tok
	safetyRoad(t, ing, q, admin)
}
