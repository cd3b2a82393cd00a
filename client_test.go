package exportkit_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []exportkit.Option
		wantErr error
		wantMsg string
	}{
		{"both orbit credentials", []exportkit.Option{exportkit.WithOrbitAPIKey("sk_a"), exportkit.WithOrbitBearerToken("jwt")}, nil, "both an API key and a bearer token"},
		{"both kore credentials", []exportkit.Option{exportkit.WithKoreApp("id", "secret"), exportkit.WithKoreToken("jwt")}, nil, "both an app"},
		{"kore id without secret", []exportkit.Option{exportkit.WithKoreApp("id", "")}, nil, "needs both"},
		{"base URL not a URL", []exportkit.Option{exportkit.WithBaseURL(exportkit.Brainbase, "::nope")}, exportkit.ErrUnsafeURL, "brainbase"},
		{"base URL ftp", []exportkit.Option{exportkit.WithBaseURL(exportkit.Memsolus, "ftp://x.example")}, exportkit.ErrUnsafeURL, "memsolus"},
		{"base URL relative", []exportkit.Option{exportkit.WithBaseURL(exportkit.Orbit, "/v1")}, exportkit.ErrUnsafeURL, "orbit"},
		{"base URL plain http to a remote host", []exportkit.Option{exportkit.WithBaseURL(exportkit.Kore, "http://platform.kore.ai")}, exportkit.ErrUnsafeURL, "loopback"},
		{"base URL with userinfo", []exportkit.Option{exportkit.WithBaseURL(exportkit.Kore, "https://u:p@platform.kore.ai")}, exportkit.ErrUnsafeURL, "credentials"},
		{"base URL with query", []exportkit.Option{exportkit.WithBaseURL(exportkit.Kore, "https://platform.kore.ai/?sig=abc")}, exportkit.ErrUnsafeURL, "query"},
		{"unknown vendor", []exportkit.Option{exportkit.WithBaseURL("acme", "https://acme.example")}, nil, "unknown vendor"},
		{"negative retry wait", []exportkit.Option{exportkit.WithRetry(1, -time.Second, time.Second)}, nil, "negative"},
		{"retry max below min", []exportkit.Option{exportkit.WithRetry(1, time.Minute, time.Second)}, nil, "less than"},
		{"negative rate", []exportkit.Option{exportkit.WithRateLimit(exportkit.Kore, -1, 1)}, nil, "negative"},
		{"user agent with newline", []exportkit.Option{exportkit.WithUserAgent("x\r\nInjected: 1")}, nil, "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := exportkit.NewClient(tt.opts...)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), "sig=abc")
			assert.NotContains(t, err.Error(), "u:p@")
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
		})
	}
}

func TestNewClientNilOptionAndLoopbackHTTP(t *testing.T) {
	_, err := exportkit.NewClient(nil, exportkit.WithBaseURL(exportkit.Brainbase, "http://127.0.0.1:9/"),
		exportkit.WithBaseURL(exportkit.Orbit, "http://[::1]:9"), exportkit.WithBaseURL(exportkit.Kore, "http://localhost"))
	require.NoError(t, err)
}

// TestEnvironmentDefaults: a setting whose option is not given (or is
// given empty) comes from the environment, read once in NewClient.
func TestEnvironmentDefaults(t *testing.T) {
	t.Setenv("BRAINBASE_LABS_API_KEY", "env-bb")
	t.Setenv("BRAINBASE_LABS_BASE_URL", testBase)
	t.Setenv("MEMSOLUS_API_KEY", "env-ms")
	t.Setenv("MEMSOLUS_BASE_URL", testBase)
	t.Setenv("LEADPIPE_API_KEY", "env-lp")
	t.Setenv("LEADPIPE_BASE_URL", testBase)
	t.Setenv("KORE_CLIENT_ID", "env-kore-id")
	t.Setenv("KORE_CLIENT_SECRET", "env-kore-secret-env-kore-secret")
	t.Setenv("KORE_HOST", "bots.example.com") // a bare host gets https:// (http only for loopback hosts)

	rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, `{"id":"e1","status":"PENDING"}`)}}
	c, err := exportkit.NewClient(
		exportkit.WithHTTPClient(&http.Client{Transport: handlerTransport{rec}}),
		exportkit.WithBrainbaseAPIKey(""), // empty counts as not given
	)
	require.NoError(t, err)
	ctx := context.Background()

	_, err = c.Exports.Get(ctx, "e1")
	require.NoError(t, err)
	assert.Equal(t, "env-bb", rec.last().Header.Get("x-api-key"))
	assert.Equal(t, "localhost:8080", rec.last().URL.Host)

	_, _ = c.Memories.Get(ctx, "m1")
	assert.Equal(t, "env-ms", rec.last().Header.Get("X-Api-Key"))

	_, _ = c.Audiences.ListRuns(ctx, "a1", nil)
	assert.Equal(t, "env-lp", rec.last().Header.Get("X-API-Key"))

	_, _ = c.Bots.ExportStatus(ctx, "st-1")
	assert.Equal(t, "https://bots.example.com", rec.last().URL.Scheme+"://"+rec.last().URL.Host)
	assert.NotEmpty(t, rec.last().Header.Get("auth"))

	// The environment is read once: changing it later changes nothing.
	t.Setenv("BRAINBASE_LABS_API_KEY", "changed")
	_, _ = c.Exports.Get(ctx, "e1")
	assert.Equal(t, "env-bb", rec.last().Header.Get("x-api-key"))

	// A bearer token option keeps LEADPIPE_API_KEY out: no "both" error.
	c2, err := exportkit.NewClient(exportkit.WithOrbitBearerToken("dash.jwt"),
		exportkit.WithHTTPClient(&http.Client{Transport: handlerTransport{rec}}))
	require.NoError(t, err)
	_, _ = c2.Audiences.ListRuns(ctx, "a1", nil)
	assert.Equal(t, "Bearer dash.jwt", rec.last().Header.Get("Authorization"))
	assert.Empty(t, rec.last().Header.Get("X-API-Key"))
}

func TestAuthHeadersPerVendor(t *testing.T) {
	rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, `{"id":"x","_id":"ber-1","status":"pending","data":[]}`)}}
	c := newClient(t, rec, exportkit.WithUserAgent("myapp/1.2"))
	ctx := context.Background()

	_, _ = c.Exports.Get(ctx, "e1")
	h := rec.last().Header
	assert.Equal(t, testBrainbaseKey, h.Get("x-api-key"))
	assert.Equal(t, "exportkit/"+exportkit.Version+" myapp/1.2", h.Get("User-Agent"))

	_, _ = c.Memories.Get(ctx, "m1")
	assert.Equal(t, testMemsolusKey, rec.last().Header.Get("X-Api-Key"))
	assert.Empty(t, rec.last().Header.Get("Authorization"))

	_, _ = c.Audiences.ListRuns(ctx, "a1", nil)
	assert.Equal(t, testOrbitKey, rec.last().Header.Get("X-API-Key"))
	assert.Empty(t, rec.last().Header.Get("Authorization"), "an sk_ key is never sent as a Bearer token")

	// Kore: a fresh HS256 JWT per request in the auth header, no Bearer.
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		_, _ = c.Bots.ExportStatus(ctx, "st-1")
		raw := rec.last().Header.Get("auth")
		require.NotEmpty(t, raw)
		require.False(t, strings.HasPrefix(raw, "Bearer"))
		assert.Empty(t, rec.last().Header.Get("Authorization"))
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(raw, claims, func(tk *jwt.Token) (any, error) {
			return []byte(testKoreSecret), nil
		}, jwt.WithValidMethods([]string{"HS256"}))
		require.NoError(t, err)
		require.True(t, tok.Valid)
		assert.Equal(t, testKoreID, claims["appId"])
		assert.NotEmpty(t, claims["sub"])
		iat, _ := claims.GetIssuedAt()
		exp, _ := claims.GetExpirationTime()
		require.NotNil(t, iat)
		require.NotNil(t, exp)
		assert.LessOrEqual(t, exp.Sub(iat.Time), time.Hour)
		jti, _ := claims["jti"].(string)
		require.NotEmpty(t, jti)
		assert.False(t, seen[jti], "jti reused")
		seen[jti] = true
	}
}

func TestKoreReadyMadeToken(t *testing.T) {
	rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, `{"_id":"ber-1","status":"pending"}`)}}
	c, err := exportkit.NewClient(exportkit.WithKoreToken("ready.made.jwt"),
		exportkit.WithBaseURL(exportkit.Kore, testBase),
		exportkit.WithHTTPClient(&http.Client{Transport: handlerTransport{rec}}))
	require.NoError(t, err)
	_, err = c.Bots.ExportStatus(context.Background(), "st-1")
	require.NoError(t, err)
	assert.Equal(t, "ready.made.jwt", rec.last().Header.Get("auth"))
}

func TestMissingCredentialSendsNothing(t *testing.T) {
	for _, env := range []string{"BRAINBASE_LABS_API_KEY", "MEMSOLUS_API_KEY", "LEADPIPE_API_KEY", "KORE_CLIENT_ID", "KORE_CLIENT_SECRET"} {
		t.Setenv(env, "")
	}
	rec := &recorder{}
	c, err := exportkit.NewClient(exportkit.WithHTTPClient(&http.Client{Transport: handlerTransport{rec}}))
	require.NoError(t, err)
	ctx := context.Background()
	calls := map[string]func() error{
		"brainbase": func() error { _, err := c.Exports.Get(ctx, "e1"); return err },
		"memsolus":  func() error { _, err := c.Memories.Get(ctx, "m1"); return err },
		"orbit":     func() error { _, err := c.Audiences.ListRuns(ctx, "a1", nil); return err },
		"kore":      func() error { _, err := c.Bots.ExportStatus(ctx, "st-1"); return err },
	}
	for name, f := range calls {
		err := f()
		require.ErrorIs(t, err, exportkit.ErrUnauthorized, name)
		assert.Contains(t, err.Error(), name)
	}
	assert.Zero(t, rec.count())
}

func TestContextFirstAndCanceled(t *testing.T) {
	rec := &recorder{}
	c := newClient(t, rec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Exports.Get(ctx, "e1")
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Zero(t, rec.count())
}

// A bad client option, wait options given with WithDefaultWait included,
// is an error matching ErrInvalidInput, with one "exportkit:" prefix.
func TestNewClientOptionErrorsAreInputErrors(t *testing.T) {
	for name, o := range map[string]exportkit.Option{
		"negative retry wait":     exportkit.WithRetry(1, -time.Second, time.Second),
		"unknown vendor":          exportkit.WithBaseURL("acme", "https://acme.example"),
		"plain http":              exportkit.WithBaseURL(exportkit.Kore, "http://platform.kore.ai"),
		"negative rate":           exportkit.WithRateLimit(exportkit.Kore, -1, 1),
		"user agent newline":      exportkit.WithUserAgent("x\ny"),
		"bad default jitter":      exportkit.WithDefaultWait(exportkit.WithJitter(1)),
		"bad default interval":    exportkit.WithDefaultWait(exportkit.WithPollInterval(time.Minute, time.Second)),
		"bad default max wait":    exportkit.WithDefaultWait(exportkit.WithMaxWait(-time.Second)),
		"bad default outage":      exportkit.WithDefaultWait(exportkit.WithMaxOutage(-time.Second)),
		"bad default concurrency": exportkit.WithDefaultWait(exportkit.WithConcurrency(-1)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := exportkit.NewClient(o)
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
			assert.Equal(t, 1, strings.Count(err.Error(), "exportkit:"), err.Error())
		})
	}
}
