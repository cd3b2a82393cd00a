package exporttemporal

import (
	"context"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/testsuite"
)

// StartJobRuns starts each due run under its fingerprint, with a policy
// under which Temporal refuses a second workflow of the same id; a refused
// start is reported as not started, not as an error.
func TestStartJobRunsUsesTheFingerprintAndReportsRefusals(t *testing.T) {
	now := time.Date(2026, 12, 5, 13, 30, 0, 0, time.UTC)
	jobs := []exportjob.Job{
		{Name: "logs", Vendor: exportkit.Brainbase, Every: time.Hour, Catchup: 2, Params: map[string]string{"format": "CSV"}},
		{Name: "bot", Vendor: exportkit.Kore, Catchup: -1, Params: map[string]string{"bot": "b1"}},
		// Start two periods ago: no earlier period, whatever Catchup says.
		{Name: "aud", Vendor: exportkit.Orbit, Every: time.Hour, Start: now.Add(-2 * time.Hour), Params: map[string]string{"audience": "a"}},
	}
	tc := &mocks.Client{}
	var ids []string
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
			assert.Equal(t, "q", o.TaskQueue)
			assert.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, o.WorkflowIDReusePolicy)
			assert.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
			assert.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted)
			in := args[0].(JobRunInput)
			assert.Equal(t, o.ID, exportjob.Fingerprint(in.Job.Name, in.Period.Start), "the workflow id is the fingerprint")
			assert.Equal(t, "/files", in.Dir)
			ids = append(ids, o.ID)
			if o.ID == "logs@2026-12-05T12:00:00Z" {
				return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already", "", "r0")
			}
			run := &mocks.WorkflowRun{}
			run.On("GetRunID").Return("run-" + o.ID)
			return run, nil
		})
	got, err := StartJobRuns(context.Background(), tc, jobs, now, StartOptions{TaskQueue: "q", Run: JobRunInput{Dir: "/files"}})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"logs@2026-12-05T11:00:00Z", "logs@2026-12-05T12:00:00Z", "logs@2026-12-05T13:00:00Z",
		"bot@2026-12-05T00:00:00Z",
		"aud@2026-12-05T11:00:00Z", "aud@2026-12-05T12:00:00Z", "aud@2026-12-05T13:00:00Z",
	}, ids)
	require.Len(t, got, 7)
	for _, s := range got {
		assert.Equal(t, s.Fingerprint != "logs@2026-12-05T12:00:00Z", s.Started, s.Fingerprint)
		if s.Started {
			assert.Equal(t, "run-"+s.Fingerprint, s.RunID)
		}
	}
}

// StartJobRuns refuses, before starting anything: no client, no task
// queue, a job twice, a bad job, and two jobs on one Kore bot.
func TestStartJobRunsRefusesBadInput(t *testing.T) {
	tc := &mocks.Client{}
	good := exportjob.Job{Name: "logs", Vendor: exportkit.Brainbase}
	for _, tt := range []struct {
		c    client.Client
		jobs []exportjob.Job
		opts StartOptions
	}{
		{nil, []exportjob.Job{good}, StartOptions{TaskQueue: "q"}},
		{tc, []exportjob.Job{good}, StartOptions{}},
		{tc, []exportjob.Job{good, good}, StartOptions{TaskQueue: "q"}},
		{tc, []exportjob.Job{{Name: "x", Vendor: exportkit.Orbit}}, StartOptions{TaskQueue: "q"}},
		// Two jobs on one Kore bot: their runs would replace each other's
		// export.
		{tc, []exportjob.Job{
			{Name: "bot-latest", Vendor: exportkit.Kore, Params: map[string]string{"bot": "st-1"}},
			{Name: "bot-published", Vendor: exportkit.Kore, Params: map[string]string{"bot": "st-1", "type": "published"}},
		}, StartOptions{TaskQueue: "q"}},
	} {
		_, err := StartJobRuns(context.Background(), tt.c, tt.jobs, time.Now(), tt.opts)
		require.ErrorIs(t, err, exportkit.ErrInvalidInput)
	}
	tc.AssertNotCalled(t, "ExecuteWorkflow")
}

// AwaitPreviousRun: no previous run is no wait; a running one is waited
// on until its query says its create is resolved; an ended one gives what
// it owns.
func TestAwaitPreviousRun(t *testing.T) {
	answer := func(o JobRunOutput) converter.EncodedValue {
		p, err := converter.GetDefaultDataConverter().ToPayloads(o)
		require.NoError(t, err)
		return client.NewValue(p)
	}
	status := func(s enumspb.WorkflowExecutionStatus) *workflowservice.DescribeWorkflowExecutionResponse {
		return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: s}}
	}
	running := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING

	t.Run("none", func(t *testing.T) {
		tc := &mocks.Client{}
		tc.On("DescribeWorkflowExecution", mock.Anything, "j@p", "").Return(nil, serviceerror.NewNotFound("no"))
		out := awaitWith(t, tc, AwaitRunRequest{Fingerprint: "j@p"})
		assert.Empty(t, out.Owned)
	})
	t.Run("running until resolved", func(t *testing.T) {
		tc := &mocks.Client{}
		tc.On("DescribeWorkflowExecution", mock.Anything, "j@p", "").Return(status(running), nil)
		tc.On("QueryWorkflow", mock.Anything, "j@p", "", QueryJobRun).Return(answer(JobRunOutput{}), nil).Twice()
		tc.On("QueryWorkflow", mock.Anything, "j@p", "", QueryJobRun).Return(answer(JobRunOutput{Resolved: true, Owned: []string{"e1"}}), nil).Once()
		out := awaitWith(t, tc, AwaitRunRequest{Fingerprint: "j@p", Every: time.Millisecond})
		assert.Equal(t, []string{"e1"}, out.Owned)
		tc.AssertNumberOfCalls(t, "QueryWorkflow", 3)
	})
	t.Run("until closed", func(t *testing.T) {
		tc := &mocks.Client{}
		tc.On("DescribeWorkflowExecution", mock.Anything, "j@p", "").Return(status(running), nil).Twice()
		tc.On("DescribeWorkflowExecution", mock.Anything, "j@p", "").Return(status(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED), nil).Once()
		tc.On("QueryWorkflow", mock.Anything, "j@p", "", QueryJobRun).Return(answer(JobRunOutput{Resolved: true, Owned: []string{"e2"}}), nil)
		out := awaitWith(t, tc, AwaitRunRequest{Fingerprint: "j@p", UntilClosed: true, Every: time.Millisecond})
		assert.Equal(t, []string{"e2"}, out.Owned)
		tc.AssertNumberOfCalls(t, "DescribeWorkflowExecution", 3)
		tc.AssertNumberOfCalls(t, "QueryWorkflow", 1) // only once it ended
	})
	t.Run("no client", func(t *testing.T) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		acts := NewActivities(nil)
		env.RegisterActivity(acts)
		_, err := env.ExecuteActivity(acts.AwaitPreviousRun, AwaitRunRequest{Fingerprint: "j@p"})
		assert.Equal(t, ErrTypeInvalidInput, ErrorType(err))
	})
}

func awaitWith(t *testing.T, tc client.Client, req AwaitRunRequest) AwaitRunOutput {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(quietLogger)
	env := s.NewTestActivityEnvironment()
	acts := NewActivities(nil)
	acts.Temporal = tc
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(acts.AwaitPreviousRun, req)
	require.NoError(t, err)
	var out AwaitRunOutput
	require.NoError(t, v.Get(&out))
	return out
}
