package exportkit_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests wait against exporttest, the project's fake of the four
// vendors, in memory inside a synctest bubble: real vendor state, real
// faults, a fake clock.

// startExport creates an export of vendor v and returns it and how to wait
// on it the vendor's own way.
func startExport(t *testing.T, c *exportkit.Client, v exportkit.Vendor) (exportkit.Export, func(context.Context, ...exportkit.WaitOption) (exportkit.Export, error)) {
	t.Helper()
	return startExportCtx(t, context.Background(), c, v)
}

// startExportCtx creates an export of vendor v under ctx and returns it
// and how to wait on it the vendor's own way.
func startExportCtx(t *testing.T, ctx context.Context, c *exportkit.Client, v exportkit.Vendor) (exportkit.Export, func(context.Context, ...exportkit.WaitOption) (exportkit.Export, error)) {
	t.Helper()
	switch v {
	case exportkit.Brainbase:
		e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
		require.NoError(t, err)
		return e, func(ctx context.Context, o ...exportkit.WaitOption) (exportkit.Export, error) {
			return c.Exports.Wait(ctx, e.ID, o...)
		}
	case exportkit.Memsolus:
		e, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "csv"})
		require.NoError(t, err)
		return e, func(ctx context.Context, o ...exportkit.WaitOption) (exportkit.Export, error) {
			return c.Memories.Wait(ctx, e.ID, o...)
		}
	case exportkit.Orbit:
		r, err := c.Audiences.CreateRun(ctx, "aud-1", nil)
		require.NoError(t, err)
		return r, func(ctx context.Context, o ...exportkit.WaitOption) (exportkit.Export, error) {
			return c.Audiences.Export(ctx, "aud-1", r.ID, o...)
		}
	default:
		e, err := c.Bots.StartExport(ctx, "st-bot-1", nil)
		require.NoError(t, err)
		return e, func(ctx context.Context, o ...exportkit.WaitOption) (exportkit.Export, error) {
			return c.Bots.WaitExport(ctx, "st-bot-1", o...)
		}
	}
}

var allVendors = []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Orbit, exportkit.Kore}

func TestWaitAgainstFakeServer(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(3))
				defer srv.Close()
				c := srv.Client()
				_, wait := startExport(t, c, v)
				var states []exportkit.State
				e, err := wait(context.Background(), exportkit.WithOnPoll(func(e exportkit.Export) { states = append(states, e.State()) }))
				require.NoError(t, err)
				require.NotNil(t, e)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Equal(t, exportkit.StatePending, states[0])
				assert.Equal(t, exportkit.StateReady, states[len(states)-1])
				if v != exportkit.Memsolus { // Memsolus sends no size
					assert.Greater(t, e.Size(), int64(0), "a ready export says how large its file is")
				}
			})
		})
	}
}

func TestWaitFailedAgainstFakeServer(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(1), exporttest.FailWith("QUERY_TIMEOUT", "query took too long"))
				defer srv.Close()
				_, wait := startExport(t, srv.Client(), v)
				_, err := wait(context.Background())
				require.ErrorIs(t, err, exportkit.ErrExportFailed)
				var ee *exportkit.ExportError
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, v, ee.Vendor)
				assert.Equal(t, exportkit.StateFailed, ee.State)
			})
		})
	}
}

func TestWaitRetryAfterAgainstFakeServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfterDuration(time.Minute))
		defer srv.Close()
		c := srv.Client()
		_, wait := startExport(t, c, exportkit.Memsolus)
		// The first status read is answered 429 with Retry-After: 40, more
		// than the request retries may sleep and than the poll maximum.
		require.NoError(t, srv.Inject(exporttest.On(exportkit.Memsolus).Method("GET").Path("/v1/exports/").RetryAfter("40")))
		srv.ResetRequests()
		got, err := wait(context.Background(), exportkit.WithJitter(0))
		require.NoError(t, err)
		assert.Equal(t, exportkit.StateReady, got.State())
		var reads []time.Time
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet {
				reads = append(reads, r.Time)
			}
		}
		require.GreaterOrEqual(t, len(reads), 3)
		assert.GreaterOrEqual(t, reads[1].Sub(reads[0]), 40*time.Second, "the read after the 429 waited the whole Retry-After")
	})
}

func TestWaitTransientFaultsAgainstFakeServer(t *testing.T) {
	faults := map[string]exporttest.Fault{
		"503 then more 503s": exporttest.On(exportkit.Brainbase).Status(503).Times(12),
		"proxy error pages":  exporttest.On(exportkit.Brainbase).ProxyErrorPage().Times(6),
		"malformed JSON":     exporttest.On(exportkit.Brainbase).MalformedJSON().Times(4),
		"hang-ups":           exporttest.On(exportkit.Brainbase).Hangup().Times(6),
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(1))
				defer srv.Close()
				c := srv.Client()
				_, wait := startExport(t, c, exportkit.Brainbase)
				require.NoError(t, srv.Inject(f.Method("GET")))
				e, err := wait(context.Background())
				require.NoError(t, err)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Zero(t, srv.FaultsPending())
			})
		})
	}
}

func TestWaitUnauthorizedAgainstFakeServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory())
		defer srv.Close()
		ref, err := srv.AddExport(exportkit.Brainbase)
		require.NoError(t, err)
		srv.ResetRequests()
		c := srv.Client(exportkit.WithBrainbaseAPIKey("bb_wrong"))
		_, err = c.Exports.Wait(context.Background(), ref.ID)
		require.ErrorIs(t, err, exportkit.ErrUnauthorized)
		assert.Len(t, srv.Requests(), 1)
		assert.False(t, strings.Contains(err.Error(), "bb_wrong"))
	})
}

func TestKoreSupersededAgainstFakeServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(5))
		defer srv.Close()
		c := srv.Client()
		started, err := c.Bots.StartExport(context.Background(), "st-bot-1", nil)
		require.NoError(t, err)
		time.AfterFunc(4*time.Second, func() { srv.StartKoreExport("st-bot-1") })
		for _, wait := range []func() (exportkit.Export, error){
			func() (exportkit.Export, error) { return c.Bots.WaitExport(context.Background(), "st-bot-1") },
			func() (exportkit.Export, error) { return c.Wait(context.Background(), started) },
		} {
			e, err := wait()
			require.ErrorIs(t, err, exportkit.ErrExportSuperseded)
			require.NotNil(t, e)
			assert.NotEqual(t, started.ID, e.ExportID(), "the export that replaced ours is returned")
		}
	})
}

func TestOrbitChainWithNotReadyConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2), exporttest.OrbitNotReadyConflict())
		defer srv.Close()
		c := srv.Client()
		run, wait := startExport(t, c, exportkit.Orbit)
		e, err := wait(context.Background(), exportkit.WithMaxWait(2*time.Minute))
		require.NoError(t, err)
		x := e.(*exportkit.AudienceExport)
		assert.Equal(t, run.ExportID(), x.Export.RunID)
		assert.NotNil(t, x.DownloadURL)
	})
}

func TestResumeAgainstFakeServer(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfterDuration(30*time.Second))
				defer srv.Close()
				c := srv.Client()
				e, _ := startExport(t, c, v)
				w, err := c.NewWaiter(e)
				require.NoError(t, err)
				// The process stops ten seconds in...
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err = w.Wait(ctx)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				token, err := w.ResumeToken()
				require.NoError(t, err)
				for _, secret := range []string{exporttest.BrainbaseAPIKey, exporttest.MemsolusAPIKey, exporttest.OrbitAPIKey, exporttest.KoreClientSecret, "localhost"} {
					assert.NotContains(t, token, secret)
				}
				// ...and a new one takes the wait up.
				got, err := srv.Client().ResumeWait(context.Background(), token)
				require.NoError(t, err)
				assert.Equal(t, exportkit.StateReady, got.State())
				assert.Equal(t, e.ExportID(), got.ExportID())
			})
		})
	}
}

func TestWaitAllAgainstFakeServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
		defer srv.Close()
		c := srv.Client()
		var exports []exportkit.Export
		for _, v := range allVendors {
			e, _ := startExport(t, c, v)
			exports = append(exports, e)
		}
		res := c.WaitAll(context.Background(), exports, exportkit.WithConcurrency(2))
		require.Len(t, res, len(exports))
		for i, r := range res {
			require.NoError(t, r.Err, "export %d", i)
			assert.Equal(t, exportkit.StateReady, r.Export.State())
			assert.Equal(t, exports[i].Vendor(), r.Export.Vendor())
			assert.Equal(t, exports[i].ExportID(), r.Export.ExportID())
		}
	})
}
