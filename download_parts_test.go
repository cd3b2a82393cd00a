package exportkit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeHeldExport reads the ready export ref, as a caller holds it.
func fakeHeldExport(t *testing.T, c *exportkit.Client, ref exporttest.Ref) exportkit.Export {
	t.Helper()
	ctx := t.Context()
	var (
		e   exportkit.Export
		err error
	)
	switch ref.Vendor {
	case exportkit.Brainbase:
		e, err = c.Exports.Get(ctx, ref.ID)
	case exportkit.Memsolus:
		e, err = c.Memories.Get(ctx, ref.ID)
	case exportkit.Orbit:
		e, err = c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: ref.AudienceID, RunID: ref.RunID, ExportID: ref.ID})
	default:
		e, err = c.Bots.ExportStatus(ctx, ref.BotID)
	}
	require.NoError(t, err)
	return e
}

// apiRequests counts the requests to the vendor API (status reads, and
// Memsolus' download endpoint) in the fake's log.
func apiRequests(srv *exporttest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if !r.Storage {
			n++
		}
	}
	return n
}

// QUALITY.md 21: the signed URL expires while six parts are in flight; it
// is read again once, through the vendor, for all of them.
func TestPartsURLExpiresUnderSixParts(t *testing.T) {
	const size = 1 << 20
	inFake(t, size, nil, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		c := srv.Client()
		e := fakeHeldExport(t, c, ref)
		srv.ResetRequests()
		// Six connections, each stalled after its first kilobyte.
		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(1000, time.Hour).Times(6)))
		path := filepath.Join(t.TempDir(), "out")
		type outcome struct {
			res *exportkit.DownloadResult
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := c.DownloadFile(t.Context(), e, path, exportkit.WithConnections(6),
				exportkit.WithPartSize(64<<10), exportkit.WithIdleTimeout(30*time.Second))
			done <- outcome{res, err}
		}()
		synctest.Wait() // every connection is stalled
		api := apiRequests(srv)
		srv.ExpireURLs()
		out := <-done
		require.NoError(t, out.err)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, bytes.Equal(srv.File(ref.Vendor, ref.ID), got), "output differs from the source")
		assert.Equal(t, 16, out.res.Parts)
		if ref.Vendor == exportkit.Memsolus {
			// Memsolus' own endpoint redirects each part; the refresh is one
			// more of them, not one per part.
			return
		}
		assert.Equal(t, 0, api, "the export in hand needs no status read")
		assert.Equal(t, 1, apiRequests(srv), "one refresh for all six parts")
		assertStorageClean(t, srv)
	})
}

// One part stalls while the others finish: the idle timeout cuts it and
// it resumes alone from where it stopped.
func TestPartsOneStalls(t *testing.T) {
	const size = 1 << 20
	inFake(t, size, nil, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(5000, time.Hour)))
		start := time.Now()
		var buf bytes.Buffer
		res, err := fakeDownload(t.Context(), srv.Client(), ref, &buf, exportkit.WithPartSize(64<<10),
			exportkit.WithIdleTimeout(20*time.Second), exportkit.WithSHA1())
		require.NoError(t, err)
		require.True(t, bytes.Equal(srv.File(ref.Vendor, ref.ID), buf.Bytes()), "output differs from the source")
		assert.Equal(t, 20*time.Second, time.Since(start).Truncate(time.Second), "cut by the idle timeout")
		assert.Equal(t, 1, res.Resumes)
		assert.Equal(t, 16, res.Parts)
		assert.Equal(t, sha1Hex(srv.File(ref.Vendor, ref.ID)), res.SHA1)
	})
}

// A typed nil export says it is nil; bad download options are
// ErrInvalidInput before any request.
func TestDownloadBadInput(t *testing.T) {
	c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("k"))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Wait(ctx, (*exportkit.LogExport)(nil))
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
	assert.Contains(t, err.Error(), "nil")
	assert.NotContains(t, err.Error(), "unsupported")
	_, err = c.DownloadFile(ctx, (*exportkit.BotExport)(nil), "x")
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
	assert.Contains(t, err.Error(), "nil")

	u := "https://storage.test/f"
	e := &exportkit.LogExport{ID: "e1", Status: "COMPLETED", DownloadURL: &u}
	for name, opt := range map[string]exportkit.DownloadOption{
		"WithMaxResumes(-1)":       exportkit.WithMaxResumes(-1),
		"WithChecksum(crc32)":      exportkit.WithChecksum("crc32", "00"),
		"WithChecksum(bad hex)":    exportkit.WithChecksum("sha1", "xyz"),
		"WithConnections(0)":       exportkit.WithConnections(0),
		"WithPartSize(1000)":       exportkit.WithPartSize(1000),
		"WithIdleTimeout(-1)":      exportkit.WithIdleTimeout(-1),
		"WithConnections(-3) also": exportkit.WithConnections(-3),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Download(ctx, e, &bytes.Buffer{}, opt)
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
			_, err = c.DownloadFile(ctx, e, filepath.Join(t.TempDir(), "x"), opt)
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
			_, err = c.Open(ctx, e, opt)
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
			assert.False(t, errors.Is(err, exportkit.ErrNotFound))
		})
	}
}
