package exportkit_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResumeWaitFromAToken(t *testing.T) {
	tests := []struct {
		name   string
		export exportkit.Export
		route  string
		steps  []step
		wantID string
	}{
		{"brainbase", &exportkit.LogExport{ID: "e1", Status: "PENDING"}, bbRoute,
			[]step{{body: bbBody("PROCESSING")}, {body: bbBody("COMPLETED")}}, "e1"},
		{"memsolus", &exportkit.MemoryExport{ID: "m1", Status: "PENDING"}, memRoute,
			[]step{{body: memBody("PROCESSING")}, {body: memBody("READY")}}, "m1"},
		{"orbit run", &exportkit.AudienceRun{ID: "r1", AudienceID: "a1", Status: "queued"}, runsRoute,
			[]step{{body: runsBody("running")}, {body: runsBody("completed")}}, "r1"},
		{"orbit export", &exportkit.AudienceExport{Export: exportkit.AudienceExportRecord{ID: "x1", AudienceID: "a1", RunID: "r1", Status: "processing"}}, orbXRoute,
			[]step{{body: orbXBody("processing")}, {body: orbXBody("completed")}}, "x1"},
		{"kore", &exportkit.BotExport{ID: "ber-1", StreamID: "st-1", Status: "pending"}, koreStatusRoute,
			[]step{{body: koreBody("ber-1", "pending")}, {body: koreBody("ber-1", "success")}}, "ber-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().on(tt.route, tt.steps...)
				first := newTestClient(t, f)
				w, err := first.NewWaiter(tt.export, exportkit.WithMaxWait(time.Minute))
				require.NoError(t, err)
				token, err := w.ResumeToken()
				require.NoError(t, err)
				assert.Regexp(t, regexp.MustCompile(`^ek1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`), token, "opaque, versioned, URL-safe")
				noSecrets(t, token)
				assert.NotContains(t, token, "localhost", "no URL in a token")

				// A new process: a new client, the token only.
				second := newTestClient(t, f)
				e, err := second.ResumeWait(context.Background(), token)
				require.NoError(t, err)
				require.NotNil(t, e)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Equal(t, tt.wantID, e.ExportID())
				assert.Len(t, f.times(tt.route), 2, "first read at once, then on the schedule")
			})
		})
	}
}

func TestResumeWaitKeepsKoreStartedID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().
			on(koreStartRoute, step{body: `{"status":"pending","streamId":"st-1","_id":"ber-1"}`}).
			on(koreStatusRoute, step{body: koreBody("ber-9", "pending")})
		c := newTestClient(t, f)
		started, err := c.Bots.StartExport(context.Background(), "st-1", nil)
		require.NoError(t, err)
		w, err := c.NewWaiter(started)
		require.NoError(t, err)
		token, err := w.ResumeToken()
		require.NoError(t, err)
		e, err := newTestClient(t, f).ResumeWait(context.Background(), token)
		require.ErrorIs(t, err, exportkit.ErrExportSuperseded)
		assert.Equal(t, "ber-9", e.ExportID())
	})
}

func TestResumeWaitDoesNotGrantTheGraceAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(memRoute, step{status: 404, body: `{"error":"EXPORT_NOT_FOUND"}`})
		c := newTestClient(t, f)
		w, err := c.NewWaiter(&exportkit.MemoryExport{ID: "m1"})
		require.NoError(t, err)
		token, err := w.ResumeToken()
		require.NoError(t, err)
		time.Sleep(time.Hour) // the process was down for an hour
		elapsed := since()
		_, err = c.ResumeWait(context.Background(), token)
		require.ErrorIs(t, err, exportkit.ErrNotFound)
		assert.Zero(t, elapsed(), "an export that existed and is now gone fails at once")
		assert.Len(t, f.times(memRoute), 1)
	})
}

// forge builds a token with a valid checksum around any JSON.
func forge(version, payload string) string {
	body := version + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sum := sha256.Sum256([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(sum[:8])
}

func TestResumeWaitBadTokens(t *testing.T) {
	c := newTestClient(t, newFakeAPI())
	w, err := c.NewWaiter(&exportkit.LogExport{ID: "e1"})
	require.NoError(t, err)
	good, err := w.ResumeToken()
	require.NoError(t, err)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := map[string]string{
		"empty":                   "",
		"garbage":                 "hello",
		"payload edited":          flip(good, 6),
		"checksum edited":         flip(good, len(good)-2),
		"no checksum":             good[:strings.LastIndexByte(good, '.')],
		"unknown version":         "ek2" + good[3:],
		"unknown version, forged": forge("ek9", `{"v":"brainbase","k":"log","id":"e1"}`),
		"unknown kind":            forge("ek1", `{"v":"brainbase","k":"zip","id":"e1"}`),
		"vendor and kind differ":  forge("ek1", `{"v":"kore","k":"log","id":"e1"}`),
		"missing id":              forge("ek1", `{"v":"memsolus","k":"memory"}`),
		"dot-dot id":              forge("ek1", `{"v":"brainbase","k":"log","id":".."}`),
		"huge id":                 forge("ek1", `{"v":"brainbase","k":"log","id":"`+strings.Repeat("x", 2000)+`"}`),
		"id a kind has not":       forge("ek1", `{"v":"brainbase","k":"log","id":"e1","b":"st-1"}`),
		"unknown field":           forge("ek1", `{"v":"brainbase","k":"log","id":"e1","url":"https://x"}`),
		"not JSON":                forge("ek1", `[1,2`),
		"huge":                    "ek1." + strings.Repeat("A", 20000) + ".x",
		"negative start":          forge("ek1", `{"v":"brainbase","k":"log","id":"e1","s":-5}`),
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			e, err := c.ResumeWait(context.Background(), token)
			require.ErrorIs(t, err, exportkit.ErrBadResumeToken)
			assert.Nil(t, e)
			assert.True(t, strings.HasPrefix(err.Error(), "exportkit: bad resume token: "), err.Error())
			assert.Less(t, len(err.Error()), 300)
		})
	}
	t.Run("the good one still works", func(t *testing.T) {
		_, err := c.ResumeWaiter(good)
		require.NoError(t, err)
		_, err = c.ResumeWaiter(forge("ek1", `{"v":"brainbase","k":"log","id":"e 1/?#%"}`))
		require.NoError(t, err, "ids that escaping makes safe are accepted")
	})
}

func TestNewWaiterRejectsWhatItCannotWaitOn(t *testing.T) {
	c := newTestClient(t, newFakeAPI())
	for _, e := range []exportkit.Export{nil, (*exportkit.LogExport)(nil)} {
		_, err := c.NewWaiter(e)
		require.Error(t, err)
	}
	w, err := c.NewWaiter(&exportkit.LogExport{})
	require.NoError(t, err)
	_, err = w.ResumeToken()
	require.Error(t, err, "no token for an export without an id")
}

func TestWaitAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().
			on(bbRoute, step{body: bbBody("PENDING")}, step{body: bbBody("COMPLETED")}).
			on(memRoute, step{body: memBody("PENDING")}, step{body: memBody("FAILED")}).
			on(orbXRoute, step{body: orbXBody("completed")}).
			on(koreStatusRoute, step{status: 401, body: `{"errors":[{"msg":"Invalid SDK credentials","code":4002}]}`})
		c := newTestClient(t, f)
		var polls atomic.Int64
		exports := []exportkit.Export{
			&exportkit.LogExport{ID: "e1"},
			&exportkit.MemoryExport{ID: "m1"},
			nil,
			&exportkit.AudienceExport{Export: exportkit.AudienceExportRecord{ID: "x1", AudienceID: "a1", RunID: "r1"}},
			&exportkit.BotExport{ID: "ber-1", StreamID: "st-1"},
		}
		res := c.WaitAll(context.Background(), exports, exportkit.WithOnPoll(func(exportkit.Export) { polls.Add(1) }))
		require.Len(t, res, len(exports))
		require.NoError(t, res[0].Err)
		assert.Equal(t, "COMPLETED", res[0].Export.RawStatus())
		require.ErrorIs(t, res[1].Err, exportkit.ErrExportFailed)
		assert.Equal(t, exportkit.StateFailed, res[1].Export.State())
		require.Error(t, res[2].Err, "a nil export is an error of its own")
		require.NoError(t, res[3].Err)
		assert.Equal(t, "x1", res[3].Export.ExportID())
		require.ErrorIs(t, res[4].Err, exportkit.ErrUnauthorized)
		assert.Same(t, exports[4], res[4].Export, "no status read: the export given")
		assert.Equal(t, int64(5), polls.Load())
	})
}

func TestWaitAllBoundsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(bbRoute, step{body: bbBody("PROCESSING")})
		var inFlight, most atomic.Int64
		c := newTestClient(t, f)
		exports := make([]exportkit.Export, 10)
		for i := range exports {
			exports[i] = &exportkit.LogExport{ID: "e1"}
		}
		elapsed := since()
		res := c.WaitAll(context.Background(), exports, exportkit.WithConcurrency(3), exportkit.WithMaxWait(time.Minute),
			exportkit.WithOnPoll(func(exportkit.Export) {
				n := inFlight.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				inFlight.Add(-1)
			}))
		assert.Equal(t, time.Minute, elapsed(), "one max wait for the whole call")
		started := 0
		for _, r := range res {
			require.ErrorIs(t, r.Err, exportkit.ErrWaitTimeout)
			if r.Export.RawStatus() == "PROCESSING" {
				started++
			}
		}
		assert.Equal(t, 3, started, "three waits ran, the other seven found the time spent")
		assert.Equal(t, int64(1), most.Load(), "OnPoll calls do not overlap")
		firstReads := 0
		for _, at := range f.times(bbRoute) {
			if at.Equal(f.times(bbRoute)[0]) {
				firstReads++
			}
		}
		assert.Equal(t, 3, firstReads, "at most three waits at once")
	})
}

func TestWaitAllCancelStopsEveryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(memRoute, step{body: memBody("PROCESSING")})
		c := newTestClient(t, f)
		exports := make([]exportkit.Export, 40)
		for i := range exports {
			exports[i] = &exportkit.MemoryExport{ID: "m1"}
		}
		ctx := cancelAfter(t, 7*time.Second)
		elapsed := since()
		res := c.WaitAll(ctx, exports, exportkit.WithConcurrency(20))
		assert.Equal(t, 7*time.Second, elapsed())
		for i, r := range res {
			require.ErrorIs(t, r.Err, context.Canceled, "wait %d", i)
			require.False(t, errors.Is(r.Err, exportkit.ErrWaitTimeout))
			require.NotNil(t, r.Export)
		}
		ts := f.times(memRoute)
		atOnce := 0
		for _, at := range ts {
			if at.Equal(ts[0]) {
				atOnce++
			}
		}
		assert.Equal(t, 20, atOnce, "twenty waits at once, the other twenty never started")
	})
}

func TestWaitAllEmpty(t *testing.T) {
	c := newTestClient(t, newFakeAPI())
	assert.Empty(t, c.WaitAll(context.Background(), nil))
}
