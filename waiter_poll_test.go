package exportkit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Waiter.Poll is one status read, from a waiter taken up from its token:
// what a durable workflow runs between its own timers.
func TestWaiterPollReadsOnceFromAToken(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(1))
			defer srv.Close()
			c := srv.Client()
			e, _ := startExport(t, c, v)
			w, err := c.NewWaiter(e)
			require.NoError(t, err)
			token, err := w.ResumeToken()
			require.NoError(t, err)
			resumed, err := c.ResumeWaiter(token)
			require.NoError(t, err)

			var states []exportkit.State
			for range 2 {
				srv.ResetRequests()
				got, err := resumed.Poll(context.Background())
				require.NoError(t, err)
				assert.Equal(t, v, got.Vendor())
				assert.Equal(t, e.ExportID(), got.ExportID())
				states = append(states, got.State())
				assert.Len(t, srv.Requests(), 1, "one request per Poll")
			}
			assert.Equal(t, []exportkit.State{exportkit.StatePending, exportkit.StateReady}, states)
		})
	}
}

func TestWaiterPollReturnsTheReadsError(t *testing.T) {
	srv := exporttest.NewServer(exporttest.InMemory())
	defer srv.Close()
	c := srv.Client(exportkit.WithRetry(-1, 0, 0))
	e, err := c.Exports.Create(context.Background(), &exportkit.LogExportRequest{Format: "CSV"})
	require.NoError(t, err)
	w, err := c.NewWaiter(e)
	require.NoError(t, err)
	require.NoError(t, srv.Inject(exporttest.On(exportkit.Brainbase).Method("GET").Status(429).RetryAfter("7")))

	got, err := w.Poll(context.Background())
	assert.Nil(t, got)
	require.ErrorIs(t, err, exportkit.ErrRateLimited)
	var ae *exportkit.APIError
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, 7*time.Second, ae.RetryAfter)
}

func TestWaiterPollReturnsAFailedExportWithoutError(t *testing.T) {
	srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(0), exporttest.FailWith("QUERY_TIMEOUT", "too slow"))
	defer srv.Close()
	c := srv.Client()
	e, err := c.Memories.Create(context.Background(), &exportkit.MemoryExportRequest{Format: "csv"})
	require.NoError(t, err)
	w, err := c.NewWaiter(e)
	require.NoError(t, err)
	got, err := w.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, exportkit.StateFailed, got.State())
	assert.ErrorIs(t, got.Err(), exportkit.ErrExportFailed)
}
