package exporttemporal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// JobCreateRequest is the input of [Activities.CreateJobRun].
type JobCreateRequest struct {
	Vendor exportkit.Vendor
	Intent exportjob.Intent
}

// ReconcileRequest is the input of [Activities.ReconcileJobRun].
type ReconcileRequest struct {
	Vendor exportkit.Vendor
	Intent exportjob.Intent
	// Owned are the vendor's ids of exports other runs of the job own:
	// never a candidate.
	Owned []string `json:",omitempty"`
}

// AwaitRunRequest is the input of [Activities.AwaitPreviousRun].
type AwaitRunRequest struct {
	// Fingerprint is the previous run's, its workflow id.
	Fingerprint string
	// UntilClosed waits for the run's end, not only its create's
	// resolution (Kore: the bot's next export replaces the last).
	UntilClosed bool `json:",omitempty"`
	// Every is the time between two looks (default 2 s).
	Every time.Duration `json:",omitempty"`
}

// AwaitRunOutput is the result of [Activities.AwaitPreviousRun].
type AwaitRunOutput struct {
	// Owned is the previous run's [JobRunOutput.Owned]; empty when there is
	// no such run, or it ended without a result.
	Owned []string `json:",omitempty"`
}

// CreateJobRun sends the create request of a job run's intent, once,
// through the job's vendor ([exportjob.LookupVendor]): Orbit's run carries
// the intent's key as its Idempotency-Key. Run it without automatic
// retries, as [JobRunWorkflow] does: a create is never sent twice for one
// intent.
//
// A refusal that proves nothing was created (input refused, a 4xx answer
// but 408: [exportjob.Refused]) is a non-retryable error of the usual type
// ([ErrTypeCreateRefused] where none fits), but a 429, which is
// [ErrTypeRateLimited] with the server's delay; any other failure, the
// activity's own context ending included, may have created the export,
// and is a non-retryable [ErrTypeCreateUncertain] error, to be reconciled
// ([Activities.ReconcileJobRun]).
func (a *Activities) CreateJobRun(ctx context.Context, req JobCreateRequest) (ExportInfo, error) {
	if err := a.check(); err != nil {
		return ExportInfo{}, asTemporal(ctx, err)
	}
	v, ok := exportjob.LookupVendor(req.Vendor)
	if !ok {
		return ExportInfo{}, asTemporal(ctx, invalid(fmt.Errorf("exporttemporal: create: unknown vendor %q", req.Vendor)))
	}
	in := req.Intent
	e, err := v.Create(ctx, a.client, &in)
	switch {
	case err == nil:
		info, err := NewExportInfo(e, a.client)
		if err != nil {
			// Created, but no token to wait with: reconciliation finds it.
			return ExportInfo{}, uncertain(err)
		}
		return info, nil
	case ctx.Err() != nil:
		// The worker stopping, a timeout: the request may have left.
		return ExportInfo{}, uncertain(err)
	case exportjob.Refused(err):
		terr := asTemporal(ctx, err)
		var ae *temporal.ApplicationError
		if errors.As(terr, &ae) && (ae.NonRetryable() || ae.Type() == ErrTypeRateLimited) {
			return ExportInfo{}, terr
		}
		return ExportInfo{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeCreateRefused, err)
	}
	return ExportInfo{}, uncertain(err)
}

// ErrTypeCreateRefused is the type of the non-retryable error of a create
// the vendor refused with a 4xx that no other type names (a 400, a 409):
// nothing was created.
const ErrTypeCreateRefused = "CreateRefused"

func uncertain(err error) error {
	return temporal.NewNonRetryableApplicationError("exporttemporal: the create may have landed: "+err.Error(), ErrTypeCreateUncertain, err)
}

// ReconcileJobRun returns, as [ExportInfo]s, every export the vendor holds
// that the intent could have created ([exportjob.Vendor.Reconcile]: Orbit
// by the Idempotency-Key, Memsolus by every echoed filter and created_at
// at or after the intent's Since, Brainbase by format, log type and
// createdAt, Kore by the bot's latest export), less req.Owned. It creates
// nothing, so its retries are safe.
func (a *Activities) ReconcileJobRun(ctx context.Context, req ReconcileRequest) ([]ExportInfo, error) {
	if err := a.check(); err != nil {
		return nil, asTemporal(ctx, err)
	}
	v, ok := exportjob.LookupVendor(req.Vendor)
	if !ok {
		return nil, asTemporal(ctx, invalid(fmt.Errorf("exporttemporal: reconcile: unknown vendor %q", req.Vendor)))
	}
	in := req.Intent
	found, err := v.Reconcile(ctx, a.client, &in)
	if err != nil {
		return nil, asTemporal(ctx, err)
	}
	out := []ExportInfo{}
	for _, e := range found {
		if slices.Contains(req.Owned, e.ExportID()) {
			continue
		}
		info, err := NewExportInfo(e, a.client)
		if err != nil {
			return nil, asTemporal(ctx, err)
		}
		out = append(out, info)
	}
	return out, nil
}

// PublishedFile reports whether path is a regular file already: a run
// whose file an earlier run published creates nothing.
func (a *Activities) PublishedFile(ctx context.Context, path string) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, asTemporal(ctx, err)
	}
	return fi.Mode().IsRegular(), nil
}

// AwaitPreviousRun waits until the job run whose workflow id is
// req.Fingerprint has resolved its create ([JobRunOutput.Resolved], read
// with the [QueryJobRun] query), or with UntilClosed until it has ended,
// and returns the exports it owns. A run Temporal does not know (never
// started, or past the namespace's retention) is no wait. It heartbeats
// while it waits, so give it a heartbeat timeout. It needs
// [Activities.Temporal].
func (a *Activities) AwaitPreviousRun(ctx context.Context, req AwaitRunRequest) (AwaitRunOutput, error) {
	if a == nil || a.Temporal == nil {
		return AwaitRunOutput{}, asTemporal(ctx, invalid(errors.New("exporttemporal: AwaitPreviousRun needs Activities.Temporal, a Temporal client")))
	}
	every := req.Every
	if every <= 0 {
		every = 2 * time.Second
	}
	stop := keepAlive(ctx, func() { activity.RecordHeartbeat(ctx) })
	defer stop()
	tc := a.Temporal
	for {
		desc, err := tc.DescribeWorkflowExecution(ctx, req.Fingerprint, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return AwaitRunOutput{}, nil
		case err != nil:
			return AwaitRunOutput{}, asTemporal(ctx, err)
		}
		switch desc.GetWorkflowExecutionInfo().GetStatus() {
		case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			if !req.UntilClosed {
				if v, err := tc.QueryWorkflow(ctx, req.Fingerprint, "", QueryJobRun); err == nil {
					var o JobRunOutput
					if v.Get(&o) == nil && o.Resolved {
						return AwaitRunOutput{Owned: o.Owned}, nil
					}
				}
			}
		default: // ended: its last answer to the query (a worker replays it), else its result
			if v, err := tc.QueryWorkflow(ctx, req.Fingerprint, "", QueryJobRun); err == nil {
				var o JobRunOutput
				if v.Get(&o) == nil {
					return AwaitRunOutput{Owned: o.Owned}, nil
				}
			}
			var o JobRunOutput
			if err := tc.GetWorkflow(ctx, req.Fingerprint, "").Get(ctx, &o); err != nil {
				return AwaitRunOutput{}, nil // failed, terminated, not a job run: nothing known
			}
			return AwaitRunOutput{Owned: o.Owned}, nil
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return AwaitRunOutput{}, ctx.Err()
		case <-t.C:
		}
	}
}
