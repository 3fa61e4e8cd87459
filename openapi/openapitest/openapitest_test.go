package openapitest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/openapi/openapitest"
)

// TestCheck shows the checker refuses what the document does not say.
func TestCheck(t *testing.T) {
	c := openapitest.Must(t)
	json := http.Header{"Content-Type": []string{"application/json"}}
	for _, tc := range []struct {
		name         string
		method, path string
		reqCT        string
		req          string
		status       int
		header       http.Header
		body         string
		ok           bool
	}{
		{"status as documented", "GET", "/v1/status", "", "", 200, json, `{"mode":"query","uptime_seconds":3}`, true},
		{"status without mode", "GET", "/v1/status", "", "", 200, json, `{"uptime_seconds":3}`, false},
		{"status of a wrong type", "GET", "/v1/status", "", "", 200, json, `{"mode":"query","uptime_seconds":"3"}`, false},
		{"undocumented status code", "GET", "/v1/status", "", "", 418, json, `{"error":"teapot"}`, false},
		{"error body without error", "GET", "/v1/cases/7", "", "", 404, json, `{"reason":"x"}`, false},
		{"unknown route answered", "GET", "/v1/nothing", "", "", 200, json, `{}`, false},
		{"unknown route refused", "GET", "/v1/nothing", "", "", 404, json, `{"error":"no such route"}`, true},
		{"invalid request answered 2xx", "POST", "/v1/cases", "application/json", `{"user_id":0}`, 201, json,
			`{"user_id":1,"province":"01","confirmed_at":"2021-07-01T00:00:00Z","registered_by":"a","registered_at":"2021-07-01T00:00:00Z","infectious_window":{"from":"2021-06-29T00:00:00Z","to":"2021-07-01T00:00:00Z"}}`, false},
		{"invalid request refused", "POST", "/v1/cases", "application/json", `{"user_id":0}`, 400, json, `{"error":"user_id","field":"user_id","reason":"invalid_value"}`, true},
		{"invalid records named", "POST", "/v1/checkins", "application/x-ndjson", `{"visit_id":"a"}`, 202, json,
			`{"accepted":0,"rejected":[{"index":0,"field":"user_id","reason":"missing_field","error":"x"}]}`, true},
		{"invalid records taken", "POST", "/v1/checkins", "application/x-ndjson", `{"visit_id":"a"}`, 202, json, `{"accepted":1,"rejected":[]}`, false},
		{"a page is not checked", "GET", "/venues", "", "", 200, http.Header{"Content-Type": []string{"text/html"}}, `<html>`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.reqCT != "" {
				req.Header.Set("Content-Type", tc.reqCT)
			}
			err := c.Check(t.Context(), req, []byte(tc.req), tc.status, tc.header, []byte(tc.body))
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}
