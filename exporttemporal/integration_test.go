//go:build integration

package exporttemporal

// Integration tests against a real Temporal server, started in-process by
// go.temporal.io/server/temporaltest. They build the whole server (the first
// build takes minutes and a few GB of cache), so they run as their own CI
// step: go test -tags integration ./...

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
)

var updateHistory = flag.Bool("update-history", false, "rewrite testdata/history_*.json from fresh runs")

// newTemporal starts an in-process Temporal server for the test.
func newTemporal(t *testing.T) *temporaltest.TestServer {
	t.Helper()
	return temporaltest.NewServer(temporaltest.WithT(t),
		temporaltest.WithBaseClientOptions(client.Options{Logger: quietLogger}))
}

// pendingHeartbeat returns the heartbeat details of the workflow's pending
// activity of type name, decoded into v; false when there are none yet.
func pendingHeartbeat(t *testing.T, c client.Client, id, name string, v any) bool {
	t.Helper()
	desc, err := c.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	for _, pa := range desc.PendingActivities {
		if pa.ActivityType.GetName() != name || pa.HeartbeatDetails == nil {
			continue
		}
		if err := client.NewValue(pa.HeartbeatDetails).Get(v); err == nil {
			return true
		}
	}
	return false
}

// Worker A waits and is stopped mid-wait; worker B takes the wait up from
// A's last heartbeat, finishes it, starts the download and is stopped at
// half; worker C downloads. The export is created once, no status read is
// lost or made twice beyond one, and the file is whole.
func TestIntegrationWorkersLostMidWaitAndMidDownload(t *testing.T) {
	const (
		readyAfter = 30
		size       = 8 << 20
	)
	ts := newTemporal(t)
	srv, c := newServer(t, exporttest.ReadyAfter(readyAfter), exporttest.FileSize(size))
	acts := NewActivities(c)
	tc := ts.GetDefaultClient()
	const queue = "exports"
	register := func(r worker.Registry) { Register(r, acts) }
	path := filepath.Join(t.TempDir(), "audience.csv")

	workerA := ts.NewWorker(queue, register)
	run, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: "export-" + t.Name(), TaskQueue: queue, WorkflowExecutionTimeout: 2 * time.Minute,
	}, ExportWorkflow, ExportWorkflowInput{
		Create:           CreateRequest{Orbit: &OrbitRunRequest{AudienceID: "aud-1"}},
		Destination:      Destination{Path: path},
		WaitInActivity:   true,
		Schedule:         exportkit.PollSchedule{Min: 100 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 1},
		HeartbeatTimeout: 2 * time.Second,
	})
	require.NoError(t, err)

	// Stop A mid-wait, once its heartbeat has moved past the run onto the
	// export (the run takes readyAfter+1 reads, so does the export).
	var hb waitHeartbeat
	require.Eventually(t, func() bool {
		return pendingHeartbeat(t, tc, run.GetID(), "WaitExport", &hb) &&
			hb.Polls > readyAfter+1 && isOrbitExport(srv, hb.Export.ID)
	}, 30*time.Second, 20*time.Millisecond, "worker A reaches the export stage")
	workerA.Stop()
	exportReadsByA := countReads(srv, "/exports/")
	require.Less(t, exportReadsByA, readyAfter+1, "A was stopped before the export was ready")
	srv.ResetRequests()

	// The first download's first part stalls early, until its worker goes
	// away; the other parts finish, and the engine's checkpoint (about once
	// a second while parts run) records them in the state file.
	require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(512<<10, time.Minute)))
	workerB := ts.NewWorker(queue, register)
	require.Eventually(t, func() bool {
		fi, err := os.Stat(path + ".partial.state")
		return err == nil && fi.Size() > 0
	}, 60*time.Second, 20*time.Millisecond, "worker B checkpoints its parts")
	workerB.Stop()
	ts.NewWorker(queue, register)

	var out ExportWorkflowOutput
	require.NoError(t, run.Get(context.Background(), &out))

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, srv.File(exportkit.Orbit, out.Export.ID), got, "the file is whole and right")
	assert.True(t, out.Download.Verified)
	assert.EqualValues(t, 2, out.Download.Attempt, "the download's second attempt finished it")
	// C took the download up from what B left (a .partial and its state):
	// how much depends on the engine's checkpoints, so only "some".
	assert.Positive(t, out.Download.Reused, "C resumed from B's partial file")
	t.Logf("download: %+v", *out.Download)

	// After A: no run read, no create, no export creation: B took the
	// wait up from A's heartbeat, on the export.
	var runReads, exportReads, posts int
	for _, r := range srv.Requests() {
		switch {
		case r.Storage:
		case r.Method == http.MethodPost:
			posts++
		case strings.HasSuffix(r.Path, "/runs"):
			runReads++
		case strings.Contains(r.Path, "/exports/"):
			exportReads++
		}
	}
	assert.Zero(t, posts, "nothing created after worker A")
	assert.Zero(t, runReads, "the run is not read again")
	// The export reached ready on its read readyAfter+1, whoever made
	// it: A some, B the rest, none twice (one more is allowed for a read
	// of A's in flight when it stopped). The two download attempts read
	// the status once each.
	waitReadsByB := exportReads - 2
	assert.GreaterOrEqual(t, exportReadsByA+waitReadsByB, readyAfter+1, "no read lost")
	assert.LessOrEqual(t, exportReadsByA+waitReadsByB, readyAfter+2, "no read doubled beyond one")
	assert.GreaterOrEqual(t, out.Polls, hb.Polls, "B counted on from A's heartbeat")

	replay(t, tc, run.GetID(), run.GetRunID(), "")
}

// countReads counts the API GETs whose path contains sub.
func countReads(srv *exporttest.Server, sub string) int {
	n := 0
	for _, r := range srv.Requests() {
		if !r.Storage && r.Method == http.MethodGet && strings.Contains(r.Path, sub) {
			n++
		}
	}
	return n
}

// isOrbitExport reports whether id is an Orbit export (not its run).
func isOrbitExport(srv *exporttest.Server, id string) bool {
	return srv.File(exportkit.Orbit, id) != nil
}

// The timer wait of every vendor on a real server; each history replays
// without a nondeterminism error, and is recorded for the unit tests'
// replay with -update-history.
func TestIntegrationTimerWaitReplays(t *testing.T) {
	ts := newTemporal(t)
	srv, c := newServer(t, exporttest.ReadyAfter(3), exporttest.FileSize(64<<10))
	tc := ts.GetDefaultClient()
	const queue = "timers"
	ts.NewWorker(queue, func(r worker.Registry) { Register(r, NewActivities(c)) })
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			run, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
				ID: "timers-" + string(v), TaskQueue: queue, WorkflowExecutionTimeout: time.Minute,
			}, ExportWorkflow, ExportWorkflowInput{
				Create:      createFor(v),
				Destination: Destination{Path: filepath.Join(t.TempDir(), "f")},
				Schedule:    exportkit.PollSchedule{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2},
			})
			require.NoError(t, err)
			var out ExportWorkflowOutput
			require.NoError(t, run.Get(context.Background(), &out))
			assert.Equal(t, srv.File(v, out.Export.ID), mustRead(t, out.Download.Destination.Path))
			file := ""
			if *updateHistory {
				file = filepath.Join("testdata", "history_"+string(v)+".json")
			}
			replay(t, tc, run.GetID(), run.GetRunID(), file)
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// replay fetches a finished workflow's history, replays it, and writes it
// to file unless file is "".
func replay(t *testing.T, tc client.Client, id, runID, file string) {
	t.Helper()
	ctx := context.Background()
	it := tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var hist historypb.History
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, e)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(ExportWorkflow)
	r.RegisterWorkflow(JobRunWorkflow)
	require.NoError(t, r.ReplayWorkflowHistory(quietLogger, &hist), "the history replays")
	if file == "" {
		return
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&hist)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, append(b, '\n'), 0o644))
}

// Two machines start the same job runs at once, on a fake that loses
// every create reply: Temporal starts one workflow per fingerprint and
// refuses the other start; each run's lost reply is reconciled and the
// export adopted; the vendors hold exactly one export per run. The hourly
// job's two runs (the current period and the one missed) create one after
// the other, the second leaving out the first's export, so both adopt
// their own. A start after the runs ended is refused too.
func TestIntegrationJobRunsOncePerFingerprint(t *testing.T) {
	ts := newTemporal(t)
	srv, c := newServer(t, exporttest.ReadyAfter(2), exporttest.FileSize(64<<10), exporttest.LoseCreateReplies(1))
	tc := ts.GetDefaultClient()
	acts := NewActivities(c)
	acts.Temporal = tc
	const queue = "jobs"
	ts.NewWorker(queue, func(r worker.Registry) { Register(r, acts) })
	dir := t.TempDir()
	jobs := []exportjob.Job{
		{Name: "logs", Vendor: exportkit.Brainbase, Every: time.Hour, Catchup: 1, Params: map[string]string{"format": "CSV"}},
		{Name: "memories", Vendor: exportkit.Memsolus, Catchup: -1, Params: map[string]string{"format": "json"}},
		{Name: "audience", Vendor: exportkit.Orbit, Catchup: -1, Params: map[string]string{"audience": "aud_1"}},
		{Name: "bot", Vendor: exportkit.Kore, Catchup: -1, Params: map[string]string{"bot": "st-bot-1"}},
	}
	opts := StartOptions{TaskQueue: queue, WorkflowExecutionTimeout: 2 * time.Minute, Run: JobRunInput{Dir: dir,
		Wait: ExportWorkflowInput{Schedule: exportkit.PollSchedule{Min: 50 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 1.5}}}}
	now := time.Now()

	var wg sync.WaitGroup
	starts := make([][]JobRunStart, 2)
	for i := range starts {
		wg.Go(func() {
			var err error
			starts[i], err = StartJobRuns(context.Background(), tc, jobs, now, opts)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	require.Len(t, starts[0], 5)
	require.Len(t, starts[1], 5)
	for i := range starts[0] {
		a, b := starts[0][i], starts[1][i]
		require.Equal(t, a.Fingerprint, b.Fingerprint)
		assert.True(t, a.Started != b.Started, "%s: one start, one refusal", a.Fingerprint)
	}

	var logsOwned [][]string // the hourly job's runs, oldest first
	for _, s := range starts[0] {
		var out JobRunOutput
		require.NoError(t, tc.GetWorkflow(context.Background(), s.Fingerprint, "").Get(context.Background(), &out), s.Fingerprint)
		assert.Equal(t, JobRunDone, out.State, s.Fingerprint)
		assert.True(t, out.Adopted, "%s: the lost reply was reconciled", s.Fingerprint)
		job := jobs[0]
		for _, j := range jobs {
			if j.Name == s.Job {
				job = j
			}
		}
		nj, err := exportjob.Normalize(job)
		require.NoError(t, err)
		got := mustRead(t, filepath.Join(dir, filepath.FromSlash(exportjob.FileName(nj, s.Period))))
		assert.Equal(t, srv.File(job.Vendor, out.Export.ID), got, s.Fingerprint)
		if job.Vendor == exportkit.Orbit {
			assert.Equal(t, exportjob.IdempotencyKey(s.Fingerprint, 1), out.Intent.Key)
		}
		if s.Job == "logs" {
			logsOwned = append(logsOwned, out.Owned)
		}
		replay(t, tc, s.Fingerprint, "", "")
	}
	require.Len(t, logsOwned, 2)
	require.Len(t, logsOwned[0], 1)
	assert.Equal(t, []string{logsOwned[0][0]}, logsOwned[1][:1], "the second run left the first one's export out")
	assert.NotEqual(t, logsOwned[0][0], logsOwned[1][1])
	assert.Positive(t, srv.LostCreateReplies())
	count := map[exportkit.Vendor]int{}
	for _, e := range srv.Exports() {
		if e.Vendor != exportkit.Orbit || e.Kind == "run" {
			count[e.Vendor]++
		}
	}
	assert.Equal(t, map[exportkit.Vendor]int{exportkit.Brainbase: 2, exportkit.Memsolus: 1, exportkit.Orbit: 1, exportkit.Kore: 1}, count,
		"one export per run")

	again, err := StartJobRuns(context.Background(), tc, jobs, now, opts)
	require.NoError(t, err)
	for _, s := range again {
		assert.False(t, s.Started, "%s: done runs are not started again", s.Fingerprint)
	}
}

// Worker A is stopped while its create request is in flight: the fake has
// carried the create out and holds the reply back. The create activity is
// not retried; worker B reconciles, adopts the export the create made and
// downloads it. The vendor holds one export.
func TestIntegrationJobRunWorkerLostMidCreate(t *testing.T) {
	ts := newTemporal(t)
	srv, c := newServer(t, exporttest.ReadyAfter(1), exporttest.FileSize(32<<10))
	require.NoError(t, srv.Inject(exporttest.On(exportkit.Brainbase).Method(http.MethodPost).StallAfter(0, time.Minute)))
	tc := ts.GetDefaultClient()
	acts := NewActivities(c)
	acts.Temporal = tc
	const queue = "killed"
	register := func(r worker.Registry) { Register(r, acts) }
	workerA := ts.NewWorker(queue, register)
	dir := t.TempDir()
	job := exportjob.Job{Name: "logs", Vendor: exportkit.Brainbase, Catchup: -1, Params: map[string]string{"format": "CSV"}}
	starts, err := StartJobRuns(context.Background(), tc, []exportjob.Job{job}, time.Now(), StartOptions{
		TaskQueue: queue, WorkflowExecutionTimeout: 2 * time.Minute,
		Run: JobRunInput{Dir: dir, CreateTimeout: 3 * time.Second,
			Wait: ExportWorkflowInput{Schedule: exportkit.PollSchedule{Min: 50 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 1}}},
	})
	require.NoError(t, err)
	require.Len(t, starts, 1)
	require.True(t, starts[0].Started)

	require.Eventually(t, func() bool { return len(srv.Exports()) == 1 }, 30*time.Second, 10*time.Millisecond,
		"the create reaches the fake")
	workerA.Stop() // the create's reply has not come back
	ts.NewWorker(queue, register)

	var out JobRunOutput
	require.NoError(t, tc.GetWorkflow(context.Background(), starts[0].Fingerprint, "").Get(context.Background(), &out))
	assert.Equal(t, JobRunDone, out.State)
	assert.True(t, out.Adopted, "reconciled")
	ex := srv.Exports()
	require.Len(t, ex, 1, "one export at the vendor")
	assert.Equal(t, ex[0].ID, out.Export.ID)
	nj, err := exportjob.Normalize(job)
	require.NoError(t, err)
	assert.Equal(t, srv.File(exportkit.Brainbase, out.Export.ID),
		mustRead(t, filepath.Join(dir, filepath.FromSlash(exportjob.FileName(nj, starts[0].Period)))))
	creates := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost && !r.Storage {
			creates++
		}
	}
	assert.Equal(t, 1, creates, "the create was sent once")
	replay(t, tc, starts[0].Fingerprint, "", "")
}
