package exportkit_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIErrorDecoding feeds each vendor's documented error bodies (and the
// undocumented shapes the vendors' own SDKs tolerate) through a real call.
func TestAPIErrorDecoding(t *testing.T) {
	type call func(c *exportkit.Client) error
	ctx := context.Background()
	brainbase := func(c *exportkit.Client) error { _, err := c.Exports.Get(ctx, "e1"); return err }
	memsolus := func(c *exportkit.Client) error { _, err := c.Memories.Get(ctx, "m1"); return err }
	orbit := func(c *exportkit.Client) error {
		_, err := c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: "a", RunID: "r", ExportID: "x"})
		return err
	}
	kore := func(c *exportkit.Client) error { _, err := c.Bots.ExportStatus(ctx, "st-1"); return err }

	tests := []struct {
		name                 string
		call                 call
		status               int
		body                 string
		headers              []string
		vendor               exportkit.Vendor
		code, message, reqID string
		is                   error
		retryAfter           time.Duration
		messageNotContain    string
	}{
		{"orbit nested", orbit, 404, `{"error":{"code":"EXPORT_NOT_FOUND","message":"Export not found","details":null},"meta":{"timestamp":"2026-01-01T00:00:00Z","request_id":"req_123"}}`, nil,
			exportkit.Orbit, "EXPORT_NOT_FOUND", "Export not found", "req_123", exportkit.ErrNotFound, 0, ""},
		{"orbit not ready", orbit, 409, `{"error":{"code":"EXPORT_NOT_READY","message":"Stored export is not ready"},"meta":{"request_id":"r2"}}`, nil,
			exportkit.Orbit, "EXPORT_NOT_READY", "Stored export is not ready", "r2", exportkit.ErrNotReady, 0, ""},
		{"orbit storage not configured", orbit, 503, `{"error":{"code":"STORAGE_NOT_CONFIGURED","message":"B2 export storage is not configured"}}`, nil,
			exportkit.Orbit, "STORAGE_NOT_CONFIGURED", "B2 export storage is not configured", "", nil, 0, ""},
		{"orbit flat fallback", orbit, 400, `{"message":"Bad audience id"}`, nil,
			exportkit.Orbit, "", "Bad audience id", "", nil, 0, ""},
		{"orbit slots full", orbit, 403, `{"error":{"code":"SLOTS_FULL","message":"All audience slots are in use"}}`, nil,
			exportkit.Orbit, "SLOTS_FULL", "All audience slots are in use", "", exportkit.ErrForbidden, 0, ""},
		{"memsolus flat", memsolus, 404, `{"error":"EXPORT_NOT_FOUND","message":"Export not found","statusCode":404}`, nil,
			exportkit.Memsolus, "EXPORT_NOT_FOUND", "Export not found", "", exportkit.ErrNotFound, 0, ""},
		{"memsolus gone", memsolus, 410, `{"error":"EXPORT_EXPIRED","message":"Export has expired"}`, nil,
			exportkit.Memsolus, "EXPORT_EXPIRED", "Export has expired", "", exportkit.ErrExportExpired, 0, ""},
		{"memsolus forbidden scope", memsolus, 403, `{"error":"FORBIDDEN","message":"Missing permission export.write"}`, nil,
			exportkit.Memsolus, "FORBIDDEN", "Missing permission export.write", "", exportkit.ErrForbidden, 0, ""},
		{"memsolus validation", memsolus, 400, `{"error":"VALIDATION_ERROR","message":"categories: at most 20"}`, nil,
			exportkit.Memsolus, "VALIDATION_ERROR", "categories: at most 20", "", nil, 0, ""},
		{"kore errors array", kore, 401, `{"errors":[{"msg":"Invalid SDK credentials","code":4002}]}`, nil,
			exportkit.Kore, "4002", "Invalid SDK credentials", "", exportkit.ErrUnauthorized, 0, ""},
		{"kore flat", kore, 400, `{"msg":"Invalid SDK credentials","code":4002}`, nil,
			exportkit.Kore, "4002", "Invalid SDK credentials", "", exportkit.ErrUnauthorized, 0, ""},
		{"kore rate limit", kore, 429, `{"errors":[{"msg":"Rate limit for this API has been reached. Please try again later","code":429}]}`, []string{"Retry-After", "120"},
			exportkit.Kore, "429", "Rate limit for this API has been reached. Please try again later", "", exportkit.ErrRateLimited, 120 * time.Second, ""},
		{"brainbase unknown json", brainbase, 404, `{"error":"Export not found"}`, nil,
			exportkit.Brainbase, "Export not found", "", "", exportkit.ErrNotFound, 0, ""},
		{"brainbase plain text", brainbase, 401, "Unauthorized", []string{"Content-Type", "text/plain"},
			exportkit.Brainbase, "", "Unauthorized", "", exportkit.ErrUnauthorized, 0, ""},
		{"brainbase request id header", brainbase, 500, `{"message":"boom"}`, []string{"X-Request-Id", "hdr-1"},
			exportkit.Brainbase, "", "boom", "hdr-1", nil, 0, ""},
		{"proxy html page", brainbase, 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", []string{"Content-Type", "text/html"},
			exportkit.Brainbase, "", "unexpected non-JSON error body (text/html)", "", nil, 0, "nginx"},
		{"control characters cannot forge lines", brainbase, 400, "bad\nlevel=ERROR msg=forged", []string{"Content-Type", "text/plain"},
			exportkit.Brainbase, "", "bad level=ERROR msg=forged", "", nil, 0, "\n"},
		{"echoed signed URL is redacted", brainbase, 400, `{"message":"cannot read https://s3.example/f?X-Amz-Signature=SIGSECRET&X-Amz-Credential=CREDSECRET"}`, nil,
			exportkit.Brainbase, "", "cannot read https://s3.example/f?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED", "", nil, 0, "SIGSECRET"},
		{"echoed api key is scrubbed", brainbase, 401, `{"message":"key ` + testBrainbaseKey + ` is revoked"}`, nil,
			exportkit.Brainbase, "", "key REDACTED is revoked", "", exportkit.ErrUnauthorized, 0, testBrainbaseKey},
		{"empty error body", memsolus, 404, "", nil,
			exportkit.Memsolus, "", "", "", exportkit.ErrNotFound, 0, ""},
		{"malformed json error body", memsolus, 500, `{"error":`, nil,
			exportkit.Memsolus, "", `{"error":`, "", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(tt.status, tt.body, tt.headers...)}}
			c := newClient(t, rec, exportkit.WithRetry(-1, 0, 0))
			err := tt.call(c)
			require.Error(t, err)
			var ae *exportkit.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.vendor, ae.Vendor)
			assert.Equal(t, tt.status, ae.StatusCode)
			assert.Equal(t, tt.code, ae.Code)
			assert.Equal(t, tt.message, ae.Message)
			assert.Equal(t, tt.reqID, ae.RequestID)
			assert.Equal(t, tt.retryAfter, ae.RetryAfter)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "exportkit: "+string(tt.vendor)+": "), err.Error())
			if tt.messageNotContain != "" {
				assert.NotContains(t, err.Error(), tt.messageNotContain)
			}
		})
	}
}

func TestHugeErrorBodyIsCapped(t *testing.T) {
	const size = 32 << 20
	read := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		chunk := []byte(strings.Repeat("x", 1<<16))
		for read < size {
			n, err := w.Write(chunk)
			read += n
			if err != nil {
				return
			}
		}
	})
	c := newClient(t, h, exportkit.WithRetry(-1, 0, 0))
	_, err := c.Exports.Get(context.Background(), "e1")
	var ae *exportkit.APIError
	require.ErrorAs(t, err, &ae)
	assert.LessOrEqual(t, len(ae.Message), 400, "the message is a short excerpt")
}

func TestSentinelsMatchByStatus(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   error
		not    error
	}{
		{401, "", exportkit.ErrUnauthorized, exportkit.ErrForbidden},
		{403, "", exportkit.ErrForbidden, exportkit.ErrUnauthorized},
		{404, "", exportkit.ErrNotFound, exportkit.ErrNotReady},
		{409, "", exportkit.ErrNotReady, exportkit.ErrNotFound},
		{410, "", exportkit.ErrExportExpired, exportkit.ErrNotFound},
		{429, "", exportkit.ErrRateLimited, exportkit.ErrNotFound},
		{400, "4002", exportkit.ErrUnauthorized, exportkit.ErrRateLimited},
		{500, "", nil, exportkit.ErrRateLimited},
	}
	for _, tt := range tests {
		e := &exportkit.APIError{Vendor: exportkit.Orbit, StatusCode: tt.status, Code: tt.code}
		if tt.want != nil {
			assert.ErrorIs(t, e, tt.want, "%d", tt.status)
		}
		assert.NotErrorIs(t, e, tt.not, "%d", tt.status)
	}
	limited := &exportkit.APIError{Vendor: exportkit.Orbit, StatusCode: 503, RetryAfter: time.Minute}
	assert.ErrorIs(t, limited, exportkit.ErrRateLimited, "a 503 with a Retry-After we may not sleep is a rate limit")
}

func TestExportErrorMatchesState(t *testing.T) {
	for state, want := range map[exportkit.State]error{
		exportkit.StateFailed:   exportkit.ErrExportFailed,
		exportkit.StateExpired:  exportkit.ErrExportExpired,
		exportkit.StateCanceled: exportkit.ErrExportCanceled,
	} {
		err := error(&exportkit.ExportError{Vendor: exportkit.Orbit, ID: "x", State: state, Code: "QUERY_TIMEOUT", Message: "took too long"})
		assert.ErrorIs(t, err, want)
		assert.Equal(t, `exportkit: orbit: export "x" `+string(state)+`: QUERY_TIMEOUT: took too long`, err.Error())
		var ee *exportkit.ExportError
		require.True(t, errors.As(err, &ee))
	}
}
