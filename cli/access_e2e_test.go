package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/ingest/kafkaproducer/kafkatest"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// call sends a request with a token and a JSON body; it returns the status,
// the body and the headers.
func call(t testing.TB, method, url, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(b)) > 0 && b[0] == '{' {
		require.NoError(t, json.Unmarshal(b, &out), string(b))
	}
	return resp.StatusCode, out, resp.Header
}

// createAccount posts an account as admin and returns its id and token.
func createAccount(t testing.TB, base, admin, spec string) (id, token string) {
	t.Helper()
	code, out, _ := call(t, http.MethodPost, base+"/v1/accounts", admin, spec)
	require.Equal(t, http.StatusCreated, code, out)
	return out["account_id"].(string), out["token"].(string)
}

func requireRefused(t testing.TB, code int, out map[string]any, hdr http.Header, wantCode int, reason string) {
	t.Helper()
	require.Equal(t, wantCode, code, out)
	require.Equal(t, reason, out["reason"], out)
	require.NotEmpty(t, out["error"])
	if wantCode == http.StatusUnauthorized {
		require.Equal(t, "Bearer", hdr.Get("WWW-Authenticate"))
	}
}

// TestAccessEndToEnd runs the built binary: bootstrap from the admin token
// file, accounts, 401/403 reasons, jurisdiction by the case registry,
// revocation, kill -9 and restart, and `audit verify` passing, then failing
// once an entry is altered on disk.
func TestAccessEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := start(t, bin, "all-in-one", "--listen", "127.0.0.1:0", "--data-dir", dir)
	base := p.url("")

	// Bootstrap: a fresh token written to DATA_DIR/admin.token, mode 0600.
	tokFile := filepath.Join(dir, "admin.token")
	st, err := os.Stat(tokFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	raw, err := os.ReadFile(tokFile)
	require.NoError(t, err)
	boot := strings.TrimSpace(string(raw))
	require.True(t, strings.HasPrefix(boot, "tvk_"))
	require.NotContains(t, p.logs.String(), boot, "tokens are never logged")

	// Open routes stay open; the rest need a token.
	code, _, _ := call(t, http.MethodGet, base+"/healthz", "", "")
	require.Equal(t, http.StatusOK, code)
	code, _, _ = call(t, http.MethodGet, base+"/v1/schemas/visit", "", "")
	require.Equal(t, http.StatusOK, code)
	code, out, hdr := call(t, http.MethodGet, base+"/v1/cases/7/exposures?purpose=trace", "", "")
	requireRefused(t, code, out, hdr, http.StatusUnauthorized, "no_token")
	code, out, hdr = call(t, http.MethodGet, base+"/v1/status", "tvk_notatoken", "")
	requireRefused(t, code, out, hdr, http.StatusUnauthorized, "bad_token")

	// The bootstrap admin creates the first admin, then stops working.
	adminID, admin := createAccount(t, base, boot, `{"name":"ops","roles":["admin"],"provinces":["*"]}`)
	code, out, hdr = call(t, http.MethodGet, base+"/v1/accounts", boot, "")
	requireRefused(t, code, out, hdr, http.StatusUnauthorized, "bad_token")
	code, out, _ = call(t, http.MethodPost, base+"/v1/accounts", admin, `{"name":"x","roles":["root"],"provinces":["*"]}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "roles", out["field"])

	epi01ID, epi01 := createAccount(t, base, admin, `{"name":"Đội truy vết Hà Nội","roles":["epidemiologist"],"provinces":["01"]}`)
	_, epi79 := createAccount(t, base, admin, `{"name":"HCDC","roles":["epidemiologist"],"provinces":["79"]}`)
	_, nat := createAccount(t, base, admin, `{"name":"Bộ Y tế","roles":["epidemiologist","auditor"],"provinces":["*"]}`)
	_, app := createAccount(t, base, admin, `{"name":"Bluezone","roles":["app"],"provinces":["*"]}`)

	// Roles: apps post records, epidemiologists do not; admins see no contacts.
	now := time.Now()
	visit := fmt.Sprintf(`{"visit_id":"v1","user_id":7,"venue_id":3,"enter":%q,"exit":%q,"source":"ncovi"}`,
		now.Add(-3*time.Hour).Format(time.RFC3339), now.Add(-2*time.Hour).Format(time.RFC3339))
	code, out, _ = call(t, http.MethodPost, base+"/v1/checkins", app, visit)
	require.Equal(t, http.StatusAccepted, code, out)
	code, out, hdr = call(t, http.MethodPost, base+"/v1/checkins", epi01, visit)
	requireRefused(t, code, out, hdr, http.StatusForbidden, "forbidden_role")
	code, out, hdr = call(t, http.MethodGet, base+"/v1/cases/7/exposures?purpose=trace", admin, "")
	requireRefused(t, code, out, hdr, http.StatusForbidden, "forbidden_role")

	// Jurisdiction follows the registry: case 7 registered in Hà Nội.
	caseBody := fmt.Sprintf(`{"user_id":7,"province":"01","confirmed_at":%q}`, now.Add(-time.Hour).Format(time.RFC3339))
	code, out, hdr = call(t, http.MethodPost, base+"/v1/cases", epi79, caseBody)
	requireRefused(t, code, out, hdr, http.StatusForbidden, "out_of_jurisdiction")
	code, out, _ = call(t, http.MethodPost, base+"/v1/cases", epi01, caseBody)
	require.Equal(t, http.StatusCreated, code, out)
	code, out, hdr = call(t, http.MethodGet, base+"/v1/cases/7/exposures?purpose=cluster+tracing", epi79, "")
	requireRefused(t, code, out, hdr, http.StatusForbidden, "out_of_jurisdiction")
	code, out, _ = call(t, http.MethodGet, base+"/v1/cases/7/exposures?purpose=cluster+tracing", epi01, "")
	require.Equal(t, http.StatusOK, code, out)
	code, out, _ = call(t, http.MethodGet, base+"/v1/cases/7/exposures", epi01, "")
	require.Equal(t, http.StatusBadRequest, code, "purpose is required")
	require.Contains(t, out["error"], "purpose")
	code, out, hdr = call(t, http.MethodGet, base+"/v1/cases/8/exposures?purpose=cluster+tracing", epi01, "")
	requireRefused(t, code, out, hdr, http.StatusForbidden, "out_of_jurisdiction") // unregistered: national only
	code, out, _ = call(t, http.MethodGet, base+"/v1/cases/8/exposures?purpose=cluster+tracing", nat, "")
	require.Equal(t, http.StatusOK, code, out)

	// The audit trail, for auditors only, names who asked and what happened.
	code, out, hdr = call(t, http.MethodGet, base+"/v1/audit", epi01, "")
	requireRefused(t, code, out, hdr, http.StatusForbidden, "forbidden_role")
	code, out, _ = call(t, http.MethodGet, base+"/v1/audit?case=7", nat, "")
	require.Equal(t, http.StatusOK, code, out)
	entries := out["entries"].([]any)
	var statuses []float64
	for _, e := range entries {
		statuses = append(statuses, e.(map[string]any)["status"].(float64))
	}
	// newest first: 400 (no purpose), 200 (epi01), 403 (epi79), 201 (case registered), 403 (admin), 401 (no token)
	require.Equal(t, []float64{400, 200, 403, 201, 403, 401}, statuses)
	ok := entries[1].(map[string]any)
	require.Equal(t, "Đội truy vết Hà Nội", ok["account"].(map[string]any)["name"])
	require.Equal(t, "cluster tracing", ok["purpose"])

	// Revocation holds at once.
	code, out, _ = call(t, http.MethodDelete, base+"/v1/accounts/"+epi01ID, admin, "")
	require.Equal(t, http.StatusOK, code, out)
	code, out, hdr = call(t, http.MethodGet, base+"/v1/cases/7/exposures?purpose=cluster+tracing", epi01, "")
	requireRefused(t, code, out, hdr, http.StatusUnauthorized, "bad_token")

	_, metrics := get(t, "", p.url("/metrics"), "")
	for _, series := range []string{`truyvet_auth_requests_total{result="forbidden_role"}`, `truyvet_auth_requests_total{result="out_of_jurisdiction"}`,
		`truyvet_auth_requests_total{result="no_token"}`, `truyvet_audit_entries_written_total{action="exposures"}`} {
		require.Regexp(t, strings.ReplaceAll(strings.ReplaceAll(series, "{", `\{`), "}", `\}`)+` [1-9]`, string(metrics))
	}

	// kill -9 and restart: accounts, revocations and the trail survive.
	_, before, _ := call(t, http.MethodGet, base+"/v1/audit?limit=1000", nat, "")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	p = start(t, bin, "all-in-one", "--listen", "127.0.0.1:0", "--data-dir", dir)
	base = p.url("")
	code, out, hdr = call(t, http.MethodGet, base+"/v1/cases/7/exposures?purpose=cluster+tracing", epi01, "")
	requireRefused(t, code, out, hdr, http.StatusUnauthorized, "bad_token")
	code, out, _ = call(t, http.MethodGet, base+"/v1/accounts", admin, "")
	require.Equal(t, http.StatusOK, code, out)
	require.Len(t, out["accounts"], 5)
	code, after, _ := call(t, http.MethodGet, base+"/v1/audit?limit=1000", nat, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, before["entries"], after["entries"].([]any)[1:], "the trail as before, plus the refused lookup after the restart")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	_ = p.cmd.Wait()

	// The operator's view, offline.
	out2, err := exec.Command(bin, "accounts", "list", "--data-dir", dir).Output()
	require.NoError(t, err)
	require.Contains(t, string(out2), adminID)
	verify := exec.Command(bin, "audit", "verify", "--data-dir", dir)
	res, err := verify.CombinedOutput()
	require.NoError(t, err, string(res))
	require.Contains(t, string(res), "audit trail ok")

	// Alter entry 3 on disk (hide a refusal): verify fails and names it.
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: dir, Layout: bucket.DefaultLayout(), StoredLayout: true})
	require.NoError(t, err)
	var third audit.Entry
	for e, err := range s.All(t.Context()) {
		require.NoError(t, err)
		if e.Seq == 3 {
			third = e
		}
	}
	third.Status = http.StatusOK
	b, err := json.Marshal(third)
	require.NoError(t, err)
	require.NoError(t, s.SetTrailEntry(t.Context(), 3, b))
	require.NoError(t, s.Close())
	res, err = exec.Command(bin, "audit", "verify", "--data-dir", dir).CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, string(res))
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, string(res), "at entry 3")
}

// TestDistributedAccessReal runs ingest and two query replicas on the real
// Kafka, ClickHouse and PostgreSQL: they share the accounts, the bootstrap
// file works on each, and a revocation made on one holds at once on all
// (ingest's with --token-cache once its cache hears it, within moments).
func TestDistributedAccessReal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; not in -short")
	}
	brokers, chAddr := kafkatest.Real(t), chtest.Addr(t)
	bin := buildBinary(t)
	prefix := kafkatest.Prefix(t)
	pg := pgArgs(t)
	tokFile := filepath.Join(t.TempDir(), "admin.token")
	common := append(append([]string{"--admin-token-file", tokFile}, pg...), "--kafka-brokers", strings.Join(brokers, ","), "--kafka-topic-prefix", prefix)
	chArgs := []string{"--clickhouse-addr", strings.Join(chAddr, ","), "--clickhouse-database", chtest.Database(t, chAddr)}
	ing := start(t, bin, append([]string{"ingest", "--listen", "127.0.0.1:0", "--token-cache", "1m"}, common...)...)
	qa := start(t, bin, append(append([]string{"query", "--listen", "127.0.0.1:0", "--admin-token-file", tokFile}, pg...), chArgs...)...)
	qb := start(t, bin, append(append([]string{"query", "--listen", "127.0.0.1:0", "--admin-token-file", tokFile}, pg...), chArgs...)...)
	raw, err := os.ReadFile(tokFile)
	require.NoError(t, err)
	boot := strings.TrimSpace(string(raw))

	_, admin := createAccount(t, qa.url(""), boot, `{"name":"ops","roles":["admin"],"provinces":["*"]}`)
	appID, app := createAccount(t, qb.url(""), admin, `{"name":"Bluezone","roles":["app","epidemiologist"],"provinces":["*"]}`)
	now := time.Now()
	enc := fmt.Sprintf(`{"encounter_id":"bz-1","user_id":1,"peer_id":2,"start":%q,"duration_s":1200,"source":"bluezone"}`, now.Add(-time.Hour).Format(time.RFC3339))
	for range 2 { // the second from ingest's token cache
		code, out, _ := call(t, http.MethodPost, ing.url("/v1/proximity"), app, enc)
		require.Equal(t, http.StatusAccepted, code, out)
	}
	code, out, _ := call(t, http.MethodGet, qa.url("/v1/cases/1/exposures?purpose=check"), app, "")
	require.Equal(t, http.StatusOK, code, out)
	_, metrics := get(t, "", ing.url("/metrics"), "")
	require.Regexp(t, `truyvet_auth_token_cache_lookups_total\{result="hit"\} [1-9]`, string(metrics))
	require.Regexp(t, `truyvet_auth_token_cache_listening 1`, string(metrics))

	code, out, _ = call(t, http.MethodDelete, qb.url("/v1/accounts/"+appID), admin, "")
	require.Equal(t, http.StatusOK, code, out)
	code, out, hdr := call(t, http.MethodGet, qa.url("/v1/cases/1/exposures?purpose=check"), app, "")
	requireRefused(t, code, out, hdr, http.StatusUnauthorized, "bad_token")
	require.Eventually(t, func() bool {
		code, _, _ := call(t, http.MethodPost, ing.url("/v1/proximity"), app, enc)
		return code == http.StatusUnauthorized
	}, 2*time.Second, 5*time.Millisecond, "ingest's cache heard the revocation")
	code, out, hdr = call(t, http.MethodPost, ing.url("/v1/proximity"), app, enc)
	requireRefused(t, code, out, hdr, http.StatusUnauthorized, "bad_token")
	// The trail is one chain across the replicas; verify it from PostgreSQL.
	res, err := exec.Command(bin, append([]string{"audit", "verify"}, pg...)...).CombinedOutput()
	require.NoError(t, err, string(res))
	require.Contains(t, string(res), "audit trail ok")
}
