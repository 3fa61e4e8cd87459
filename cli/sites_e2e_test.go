package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/cli"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

// accountWith creates an account with roles on the store named by where
// and returns its id and token.
func accountWith(t *testing.T, bin, name, roles string, where ...string) (id, token string) {
	t.Helper()
	return accountIn(t, bin, name, roles, "*", where...)
}

// accountIn is accountWith scoped to provinces.
func accountIn(t *testing.T, bin, name, roles, provinces string, where ...string) (id, token string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"accounts", "create", "--name", name, "--roles", roles, "--provinces", provinces}, where...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var c struct {
		ID    string `json:"account_id"`
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(out, &c))
	return c.ID, c.Token
}

// sitesScenario drafts, approves and retracts an exposure site through
// ingest (check-ins) and query (sites, alerts), and checks that everyone
// there is alerted once, a late check-in too.
func sitesScenario(t *testing.T, ingest, query *proc, epi, approver string) int {
	now := time.Now().Truncate(time.Second)
	code, out, _ := call(t, http.MethodPost, ingest.url("/v1/venues"), epi,
		`{"name":"Chợ Bình Tây","kind":"market","province":"79","district":"Quận 6","commune":"Phường 2","address":"57A Tháp Mười","lat":10.7495,"lon":106.6510}`)
	require.Equal(t, http.StatusCreated, code, out)
	venueID := uint64(out["venue_id"].(float64))
	from, to := now.Add(-5*time.Hour), now.Add(-3*time.Hour)
	var lines []string
	for u := range 30 {
		enter := from.Add(time.Duration(u-5) * 10 * time.Minute) // the first few end before from
		lines = append(lines, fmt.Sprintf(`{"visit_id":"s-%d","user_id":%d,"venue_id":%d,"enter":%q,"exit":%q,"source":"qr"}`,
			u, 100+u, venueID, enter.Format(time.RFC3339), enter.Add(50*time.Minute).Format(time.RFC3339)))
	}
	code, out, _ = call(t, http.MethodPost, ingest.url("/v1/checkins"), epi, strings.Join(lines, "\n"))
	require.Equal(t, http.StatusAccepted, code, out)
	require.EqualValues(t, 30, out["accepted"])
	// User 100 leaves at from (0 s: not there), 117 and later enter at or after to.
	want := 16
	body := fmt.Sprintf(`{"venue_id":%d,"from":%q,"to":%q,"severity":"close","advice":"Theo dõi sức khỏe 14 ngày"}`, venueID, from.Format(time.RFC3339), to.Format(time.RFC3339))
	var site map[string]any
	require.Eventually(t, func() bool {
		code, site, _ = call(t, http.MethodPost, query.url("/v1/exposure-sites"), epi, body)
		require.Equal(t, http.StatusCreated, code, site)
		return site["preview"].(map[string]any)["people"] == float64(want)
	}, time.Minute, 200*time.Millisecond, "the preview reaches everyone there once the stays are stored")
	id := int(site["site_id"].(float64))
	code, out, _ = call(t, http.MethodPost, query.url(fmt.Sprintf("/v1/exposure-sites/%d/approve", id)), epi, "")
	require.Equal(t, http.StatusForbidden, code, out) // an epidemiologist is no approver
	code, out, _ = call(t, http.MethodPost, query.url(fmt.Sprintf("/v1/exposure-sites/%d/approve", id)), approver, "")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "published", out["status"])

	feed := func(n int) []any {
		var got []any
		require.Eventually(t, func() bool {
			got = nil
			next := "0"
			for {
				code, out, _ := call(t, http.MethodGet, query.url("/v1/alerts?limit=7&after="+next), epi, "")
				require.Equal(t, http.StatusOK, code, out)
				page := out["alerts"].([]any)
				got = append(got, page...)
				if len(page) == 0 {
					break
				}
				next = out["next"].(string)
			}
			return len(got) >= n
		}, time.Minute, 200*time.Millisecond)
		require.Len(t, got, n)
		return got
	}
	feed(want)
	// A late check-in (a phone offline since) is alerted as it streams in.
	late := fmt.Sprintf(`{"visit_id":"late","user_id":999,"venue_id":%d,"enter":%q,"source":"qr"}`, venueID, to.Add(-time.Minute).Format(time.RFC3339))
	t0 := time.Now()
	code, out, _ = call(t, http.MethodPost, ingest.url("/v1/checkins"), epi, late)
	require.Equal(t, http.StatusAccepted, code, out)
	alerts := feed(want + 1)
	t.Logf("late check-in alerted within %s", time.Since(t0).Round(time.Millisecond))
	last := alerts[want].(map[string]any)
	require.Equal(t, fmt.Sprintf("e-%d-999", id), last["alert_id"])
	seen := map[string]bool{}
	for _, a := range alerts {
		aid := a.(map[string]any)["alert_id"].(string)
		require.False(t, seen[aid], aid)
		seen[aid] = true
	}
	code, body2 := get(t, "", query.url("/v1/exposure-sites"), "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body2), "Chợ Bình Tây")
	code, body2 = get(t, "", query.url("/v1/exposure-sites?format=csv"), "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body2), "Chợ Bình Tây")
	code, body2 = get(t, "", query.url("/v1/exposure-sites.geojson"), "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body2), `"FeatureCollection"`)
	code, out, _ = call(t, http.MethodGet, query.url(fmt.Sprintf("/v1/exposure-sites/%d", id)), "", "")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "published", out["status"])
	code, out, _ = call(t, http.MethodGet, query.url("/v1/exposure-sites/0"), "", "")
	require.Equal(t, http.StatusBadRequest, code, out)
	code, out, _ = call(t, http.MethodPost, query.url(fmt.Sprintf("/v1/exposure-sites/%d/approve", id)), approver, "")
	require.Equal(t, http.StatusConflict, code, out) // published already
	require.Equal(t, "status_published", out["reason"])

	code, out, _ = call(t, http.MethodPost, query.url(fmt.Sprintf("/v1/exposure-sites/%d/retract", id)), approver, `{"reason":"nhầm địa điểm"}`)
	require.Equal(t, http.StatusOK, code, out)
	alerts = feed(2 * (want + 1))
	require.Equal(t, "retraction", alerts[len(alerts)-1].(map[string]any)["type"])
	code, out, _ = call(t, http.MethodGet, query.url(fmt.Sprintf("/v1/exposure-sites/%d", id)), "", "")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, map[string]any{"exposure": float64(want + 1), "retraction": float64(want + 1)}, out["alerts_sent"])
	return 2 * (want + 1)
}

func TestSitesAllInOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	_, epi := accountWith(t, bin, "epi", "app,epidemiologist", "--data-dir", dir)
	_, appr := accountWith(t, bin, "approver", "approver", "--data-dir", dir)
	_, epi01 := accountIn(t, bin, "epi Hà Nội", "epidemiologist", "01", "--data-dir", dir)
	_, appr01 := accountIn(t, bin, "approver Hà Nội", "approver", "01", "--data-dir", dir)
	p := start(t, bin, "all-in-one", "--listen", "127.0.0.1:0", "--data-dir", dir)
	sent := sitesScenario(t, p, p, epi, appr)

	// Jurisdiction: the venue (in 79) decides, for drafts and approvals.
	now := time.Now()
	body := fmt.Sprintf(`{"venue_id":1,"from":%q,"to":%q,"severity":"casual","advice":"x"}`, now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339))
	code, out, hdr := call(t, http.MethodPost, p.url("/v1/exposure-sites"), epi01, body)
	requireRefused(t, code, out, hdr, http.StatusForbidden, "out_of_jurisdiction")
	code, out, _ = call(t, http.MethodPost, p.url("/v1/exposure-sites"), epi, body)
	require.Equal(t, http.StatusCreated, code, out)
	code, out, hdr = call(t, http.MethodPost, p.url(fmt.Sprintf("/v1/exposure-sites/%v/approve", out["site_id"])), appr01, "")
	requireRefused(t, code, out, hdr, http.StatusForbidden, "out_of_jurisdiction")
	require.Eventually(t, func() bool { // counted just after the alerts are stored
		_, metrics := get(t, "", p.url("/metrics"), "")
		return strings.Contains(string(metrics), `truyvet_sites_alerts_produced_total{type="retraction"} 17`) &&
			strings.Contains(string(metrics), `truyvet_sites_alerts_produced_total{type="exposure"} 17`)
	}, 10*time.Second, 50*time.Millisecond, "truyvet_sites_alerts_produced_total")

	// The summary counts the one publication (the refused approval is not
	// one) and every alert stored, exposures and retractions.
	requireSiteCounts(t, p.url("/v1/summary"), epi, sent)
	published, alerted := siteCounts(t, p.url("/v1/summary?province=79"), epi)
	require.Equal(t, []float64{1, float64(sent)}, []float64{published, alerted}, "counted in the venue's province")
}

// siteCounts are the sites published and alerts sent over the days of the
// summary at url.
func siteCounts(t *testing.T, url, token string) (published, alerted float64) {
	t.Helper()
	code, out, _ := call(t, http.MethodGet, url, token, "")
	require.Equal(t, http.StatusOK, code, out)
	for _, d := range out["days"].([]any) {
		day := d.(map[string]any)
		published += day["sites_published"].(float64)
		alerted += day["alerts_sent"].(float64)
	}
	return published, alerted
}

// requireSiteCounts waits for the summary at url to count one site
// published and sent alerts sent.
func requireSiteCounts(t *testing.T, url, token string, sent int) {
	t.Helper()
	var published, alerted float64
	require.Eventually(t, func() bool {
		published, alerted = siteCounts(t, url, token)
		return published == 1 && alerted == float64(sent)
	}, 20*time.Second, 100*time.Millisecond, "GET /v1/summary: want sites_published 1 and alerts_sent %d", sent)
	require.Equal(t, []float64{1, float64(sent)}, []float64{published, alerted})
}

// TestSitesDistributedReal runs ingest, two processors and query on the
// real Kafka, ClickHouse and PostgreSQL.
func TestSitesDistributedReal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	brokers, chAddr := kafkatest.Real(t), chtest.Addr(t)
	bin := buildBinary(t)
	prefix := kafkatest.Prefix(t)
	pg := pgArgs(t)
	secret := []string{"--venue-secret-file", filepath.Join(t.TempDir(), "venue.secret")}
	require.Equal(t, 0, cli.Main(t.Context(), cli.Env{Args: append([]string{"venues", "rotate-secret"}, secret...), Stdout: os.Stderr, Stderr: os.Stderr,
		LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now}))
	_, epi := accountWith(t, bin, "epi", "app,epidemiologist", pg...)
	_, appr := accountWith(t, bin, "approver", "approver", pg...)
	kafkaArgs := []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", prefix, "--kafka-partitions", "2"}
	ch := []string{"--clickhouse-addr", strings.Join(chAddr, ","), "--clickhouse-database", chtest.Database(t, chAddr)}
	ing := start(t, bin, append(append(append([]string{"ingest", "--listen", "127.0.0.1:0"}, kafkaArgs...), pg...), secret...)...)
	procArgs := append(append(append([]string{"process", "--listen", "127.0.0.1:0", "--flush-interval", "100ms", "--sites-refresh", "500ms",
		"--kafka-group", prefix + "processor"}, kafkaArgs...), ch...), pg...)
	start(t, bin, procArgs...)
	start(t, bin, procArgs...)
	q := start(t, bin, append(append(append([]string{"query", "--listen", "127.0.0.1:0", "--sites-refresh", "500ms", "--sites-sweep-interval", "1s"}, ch...), pg...), secret...)...)
	n := sitesScenario(t, ing, q, epi, appr)

	// <prefix>alerts carries every alert, keyed by user.
	got := map[string]string{}
	msgs := 0
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for part := range 2 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: prefix + "alerts", Partition: part, MaxWait: 100 * time.Millisecond})
		for {
			lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
			m, err := r.ReadMessage(lctx)
			lcancel()
			if err != nil {
				break
			}
			var a sites.Message
			require.NoError(t, json.Unmarshal(m.Value, &a))
			require.Equal(t, fmt.Sprint(a.UserID), string(m.Key))
			got[a.AlertID] = a.Type
			msgs++
		}
		require.NoError(t, r.Close())
	}
	require.Len(t, got, n)
	require.Equal(t, n, msgs, "one sweeper per site: no alert twice on the topic without a crash")

	// The query server counts the publication, the processors the alerts
	// they stored, in the one ClickHouse store of counters.
	requireSiteCounts(t, q.url("/v1/summary"), epi, n)
}
