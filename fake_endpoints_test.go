package exportkit_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every endpoint, and each vendor's documented error codes, against the
// exporttest fake (in memory, on a fake clock).

func requireAPIError(t *testing.T, err error, status int, code string, is error) {
	t.Helper()
	var ae *exportkit.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, status, ae.StatusCode)
	if code != "" {
		assert.Equal(t, code, ae.Code)
	}
	if is != nil {
		assert.ErrorIs(t, err, is)
	}
}

func TestFakeBrainbaseEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
		defer srv.Close()
		c := srv.Client()
		ctx := t.Context()

		e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV", LogType: "VoiceDeploymentLog"})
		require.NoError(t, err)
		assert.Equal(t, exportkit.StatePending, e.State())
		for e.State() != exportkit.StateReady {
			e, err = c.Exports.Get(ctx, e.ID)
			require.NoError(t, err)
		}
		require.NotNil(t, e.DownloadURL)
		assert.Equal(t, int64(len(srv.File(exportkit.Brainbase, e.ID))), e.Size())

		_, err = c.Exports.Get(ctx, "exp_missing")
		requireAPIError(t, err, 404, "", exportkit.ErrNotFound)

		bad := srv.Client(exportkit.WithBrainbaseAPIKey("bb_wrong"))
		_, err = bad.Exports.Get(ctx, e.ID)
		requireAPIError(t, err, 401, "", exportkit.ErrUnauthorized)
	})
}

func TestFakeMemsolusEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
		defer srv.Close()
		c := srv.Client()
		ctx := t.Context()

		var ids []string
		for i := range 3 {
			e, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "csv", UserID: fmt.Sprint("user-", i),
				Categories: []string{"work", "travel"}, Priority: "HIGH"})
			require.NoError(t, err)
			assert.Equal(t, "PENDING", e.Status)
			ids = append(ids, e.ID)
		}
		got, err := c.Memories.Get(ctx, ids[0])
		require.NoError(t, err)
		assert.Equal(t, []string{"work", "travel"}, got.Categories)

		page, err := c.Memories.List(ctx, &exportkit.ListOptions{Page: 1, PageSize: 2})
		require.NoError(t, err)
		assert.Len(t, page.Data, 2)
		var all []string
		for e, err := range c.Memories.All(ctx, &exportkit.ListOptions{PageSize: 2}) {
			require.NoError(t, err)
			all = append(all, e.ID)
		}
		assert.ElementsMatch(t, ids, all)

		_, err = c.Memories.Get(ctx, "00000000-0000-0000-0000-000000000000")
		requireAPIError(t, err, 404, "EXPORT_NOT_FOUND", exportkit.ErrNotFound)

		// The file is not there before READY: 409 EXPORT_NOT_READY.
		_, err = c.Memories.Download(ctx, ids[1], io.Discard)
		requireAPIError(t, err, 409, "EXPORT_NOT_READY", exportkit.ErrNotReady)

		// Gone after expiry: 410 EXPORT_EXPIRED.
		_, err = c.Memories.Wait(ctx, ids[2], exportkit.WithPollInterval(time.Second, time.Second))
		require.NoError(t, err)
		require.NoError(t, srv.Expire(exportkit.Memsolus, ids[2]))
		_, err = c.Memories.Download(ctx, ids[2], io.Discard)
		requireAPIError(t, err, 410, "EXPORT_EXPIRED", exportkit.ErrExportExpired)

		bad := srv.Client(exportkit.WithMemsolusAPIKey("msk_test_wrong"))
		_, err = bad.Memories.Get(ctx, ids[0])
		requireAPIError(t, err, 401, "", exportkit.ErrUnauthorized)
	})
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.MemsolusScopes(exporttest.ScopeExportRead))
		defer srv.Close()
		_, err := srv.Client().Memories.Create(t.Context(), nil)
		requireAPIError(t, err, 403, "", exportkit.ErrForbidden)
	})
}

func TestFakeOrbitEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
		defer srv.Close()
		c := srv.Client(exportkit.WithRetry(-1, 0, 0))
		ctx := t.Context()
		const aud = "5b0e8c1e-1111-4a5b-9c1d-000000000001"

		run, err := c.Audiences.CreateRun(ctx, aud, &exportkit.RunRequest{IdempotencyKey: "k-1"})
		require.NoError(t, err)
		again, err := c.Audiences.CreateRun(ctx, aud, &exportkit.RunRequest{IdempotencyKey: "k-1"})
		require.NoError(t, err)
		assert.Equal(t, run.ID, again.ID, "the same idempotency key returns the same run")
		assert.NotEmpty(t, run.RequestID)

		runs, err := c.Audiences.ListRuns(ctx, aud, &exportkit.RunListOptions{Limit: 10})
		require.NoError(t, err)
		require.NotEmpty(t, runs)

		_, err = c.Audiences.CreateExport(ctx, aud, run.ID)
		requireAPIError(t, err, 409, "RUN_NOT_COMPLETED", exportkit.ErrNotReady)

		run, err = c.Audiences.WaitRun(ctx, aud, run.ID, exportkit.WithPollInterval(time.Second, time.Second))
		require.NoError(t, err)
		ex, err := c.Audiences.CreateExport(ctx, aud, run.ID)
		require.NoError(t, err)
		got, err := c.Audiences.GetExport(ctx, ex.Ref())
		require.NoError(t, err)
		assert.Equal(t, ex.Export.ID, got.Export.ID)

		_, err = c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: aud, RunID: run.ID, ExportID: "5b0e8c1e-0000-0000-0000-00000000dead"})
		requireAPIError(t, err, 404, "", exportkit.ErrNotFound)

		require.NoError(t, srv.Inject(exporttest.On(exportkit.Orbit).Path("/exports/").Status(503).VendorError("STORAGE_NOT_CONFIGURED", "B2 export storage is not configured")))
		_, err = c.Audiences.GetExport(ctx, ex.Ref())
		requireAPIError(t, err, 503, "STORAGE_NOT_CONFIGURED", nil)

		bad := srv.Client(exportkit.WithOrbitAPIKey("sk_test_wrong"))
		_, err = bad.Audiences.ListRuns(ctx, aud, nil)
		requireAPIError(t, err, 401, "", exportkit.ErrUnauthorized)

		// A bearer token next to the fake's API key is refused by NewClient.
		_, err = srv.ClientE(exportkit.WithOrbitBearerToken(exporttest.OrbitBearerToken))
		require.ErrorContains(t, err, "both an API key and a bearer token")
	})
}

func TestFakeKoreEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
		defer srv.Close()
		c := srv.Client(exportkit.WithRetry(2, time.Second, 10*time.Second))
		ctx := t.Context()

		_, err := c.Bots.ExportStatus(ctx, "st-never-exported")
		requireAPIError(t, err, 404, "", exportkit.ErrNotFound)

		started, err := c.Bots.StartExport(ctx, "st-1", &exportkit.BotExportRequest{ExportType: "published"})
		require.NoError(t, err)
		st, err := c.Bots.ExportStatus(ctx, "st-1")
		require.NoError(t, err)
		assert.Equal(t, started.ID, st.ID)
		assert.Equal(t, "st-1", st.Bot())

		require.NoError(t, srv.Inject(exporttest.On(exportkit.Kore).Path("/status").Status(429).RetryAfter("120")))
		_, err = c.Bots.ExportStatus(ctx, "st-1")
		requireAPIError(t, err, 429, "", exportkit.ErrRateLimited)
		var ae *exportkit.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 120*time.Second, ae.RetryAfter)

		bad := srv.Client(exportkit.WithKoreApp(exporttest.KoreClientID, "not-the-secret-not-the-secret"))
		_, err = bad.Bots.ExportStatus(ctx, "st-1")
		requireAPIError(t, err, 401, "4002", exportkit.ErrUnauthorized)
	})
}

// TestNoSecretEndToEnd runs every vendor's whole flow (create, wait,
// download) through expired URLs, resets and redirects, plus failing calls,
// with debug logging on, and checks that no credential, JWT or signed URL
// query value appears in any log line, error string or printed result.
func TestNoSecretEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2),
			exporttest.FileSize(200_000), exporttest.MemsolusDownloadRedirect(2))
		defer srv.Close()
		var logs bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c := srv.Client(exportkit.WithLogger(logger))
		ctx := t.Context()
		poll := exportkit.WithPollInterval(time.Second, time.Second)
		var texts []string
		note := func(vs ...any) {
			for _, v := range vs {
				if v != nil {
					texts = append(texts, fmt.Sprintf("%v %+v", v, v))
				}
			}
		}

		require.NoError(t, srv.Inject(exporttest.OnStorage().ExpiredURL(), exporttest.OnStorage().ResetAfter(50_000).Times(2)))
		exports := make([]exportkit.Export, 0, 4)
		b, err := c.Exports.Create(ctx, nil)
		require.NoError(t, err)
		m, err := c.Memories.Create(ctx, nil)
		require.NoError(t, err)
		k, err := c.Bots.StartExport(ctx, "st-9", nil)
		require.NoError(t, err)
		run, err := c.Audiences.CreateRun(ctx, "5b0e8c1e-2222-4a5b-9c1d-000000000002", nil)
		require.NoError(t, err)
		o, err := c.Audiences.Export(ctx, run.AudienceID, run.ID, poll)
		require.NoError(t, err)
		exports = append(exports, b, m, k, o)
		for _, e := range exports {
			ready, err := c.Wait(ctx, e, poll)
			require.NoError(t, err)
			res, err := c.Download(ctx, ready, io.Discard)
			require.NoError(t, err, "%s", e.Vendor())
			note(ready, res)
		}
		// Failures along the way: an expired export, an unsafe id, a
		// timed-out wait, a rejected credential.
		require.NoError(t, srv.Inject(exporttest.OnStorage().ExpiredURL().Always()))
		_, err = c.Download(ctx, exports[0], io.Discard)
		note(err)
		srv.ClearFaults()
		_, err = c.Exports.Get(ctx, "../x?y#z")
		note(err)
		e2, err := c.Exports.Create(ctx, nil)
		require.NoError(t, err)
		_, err = c.Exports.Wait(ctx, e2.ID, exportkit.WithMaxWait(time.Second))
		note(err)
		_, err = srv.Client(exportkit.WithLogger(logger), exportkit.WithKoreApp(exporttest.KoreClientID, "wrong-secret-wrong-secret")).Bots.ExportStatus(ctx, "st-9")
		note(err)
		require.NotEmpty(t, texts)

		secrets := []string{exporttest.BrainbaseAPIKey, exporttest.MemsolusAPIKey, exporttest.OrbitAPIKey, exporttest.KoreClientSecret}
		for _, r := range srv.Requests() {
			if a := r.Header.Get("auth"); a != "" {
				secrets = append(secrets, a)
			}
			if r.Storage && r.RawQuery != "" {
				q, _ := url.ParseQuery(r.RawQuery)
				for _, vs := range q {
					for _, v := range vs {
						if len(v) >= 8 {
							secrets = append(secrets, v, url.QueryEscape(v))
						}
					}
				}
			}
		}
		require.Greater(t, len(secrets), 8, "the flows used JWTs and signed URLs")
		all := logs.String() + "\n" + strings.Join(texts, "\n")
		for _, s := range secrets {
			require.NotContains(t, all, s)
		}
		assert.Contains(t, logs.String(), "REDACTED", "signed URLs are logged, redacted")

		// And no vendor credential ever reached the storage host.
		for _, r := range srv.Requests() {
			if r.Storage {
				for _, h := range []string{"X-Api-Key", "Authorization", "Auth", "Cookie"} {
					assert.Empty(t, r.Header.Get(h), "%s on %s", h, r.Path)
				}
			}
		}
	})
}
