package exporttemporal

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// jobFor is a daily job of vendor v that exporttest accepts.
func jobFor(v exportkit.Vendor) exportjob.Job {
	switch v {
	case exportkit.Brainbase:
		return exportjob.Job{Name: "logs", Vendor: v, Params: map[string]string{"format": "CSV"}}
	case exportkit.Memsolus:
		return exportjob.Job{Name: "memories", Vendor: v, Params: map[string]string{"format": "json"}}
	case exportkit.Orbit:
		return exportjob.Job{Name: "audience", Vendor: v, Params: map[string]string{"audience": "aud_1"}}
	default:
		return exportjob.Job{Name: "bot", Vendor: v, Params: map[string]string{"bot": "st-bot-1"}}
	}
}

// jobEnv returns a workflow environment for JobRunWorkflow on client c in
// which the previous run owns the exports owned (AwaitPreviousRun, which
// asks a Temporal server, answers at once).
func jobEnv(t *testing.T, c *exportkit.Client, owned ...string) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := workflowEnv(t, c)
	env.RegisterWorkflow(JobRunWorkflow)
	env.OnActivity("AwaitPreviousRun", mock.Anything, mock.Anything).Return(AwaitRunOutput{Owned: owned}, nil)
	return env
}

// runJob runs one JobRunWorkflow of job for today's period, files under
// dir, and returns its output and error.
func runJob(t *testing.T, env *testsuite.TestWorkflowEnvironment, job exportjob.Job, dir string) (JobRunOutput, error) {
	t.Helper()
	env.ExecuteWorkflow(JobRunWorkflow, JobRunInput{
		Job: job, Period: exportjob.PeriodOf(time.Now(), exportjob.DefaultEvery), Dir: dir,
		Wait: ExportWorkflowInput{Schedule: exportkit.PollSchedule{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 1}},
	})
	require.True(t, env.IsWorkflowCompleted())
	var out JobRunOutput
	if err := env.GetWorkflowError(); err != nil {
		return out, err
	}
	require.NoError(t, env.GetWorkflowResult(&out))
	return out, nil
}

// exportsOf lists the exports (Orbit: the runs) the fake holds of vendor v.
func exportsOf(srv *exporttest.Server, v exportkit.Vendor) []exporttest.ExportInfo {
	var out []exporttest.ExportInfo
	for _, e := range srv.Exports() {
		if e.Vendor == v && (v != exportkit.Orbit || e.Kind == "run") {
			out = append(out, e)
		}
	}
	return out
}

func fileOf(t *testing.T, dir string, job exportjob.Job) string {
	t.Helper()
	nj, err := exportjob.Normalize(job)
	require.NoError(t, err)
	return filepath.Join(dir, filepath.FromSlash(exportjob.FileName(nj, exportjob.PeriodOf(time.Now(), nj.Every))))
}

// Every vendor: the fake carries out the create and cuts the connection
// before the reply. The create activity is not retried; reconciliation
// finds the export the create made, the run adopts it and downloads its
// file, and the vendor holds exactly one export.
func TestJobRunLostCreateReplyIsReconciled(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			srv, c := newServer(t, exporttest.ReadyAfter(1), exporttest.FileSize(10<<10), exporttest.LoseCreateReplies(1))
			env := jobEnv(t, c)
			var starts activityStarts
			starts.listen(env)
			dir := t.TempDir()
			job := jobFor(v)

			out, err := runJob(t, env, job, dir)
			require.NoError(t, err)
			assert.Equal(t, JobRunDone, out.State)
			assert.True(t, out.Adopted, "adopted by reconciliation")
			assert.Positive(t, srv.LostCreateReplies())
			assert.Len(t, starts.named("CreateJobRun"), 1, "the create activity ran once")
			assert.Len(t, starts.named("ReconcileJobRun"), 1)
			ex := exportsOf(srv, v)
			require.Len(t, ex, 1, "exactly one export at the vendor")
			assert.Equal(t, ex[0].ID, out.Owned[len(out.Owned)-1])
			got, err := os.ReadFile(fileOf(t, dir, job))
			require.NoError(t, err)
			assert.Equal(t, srv.File(v, out.Export.ID), got)
			if v == exportkit.Orbit {
				assert.Equal(t, out.Intent.Key, ex[0].IdempotencyKey, "the run carries the intent's key")
			}
		})
	}
}

// Orbit's Idempotency-Key is the intent's, derived from the run's
// fingerprint as exportjob derives it: the same on every machine and in
// every workflow run, never a Temporal id.
func TestJobRunOrbitKeyIsTheIntents(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	env := jobEnv(t, c)
	job := jobFor(exportkit.Orbit)
	out, err := runJob(t, env, job, t.TempDir())
	require.NoError(t, err)
	fp := exportjob.Fingerprint(job.Name, exportjob.PeriodOf(time.Now(), exportjob.DefaultEvery).Start)
	assert.Equal(t, fp, out.Fingerprint)
	require.NotNil(t, out.Intent)
	assert.Equal(t, exportjob.IdempotencyKey(fp, 1), out.Intent.Key)
	ex := exportsOf(srv, exportkit.Orbit)
	require.Len(t, ex, 1)
	assert.Equal(t, out.Intent.Key, ex[0].IdempotencyKey)
	assert.False(t, out.Adopted)
}

// Two exports at the vendor that the lost create could have made: the run
// is parked with both as candidates, and nothing more is created or
// downloaded.
func TestJobRunTwoCandidatesPark(t *testing.T) {
	for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus} {
		t.Run(string(v), func(t *testing.T) {
			srv, c := newServer(t, exporttest.ReadyAfter(0))
			stray := strayExport(t, c, v)
			srv.LoseNextCreateReplies(1)
			env := jobEnv(t, c)
			var starts activityStarts
			starts.listen(env)
			dir := t.TempDir()
			job := jobFor(v)

			out, err := runJob(t, env, job, dir)
			require.NoError(t, err)
			assert.Equal(t, JobRunParked, out.State)
			assert.Len(t, out.Candidates, 2)
			assert.Contains(t, out.Candidates, stray)
			assert.Contains(t, out.Reason, "2 exports")
			assert.Len(t, exportsOf(srv, v), 2, "the stray one and the run's: no third")
			assert.Empty(t, starts.named("ExportStatus"))
			assert.Empty(t, starts.named("DownloadExport"))
			assert.NoFileExists(t, fileOf(t, dir, job))
		})
	}
}

// strayExport creates, outside any run, an export that today's run of
// jobFor(v) could have made, and returns its id.
func strayExport(t *testing.T, c *exportkit.Client, v exportkit.Vendor) string {
	t.Helper()
	var e exportkit.Export
	var err error
	switch v {
	case exportkit.Brainbase:
		e, err = c.Exports.Create(context.Background(), &exportkit.LogExportRequest{Format: "CSV"})
	default:
		p := exportjob.PeriodOf(time.Now(), exportjob.DefaultEvery)
		e, err = c.Memories.Create(context.Background(), &exportkit.MemoryExportRequest{Format: "json", CreatedAfter: &p.Start, CreatedBefore: &p.End})
	}
	require.NoError(t, err)
	return e.ExportID()
}

// An export the previous run owns is no candidate: with it at the vendor,
// the lost create's own export is the one match, and is adopted.
func TestJobRunOwnedExportsAreNotCandidates(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	stray := strayExport(t, c, exportkit.Brainbase)
	srv.LoseNextCreateReplies(1)
	env := jobEnv(t, c, stray)
	out, err := runJob(t, env, jobFor(exportkit.Brainbase), t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, JobRunDone, out.State)
	assert.True(t, out.Adopted)
	assert.NotEqual(t, stray, out.Export.ID)
	assert.Equal(t, []string{stray, out.Export.ID}, out.Owned)
}

// A create cut mid-request may have landed, but the vendor lists nothing
// that matches: parked with no candidate, nothing created.
func TestJobRunCutCreateWithNothingListedParks(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			srv, c := newServer(t, exporttest.ReadyAfter(0))
			c2, err := srv.ClientE(exportkit.WithHTTPClient(&http.Client{Transport: cutCreates{srv.Transport()}}))
			require.NoError(t, err)
			_ = c
			env := jobEnv(t, c2)
			out, err := runJob(t, env, jobFor(v), t.TempDir())
			require.NoError(t, err)
			assert.Equal(t, JobRunParked, out.State)
			assert.Empty(t, out.Candidates)
			assert.Contains(t, out.Reason, "may have landed")
			assert.Empty(t, exportsOf(srv, v))
		})
	}
}

// cutCreates fails every create request without sending it, as a
// connection cut mid-request looks to the client.
type cutCreates struct{ base http.RoundTripper }

func (c cutCreates) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	if req.Method == http.MethodPost && (strings.HasSuffix(p, "/api/team/exports") || strings.HasSuffix(p, "/v1/exports") ||
		strings.HasSuffix(p, "/runs") || strings.HasSuffix(p, "/export")) {
		return nil, errors.New("write: broken pipe")
	}
	return c.base.RoundTrip(req)
}

// The worker is lost mid-create: the create reached the vendor, and the
// activity times out. It is not retried: reconciliation adopts the export.
func TestJobRunWorkerLostMidCreate(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			srv, c := newServer(t, exporttest.ReadyAfter(0))
			env := jobEnv(t, c)
			real := NewActivities(c)
			calls := 0
			env.OnActivity("CreateJobRun", mock.Anything, mock.Anything).Return(
				func(ctx context.Context, req JobCreateRequest) (ExportInfo, error) {
					calls++
					_, err := real.CreateJobRun(ctx, req)
					require.NoError(t, err)
					return ExportInfo{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil)
				})
			out, err := runJob(t, env, jobFor(v), t.TempDir())
			require.NoError(t, err)
			assert.Equal(t, 1, calls, "the create is not retried")
			assert.Equal(t, JobRunDone, out.State)
			assert.True(t, out.Adopted)
			assert.Len(t, exportsOf(srv, v), 1)
		})
	}
}

// A create activity that fails in a way it did not classify (a plain
// error, as from a worker stopping mid-request) may have created the
// export: reconciled, not taken for a refusal.
func TestJobRunUnclassifiedCreateErrorIsReconciled(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	env := jobEnv(t, c)
	real := NewActivities(c)
	env.OnActivity("CreateJobRun", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, req JobCreateRequest) (ExportInfo, error) {
			_, err := real.CreateJobRun(ctx, req)
			require.NoError(t, err)
			return ExportInfo{}, context.Canceled
		})
	out, err := runJob(t, env, jobFor(exportkit.Memsolus), t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, JobRunDone, out.State)
	assert.True(t, out.Adopted)
	assert.Len(t, exportsOf(srv, exportkit.Memsolus), 1)
}

// A create the vendor refuses created nothing: the run fails, without a
// reconciliation.
func TestJobRunRefusedCreateFails(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	require.NoError(t, srv.Inject(exporttest.On(exportkit.Brainbase).Method("POST").Status(http.StatusBadRequest)))
	env := jobEnv(t, c)
	var starts activityStarts
	starts.listen(env)
	_, err := runJob(t, env, jobFor(exportkit.Brainbase), t.TempDir())
	require.Error(t, err)
	assert.Contains(t, []string{ErrTypeCreateRefused, ErrTypeInvalidInput}, ErrorType(err))
	assert.Empty(t, starts.named("ReconcileJobRun"))
	assert.Empty(t, exportsOf(srv, exportkit.Brainbase))
}

// A 429 on the create created nothing: the same intent is sent again after
// the server's delay.
func TestJobRunRateLimitedCreateIsSentAgain(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	require.NoError(t, srv.Inject(exporttest.On(exportkit.Memsolus).Method("POST").Status(429).RetryAfter("90")))
	env := jobEnv(t, c)
	var starts activityStarts
	starts.listen(env)
	out, err := runJob(t, env, jobFor(exportkit.Memsolus), t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, JobRunDone, out.State)
	assert.False(t, out.Adopted)
	st := starts.named("CreateJobRun")
	require.Len(t, st, 2)
	assert.GreaterOrEqual(t, st[1].at.Sub(st[0].at), 90*time.Second)
	assert.Empty(t, starts.named("ReconcileJobRun"))
	assert.Len(t, exportsOf(srv, exportkit.Memsolus), 1)
}

// A file already published for the period is kept: nothing is created.
func TestJobRunKeepsAPublishedFile(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	dir := t.TempDir()
	job := jobFor(exportkit.Kore)
	path := fileOf(t, dir, job)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("earlier"), 0o644))
	env := jobEnv(t, c)
	out, err := runJob(t, env, job, dir)
	require.NoError(t, err)
	assert.Equal(t, JobRunKept, out.State)
	assert.Empty(t, srv.Requests())
}

// A job the vendor's checks refuse fails the workflow before any request.
func TestJobRunRefusesABadJob(t *testing.T) {
	srv, c := newServer(t)
	env := jobEnv(t, c)
	_, err := runJob(t, env, exportjob.Job{Name: "x", Vendor: exportkit.Orbit}, t.TempDir())
	require.Error(t, err)
	assert.Equal(t, ErrTypeInvalidInput, ErrorType(err))
	assert.Empty(t, srv.Requests())
}
