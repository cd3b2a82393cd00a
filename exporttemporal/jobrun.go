package exporttemporal

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// JobRunInput is the input of [JobRunWorkflow]: one run of an
// [exportjob.Job], the job's period [Period.Start, Period.End).
// [StartJobRuns] fills it in from a [StartOptions].
type JobRunInput struct {
	// Job is the job, as exportjob takes it (vendor, parameters, period).
	Job exportjob.Job
	// Period is the run's period, one of the job's ([exportjob.DuePeriods]).
	Period exportjob.Period
	// Dir is the directory the file goes to, under the name `exportkit
	// sync` gives it ([exportjob.FileName]: job/period-start.ext), on a
	// volume every worker that may download it can reach. Ignored when
	// Destination is set.
	Dir string `json:",omitempty"`
	// Destination is where the file goes, instead of under Dir. With
	// neither, the run waits for its export and downloads nothing.
	Destination Destination
	// ClockSkew is how much earlier than the intent a vendor's creation
	// time may be and still match in reconciliation (default
	// [DefaultClockSkew]).
	ClockSkew time.Duration `json:",omitempty"`
	// CreateTimeout bounds the create activity (default
	// [DefaultCreateTimeout]): a worker lost mid-create is noticed, and
	// the run reconciled, that long after the create started.
	CreateTimeout time.Duration `json:",omitempty"`
	// Wait sets the wait and the download (its Create, Export, Destination
	// and Carry are ignored): [ExportWorkflowInput]'s defaults apply.
	Wait ExportWorkflowInput
}

// JobRunState is how a [JobRunWorkflow] ended.
type JobRunState string

// The ends of a job run that are not a workflow failure.
const (
	// JobRunDone: the file is downloaded (or, with no destination, the
	// export is ready).
	JobRunDone JobRunState = "done"
	// JobRunKept: the destination file was already there (published by an
	// earlier run of the same period): nothing was created.
	JobRunKept JobRunState = "kept"
	// JobRunParked: the create may have landed and the vendor lists no
	// single export it could be. A person must look: the output lists the
	// candidates, and nothing was created again.
	JobRunParked JobRunState = "parked"
)

// JobRunOutput is the result of [JobRunWorkflow], and, while it runs, the
// answer to its [QueryJobRun] query.
type JobRunOutput struct {
	// Fingerprint is the run's identity, [exportjob.Fingerprint] of the
	// job and the period: the workflow id [StartJobRuns] gives it.
	Fingerprint string
	// State is how the run ended; "" while it runs.
	State JobRunState `json:",omitempty"`
	// Resolved is set once the run's create is resolved (created,
	// adopted, parked or kept): the next run of the job may then create.
	Resolved bool
	// Intent is the run's create intent: its time, the time from which
	// reconciliation looks (Since) and its idempotency key. Nil before it
	// is written, and for a kept run.
	Intent *exportjob.Intent `json:",omitempty"`
	// Export is the export the run created or adopted, as last read.
	Export *ExportInfo `json:",omitempty"`
	// Adopted is set when the create's reply was lost and reconciliation
	// found the one export the create made.
	Adopted bool `json:",omitempty"`
	// Candidates are the vendor's ids of the exports a parked run could be
	// (empty when the vendor lists none).
	Candidates []string `json:",omitempty"`
	// Reason says why the run is parked.
	Reason string `json:",omitempty"`
	// Download is the download's result, when the file was downloaded.
	Download *DownloadOutput `json:",omitempty"`
	// Owned are the vendor's ids of the exports this job's latest runs
	// created or adopted, this run's last: the next run's reconciliation
	// leaves them out, as exportjob's store does.
	Owned []string `json:",omitempty"`
}

// QueryJobRun is the query a [JobRunWorkflow] answers with its
// [JobRunOutput] so far.
const QueryJobRun = "exportkit.jobrun"

// Defaults of [JobRunInput].
const (
	DefaultClockSkew     = 2 * time.Minute
	DefaultCreateTimeout = 5 * time.Minute
	// maxOwned bounds the ids a run carries on to the next.
	maxOwned = 64
)

// ErrTypeCreateUncertain is the type of the non-retryable error
// [Activities.CreateJobRun] returns when its create request may have
// reached the vendor but no reply came back: the run is reconciled, never
// created again.
const ErrTypeCreateUncertain = "CreateUncertain"

// JobRunWorkflow drives one run of a job: create → wait → download, with
// the guarantee of `exportkit sync` that a run creates at most one export
// at the vendor, whatever is lost on the way.
//
// Its workflow id should be the run's fingerprint ([StartJobRuns] does
// so), so that Temporal itself refuses a second workflow for the run.
//
// In order:
//
//  1. A destination file already there (an earlier run published it) ends
//     the run as [JobRunKept]: nothing is created.
//  2. [Activities.AwaitPreviousRun] waits until the job's previous period's
//     run has resolved its create (for a vendor whose runs hold something
//     for their whole life, Kore's bot, until it has ended), and takes the
//     ids of the exports that run and those before it own: two runs of one
//     job never have a create unresolved at once, so reconciliation cannot
//     take one period's export for another.
//  3. The create intent is fixed in the workflow's history: its time
//     (workflow.Now), the reconciliation's Since (that less ClockSkew) and
//     the idempotency key, [exportjob.IdempotencyKey] of the fingerprint:
//     never a Temporal workflow, run or activity id.
//  4. [Activities.CreateJobRun] sends the create once: its activity has no
//     automatic retry. A refusal (a 4xx, input refused) fails the run; a
//     429 is waited out and sent again (nothing was created). Anything
//     else (the reply lost, the worker lost mid-create: an activity
//     timeout) may have created the export, and
//  5. [Activities.ReconcileJobRun] asks the vendor what it holds that the
//     intent could have made (exportjob's [exportjob.Vendor.Reconcile]),
//     less the exports earlier runs own. One candidate is adopted; two or
//     more, or none, end the run as [JobRunParked] with the candidates:
//     nothing is guessed and nothing is created again.
//  6. The export is waited on and downloaded by [ExportWorkflow], as a
//     child workflow whose id is the fingerprint followed by "/export".
//
// A refused create, a failed or expired export and a failed download fail
// the workflow, as [ExportWorkflow] does. Temporal keeps the failed
// workflow's id: [StartJobRuns] does not start the run again, a person
// decides (the activities never create a second export for a run).
func JobRunWorkflow(ctx workflow.Context, in JobRunInput) (JobRunOutput, error) {
	var a *Activities
	job, err := exportjob.Normalize(in.Job)
	if err != nil {
		return JobRunOutput{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, err)
	}
	v, _ := exportjob.LookupVendor(job.Vendor) // Normalize checked it
	if in.ClockSkew <= 0 {
		in.ClockSkew = DefaultClockSkew
	}
	fp := exportjob.Fingerprint(job.Name, in.Period.Start)
	out := JobRunOutput{Fingerprint: fp}
	if err := workflow.SetQueryHandler(ctx, QueryJobRun, func() (JobRunOutput, error) { return out, nil }); err != nil {
		return out, err
	}
	dest := in.Destination
	if dest.empty() && in.Dir != "" {
		dest.Path = filepath.Join(in.Dir, filepath.FromSlash(exportjob.FileName(job, in.Period)))
	}
	wait := withDefaults(in.Wait)
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: wait.MaxOutage,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})

	// 1. A file published for the period is kept.
	if dest.Path != "" {
		var there bool
		if err := workflow.ExecuteActivity(short, a.PublishedFile, dest.Path).Get(ctx, &there); err != nil {
			return out, err
		}
		if there {
			out.State, out.Resolved = JobRunKept, true
			return out, nil
		}
	}

	// 2. The previous period's run resolves its create first.
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 365 * 24 * time.Hour,
		HeartbeatTimeout:    wait.HeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var prev AwaitRunOutput
	req := AwaitRunRequest{Fingerprint: exportjob.Fingerprint(job.Name, in.Period.Start.Add(-job.Every)),
		UntilClosed: v.Serial(job.Params) != ""}
	if err := workflow.ExecuteActivity(actx, a.AwaitPreviousRun, req).Get(ctx, &prev); err != nil {
		return out, err
	}

	// 3. The intent, in the history before the create leaves.
	now := workflow.Now(ctx).UTC()
	intent := exportjob.Intent{Job: job.Name, Period: in.Period, At: now, Since: now.Add(-in.ClockSkew),
		Key: exportjob.IdempotencyKey(fp, 1), Params: job.Params}
	out.Intent = &intent

	// 4. The create, sent once.
	if in.CreateTimeout <= 0 {
		in.CreateTimeout = DefaultCreateTimeout
	}
	info, cause, err := createOnce(ctx, job.Vendor, intent, in.CreateTimeout)
	if err != nil {
		return out, err
	}
	if cause != nil {
		// 5. The reply was lost: ask the vendor before anything else.
		workflow.GetLogger(ctx).Warn("exporttemporal: the create may have landed: reconciling",
			"fingerprint", fp, "cause", cause.Error())
		var cands []ExportInfo
		err := workflow.ExecuteActivity(short, a.ReconcileJobRun,
			ReconcileRequest{Vendor: job.Vendor, Intent: intent, Owned: prev.Owned}).Get(ctx, &cands)
		ids := make([]string, 0, len(cands))
		for _, c := range cands {
			ids = append(ids, c.ID)
		}
		switch {
		case err != nil:
			out.Candidates, out.Reason = ids, fmt.Sprintf("the create may have landed (%v) and the vendor could not be asked: %v", cause, err)
		case len(cands) == 1:
			info, out.Adopted = cands[0], true
		case len(cands) > 1:
			out.Candidates, out.Reason = ids, fmt.Sprintf("%d exports at the vendor match the intent of %s", len(ids), now.Format(time.RFC3339))
		default:
			out.Candidates, out.Reason = ids, fmt.Sprintf("the create may have landed (%v) but the vendor lists no export matching it", cause)
		}
		if !out.Adopted {
			out.State, out.Resolved, out.Owned = JobRunParked, true, prev.Owned
			workflow.GetLogger(ctx).Error("exporttemporal: run parked", "fingerprint", fp, "reason", out.Reason, "candidates", out.Candidates)
			return out, nil
		}
	}
	out.Export, out.Resolved = &info, true
	out.Owned = append(prev.Owned, info.ID)
	if len(out.Owned) > maxOwned {
		out.Owned = out.Owned[len(out.Owned)-maxOwned:]
	}

	// 6. Wait and download.
	wait.Create, wait.Export, wait.Destination, wait.Carry = CreateRequest{}, &info, dest, nil
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            fp + "/export",
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	})
	var res ExportWorkflowOutput
	if err := workflow.ExecuteChildWorkflow(cctx, ExportWorkflow, wait).Get(ctx, &res); err != nil {
		return out, err
	}
	out.Export, out.Download, out.State = &res.Export, res.Download, JobRunDone
	return out, nil
}

// createOnce runs CreateJobRun without automatic retries. It returns the
// export, or cause: why the create may have landed unseen; or err, a
// refusal that created nothing.
func createOnce(ctx workflow.Context, vendor exportkit.Vendor, intent exportjob.Intent, timeout time.Duration) (info ExportInfo, cause, err error) {
	var a *Activities
	cctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	for attempt := 1; ; attempt++ {
		err := workflow.ExecuteActivity(cctx, a.CreateJobRun, JobCreateRequest{Vendor: vendor, Intent: intent}).Get(ctx, &info)
		var ae *temporal.ApplicationError
		var canceled *temporal.CanceledError
		switch {
		case err == nil:
			return info, nil, nil
		case errors.As(err, &canceled):
			return info, nil, err
		case errors.As(err, &ae) && ae.Type() == ErrTypeRateLimited:
			if attempt >= 4 {
				return info, nil, err // refused: nothing was created
			}
			// Refused: nothing was created; the same intent goes again.
			if err := workflow.Sleep(ctx, max(ae.NextRetryDelay(), time.Second)); err != nil {
				return info, nil, err
			}
			continue
		case errors.As(err, &ae) && ae.NonRetryable() && ae.Type() != ErrTypeCreateUncertain:
			return info, nil, err // refused: nothing was created
		}
		// A lost reply, a lost worker, a timeout, a panic, an error the
		// activity did not classify: the create may have landed.
		return info, err, nil
	}
}
