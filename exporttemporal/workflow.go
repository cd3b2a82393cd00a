package exporttemporal

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/exportkit/exportkit"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ExportWorkflowInput is the input of [ExportWorkflow]. Only Create (or
// Export) is required; every other field has a default.
type ExportWorkflowInput struct {
	// Create is the export to create. Ignored when Export is set.
	Create CreateRequest
	// Export is an export to take up instead of creating one (see
	// [NewExportInfo]). The workflow sets it itself when it continues as
	// new.
	Export *ExportInfo `json:",omitempty"`
	// Destination is where the file goes. Zero: the workflow waits and
	// returns the ready export without downloading it.
	Destination Destination
	// WaitInActivity waits inside one long activity ([Activities.WaitExport])
	// that heartbeats the exportkit resume token, instead of durable
	// timers between short status activities. Fewer history events for
	// long waits; a lost worker costs the heartbeat timeout.
	WaitInActivity bool `json:",omitempty"`
	// Schedule is the polling schedule; zero: [exportkit.DefaultPollSchedule],
	// the one exportkit's own Wait uses.
	Schedule exportkit.PollSchedule
	// MaxWait bounds the wait, from the workflow's start; zero: no bound.
	// When it runs out the workflow fails with [ErrTypeWaitTimeout].
	MaxWait time.Duration `json:",omitempty"`
	// MaxOutage is how long one status read is retried through transient
	// failures before the workflow fails (default 1 h).
	MaxOutage time.Duration `json:",omitempty"`
	// HeartbeatTimeout is the heartbeat timeout of the wait and download
	// activities: how soon a lost worker's activity is retried on another
	// (default 30 s).
	HeartbeatTimeout time.Duration `json:",omitempty"`
	// DownloadTimeout bounds one attempt of the download (default 6 h).
	DownloadTimeout time.Duration `json:",omitempty"`
	// Carry is the state of a wait that continued as new; leave it nil.
	Carry *WaitCarry `json:",omitempty"`
}

// WaitCarry is what a timer wait carries into the workflow run it
// continues as: set by [ExportWorkflow] itself.
type WaitCarry struct {
	Polls    int       // status reads so far
	Attempt  int       // the schedule's position for the current export
	Deadline time.Time `json:",omitempty"` // the end of MaxWait, zero when none
}

// ExportWorkflowOutput is the result of [ExportWorkflow].
type ExportWorkflowOutput struct {
	Export   ExportInfo      // the ready export, as last read
	Download *DownloadOutput `json:",omitempty"` // nil when no destination was given
	Polls    int             // status reads of the wait, in every run and attempt
}

// Defaults of [ExportWorkflowInput].
const (
	DefaultMaxOutage        = time.Hour
	DefaultHeartbeatTimeout = 30 * time.Second
	DefaultDownloadTimeout  = 6 * time.Hour
	// PollsPerRun is how many status reads a timer wait makes in one
	// workflow run before it continues as new, which keeps each run's
	// history far below Temporal's limits (about five events a read).
	PollsPerRun = 500
)

// ExportWorkflow creates an export, waits until it is ready and downloads
// its file: create → wait → download.
//
// The wait is exportkit's polling schedule ([exportkit.PollSchedule]) as
// durable timers between short [Activities.ExportStatus] activities, so no
// activity runs for hours and a worker lost in the middle of a wait costs
// nothing: another worker replays the history and goes on. Each delay's
// jitter comes from a random source seeded once per run through
// workflow.SideEffect, so a replay draws the same delays. After
// [PollsPerRun] reads the workflow continues as new with its state. With
// WaitInActivity set it waits in [Activities.WaitExport] instead.
//
// The download is [Activities.DownloadExport], heartbeating its progress;
// its retries write to the same destination. A failed, expired or
// canceled export fails the workflow with a non-retryable application
// error ([ErrTypeExportFailed], …).
func ExportWorkflow(ctx workflow.Context, in ExportWorkflowInput) (ExportWorkflowOutput, error) {
	var a *Activities // activities are named by method; no value is needed here
	in = withDefaults(in)
	carry := WaitCarry{}
	if in.Carry != nil {
		carry = *in.Carry
	}
	if in.MaxWait > 0 && carry.Deadline.IsZero() {
		carry.Deadline = workflow.Now(ctx).Add(in.MaxWait)
	}

	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
		},
	})
	var info ExportInfo
	firstReadNow := true
	if in.Export != nil {
		info = *in.Export
	} else {
		if err := workflow.ExecuteActivity(short, a.CreateExport, in.Create).Get(ctx, &info); err != nil {
			return ExportWorkflowOutput{}, err
		}
		firstReadNow = false // the creation's answer is the first read
	}
	if in.Carry != nil {
		firstReadNow = false
	}

	var err error
	if in.WaitInActivity {
		info, carry.Polls, err = waitInActivity(ctx, in, info, carry)
	} else {
		var cont bool
		info, cont, err = waitWithTimers(ctx, in, info, &carry, firstReadNow)
		if err == nil && cont {
			next := in
			next.Export, next.Carry = &info, &carry
			return ExportWorkflowOutput{}, workflow.NewContinueAsNewError(ctx, ExportWorkflow, next)
		}
	}
	out := ExportWorkflowOutput{Export: info, Polls: carry.Polls}
	if err != nil || in.Destination.empty() {
		return out, err
	}

	dl := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: in.DownloadTimeout,
		HeartbeatTimeout:    in.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10,
		},
	})
	var res DownloadOutput
	if err := workflow.ExecuteActivity(dl, a.DownloadExport, DownloadRequest{Export: info, Destination: in.Destination}).Get(ctx, &res); err != nil {
		return out, err
	}
	out.Download = &res
	return out, nil
}

// withDefaults fills the zero fields of in.
func withDefaults(in ExportWorkflowInput) ExportWorkflowInput {
	in.Schedule = normalize(in.Schedule)
	if in.MaxOutage <= 0 {
		in.MaxOutage = DefaultMaxOutage
	}
	if in.HeartbeatTimeout <= 0 {
		in.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if in.DownloadTimeout <= 0 {
		in.DownloadTimeout = DefaultDownloadTimeout
	}
	return in
}

// waitWithTimers polls with durable timers on the schedule until the
// export is ready. It returns cont when the run has made PollsPerRun reads
// and should continue as new, with carry updated.
func waitWithTimers(ctx workflow.Context, in ExportWorkflowInput, info ExportInfo, carry *WaitCarry, readNow bool) (_ ExportInfo, cont bool, _ error) {
	status := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: in.MaxOutage,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
	})
	rng, err := jitterSource(ctx)
	if err != nil {
		return info, false, err
	}
	var a *Activities
	for polls := 0; ; polls++ {
		if info.State == exportkit.StateReady {
			return info, false, nil
		}
		if polls >= PollsPerRun {
			return info, true, nil
		}
		if !readNow {
			carry.Attempt++
			d := in.Schedule.Delay(carry.Attempt, rng.Float64())
			if !carry.Deadline.IsZero() && workflow.Now(ctx).Add(d).After(carry.Deadline) {
				return info, false, temporal.NewNonRetryableApplicationError(
					"exporttemporal: wait: the maximum wait of "+in.MaxWait.String()+" ran out", ErrTypeWaitTimeout, exportkit.ErrWaitTimeout, info)
			}
			if err := workflow.Sleep(ctx, d); err != nil {
				return info, false, err
			}
		}
		readNow = false
		var next ExportInfo
		if err := workflow.ExecuteActivity(status, a.ExportStatus, info).Get(ctx, &next); err != nil {
			return info, false, err
		}
		carry.Polls++
		if next.ID != info.ID || next.Vendor != info.Vendor {
			// A new object (Orbit's export after its run): the schedule
			// starts over, as in exportkit's own wait.
			carry.Attempt = 0
		}
		info = next
	}
}

// jitterSource returns the random source of the schedule's jitter: seeded
// once per run from a side effect, so that a replay draws the same delays
// and workflows started together still drift apart.
func jitterSource(ctx workflow.Context) (*rand.Rand, error) {
	var seed [2]uint64
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		return [2]uint64{rand.Uint64(), rand.Uint64()}
	}).Get(&seed)
	if err != nil {
		return nil, err
	}
	return rand.New(rand.NewPCG(seed[0], seed[1])), nil
}

// waitInActivity waits in one heartbeating WaitExport activity.
func waitInActivity(ctx workflow.Context, in ExportWorkflowInput, info ExportInfo, carry WaitCarry) (ExportInfo, int, error) {
	timeout := 24 * time.Hour
	if !carry.Deadline.IsZero() {
		timeout = max(carry.Deadline.Sub(workflow.Now(ctx))+time.Minute, time.Minute)
	}
	wctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    in.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
	})
	var a *Activities
	var out WaitOutput
	err := workflow.ExecuteActivity(wctx, a.WaitExport, WaitRequest{Export: info, Schedule: in.Schedule, Deadline: carry.Deadline}).Get(ctx, &out)
	if err != nil {
		return info, carry.Polls, err
	}
	return out.Export, carry.Polls + out.Polls, nil
}

// ErrorType returns the type of the application error in err's chain (an
// activity's error as the workflow sees it, or a workflow's as the client
// sees it), "" when there is none: [ErrTypeExportFailed] and the others.
func ErrorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}
