package exportkit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
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

// The start request carries Kore's field names exactly, and the start's
// "pending" is StatePending (issue 11 item 17).
func TestBotsStartExportRequest(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		req  *exportkit.BotExportRequest
		want string
	}{
		{"nil request", nil, `{"exportType":"latest"}`},
		{"every field", &exportkit.BotExportRequest{
			ExportType: "published",
			ExportOptions: &exportkit.BotExportOptions{Settings: []string{"botSettings"}, Tasks: []string{"botTask"},
				NLPData: []string{"utterances"}, AgentAI: []string{"rules"}},
			SubTasks: &exportkit.BotSubTasks{Dialogs: []string{"Book"}, Alerts: []string{"al"}, Actions: []string{"ac"},
				ExperienceFlows: []string{"fl"}},
			AllTasks: &no, IncludeDependentTasks: &yes, CustomDashboards: &yes,
		}, `{"exportType":"published","exportOptions":{"settings":["botSettings"],"tasks":["botTask"],"nlpData":["utterances"],` +
			`"AgentAI":["rules"]},"subTasks":{"dialogs":["Book"],"alerts":["al"],"actions":["ac"],"experienceFlows":["fl"]},` +
			`"allTasks":false,"IncludeDependentTasks":true,"customDashboards":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200,
				`{"status":"pending","streamId":"st-1","createdBy":"u-1","exportType":"latest","requestType":"Botexport","_id":"ber-1","createdOn":"2018-12-05T07:18:40.028Z","__v":0}`)}}
			c := newClient(t, rec)
			e, err := c.Bots.StartExport(context.Background(), "st-1", tt.req)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, rec.bodies[0])
			assert.Equal(t, exportkit.StatePending, e.State())
			assert.Equal(t, "pending", e.RawStatus())
			assert.Equal(t, "st-1", e.Bot())
		})
	}
	t.Run("bad export type", func(t *testing.T) {
		rec := &recorder{}
		c := newClient(t, rec)
		_, err := c.Bots.StartExport(context.Background(), "st-1", &exportkit.BotExportRequest{ExportType: "all"})
		require.Error(t, err)
		assert.Zero(t, rec.count(), "refused before any request")
	})
}

// Against exporttest: a narrowed export is accepted, reads pending, then
// in-progress, then success, and downloads.
func TestBotsNarrowedExportAgainstFakeServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
		defer srv.Close()
		c := srv.Client(exportkit.WithRateLimit(exportkit.Kore, 1000, 1000))
		ctx := context.Background()
		yes := true
		e, err := c.Bots.StartExport(ctx, "st-7", &exportkit.BotExportRequest{
			ExportType:    "published",
			ExportOptions: &exportkit.BotExportOptions{NLPData: []string{"utterances", "synonyms"}, Settings: []string{"botVariables"}},
			SubTasks:      &exportkit.BotSubTasks{Dialogs: []string{"Book a flight"}}, IncludeDependentTasks: &yes,
		})
		require.NoError(t, err)
		assert.Equal(t, exportkit.StatePending, e.State())
		var seen []string
		got, err := c.Bots.WaitExport(ctx, "st-7", exportkit.WithOnPoll(func(e exportkit.Export) { seen = append(seen, e.RawStatus()) }))
		require.NoError(t, err)
		assert.Equal(t, []string{"pending", "in-progress", "success"}, seen)
		res, err := c.Download(ctx, got, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, got.Size(), res.Bytes)

		_, err = c.Bots.StartExport(ctx, "st-7", &exportkit.BotExportRequest{ExportOptions: &exportkit.BotExportOptions{Tasks: []string{"everything"}}})
		require.Error(t, err, "the fake refuses what Kore does not document")
		assert.Contains(t, err.Error(), "400 Bad Request")
	})
}
