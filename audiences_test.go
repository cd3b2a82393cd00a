package exportkit_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAudiencesExportChain(t *testing.T) {
	notCompleted := step{status: 409, body: `{"error":{"code":"RUN_NOT_COMPLETED","message":"run is not completed"}}`}
	tests := []struct {
		name      string
		runs      []step
		create    []step
		get       []step
		opts      []exportkit.WaitOption
		want      error
		wantState exportkit.State // of the export returned; "" for nil
		wantCode  string
		wantRoute []string
	}{
		{
			name:      "run then export, 409 keeps polling",
			runs:      []step{{body: runsBody("queued")}, {body: runsBody("running")}, {body: runsBody("completed")}},
			create:    []step{notCompleted, {body: orbXBody("processing")}},
			get:       []step{{body: orbXBody("processing")}, {body: orbXBody("completed")}},
			wantState: exportkit.StateReady,
			wantRoute: []string{runsRoute, runsRoute, runsRoute, createXRoute, runsRoute, createXRoute, orbXRoute, orbXRoute},
		},
		{
			name:      "export reused, already completed",
			runs:      []step{{body: runsBody("completed")}},
			create:    []step{{body: orbXBody("completed")}},
			wantState: exportkit.StateReady,
			wantRoute: []string{runsRoute, createXRoute},
		},
		{
			name:      "run failed: its code and message",
			runs:      []step{{body: runsBody("running")}, {body: runsBody("failed")}},
			want:      exportkit.ErrExportFailed,
			wantCode:  "QUERY_TIMEOUT",
			wantRoute: []string{runsRoute, runsRoute},
		},
		{
			name:      "run cancelled",
			runs:      []step{{body: runsBody("cancelled")}},
			want:      exportkit.ErrExportCanceled,
			wantCode:  "QUERY_TIMEOUT",
			wantRoute: []string{runsRoute},
		},
		{
			name:      "export failed: its code and message",
			runs:      []step{{body: runsBody("completed")}},
			create:    []step{{body: orbXBody("processing")}},
			get:       []step{{body: orbXBody("failed")}},
			want:      exportkit.ErrExportFailed,
			wantState: exportkit.StateFailed,
			wantCode:  "B2_DOWN",
			wantRoute: []string{runsRoute, createXRoute, orbXRoute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI().on(runsRoute, tt.runs...)
				if tt.create != nil {
					f.on(createXRoute, tt.create...)
				}
				if tt.get != nil {
					f.on(orbXRoute, tt.get...)
				}
				c := newTestClient(t, f)
				var polled []string
				onPoll := exportkit.WithOnPoll(func(e exportkit.Export) { polled = append(polled, e.ExportID()) })
				e, err := c.Audiences.Export(context.Background(), "a1", "r1", append(tt.opts, onPoll)...)
				assert.Equal(t, tt.wantRoute, f.routesHit())
				if tt.want == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tt.want)
					var ee *exportkit.ExportError
					require.ErrorAs(t, err, &ee)
					assert.Equal(t, tt.wantCode, ee.Code)
				}
				if tt.wantState == "" {
					assert.Nil(t, e)
					return
				}
				require.NotNil(t, e)
				assert.Equal(t, tt.wantState, e.State())
				assert.Equal(t, exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "x1"}, e.Ref())
				assert.Equal(t, "x1", polled[len(polled)-1], "OnPoll sees the export last")
				if len(tt.runs) > 1 {
					assert.Equal(t, "r1", polled[0], "OnPoll sees the run reads first")
				}
			})
		})
	}
}

func TestAudiencesExportScheduleRestartsForTheExport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().
			on(runsRoute, step{body: runsBody("running")}, step{body: runsBody("running")}, step{body: runsBody("running")},
				step{body: runsBody("running")}, step{body: runsBody("running")}, step{body: runsBody("completed")}).
			on(createXRoute, step{body: orbXBody("processing")}).
			on(orbXRoute, step{body: orbXBody("processing")}, step{body: orbXBody("completed")})
		c := newTestClient(t, f)
		_, err := c.Audiences.Export(context.Background(), "a1", "r1", exportkit.WithJitter(0))
		require.NoError(t, err)
		runs, get := f.times(runsRoute), f.times(orbXRoute)
		// Run reads at 0, 2, 5, 9.5, 16.25, 26.375 s; the export, created
		// at the last one, is read 2 s and 3 s later: a new schedule.
		assert.Equal(t, 26375*time.Millisecond, runs[len(runs)-1].Sub(runs[0]))
		assert.Equal(t, []time.Duration{2 * time.Second, 3 * time.Second}, []time.Duration{get[0].Sub(runs[len(runs)-1]), get[1].Sub(get[0])})
	})
}

func TestAudiencesExportOneBudgetForTheChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().
			onFunc(runsRoute, func(n int) step {
				if time.Now().Before(time.Date(2000, 1, 1, 0, 0, 20, 0, time.UTC)) {
					return step{body: runsBody("running")}
				}
				return step{body: runsBody("completed")}
			}).
			on(createXRoute, step{body: orbXBody("processing")}).
			on(orbXRoute, step{body: orbXBody("processing")})
		c := newTestClient(t, f)
		elapsed := since()
		e, err := c.Audiences.Export(context.Background(), "a1", "r1", exportkit.WithMaxWait(45*time.Second))
		require.ErrorIs(t, err, exportkit.ErrWaitTimeout)
		assert.Equal(t, 45*time.Second, elapsed(), "one max wait for run and export together")
		require.NotNil(t, e, "the export seen last is returned")
		assert.Equal(t, exportkit.StateRunning, e.State())
	})
}

func TestAudiencesExportBadIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		c := newTestClient(t, f)
		for _, ids := range [][2]string{{"", "r1"}, {"a1", ""}, {"..", "r1"}} {
			_, err := c.Audiences.Export(context.Background(), ids[0], ids[1])
			require.Error(t, err)
		}
		assert.Empty(t, f.routesHit())
	})
}

// Every wait option reaches both stages of Audiences.Export, from the call
// or from the client's WithDefaultWait (issue 11 item 14).
func TestAudiencesExportOptionsReachBothStages(t *testing.T) {
	fixed := []exportkit.WaitOption{exportkit.WithPollInterval(time.Second, time.Second), exportkit.WithJitter(0)}
	for _, atClient := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeAPI().
				on(runsRoute, step{body: runsBody("running")}, step{body: runsBody("running")}, step{body: runsBody("completed")}).
				on(createXRoute, step{body: orbXBody("processing")}).
				on(orbXRoute, step{body: orbXBody("processing")}, step{body: orbXBody("processing")}, step{body: orbXBody("completed")})
			var clientOpts []exportkit.Option
			var seen []string
			opts := []exportkit.WaitOption{exportkit.WithOnPoll(func(e exportkit.Export) { seen = append(seen, fmt.Sprintf("%T", e)) })}
			if atClient {
				clientOpts = append(clientOpts, exportkit.WithDefaultWait(fixed...))
			} else {
				opts = append(opts, fixed...)
			}
			c := newTestClient(t, f, clientOpts...)
			e, err := c.Audiences.Export(context.Background(), "a1", "r1", opts...)
			require.NoError(t, err)
			assert.Equal(t, exportkit.StateReady, e.State())
			s := time.Second
			assert.Equal(t, []time.Duration{s, s}, gaps(f.times(runsRoute)), "the run at the given interval")
			assert.Equal(t, []time.Duration{s, s}, gaps(f.times(orbXRoute)), "the export too")
			assert.Equal(t, []string{"*exportkit.AudienceRun", "*exportkit.AudienceRun", "*exportkit.AudienceExport",
				"*exportkit.AudienceExport", "*exportkit.AudienceExport", "*exportkit.AudienceExport"}, seen)
		})
	}
}

func TestAudiencesGetRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI().on(runsRoute, step{body: runsBody("running")})
		c := newTestClient(t, f)
		ctx := context.Background()
		r, err := c.Audiences.GetRun(ctx, "a1", "r1")
		require.NoError(t, err)
		assert.Equal(t, "r1", r.ID)
		assert.Equal(t, exportkit.StateRunning, r.State())

		_, err = c.Audiences.GetRun(ctx, "a1", "r9")
		require.ErrorIs(t, err, exportkit.ErrNotFound)
		assert.Equal(t, `exportkit: orbit: get run "r9": 404 Not Found: RUN_NOT_FOUND: run not among the audience's latest 100 runs`, err.Error())

		for _, ids := range [][2]string{{"", "r1"}, {"a1", ""}, {"a1", ".."}} {
			_, err := c.Audiences.GetRun(ctx, ids[0], ids[1])
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
		}
		assert.Len(t, f.routesHit(), 2, "bad ids send nothing")
	})
}
