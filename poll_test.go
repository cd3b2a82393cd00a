package exportkit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pendingThen answers PENDING n times, then with last.
func pendingThen(n int, pending, last step) func(int) step {
	return func(i int) step {
		if i < n {
			return pending
		}
		return last
	}
}

func TestWaitDelaySequence(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		opts []exportkit.WaitOption
		want []time.Duration
	}{
		{"defaults without jitter", []exportkit.WaitOption{exportkit.WithJitter(0)},
			[]time.Duration{2 * s, 3 * s, 4500 * time.Millisecond, 6750 * time.Millisecond, 10125 * time.Millisecond, 15 * s, 15 * s, 15 * s}},
		{"custom interval and multiplier", []exportkit.WaitOption{exportkit.WithJitter(0), exportkit.WithPollInterval(s, 5*s), exportkit.WithBackoffMultiplier(2)},
			[]time.Duration{s, 2 * s, 4 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s}},
		{"fixed 5s", []exportkit.WaitOption{exportkit.WithJitter(0), exportkit.WithPollInterval(5*s, 5*s), exportkit.WithBackoffMultiplier(1)},
			[]time.Duration{5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s}},
		{"default max below min is raised to min", []exportkit.WaitOption{exportkit.WithJitter(0), exportkit.WithPollInterval(20*s, 0)},
			[]time.Duration{20 * s, 20 * s, 20 * s, 20 * s, 20 * s, 20 * s, 20 * s, 20 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().onFunc(bbRoute, pendingThen(len(tt.want), step{body: bbBody("PENDING")}, step{body: bbBody("COMPLETED")}))
				c := newTestClient(t, f)
				e, err := c.Exports.Wait(context.Background(), "e1", tt.opts...)
				require.NoError(t, err)
				require.Equal(t, exportkit.StateReady, e.State())
				assert.Equal(t, tt.want, gaps(f.times(bbRoute)))
			})
		})
	}
}

func TestWaitFirstReadAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(bbRoute, step{body: bbBody("COMPLETED")})
		c := newTestClient(t, f)
		elapsed := since()
		_, err := c.Exports.Wait(context.Background(), "e1")
		require.NoError(t, err)
		assert.Zero(t, elapsed())
		assert.Len(t, f.times(bbRoute), 1)
	})
}

func TestWaitJitterBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const reads = 60
		f := newFakeAPI().onFunc(bbRoute, pendingThen(reads, step{body: bbBody("PENDING")}, step{body: bbBody("COMPLETED")}))
		c := newTestClient(t, f)
		_, err := c.Exports.Wait(context.Background(), "e1")
		require.NoError(t, err)
		schedule := 2.0
		distinct := map[time.Duration]bool{}
		for i, g := range gaps(f.times(bbRoute)) {
			lo, hi := time.Duration(schedule*0.8*1e9), time.Duration(schedule*1.2*1e9)
			assert.True(t, g >= lo && g <= hi, "delay %d: %s not within ±20%% of %.3fs", i+1, g, schedule)
			distinct[g] = true
			schedule = min(schedule*1.5, 15)
		}
		assert.Greater(t, len(distinct), reads/2, "delays should be spread, not equal")
	})
}

func TestWaitsStartedTogetherDriftApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(bbRoute, step{body: bbBody("PENDING")})
		c := newTestClient(t, f)
		ctx := cancelAfter(t, 2*time.Minute)
		results := c.WaitAll(ctx, []exportkit.Export{
			&exportkit.LogExport{ID: "e1"}, &exportkit.LogExport{ID: "e1"}, &exportkit.LogExport{ID: "e1"}, &exportkit.LogExport{ID: "e1"},
		})
		for _, r := range results {
			require.ErrorIs(t, r.Err, context.Canceled)
		}
		// After the first reads at 0, no two reads of four waits coincide.
		ts := f.times(bbRoute)
		seen := map[time.Time]int{}
		for _, at := range ts[4:] {
			seen[at]++
		}
		for at, n := range seen {
			assert.Equal(t, 1, n, "%d reads at %s", n, at)
		}
	})
}

func TestWaitRetryAfterIsAFloor(t *testing.T) {
	tests := []struct {
		name string
		r    step
		want time.Duration
	}{
		{"429 above the poll max", step{status: 429, retryAfter: "40", body: `{"error":"RATE_LIMITED"}`}, 40 * time.Second},
		{"503 above the poll max", step{status: 503, retryAfter: "40", body: `{"error":"BUSY"}`}, 40 * time.Second},
		{"429 as an HTTP date", step{status: 429, retryAfter: "date+40", body: `{}`}, 39 * time.Second},
		{"on a successful status read", step{retryAfter: "20", body: bbBody("PROCESSING")}, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().onFunc(bbRoute, func(n int) step {
					switch n {
					case 0:
						return step{body: bbBody("PENDING")}
					case 1:
						r := tt.r
						if r.retryAfter == "date+40" {
							r.retryAfter = time.Now().Add(40 * time.Second).UTC().Format(http.TimeFormat)
						}
						return r
					}
					return step{body: bbBody("COMPLETED")}
				})
				c := newTestClient(t, f)
				e, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithJitter(0))
				require.NoError(t, err)
				require.Equal(t, exportkit.StateReady, e.State())
				g := gaps(f.times(bbRoute))
				require.Len(t, g, 2)
				assert.GreaterOrEqual(t, g[1], tt.want, "the read after Retry-After came too soon")
				assert.LessOrEqual(t, g[1], 40*time.Second)
			})
		})
	}
}

func TestWaitRetryAfterBeyondTimeLeft(t *testing.T) {
	tests := []struct {
		name        string
		maxWait     time.Duration
		ctxDeadline time.Duration
		wantTimeout bool
	}{
		{"max wait", 30 * time.Second, 0, true},
		{"context deadline", 0, 30 * time.Second, false},
		{"both, context shorter", time.Minute, 30 * time.Second, false},
		{"both, max wait shorter", 30 * time.Second, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().on(memRoute, step{body: memBody("PROCESSING")},
					step{status: 429, retryAfter: "40", body: `{"error":"RATE_LIMITED","message":"slow down"}`})
				c := newTestClient(t, f)
				ctx := context.Background()
				if tt.ctxDeadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxDeadline)
					defer cancel()
				}
				var opts []exportkit.WaitOption
				if tt.maxWait > 0 {
					opts = append(opts, exportkit.WithMaxWait(tt.maxWait))
				}
				elapsed := since()
				e, err := c.Memories.Wait(ctx, "m1", opts...)
				require.ErrorIs(t, err, exportkit.ErrRateLimited)
				assert.Equal(t, tt.wantTimeout, errors.Is(err, exportkit.ErrWaitTimeout), "ErrWaitTimeout: %v", err)
				assert.NotErrorIs(t, err, context.DeadlineExceeded)
				var ae *exportkit.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 40*time.Second, ae.RetryAfter)
				require.NotNil(t, e, "the last export seen is returned")
				assert.Equal(t, "PROCESSING", e.Status)
				ts := f.times(memRoute)
				require.Len(t, ts, 2)
				assert.Equal(t, elapsed(), ts[1].Sub(ts[0]), "returned at once after the 429, without sleeping")
			})
		})
	}
}

func TestWaitMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(bbRoute, step{body: bbBody("PROCESSING")})
		c := newTestClient(t, f)
		elapsed := since()
		e, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithMaxWait(20*time.Second))
		require.ErrorIs(t, err, exportkit.ErrWaitTimeout)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		require.NotNil(t, e)
		assert.Equal(t, exportkit.StateRunning, e.State())
		assert.Equal(t, 20*time.Second, elapsed())
		assert.Contains(t, err.Error(), `brainbase: wait "e1"`)
	})
}

func TestWaitMaxWaitBoundsARequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(bbRoute, step{body: bbBody("PROCESSING")}, step{stall: true})
		c := newTestClient(t, f)
		elapsed := since()
		e, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithMaxWait(10*time.Second))
		require.ErrorIs(t, err, exportkit.ErrWaitTimeout)
		require.NotNil(t, e)
		assert.Equal(t, 10*time.Second, elapsed())
	})
}

func TestWaitContextEnds(t *testing.T) {
	tests := []struct {
		name  string
		stall bool // the second request hangs
		want  error
	}{
		{"cancel during sleep", false, context.Canceled},
		{"cancel during a request", true, context.Canceled},
		{"deadline during sleep", false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().on(memRoute, step{body: memBody("PENDING")}, step{body: memBody("PENDING"), stall: tt.stall})
				c := newTestClient(t, f)
				at := 3500 * time.Millisecond
				ctx := cancelAfter(t, at)
				if tt.want == context.DeadlineExceeded {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(context.Background(), at)
					defer cancel()
				}
				elapsed := since()
				e, err := c.Memories.Wait(ctx, "m1")
				require.ErrorIs(t, err, tt.want)
				assert.NotErrorIs(t, err, exportkit.ErrWaitTimeout)
				require.NotNil(t, e, "the last export seen is returned")
				assert.Equal(t, at, elapsed(), "returned the moment the context ended")
			})
		})
	}
}

func TestWaitContextCancelReturnsFast(t *testing.T) {
	// Outside a bubble, on the real clock: QUALITY 14 wants 100 ms.
	f := newFakeAPI().on(memRoute, step{body: memBody("PENDING")})
	c := newTestClient(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Memories.Wait(ctx, "m1")
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 150*time.Millisecond)
}

func TestWaitTerminalStates(t *testing.T) {
	type wait func(*exportkit.Client) (exportkit.Export, error)
	tests := []struct {
		name      string
		route     string
		body      string
		wait      wait
		want      error
		state     exportkit.State
		code, msg string
	}{
		{"brainbase failed", bbRoute, bbBody("FAILED"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Exports.Wait(context.Background(), "e1")
		}, exportkit.ErrExportFailed, exportkit.StateFailed, "", "disk full"},
		{"brainbase expired", bbRoute, bbBody("EXPIRED"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Exports.Wait(context.Background(), "e1")
		}, exportkit.ErrExportExpired, exportkit.StateExpired, "", "disk full"},
		{"memsolus failed", memRoute, memBody("FAILED"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Memories.Wait(context.Background(), "m1")
		}, exportkit.ErrExportFailed, exportkit.StateFailed, "", ""},
		{"memsolus expired", memRoute, memBody("EXPIRED"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Memories.Wait(context.Background(), "m1")
		}, exportkit.ErrExportExpired, exportkit.StateExpired, "", ""},
		{"orbit run failed", runsRoute, runsBody("failed"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Audiences.WaitRun(context.Background(), "a1", "r1")
		}, exportkit.ErrExportFailed, exportkit.StateFailed, "QUERY_TIMEOUT", "query took too long"},
		{"orbit run cancelled", runsRoute, runsBody("cancelled"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Audiences.WaitRun(context.Background(), "a1", "r1")
		}, exportkit.ErrExportCanceled, exportkit.StateCanceled, "QUERY_TIMEOUT", "query took too long"},
		{"orbit export failed", orbXRoute, orbXBody("failed"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Audiences.WaitExport(context.Background(), exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "x1"})
		}, exportkit.ErrExportFailed, exportkit.StateFailed, "B2_DOWN", "storage unavailable"},
		{"kore failed", koreStatusRoute, koreBody("ber-1", "failed"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Bots.WaitExport(context.Background(), "st-1")
		}, exportkit.ErrExportFailed, exportkit.StateFailed, "", ""},
		{"kore via Client.Wait", koreStatusRoute, koreBody("ber-1", "error"), func(c *exportkit.Client) (exportkit.Export, error) {
			return c.Wait(context.Background(), &exportkit.BotExport{ID: "ber-1", StreamID: "st-1"})
		}, exportkit.ErrExportFailed, exportkit.StateFailed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().on(tt.route, step{body: pendingBody(tt.route)}, step{body: tt.body})
				c := newTestClient(t, f)
				e, err := tt.wait(c)
				require.ErrorIs(t, err, tt.want)
				require.NotNil(t, e)
				assert.Equal(t, tt.state, e.State())
				var ee *exportkit.ExportError
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, tt.state, ee.State)
				assert.Equal(t, tt.code, ee.Code)
				assert.Equal(t, tt.msg, ee.Message)
				assert.Equal(t, e.ExportID(), ee.ID)
				assert.Len(t, f.times(tt.route), 2)
			})
		})
	}
}

// pendingBody is a not-yet-done status for route.
func pendingBody(route string) string {
	switch route {
	case bbRoute:
		return bbBody("PENDING")
	case memRoute:
		return memBody("PENDING")
	case runsRoute:
		return runsBody("queued")
	case orbXRoute:
		return orbXBody("processing")
	}
	return koreBody("ber-1", "pending")
}

func TestWaitTransientErrorsDoNotEndIt(t *testing.T) {
	tests := []struct {
		name string
		r    step
	}{
		{"503 after retries", step{status: 503, body: `{"error":"UNAVAILABLE"}`}},
		{"500", step{status: 500, body: `<html>oops</html>`}},
		{"connection reset", step{reset: true}},
		{"malformed body", step{body: `{"id":"e1","status":`}},
		{"not JSON", step{body: `<html>maintenance</html>`}},
		{"unknown status", step{body: bbBody("ARCHIVING")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().on(bbRoute, step{body: bbBody("PENDING")}, tt.r, tt.r, tt.r, tt.r, tt.r, tt.r, tt.r, step{body: bbBody("COMPLETED")})
				c := newTestClient(t, f, exportkit.WithRetry(1, 100*time.Millisecond, time.Second))
				var seen []exportkit.State
				e, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithOnPoll(func(e exportkit.Export) { seen = append(seen, e.State()) }))
				require.NoError(t, err)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Len(t, f.times(bbRoute), 9)
				assert.Equal(t, exportkit.StatePending, seen[0])
				assert.Equal(t, exportkit.StateReady, seen[len(seen)-1])
			})
		})
	}
}

func TestWaitFinalErrors(t *testing.T) {
	tests := []struct {
		name string
		r    step
		want error
	}{
		{"401", step{status: 401, body: `{"error":"UNAUTHORIZED","message":"bad key"}`}, exportkit.ErrUnauthorized},
		{"403", step{status: 403, body: `{"error":"FORBIDDEN","message":"missing export.read"}`}, exportkit.ErrForbidden},
		{"410", step{status: 410, body: `{"error":"EXPORT_EXPIRED"}`}, exportkit.ErrExportExpired},
		{"400", step{status: 400, body: `{"error":"BAD_REQUEST"}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().on(memRoute, step{body: memBody("PENDING")}, tt.r)
				c := newTestClient(t, f)
				elapsed := since()
				e, err := c.Memories.Wait(context.Background(), "m1")
				require.Error(t, err)
				if tt.want != nil {
					require.ErrorIs(t, err, tt.want)
				}
				var ae *exportkit.APIError
				require.ErrorAs(t, err, &ae)
				require.NotNil(t, e, "the last export seen is returned")
				assert.Len(t, f.times(memRoute), 2, "no read after a final error")
				assert.Less(t, elapsed(), 3*time.Second)
				noSecrets(t, err.Error())
			})
		})
	}
}

func TestWaitBadIDEndsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		c := newTestClient(t, f)
		for _, id := range []string{"", ".."} {
			_, err := c.Exports.Wait(context.Background(), id)
			require.Error(t, err)
		}
		assert.Empty(t, f.routesHit())
	})
}

func TestWaitNotFoundGrace(t *testing.T) {
	notFound := step{status: 404, body: `{"error":"EXPORT_NOT_FOUND"}`}
	tests := []struct {
		name        string
		notFounds   int // 404s before the export shows up; -1 for ever
		opts        []exportkit.WaitOption
		wantErr     bool
		wantElapsed time.Duration // for a final 404: when the wait gave up
	}{
		{"404 then found, inside the default grace", 3, nil, false, 0},
		{"404 for ever, default grace", -1, []exportkit.WaitOption{exportkit.WithJitter(0)}, true, 16250 * time.Millisecond},
		{"no grace", -1, []exportkit.WaitOption{exportkit.WithNotFoundGrace(0)}, true, 0},
		{"longer grace", 5, []exportkit.WaitOption{exportkit.WithNotFoundGrace(time.Minute)}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().onFunc(memRoute, func(n int) step {
					switch {
					case tt.notFounds < 0 || n < tt.notFounds:
						return notFound
					case n == tt.notFounds:
						return step{body: memBody("PENDING")}
					}
					return step{body: memBody("READY")}
				})
				c := newTestClient(t, f)
				elapsed := since()
				e, err := c.Memories.Wait(context.Background(), "m1", tt.opts...)
				if !tt.wantErr {
					require.NoError(t, err)
					assert.Equal(t, exportkit.StateReady, e.State())
					return
				}
				require.ErrorIs(t, err, exportkit.ErrNotFound)
				assert.Equal(t, tt.wantElapsed, elapsed())
			})
		})
	}
}

func TestWaitNotReadyKeepsPolling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		notReady := step{status: 409, body: `{"error":{"code":"EXPORT_NOT_READY","message":"still processing"}}`}
		f := newFakeAPI().on(orbXRoute, notReady, notReady, step{body: orbXBody("processing")}, step{body: orbXBody("completed")})
		c := newTestClient(t, f)
		e, err := c.Audiences.WaitExport(context.Background(), exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "x1"})
		require.NoError(t, err)
		assert.Equal(t, exportkit.StateReady, e.State())
		assert.Len(t, f.times(orbXRoute), 4)
	})
}

func TestWaitLogsEachAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		f := newFakeAPI().on(bbRoute, step{body: bbBody("PENDING")}, step{status: 401, body: `{"message":"key ` + bbKey + ` is invalid"}`})
		c := newTestClient(t, f, exportkit.WithLogger(log))
		_, err := c.Exports.Wait(context.Background(), "e1")
		require.ErrorIs(t, err, exportkit.ErrUnauthorized)
		out := buf.String()
		assert.Contains(t, out, `msg="exportkit: poll" vendor=brainbase id=e1 attempt=1 state=pending status=PENDING next=`)
		assert.Contains(t, out, `attempt=2`)
		noSecrets(t, out)
		noSecrets(t, err.Error())
	})
}

func TestWaitOnPollAfterEveryRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(bbRoute, step{body: bbBody("PENDING")}, step{body: bbBody("PROCESSING")}, step{status: 500}, step{body: bbBody("COMPLETED")})
		c := newTestClient(t, f, exportkit.WithRetry(-1, 0, 0))
		var seen []string
		_, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithOnPoll(func(e exportkit.Export) { seen = append(seen, e.RawStatus()) }))
		require.NoError(t, err)
		assert.Equal(t, []string{"PENDING", "PROCESSING", "COMPLETED"}, seen)
	})
}

func TestWaitRetryAfterOnSuccessBeyondMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(bbRoute, step{retryAfter: "60", body: bbBody("PROCESSING")})
		c := newTestClient(t, f)
		elapsed := since()
		e, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithMaxWait(30*time.Second))
		require.ErrorIs(t, err, exportkit.ErrRateLimited)
		require.ErrorIs(t, err, exportkit.ErrWaitTimeout)
		assert.Zero(t, elapsed(), "returned at once, not at the deadline")
		require.NotNil(t, e)
		assert.Len(t, f.times(bbRoute), 1)
	})
}

func TestWaitKeepsTheCancelCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(memRoute, step{body: memBody("PENDING")})
		c := newTestClient(t, f)
		shutdown := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(time.Second, func() { cancel(shutdown) })
		_, err := c.Memories.Wait(ctx, "m1")
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, shutdown)
	})
}

func TestClientWaitRejectsUnusableExports(t *testing.T) {
	c := newTestClient(t, newFakeAPI())
	for _, e := range []exportkit.Export{nil, (*exportkit.MemoryExport)(nil)} {
		got, err := c.Wait(context.Background(), e)
		require.Error(t, err)
		assert.Equal(t, e, got)
	}
}
