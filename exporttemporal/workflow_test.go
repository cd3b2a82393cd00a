package exporttemporal

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
)

// workflowEnv returns a test workflow environment with the workflow and
// the activities on client c registered.
func workflowEnv(t *testing.T, c *exportkit.Client) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(quietLogger)
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(ExportWorkflow)
	env.RegisterActivity(NewActivities(c))
	env.SetTestTimeout(time.Minute)
	return env
}

// activityStarts records when each activity attempt started, on the
// workflow's clock.
type activityStarts struct {
	mu  sync.Mutex
	all []activityStart
}

type activityStart struct {
	name    string
	attempt int32
	at      time.Time
}

func (a *activityStarts) listen(env *testsuite.TestWorkflowEnvironment) {
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.all = append(a.all, activityStart{info.ActivityType.Name, info.Attempt, env.Now()})
	})
}

func (a *activityStarts) named(name string) []activityStart {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []activityStart
	for _, s := range a.all {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

func TestExportWorkflowHappyPath(t *testing.T) {
	for _, mode := range []struct {
		name       string
		inActivity bool
	}{{"timers", false}, {"in activity", true}} {
		for _, v := range allVendors {
			t.Run(mode.name+"/"+string(v), func(t *testing.T) {
				srv, c := newServer(t, exporttest.ReadyAfter(2), exporttest.FileSize(300<<10))
				env := workflowEnv(t, c)
				var timers []time.Duration
				env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { timers = append(timers, d) })
				path := filepath.Join(t.TempDir(), "export.out")

				env.ExecuteWorkflow(ExportWorkflow, ExportWorkflowInput{
					Create: createFor(v), Destination: Destination{Path: path}, WaitInActivity: mode.inActivity,
					// Short real delays for the in-activity wait; the timers are on the test clock.
					Schedule: exportkit.PollSchedule{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2},
				})
				require.True(t, env.IsWorkflowCompleted())
				require.NoError(t, env.GetWorkflowError())
				var out ExportWorkflowOutput
				require.NoError(t, env.GetWorkflowResult(&out))

				assert.Equal(t, v, out.Export.Vendor)
				assert.Equal(t, exportkit.StateReady, out.Export.State)
				require.NotNil(t, out.Download)
				got, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, srv.File(v, out.Export.ID), got, "the file's bytes")
				assert.Equal(t, int64(len(got)), out.Download.Bytes)
				assert.Equal(t, v != exportkit.Memsolus, out.Download.Verified, "Memsolus gives nothing to verify against")
				assert.EqualValues(t, 1, out.Download.Attempt)

				l := logOf(srv)
				assert.Equal(t, 1, l.creates, "created once")
				assert.Positive(t, out.Polls)
				if mode.inActivity {
					assert.Empty(t, timers, "no workflow timer: the activity waits")
					return
				}
				// One status read per timer, plus the download's own read.
				assert.Len(t, timers, out.Polls)
				assert.Equal(t, out.Polls+1, l.statusReads)
				// The delays are exportkit's schedule; Orbit's starts over
				// once the run's export exists.
				s := exportkit.PollSchedule{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2}
				for i, d := range timers {
					n := i + 1
					if v == exportkit.Orbit && i >= 3 {
						n = i - 2
					}
					assert.GreaterOrEqual(t, d, s.Delay(n, 0), "timer %d", i)
					assert.LessOrEqual(t, d, s.Delay(n, 1), "timer %d", i)
				}
			})
		}
	}
}

func TestExportWorkflowFailedExportIsNotRetried(t *testing.T) {
	for _, inActivity := range []bool{false, true} {
		t.Run(map[bool]string{false: "timers", true: "in activity"}[inActivity], func(t *testing.T) {
			srv, c := newServer(t, exporttest.ReadyAfter(1), exporttest.FailWith("QUERY_TIMEOUT", "the query ran too long"))
			env := workflowEnv(t, c)
			var starts activityStarts
			starts.listen(env)

			env.ExecuteWorkflow(ExportWorkflow, ExportWorkflowInput{
				Create: createFor(exportkit.Brainbase), WaitInActivity: inActivity,
				Destination: Destination{Path: filepath.Join(t.TempDir(), "never")},
				Schedule:    exportkit.PollSchedule{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 1},
			})
			require.True(t, env.IsWorkflowCompleted())
			err := env.GetWorkflowError()
			require.Error(t, err)
			assert.Equal(t, ErrTypeExportFailed, ErrorType(err))
			assert.Contains(t, err.Error(), "the query ran too long")
			for _, s := range append(starts.named("ExportStatus"), starts.named("WaitExport")...) {
				assert.EqualValues(t, 1, s.attempt, "a failed export is not retried")
			}
			assert.Empty(t, starts.named("DownloadExport"))
			assert.Equal(t, 2, logOf(srv).statusReads, "pending, then failed: nothing more")
		})
	}
}

func TestExportWorkflowRetriesA429AfterTheServersDelay(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(1))
	// A Retry-After longer than the client's own retries wait (30 s) comes
	// back to Temporal as the next retry delay.
	require.NoError(t, srv.Inject(exporttest.On(exportkit.Memsolus).Method("GET").Status(429).RetryAfter("120")))
	env := workflowEnv(t, c)
	var starts activityStarts
	starts.listen(env)

	env.ExecuteWorkflow(ExportWorkflow, ExportWorkflowInput{Create: createFor(exportkit.Memsolus)})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	st := starts.named("ExportStatus")
	require.GreaterOrEqual(t, len(st), 2)
	assert.EqualValues(t, 1, st[0].attempt)
	assert.EqualValues(t, 2, st[1].attempt, "the 429 is retried")
	assert.GreaterOrEqual(t, st[1].at.Sub(st[0].at), 120*time.Second, "no sooner than the server asked")
	assert.Less(t, st[1].at.Sub(st[0].at), 125*time.Second, "and not much later")
}

func TestExportWorkflowMaxWait(t *testing.T) {
	_, c := newServer(t, exporttest.ReadyAfter(1000))
	env := workflowEnv(t, c)
	env.ExecuteWorkflow(ExportWorkflow, ExportWorkflowInput{Create: createFor(exportkit.Brainbase), MaxWait: time.Minute})
	require.True(t, env.IsWorkflowCompleted())
	assert.Equal(t, ErrTypeWaitTimeout, ErrorType(env.GetWorkflowError()))
}

func TestExportWorkflowContinuesAsNewAfterManyPolls(t *testing.T) {
	_, c := newServer(t, exporttest.ReadyAfter(PollsPerRun+10))
	env := workflowEnv(t, c)
	env.ExecuteWorkflow(ExportWorkflow, ExportWorkflowInput{Create: createFor(exportkit.Brainbase)})
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "continue as new")
}

func TestExportWorkflowTakesUpAnExistingExport(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	e, err := c.Bots.StartExport(context.Background(), "bot-7", nil)
	require.NoError(t, err)
	require.False(t, e.State().Terminal())
	info, err := NewExportInfo(e, c)
	require.NoError(t, err)
	srv.ResetRequests()

	env := workflowEnv(t, c)
	env.ExecuteWorkflow(ExportWorkflow, ExportWorkflowInput{Export: &info})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var out ExportWorkflowOutput
	require.NoError(t, env.GetWorkflowResult(&out))
	assert.Equal(t, exportkit.StateReady, out.Export.State)
	assert.Nil(t, out.Download)
	assert.Equal(t, requestLog{statusReads: 1}, logOf(srv), "one read at once, no create, no download")
}
