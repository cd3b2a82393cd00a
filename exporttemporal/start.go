package exporttemporal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exportkit/exportkit/exportjob"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// StartOptions are how [StartJobRuns] starts its workflows.
type StartOptions struct {
	// TaskQueue is the task queue of the workers that registered the
	// workflows and activities ([Register]). Required.
	TaskQueue string
	// Run is the input every run starts with; its Job and Period are set
	// per run. Set its Dir (or Destination) for the files.
	Run JobRunInput
	// WorkflowExecutionTimeout bounds each run's workflow, waits and
	// retries included; zero: none.
	WorkflowExecutionTimeout time.Duration
}

// JobRunStart is what [StartJobRuns] did for one run.
type JobRunStart struct {
	// Fingerprint is the run's ([exportjob.Fingerprint]), its workflow id.
	Fingerprint string
	Job         string
	Period      exportjob.Period
	// Started is set when this call started the run's workflow; false
	// when Temporal refused it because a workflow with the run's
	// fingerprint is running or has run (on this machine or another):
	// the run is not created twice.
	Started bool
	// RunID is the Temporal run id of the workflow started, "" when
	// Started is false.
	RunID string
}

// StartJobRuns starts a [JobRunWorkflow] for every run of jobs due at now,
// with the run's fingerprint ([exportjob.Fingerprint]) as its workflow id.
// Temporal keeps one workflow per id: a second start of the same run (a
// cron entry that overlaps, another machine, a rerun) is refused by the
// server, reported as Started false, not as an error, and creates nothing.
// The id stays taken while Temporal retains the closed workflow (the
// namespace's retention); past it, a file the run published is kept
// ([JobRunKept]) and nothing is created.
//
// A job's due runs are its periods from the one Catchup periods before
// now's (not before the period containing Start, when set) to now's,
// oldest first: as [exportjob.DuePeriods] plans them for a store whose
// watermark is that first period. Runs already started are refused, so a
// machine that was down catches up the missed periods within Catchup. A
// new job without Start makes up to Catchup past periods on its first
// start: set Start (or a negative Catchup, none) to avoid it.
//
// A bad job or option is an error matching exportkit.ErrInvalidInput,
// before anything is started, and so are two jobs holding what
// [exportjob.Vendor.Serial] names (two jobs on one Kore bot), which job
// runs do not keep apart; an error from Temporal stops the starts and
// is returned with the runs done so far.
func StartJobRuns(ctx context.Context, c client.Client, jobs []exportjob.Job, now time.Time, opts StartOptions) ([]JobRunStart, error) {
	if c == nil || opts.TaskQueue == "" {
		return nil, invalid(errors.New("exporttemporal: StartJobRuns: a client and a task queue are required"))
	}
	type run struct {
		job exportjob.Job
		p   exportjob.Period
	}
	var runs []run
	seen := map[string]bool{}
	serial := map[string]string{} // Vendor.Serial key → the job holding it
	for _, j := range jobs {
		nj, err := exportjob.Normalize(j)
		if err != nil {
			return nil, err
		}
		if seen[nj.Name] {
			return nil, invalid(fmt.Errorf("exporttemporal: StartJobRuns: job %q defined twice", nj.Name))
		}
		seen[nj.Name] = true
		v, _ := exportjob.LookupVendor(nj.Vendor) // Normalize checked it
		if key := v.Serial(nj.Params); key != "" {
			if other, ok := serial[key]; ok {
				return nil, invalid(fmt.Errorf("exporttemporal: StartJobRuns: jobs %q and %q hold the same %s for their whole runs "+
					"(Kore keeps one export per bot, the latest): a job run waits only for its own job's previous run, so one "+
					"job's start would replace the other's export; give each bot one job here (exportkit sync keeps them apart)",
					other, nj.Name, key))
			}
			serial[key] = nj.Name
		}
		ps, err := exportjob.DuePeriods(nj, now, firstDue(nj, now))
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			runs = append(runs, run{nj, p})
		}
	}
	out := make([]JobRunStart, 0, len(runs))
	for _, r := range runs {
		fp := exportjob.Fingerprint(r.job.Name, r.p.Start)
		in := opts.Run
		in.Job, in.Period = r.job, r.p
		we, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                                       fp,
			TaskQueue:                                opts.TaskQueue,
			WorkflowExecutionTimeout:                 opts.WorkflowExecutionTimeout,
			WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowExecutionErrorWhenAlreadyStarted: true,
		}, JobRunWorkflow, in)
		s := JobRunStart{Fingerprint: fp, Job: r.job.Name, Period: r.p}
		switch {
		case temporal.IsWorkflowExecutionAlreadyStartedError(err):
		case err != nil:
			return out, fmt.Errorf("exportkit: exporttemporal: start %s: %w", fp, err)
		default:
			s.Started, s.RunID = true, we.GetRunID()
		}
		out = append(out, s)
	}
	return out, nil
}

// firstDue is the start of the first period StartJobRuns considers for
// the normalized job j at now: Catchup periods before now's, not before
// the period containing Start.
func firstDue(j exportjob.Job, now time.Time) time.Time {
	from := exportjob.PeriodOf(now, j.Every).Start.Add(-time.Duration(j.Catchup) * j.Every)
	if !j.Start.IsZero() {
		if s := exportjob.PeriodOf(j.Start, j.Every).Start; s.After(from) {
			from = s
		}
	}
	return from
}
