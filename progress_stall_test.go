package exportkit_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// TestProgressDuringAStall: the bytes that arrived just before a stall
// are reported during it, not only when the transfer moves again: the
// throttle has a trailing report.
func TestProgressDuringAStall(t *testing.T) {
	const size, stallAt = 4 << 20, 3 << 20
	srv := exporttest.NewServer(exporttest.FileSize(size))
	defer srv.Close()
	ref, err := srv.AddExport(exportkit.Brainbase)
	require.NoError(t, err)
	require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(stallAt, time.Minute)))
	c := srv.Client()
	var last atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Exports.Download(ctx, ref.ID, io.Discard, exportkit.WithConnections(1),
			exportkit.WithProgress(func(p exportkit.Progress) { last.Store(p.Done) }))
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); last.Load() < stallAt; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("during the stall, progress shows %d bytes of the %d that arrived", last.Load(), stallAt)
		}
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}
