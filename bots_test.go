package exportkit_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBotsWaitExportSuperseded(t *testing.T) {
	tests := []struct {
		name    string
		start   bool // StartExport first
		byWait  bool // wait with Client.Wait on the started export
		status  []step
		want    error
		wantID  string
		wantHit int
	}{
		{"ours succeeds", true, false, []step{{body: koreBody("ber-1", "pending")}, {body: koreBody("ber-1", "success")}}, nil, "ber-1", 2},
		{"replaced by another", true, false, []step{{body: koreBody("ber-1", "pending")}, {body: koreBody("ber-2", "pending")}}, exportkit.ErrExportSuperseded, "ber-2", 2},
		{"replaced, seen by Client.Wait", true, true, []step{{body: koreBody("ber-2", "success")}}, exportkit.ErrExportSuperseded, "ber-2", 1},
		{"no start: the latest export", false, false, []step{{body: koreBody("ber-2", "pending")}, {body: koreBody("ber-2", "success")}}, nil, "ber-2", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().
					on(koreStartRoute, step{body: `{"status":"pending","streamId":"st-1","_id":"ber-1"}`}).
					on(koreStatusRoute, tt.status...)
				c := newTestClient(t, f)
				ctx := context.Background()
				var (
					e   exportkit.Export
					err error
				)
				switch {
				case tt.start && tt.byWait:
					started, serr := c.Bots.StartExport(ctx, "st-1", nil)
					require.NoError(t, serr)
					e, err = c.Wait(ctx, started)
				case tt.start:
					_, serr := c.Bots.StartExport(ctx, "st-1", nil)
					require.NoError(t, serr)
					e, err = c.Bots.WaitExport(ctx, "st-1")
				default:
					e, err = c.Bots.WaitExport(ctx, "st-1")
				}
				if tt.want != nil {
					require.ErrorIs(t, err, tt.want)
				} else {
					require.NoError(t, err)
				}
				require.NotNil(t, e)
				assert.Equal(t, tt.wantID, e.ExportID(), "the export the status names is returned")
				assert.Len(t, f.times(koreStatusRoute), tt.wantHit)
			})
		})
	}
}

func TestBotsWaitsShareThePerBotPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(koreStatusRoute, step{body: koreBody("ber-1", "pending")})
		c := newTestClient(t, f)
		ctx := cancelAfter(t, 30*time.Second)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := c.Bots.WaitExport(ctx, "st-1", exportkit.WithPollInterval(100*time.Millisecond, 100*time.Millisecond))
				assert.ErrorIs(t, err, context.Canceled)
			})
		}
		wg.Wait()
		ts := f.times(koreStatusRoute)
		require.Greater(t, len(ts), 20)
		for i, g := range gaps(ts) {
			assert.GreaterOrEqual(t, g, time.Second, "requests %d and %d for one bot came %s apart", i, i+1, g)
		}
		// 60 a minute at most, 59 by default.
		assert.LessOrEqual(t, len(ts), 31)
	})
}

// koreDated is a Kore status body with a createdOn.
func koreDated(id, status, createdOn string) string {
	return `{"_id":"` + id + `","botId":"st-1","status":"` + status + `","createdOn":"` + createdOn + `","fileSize":"947","downloadURL":"https://kore.example/f.zip?sig=s"}`
}

// TestBotsStatusLagsBehindStart: right after a start, Kore's status may
// still show the bot's earlier export. That is polled through during the
// not-found grace, not taken for a superseding export; a later export is.
func TestBotsStatusLagsBehindStart(t *testing.T) {
	const (
		ours    = "2026-11-22T10:00:00.000Z"
		earlier = "2026-11-22T09:00:00.000Z"
		later   = "2026-11-22T10:00:05.000Z"
	)
	tests := []struct {
		name   string
		status []step
		want   error
		wantID string
	}{
		{"earlier export, then ours", []step{{body: koreDated("ber-0", "success", earlier)}, {body: koreDated("ber-0", "success", earlier)},
			{body: koreDated("ber-1", "pending", ours)}, {body: koreDated("ber-1", "success", ours)}}, nil, "ber-1"},
		{"earlier export past the grace", []step{{body: koreDated("ber-0", "success", earlier)}}, exportkit.ErrNotFound, ""},
		{"a later export replaced ours", []step{{body: koreDated("ber-2", "pending", later)}}, exportkit.ErrExportSuperseded, "ber-2"},
	}
	for _, tt := range tests {
		for _, byClient := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/Client.Wait=%v", tt.name, byClient), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := newFakeAPI().
						on(koreStartRoute, step{body: `{"status":"pending","streamId":"st-1","_id":"ber-1","createdOn":"` + ours + `"}`}).
						on(koreStatusRoute, tt.status...)
					c := newTestClient(t, f)
					ctx := context.Background()
					started, err := c.Bots.StartExport(ctx, "st-1", nil)
					require.NoError(t, err)
					grace := exportkit.WithNotFoundGrace(5 * time.Second)
					var e exportkit.Export
					if byClient {
						e, err = c.Wait(ctx, started, grace)
					} else {
						var x *exportkit.BotExport
						if x, err = c.Bots.WaitExport(ctx, "st-1", grace); x != nil {
							e = x
						}
					}
					if tt.want == nil {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, tt.want)
					}
					if tt.want == exportkit.ErrNotFound {
						assert.NotErrorIs(t, err, exportkit.ErrExportSuperseded)
						if e != nil {
							assert.NotEqual(t, "ber-0", e.ExportID(), "an earlier export is never returned as ours")
						}
						return
					}
					require.NotNil(t, e)
					assert.Equal(t, tt.wantID, e.ExportID())
				})
			})
		}
	}
}

// TestBotsDownloadChecksTheStartedExport: Download(botID) after StartExport
// refuses a file of an export that replaced this client's.
func TestBotsDownloadChecksTheStartedExport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().
			on(koreStartRoute, step{body: `{"status":"pending","streamId":"st-1","_id":"ber-1","createdOn":"2026-11-22T10:00:00.000Z"}`}).
			on(koreStatusRoute, step{body: koreDated("ber-2", "success", "2026-11-22T10:00:05.000Z")})
		c := newTestClient(t, f)
		_, err := c.Bots.StartExport(context.Background(), "st-1", nil)
		require.NoError(t, err)
		_, err = c.Bots.Download(context.Background(), "st-1", io.Discard)
		require.ErrorIs(t, err, exportkit.ErrExportSuperseded)
	})
}
