package exportkit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countPrefix counts "exportkit:" in an error message.
func countPrefix(s string) int { return strings.Count(s, "exportkit:") }

// Every error message has one "exportkit:" prefix, general to specific,
// while errors.Is still finds the sentinel (STYLE.md, issue 11 item 8).
func TestErrorMessagesHaveOnePrefix(t *testing.T) {
	ctx := context.Background()
	type errCase struct {
		name  string
		run   func(t *testing.T, srv *exporttest.Server, c *exportkit.Client) error
		is    error
		start string // how the message begins
	}
	tests := []errCase{
		{"missing credential", func(t *testing.T, srv *exporttest.Server, _ *exportkit.Client) error {
			t.Setenv(exportkit.EnvBrainbaseAPIKey, "")
			c, err := exportkit.NewClient(exportkit.WithHTTPClient(srv.HTTPClient()),
				exportkit.WithBaseURL(exportkit.Brainbase, srv.URL()))
			require.NoError(t, err)
			_, err = c.Exports.Get(ctx, "x")
			return err
		}, exportkit.ErrUnauthorized, `exportkit: brainbase: get export "x": no credential configured (set BRAINBASE_LABS_API_KEY or WithBrainbaseAPIKey)`},
		{"401", func(t *testing.T, srv *exporttest.Server, _ *exportkit.Client) error {
			c := srv.Client(exportkit.WithBrainbaseAPIKey("wrong-key"))
			_, err := c.Exports.Get(ctx, "x")
			return err
		}, exportkit.ErrUnauthorized, `exportkit: brainbase: get export "x": 401 Unauthorized`},
		{"404", func(t *testing.T, _ *exporttest.Server, c *exportkit.Client) error {
			_, err := c.Memories.Get(ctx, "nope")
			return err
		}, exportkit.ErrNotFound, `exportkit: memsolus: get export "nope": 404 Not Found`},
		{"429", func(t *testing.T, srv *exporttest.Server, c *exportkit.Client) error {
			require.NoError(t, srv.Inject(exporttest.On(exportkit.Brainbase).Status(429).RetryAfter("3600").Always()))
			_, err := c.Exports.Get(ctx, "x")
			return err
		}, exportkit.ErrRateLimited, `exportkit: brainbase: get export "x": 429 Too Many Requests`},
		{"429 in a wait", func(t *testing.T, srv *exporttest.Server, c *exportkit.Client) error {
			e, wait := startExport(t, c, exportkit.Brainbase)
			_ = e
			require.NoError(t, srv.Inject(exporttest.On(exportkit.Brainbase).Method("GET").Status(429).RetryAfter("3600").Always()))
			_, err := wait(ctx, exportkit.WithMaxWait(time.Minute))
			return err
		}, exportkit.ErrRateLimited, `exportkit: brainbase: wait "`},
		{"bad id", func(t *testing.T, _ *exporttest.Server, c *exportkit.Client) error {
			_, err := c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: "..", RunID: "r", ExportID: "x"})
			return err
		}, exportkit.ErrInvalidInput, `exportkit: orbit: get export "x": invalid audience id ".."`},
		{"bad option", func(t *testing.T, _ *exporttest.Server, c *exportkit.Client) error {
			_, err := c.Exports.Wait(ctx, "x", exportkit.WithJitter(2))
			return err
		}, exportkit.ErrInvalidInput, `exportkit: brainbase: wait "x": WithJitter: 2 is not in [0, 1)`},
		{"bad client option", func(t *testing.T, _ *exporttest.Server, _ *exportkit.Client) error {
			_, err := exportkit.NewClient(exportkit.WithBaseURL(exportkit.Memsolus, "http://example.com"))
			return err
		}, exportkit.ErrUnsafeURL, `exportkit: memsolus: base URL: unsafe URL: plain http`},
		{"wait timeout", func(t *testing.T, _ *exporttest.Server, c *exportkit.Client) error {
			_, wait := startExport(t, c, exportkit.Memsolus)
			_, err := wait(ctx, exportkit.WithMaxWait(time.Millisecond))
			return err
		}, exportkit.ErrWaitTimeout, `exportkit: memsolus: wait "`},
		{"caller deadline on a wait", func(t *testing.T, _ *exporttest.Server, c *exportkit.Client) error {
			_, wait := startExport(t, c, exportkit.Memsolus)
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := wait(ctx, exportkit.WithPollInterval(2*time.Second, 15*time.Second)) // slower than the deadline
			assert.True(t, strings.HasSuffix(err.Error(), ": timed out"), err.Error())
			return err
		}, context.DeadlineExceeded, `exportkit: memsolus: wait "`},
		{"caller deadline on a get", func(t *testing.T, _ *exporttest.Server, c *exportkit.Client) error {
			ctx, cancel := context.WithTimeout(ctx, 0)
			defer cancel()
			_, err := c.Exports.Get(ctx, "x")
			return err
		}, context.DeadlineExceeded, `exportkit: brainbase: get export "x": timed out`},
		{"export failed", func(t *testing.T, _ *exporttest.Server, _ *exportkit.Client) error {
			srv := exporttest.NewServer(exporttest.InMemory(), exporttest.FailWith("QUERY_TIMEOUT", "query took too long"))
			defer srv.Close()
			_, wait := startExport(t, srv.Client(), exportkit.Brainbase)
			_, err := wait(ctx)
			return err
		}, exportkit.ErrExportFailed, `exportkit: brainbase: export "`},
		{"kore superseded", func(t *testing.T, srv *exporttest.Server, c *exportkit.Client) error {
			_, err := c.Bots.StartExport(ctx, "st-9", nil)
			require.NoError(t, err)
			_, err = srv.Client().Bots.StartExport(ctx, "st-9", nil)
			require.NoError(t, err)
			_, err = c.Bots.WaitExport(ctx, "st-9")
			return err
		}, exportkit.ErrExportSuperseded, `exportkit: kore: bot "st-9": export "ber-`},
		{"checksum mismatch", func(t *testing.T, srv *exporttest.Server, c *exportkit.Client) error {
			_, wait := startExport(t, c, exportkit.Orbit)
			e, err := wait(ctx)
			require.NoError(t, err)
			require.NoError(t, srv.Inject(exporttest.OnStorage().CorruptAt(10)))
			_, err = c.Download(ctx, e, io.Discard)
			return err
		}, exportkit.ErrChecksumMismatch, `exportkit: orbit: download "`},
		{"nil export", func(t *testing.T, _ *exporttest.Server, c *exportkit.Client) error {
			_, err := c.Wait(ctx, nil)
			return err
		}, exportkit.ErrInvalidInput, `exportkit: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
				defer srv.Close()
				c := srv.Client(exportkit.WithRetry(1, 10*time.Millisecond, 10*time.Millisecond))
				err := tt.run(t, srv, c)
				require.Error(t, err)
				msg := err.Error()
				assert.Equal(t, 1, countPrefix(msg), "one prefix: %s", msg)
				assert.True(t, strings.HasPrefix(msg, tt.start), "%q does not begin with %q", msg, tt.start)
				assert.ErrorIs(t, err, tt.is)
			})
		})
	}
}

// An over-long id is cut in every message, on a rune boundary, with its
// length; the error's ID field keeps it whole (issue 11 item 3).
func TestLongIDsAreCutInMessages(t *testing.T) {
	long := strings.Repeat("é", 50_000) // 100,000 bytes, two per rune
	ctx := context.Background()
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory())
		defer srv.Close()
		c := srv.Client()
		errs := map[string]error{}
		_, errs["get"] = c.Exports.Get(ctx, long)
		_, errs["wait"] = c.Memories.Wait(ctx, long)
		_, errs["orbit"] = c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: "a", RunID: "r", ExportID: long})
		_, errs["kore"] = c.Bots.ExportStatus(ctx, long)
		errs["api error"] = &exportkit.APIError{Vendor: exportkit.Brainbase, Op: "get export", ID: long, StatusCode: 404}
		errs["export error"] = &exportkit.ExportError{Vendor: exportkit.Brainbase, ID: long, State: exportkit.StateFailed}
		for name, err := range errs {
			require.Error(t, err, name)
			msg := err.Error()
			assert.Less(t, len(msg), 300, "%s: %d bytes", name, len(msg))
			assert.True(t, utf8.ValidString(msg), name)
			assert.Contains(t, msg, "…\" (100000 bytes)", name)
		}
		var ae *exportkit.APIError
		require.ErrorAs(t, errs["api error"], &ae)
		assert.Equal(t, long, ae.ID, "the field keeps the whole id")
	})
}

// The README's example error line is what the SDK really prints for a
// Brainbase export that does not exist.
func TestREADMEErrorLineIsReal(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	srv := exporttest.NewServer(exporttest.InMemory())
	defer srv.Close()
	_, err = srv.Client().Exports.Get(context.Background(), "e1")
	require.Error(t, err)
	assert.Contains(t, string(readme), "`"+err.Error()+"`", "README.md's error example")
}

func TestDownloadErrorsReadLikeEveryOtherCall(t *testing.T) {
	srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(3))
	defer srv.Close()
	c := srv.Client()
	e, err := c.Exports.Create(t.Context(), &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Download(t.Context(), e, io.Discard)
	if !errors.Is(err, exportkit.ErrNotReady) {
		t.Fatalf("download of a pending export: %v, want ErrNotReady", err)
	}
	if n := strings.Count(err.Error(), "exportkit:"); n != 1 {
		t.Fatalf("%q has %d prefixes, want 1", err, n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), -time.Second)
	defer cancel()
	ready, err := c.Exports.Wait(t.Context(), e.ID, exportkit.WithPollInterval(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Download(ctx, ready, io.Discard)
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "context deadline exceeded") || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("download past its deadline: %v, want a \"timed out\" error matching context.DeadlineExceeded", err)
	}
}

// TestStorageErrorsHaveOnePrefix: a storage host's error, given up on or
// not, reads with one prefix whatever the id's length (a long id is cut
// in the message).
func TestStorageErrorsHaveOnePrefix(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"final status", http.StatusNotFound},
		{"given up after retries", http.StatusServiceUnavailable},
	} {
		for _, id := range []string{"exp_1", strings.Repeat("x", 200)} {
			t.Run(fmt.Sprintf("%s, %d-byte id", tc.name, len(id)), func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "no", tc.status)
				}))
				defer srv.Close()
				c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("k"))
				require.NoError(t, err)
				u := srv.URL + "/f?X-Amz-Signature=s3cret"
				e := &exportkit.LogExport{ID: id, Status: "COMPLETED", DownloadURL: &u}
				_, err = c.Download(t.Context(), e, io.Discard, exportkit.WithMaxResumes(0))
				require.Error(t, err)
				assert.Equal(t, 1, countPrefix(err.Error()), "%q", err)
				var ae *exportkit.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tc.status, ae.StatusCode)
				assert.NotContains(t, err.Error(), "s3cret")
			})
		}
	}
}
