package exportkit_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// TestDownloadOrbitRun: "wait for it, then download it" works for an
// Orbit run as for every other export: Download, DownloadFile and Open of a
// completed run go on to its CSV export, created once and reused after.
func TestDownloadOrbitRun(t *testing.T) {
	srv := exporttest.NewServer(exporttest.ReadyAfter(2), exporttest.FileSize(300<<10))
	defer srv.Close()
	c := srv.Client(exportkit.WithDefaultWait(exportkit.WithPollInterval(time.Millisecond, 5*time.Millisecond)))
	ctx := context.Background()
	run, err := c.Audiences.CreateRun(ctx, "aud-1", nil)
	require.NoError(t, err)
	var x exportkit.Export = run
	x, err = c.Wait(ctx, x)
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "run.csv")
	res, err := c.DownloadFile(ctx, x, path)
	require.NoError(t, err)
	require.True(t, res.Verified, "Orbit's byteSize and contentSha1 are checked")
	var buf bytes.Buffer
	_, err = c.Download(ctx, x, &buf)
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, got, buf.Bytes())
	rc, err := c.Open(ctx, x)
	require.NoError(t, err)
	require.NoError(t, rc.Close())

	creates := 0
	var exportID string
	for _, r := range srv.Requests() {
		if r.Method == "POST" && filepath.Base(r.Path) == "exports" {
			creates++
		}
	}
	require.Equal(t, 3, creates, "each download asks for the run's export: Orbit creates it once and reuses it")
	exports, err := c.Audiences.CreateExport(ctx, run.AudienceID, run.ID)
	require.NoError(t, err)
	exportID = exports.Export.ID
	require.Equal(t, srv.File(exportkit.Orbit, exportID), got)

	// A failed run is its own error, before any request.
	failed := &exportkit.AudienceRun{ID: "run-x", AudienceID: "aud-1", Status: "failed"}
	before := len(srv.Requests())
	_, err = c.DownloadFile(ctx, failed, filepath.Join(t.TempDir(), "x.csv"))
	require.ErrorIs(t, err, exportkit.ErrExportFailed)
	require.Len(t, srv.Requests(), before)
}
