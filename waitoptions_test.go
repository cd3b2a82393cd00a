package exportkit_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every bad wait option is an error matching ErrInvalidInput from every
// call that takes wait options, before any request (issue 11 item 12).
func TestWaitOptionsAreValidated(t *testing.T) {
	bad := map[string]exportkit.WaitOption{
		"negative poll min":        exportkit.WithPollInterval(-1, 0),
		"negative poll max":        exportkit.WithPollInterval(0, -time.Second),
		"poll max below min":       exportkit.WithPollInterval(5*time.Second, time.Second),
		"jitter 1.5":               exportkit.WithJitter(1.5),
		"jitter -0.1":              exportkit.WithJitter(-0.1),
		"multiplier 0.5":           exportkit.WithBackoffMultiplier(0.5),
		"multiplier 0":             exportkit.WithBackoffMultiplier(0),
		"negative max wait":        exportkit.WithMaxWait(-1),
		"negative max outage":      exportkit.WithMaxOutage(-1),
		"zero concurrency":         exportkit.WithConcurrency(0),
		"negative not-found grace": exportkit.WithNotFoundGrace(-1),
	}
	for name, o := range bad {
		t.Run(name, func(t *testing.T) {
			f := newFakeAPI()
			c := newTestClient(t, f)
			ctx := context.Background()
			e := &exportkit.LogExport{ID: "e1"}
			_, err := c.Exports.Wait(ctx, "e1", o)
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
			_, err = c.Wait(ctx, e, o)
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
			_, err = c.Audiences.Export(ctx, "a1", "r1", o)
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
			_, err = c.NewWaiter(e, o)
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
			for _, r := range c.WaitAll(ctx, []exportkit.Export{e, e}, o) {
				assert.ErrorIs(t, r.Err, exportkit.ErrInvalidInput)
			}
			w, err := c.NewWaiter(e)
			require.NoError(t, err)
			token, err := w.ResumeToken()
			require.NoError(t, err)
			_, err = c.ResumeWait(ctx, token, o)
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
			_, err = exportkit.NewClient(exportkit.WithDefaultWait(o))
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
			assert.Empty(t, f.routesHit(), "a bad option sends nothing")
			require.Error(t, err)
			assert.Equal(t, 1, countPrefix(err.Error()), err.Error())
		})
	}
}

func TestWaitOptionZeroValuesMeanDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().onFunc(bbRoute, pendingThen(2, step{body: bbBody("PENDING")}, step{body: bbBody("COMPLETED")}))
		c := newTestClient(t, f)
		_, err := c.Exports.Wait(context.Background(), "e1", exportkit.WithPollInterval(0, 0),
			exportkit.WithJitter(0), exportkit.WithMaxWait(0), exportkit.WithNotFoundGrace(0), nil)
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{exportkit.DefaultPollMin, 3 * time.Second}, gaps(f.times(bbRoute)))
	})
}
