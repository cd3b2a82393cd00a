package exportkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
)

// TestInputErrorsMatchErrInvalidInput: whatever the SDK refuses before
// sending is recognisable as the caller's mistake, so that a program (the
// command line among them) can tell it from a failure of the vendor.
func TestInputErrorsMatchErrInvalidInput(t *testing.T) {
	rec := &recorder{}
	c := newClient(t, rec)
	ctx := context.Background()
	long := strings.Repeat("x", 1025)
	calls := map[string]func() error{
		"memsolus format": func() error {
			_, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "BOGUS"})
			return err
		},
		"memsolus priority": func() error {
			_, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Priority: "urgent"})
			return err
		},
		"memsolus categories": func() error {
			_, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Categories: []string{"a,b"}})
			return err
		},
		"memsolus page size": func() error { _, err := c.Memories.List(ctx, &exportkit.ListOptions{PageSize: 101}); return err },
		"brainbase id ..":    func() error { _, err := c.Exports.Get(ctx, ".."); return err },
		"brainbase long id":  func() error { _, err := c.Exports.Get(ctx, long); return err },
		"orbit audience ..":  func() error { _, err := c.Audiences.ListRuns(ctx, "..", nil); return err },
		"orbit limit": func() error {
			_, err := c.Audiences.ListRuns(ctx, "a", &exportkit.RunListOptions{Limit: 101})
			return err
		},
		"orbit idempotency key": func() error {
			_, err := c.Audiences.CreateRun(ctx, "a", &exportkit.RunRequest{IdempotencyKey: long})
			return err
		},
		"kore export type": func() error {
			_, err := c.Bots.StartExport(ctx, "st-1", &exportkit.BotExportRequest{ExportType: "draft"})
			return err
		},
		"kore bot id":            func() error { _, err := c.Bots.ExportStatus(ctx, ""); return err },
		"memsolus wait on id ..": func() error { _, err := c.Memories.Get(ctx, ".."); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.Error(t, err)
			assert.True(t, errors.Is(err, exportkit.ErrInvalidInput), "%v does not match ErrInvalidInput", err)
		})
	}
	assert.Equal(t, 0, rec.count(), "refused input sent a request")
}

// TestVendorValuesInAnyCase: a format, priority or export type given in
// another case than the vendor's is sent in the vendor's spelling.
func TestVendorValuesInAnyCase(t *testing.T) {
	ctx := context.Background()
	t.Run("memsolus", func(t *testing.T) {
		rec := &recorder{}
		c := newClient(t, rec)
		req := &exportkit.MemoryExportRequest{Format: "CSV", Priority: "high"}
		_, _ = c.Memories.Create(ctx, req) // the recorder answers no export: only the request matters
		require.Equal(t, 1, rec.count())
		assert.Equal(t, "format=csv&priority=HIGH", rec.last().URL.RawQuery)
		assert.Equal(t, "CSV", req.Format, "the caller's request is left as it was")
		_, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "Markdown"})
		assert.False(t, errors.Is(err, exportkit.ErrInvalidInput), "%v", err)
		assert.Equal(t, "format=markdown", rec.last().URL.RawQuery)
	})
	t.Run("brainbase", func(t *testing.T) {
		rec := &recorder{}
		c := newClient(t, rec)
		_, _ = c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "json"})
		require.Equal(t, 1, rec.count())
		assert.Equal(t, "JSON", bodyField(t, rec, "format"))
	})
	t.Run("kore", func(t *testing.T) {
		rec := &recorder{}
		c := newClient(t, rec)
		_, _ = c.Bots.StartExport(ctx, "st-1", &exportkit.BotExportRequest{ExportType: "Published"})
		require.Equal(t, 1, rec.count())
		assert.Equal(t, "published", bodyField(t, rec, "exportType"))
	})
}

// bodyField is a top-level string field of the JSON body of the last
// request rec received.
func bodyField(t *testing.T, rec *recorder, name string) string {
	t.Helper()
	rec.mu.Lock()
	b := []byte(rec.bodies[len(rec.bodies)-1])
	rec.mu.Unlock()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	s, _ := m[name].(string)
	return s
}

// TestBaseURLWithoutScheme: "localhost:PORT" names the local fake over
// http, a bare host name the vendor over https, whether given as an option
// or in the environment.
func TestBaseURLWithoutScheme(t *testing.T) {
	rec := &recorder{}
	hc := &http.Client{Transport: handlerTransport{rec}}
	for _, tc := range []struct {
		given, want string
	}{
		{"localhost:8080", "http://localhost:8080/api/team/exports/e1"},
		{"127.0.0.1:9/v2/", "http://127.0.0.1:9/v2/api/team/exports/e1"},
		{"[::1]:8080", "http://[::1]:8080/api/team/exports/e1"},
		{"api.example.com", "https://api.example.com/api/team/exports/e1"},
		{"api.example.com:8443", "https://api.example.com:8443/api/team/exports/e1"},
	} {
		for _, fromEnv := range []bool{false, true} {
			opts := []exportkit.Option{exportkit.WithHTTPClient(hc), exportkit.WithBrainbaseAPIKey(testBrainbaseKey)}
			if fromEnv {
				t.Setenv(exportkit.EnvBrainbaseBaseURL, tc.given)
			} else {
				t.Setenv(exportkit.EnvBrainbaseBaseURL, "")
				opts = append(opts, exportkit.WithBaseURL(exportkit.Brainbase, tc.given))
			}
			c, err := exportkit.NewClient(opts...)
			require.NoError(t, err, "%s (env %v)", tc.given, fromEnv)
			_, _ = c.Exports.Get(context.Background(), "e1")
			assert.Equal(t, tc.want, rec.last().URL.String(), "%s (env %v)", tc.given, fromEnv)
		}
	}
	t.Setenv(exportkit.EnvKoreHost, "localhost:1")
	t.Setenv(exportkit.EnvKoreClientID, "")
	t.Setenv(exportkit.EnvKoreClientSecret, "")
	_, err := exportkit.NewClient()
	assert.NoError(t, err, "KORE_HOST=localhost:PORT is the local fake over http")
}

// TestKoreHalfAppFromEnv: one of the two Kore variables set names the
// other one, not an option the user never called.
func TestKoreHalfAppFromEnv(t *testing.T) {
	for _, tc := range []struct{ id, secret, want string }{
		{"cs-1", "", "KORE_CLIENT_ID is set but KORE_CLIENT_SECRET is not"},
		{"", "s3cret-value", "KORE_CLIENT_SECRET is set but KORE_CLIENT_ID is not"},
	} {
		t.Setenv(exportkit.EnvKoreClientID, tc.id)
		t.Setenv(exportkit.EnvKoreClientSecret, tc.secret)
		_, err := exportkit.NewClient()
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "WithKoreApp")
		assert.NotContains(t, err.Error(), "s3cret-value")
		assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
	}
	t.Setenv(exportkit.EnvKoreClientID, "")
	_, err := exportkit.NewClient(exportkit.WithKoreApp("cs-1", ""))
	assert.ErrorContains(t, err, "WithKoreApp needs both")
}

// TestBaseURLNotAHost: a base URL whose host cannot be dialled is refused
// by NewClient, before any request: "::" would dial :443, "-q" (an unset
// variable before a flag) would be looked up in DNS and retried.
func TestBaseURLNotAHost(t *testing.T) {
	for _, given := range []string{"::", "-q", "https://-q", "https://0.0.0.0", "http://[::]:80", "https://a..b",
		"https://host:0", "https://host:99999", "https://host:", "https://bad-.example.com"} {
		_, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey(testBrainbaseKey), exportkit.WithBaseURL(exportkit.Brainbase, given))
		if assert.Error(t, err, given) {
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput, given)
			assert.Contains(t, err.Error(), "not a host", given)
		}
	}
	for _, given := range []string{"https://api.example.com", "https://under_score.example.com:8443/v1", "http://[::1]:9", "http://127.0.0.1:1", "localhost:8080", "https://1.2.3.4"} {
		_, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey(testBrainbaseKey), exportkit.WithBaseURL(exportkit.Brainbase, given))
		assert.NoError(t, err, given)
	}
}
