package exportkit_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// A wait on a host where nothing listens is a mistake, not an outage: it
// fails once the first read's retries are spent, with the cause.
func TestWaitOnAHostNeverReachedFails(t *testing.T) {
	base := closedPort(t)
	opts := []exportkit.Option{
		exportkit.WithBrainbaseAPIKey(testBrainbaseKey), exportkit.WithMemsolusAPIKey(testMemsolusKey),
		exportkit.WithOrbitAPIKey(testOrbitKey), exportkit.WithKoreApp(testKoreID, testKoreSecret),
		exportkit.WithRetry(2, time.Millisecond, 5*time.Millisecond), exportkit.WithRateLimit(exportkit.Kore, 1000, 1000),
	}
	for _, v := range allVendors {
		opts = append(opts, exportkit.WithBaseURL(v, base))
	}
	c, err := exportkit.NewClient(opts...)
	require.NoError(t, err)
	waits := map[string]func(context.Context) error{
		"brainbase": func(ctx context.Context) error { _, err := c.Exports.Wait(ctx, "e1"); return err },
		"memsolus":  func(ctx context.Context) error { _, err := c.Memories.Wait(ctx, "m1"); return err },
		"orbit":     func(ctx context.Context) error { _, err := c.Audiences.Export(ctx, "a1", "r1"); return err },
		"kore":      func(ctx context.Context) error { _, err := c.Bots.WaitExport(ctx, "st-1"); return err },
		"client wait": func(ctx context.Context) error {
			_, err := c.Wait(ctx, &exportkit.LogExport{ID: "e1"})
			return err
		},
	}
	for name, wait := range waits {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := wait(ctx)
			require.Error(t, err)
			assert.Less(t, time.Since(start), 5*time.Second, "no ride-out for a host never reached")
			assert.Contains(t, err.Error(), "connection refused")
			assert.NotErrorIs(t, err, exportkit.ErrWaitTimeout)
			assert.NoError(t, ctx.Err())
		})
	}
}

// After a first read, transient failures are ridden out for up to the
// maximum outage, counted from the first failure of the outage and started
// over by any answered read.
func TestWaitMaxOutage(t *testing.T) {
	reset := step{reset: true}
	pending, done := step{body: bbBody("PENDING")}, step{body: bbBody("COMPLETED")}
	at := func(d time.Duration) time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(d) }
	// Down from 1 s to 50 s, up until 60 s, down until 110 s, then ready.
	twoOutages := func(int) step {
		now := time.Now()
		switch {
		case now.Before(at(time.Second)):
			return pending
		case now.Before(at(50 * time.Second)):
			return reset
		case now.Before(at(60 * time.Second)):
			return pending
		case now.Before(at(110 * time.Second)):
			return reset
		}
		return done
	}
	down := func(n int) step {
		if n == 0 {
			return pending
		}
		return reset
	}
	tests := []struct {
		name      string
		script    func(int) step
		maxOutage time.Duration
		wantErr   bool
		minTime   time.Duration // the wait ends no sooner
		maxTime   time.Duration // and no later
	}{
		{"two outages each under the budget", twoOutages, time.Minute, false, 110 * time.Second, 112 * time.Second},
		{"an outage over the budget", twoOutages, 40 * time.Second, true, 41 * time.Second, 43 * time.Second},
		{"down for good: the default budget", down, 0, true, exportkit.DefaultMaxOutage, exportkit.DefaultMaxOutage + 10*time.Second},
		{"no budget: the first failure is final", down, -1, true, time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().onFunc(bbRoute, tt.script)
				c := newTestClient(t, f, exportkit.WithRetry(1, 10*time.Millisecond, 10*time.Millisecond))
				opts := []exportkit.WaitOption{exportkit.WithPollInterval(time.Second, time.Second), exportkit.WithJitter(0)}
				switch {
				case tt.maxOutage > 0:
					opts = append(opts, exportkit.WithMaxOutage(tt.maxOutage))
				case tt.maxOutage < 0:
					opts = append(opts, exportkit.WithMaxOutage(0))
				}
				var retries []error
				opts = append(opts, exportkit.WithOnRetry(func(err error, next time.Duration) {
					retries = append(retries, err)
					assert.Equal(t, time.Second, next)
				}))
				elapsed := since()
				e, err := c.Exports.Wait(context.Background(), "e1", opts...)
				took := elapsed()
				assert.GreaterOrEqual(t, took, tt.minTime)
				assert.LessOrEqual(t, took, tt.maxTime)
				require.NotNil(t, e, "the last export seen is returned")
				if !tt.wantErr {
					require.NoError(t, err)
					assert.Equal(t, exportkit.StateReady, e.State())
					assert.NotEmpty(t, retries, "every ridden-out failure is reported")
					return
				}
				require.Error(t, err)
				assert.Contains(t, err.Error(), "connection reset", "the wait fails with the last error")
				assert.Equal(t, exportkit.StatePending, e.State())
				assert.NotErrorIs(t, err, exportkit.ErrWaitTimeout)
				for _, r := range retries {
					assert.Contains(t, r.Error(), "connection reset")
				}
			})
		})
	}
}

// The same against exporttest: a fake vendor whose API starts hanging up
// on every request after the wait's first read.
func TestWaitMaxOutageAgainstFakeServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(1000))
		defer srv.Close()
		c := srv.Client(exportkit.WithRetry(1, 10*time.Millisecond, 10*time.Millisecond))
		_, wait := startExport(t, c, exportkit.Brainbase)
		retried := 0
		elapsed := since()
		e, err := wait(context.Background(),
			exportkit.WithMaxOutage(30*time.Second),
			exportkit.WithOnPoll(func(exportkit.Export) {
				require.NoError(t, srv.Inject(exporttest.On(exportkit.Brainbase).Method(http.MethodGet).Hangup().Always()))
			}),
			exportkit.WithOnRetry(func(error, time.Duration) { retried++ }))
		require.Error(t, err)
		assert.GreaterOrEqual(t, elapsed(), 30*time.Second)
		assert.Less(t, elapsed(), 60*time.Second)
		assert.NotNil(t, e)
		assert.Positive(t, retried)
	})
}

// A wait whose export is already done returns it under any maximum wait:
// the first read comes before the maximum is checked (issue 11 item 9).
func TestWaitReadyExportUnderATinyMaxWait(t *testing.T) {
	t.Run("in memory", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(0))
			defer srv.Close()
			c := srv.Client()
			for _, v := range allVendors {
				_, wait := startExport(t, c, v)
				if v == exportkit.Orbit {
					// The run is done, but its export is created on the
					// first read: wait once, then again on what is done.
					_, err := wait(context.Background())
					require.NoError(t, err)
				}
				e, err := wait(context.Background(), exportkit.WithMaxWait(time.Millisecond))
				require.NoError(t, err, v)
				assert.Equal(t, exportkit.StateReady, e.State(), v)
			}
		})
	})
	t.Run("a first read slower than the maximum", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(50 * time.Millisecond)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(bbBody("COMPLETED")))
			})
			c := newTestClient(t, h)
			e, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithMaxWait(time.Millisecond))
			require.NoError(t, err)
			assert.Equal(t, exportkit.StateReady, e.State())
		})
	})
	t.Run("over loopback", func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.ReadyAfter(0))
		defer srv.Close()
		_, wait := startExport(t, srv.Client(), exportkit.Memsolus)
		e, err := wait(context.Background(), exportkit.WithMaxWait(time.Millisecond))
		require.NoError(t, err)
		assert.Equal(t, exportkit.StateReady, e.State())
	})
	t.Run("not ready: the maximum holds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeAPI().on(bbRoute, step{body: bbBody("PROCESSING")})
			c := newTestClient(t, f)
			elapsed := since()
			_, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithMaxWait(time.Millisecond))
			require.ErrorIs(t, err, exportkit.ErrWaitTimeout)
			assert.Equal(t, `exportkit: brainbase: wait "e1": timed out after 1ms`, err.Error())
			assert.LessOrEqual(t, elapsed(), time.Millisecond)
			assert.Len(t, f.times(bbRoute), 1)
		})
	})
}
