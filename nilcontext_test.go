package exportkit_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// TestNilContext: a nil context is an error matching ErrInvalidInput, as
// net/http refuses one, never a panic.
func TestNilContext(t *testing.T) {
	srv := exporttest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ref, err := srv.AddExport(exportkit.Brainbase)
	require.NoError(t, err)
	e, err := c.Exports.Get(context.Background(), ref.ID)
	require.NoError(t, err)
	var ctx context.Context // nil
	before := len(srv.Requests())
	dir := t.TempDir()
	for name, call := range map[string]func() error{
		"Get":      func() error { _, err := c.Exports.Get(ctx, ref.ID); return err },
		"Create":   func() error { _, err := c.Memories.Create(ctx, nil); return err },
		"Wait":     func() error { _, err := c.Exports.Wait(ctx, ref.ID); return err },
		"c.Wait":   func() error { _, err := c.Wait(ctx, e); return err },
		"Download": func() error { _, err := c.Download(ctx, e, io.Discard); return err },
		"DownloadFile": func() error {
			_, err := c.DownloadFile(ctx, e, filepath.Join(dir, "f"))
			return err
		},
		"Open":    func() error { _, err := c.Open(ctx, e); return err },
		"WaitAll": func() error { return c.WaitAll(ctx, []exportkit.Export{e})[0].Err },
		"All": func() error {
			for _, err := range c.Memories.All(ctx, nil) {
				return err
			}
			return nil
		},
		"ListRuns": func() error { _, err := c.Audiences.ListRuns(ctx, "aud", nil); return err },
		"Bots":     func() error { _, err := c.Bots.ExportStatus(ctx, "bot"); return err },
	} {
		err := call()
		require.ErrorIs(t, err, exportkit.ErrInvalidInput, name)
		require.Contains(t, err.Error(), "nil context", name)
	}
	require.Len(t, srv.Requests(), before, "nothing sent")
}
