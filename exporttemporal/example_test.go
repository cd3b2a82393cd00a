package exporttemporal_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/exporttemporal"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

// A worker and a starter against a Temporal server (compiled, not run).
func Example_worker() {
	ctx := context.Background()
	c, err := exportkit.NewClient() // credentials from the environment
	if err != nil {
		return
	}
	tc, err := client.Dial(client.Options{HostPort: client.DefaultHostPort})
	if err != nil {
		return
	}
	defer tc.Close()
	w := worker.New(tc, "exports", worker.Options{})
	opts := client.StartWorkflowOptions{TaskQueue: "exports"}

	acts := exporttemporal.NewActivities(c) // c: your *exportkit.Client
	exporttemporal.Register(w, acts)        // w: a worker.Worker
	// then start exporttemporal.ExportWorkflow:
	tc.ExecuteWorkflow(ctx, opts, exporttemporal.ExportWorkflow, exporttemporal.ExportWorkflowInput{
		Create:      exporttemporal.CreateRequest{Brainbase: &exportkit.LogExportRequest{Format: "CSV"}},
		Destination: exporttemporal.Destination{Path: "/shared/exports/logs.csv"},
	})
	_ = w.Run(worker.InterruptCh())
}

// ExportWorkflow on Temporal's test environment, against the exporttest
// fake: create, wait on durable timers (skipped by the test clock),
// download. On a real worker, register the same way with
// exporttemporal.Register(w, acts).
func ExampleExportWorkflow() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(2), exporttest.FileSize(4096))
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(exporttemporal.ExportWorkflow)
	env.RegisterActivity(exporttemporal.NewActivities(srv.Client()))

	env.ExecuteWorkflow(exporttemporal.ExportWorkflow, exporttemporal.ExportWorkflowInput{
		Create:      exporttemporal.CreateRequest{Brainbase: &exportkit.LogExportRequest{Format: "CSV"}},
		Destination: exporttemporal.Destination{Path: filepath.Join(dir, "logs.csv")},
	})
	var out exporttemporal.ExportWorkflowOutput
	if err := env.GetWorkflowResult(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Export.Vendor, out.Export.State, "after", out.Polls, "status reads")
	fmt.Println(out.Download.Bytes, "bytes, verified:", out.Download.Verified)
	// Output:
	// brainbase ready after 3 status reads
	// 4096 bytes, verified: true
}

// A manifest's jobs on many machines (compiled, not run): every machine
// runs a worker and, from cron or a loop, starts the runs due; Temporal
// refuses the runs another machine started.
func Example_jobRuns() {
	ctx := context.Background()
	c, err := exportkit.NewClient()
	if err != nil {
		return
	}
	tc, err := client.Dial(client.Options{HostPort: client.DefaultHostPort})
	if err != nil {
		return
	}
	defer tc.Close()
	w := worker.New(tc, "exports", worker.Options{})
	jobs := []exportjob.Job{{Name: "logs", Vendor: exportkit.Brainbase, Params: map[string]string{"format": "CSV"}}}

	acts := exporttemporal.NewActivities(c)
	acts.Temporal = tc // the worker's Temporal client: a run waits for its job's previous one
	exporttemporal.Register(w, acts)
	// on each machine, from cron or a loop:
	starts, err := exporttemporal.StartJobRuns(ctx, tc, jobs, time.Now(), exporttemporal.StartOptions{
		TaskQueue: "exports", Run: exporttemporal.JobRunInput{Dir: "/shared/exports"},
	})
	// starts[i].Started is false where Temporal refused a run already running or done
	for _, s := range starts {
		fmt.Println(s.Fingerprint, s.Started)
	}
	_ = w.Run(worker.InterruptCh())
}

// JobRunWorkflow on Temporal's test environment, against a fake that
// loses every create reply: the create is not sent again, reconciliation
// finds the export it made, and the run adopts and downloads it. The
// previous run's wait, which asks a Temporal server, is stubbed.
func ExampleJobRunWorkflow() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(1), exporttest.FileSize(2048), exporttest.LoseCreateReplies(1))
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	exporttemporal.Register(env, exporttemporal.NewActivities(srv.Client()))
	env.OnActivity("AwaitPreviousRun", mock.Anything, mock.Anything).Return(exporttemporal.AwaitRunOutput{}, nil)

	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(exporttemporal.JobRunWorkflow, exporttemporal.JobRunInput{
		Job:    exportjob.Job{Name: "logs", Vendor: exportkit.Brainbase, Params: map[string]string{"format": "CSV"}},
		Period: exportjob.Period{Start: day, End: day.AddDate(0, 0, 1)},
		Dir:    dir,
	})
	var out exporttemporal.JobRunOutput
	if err := env.GetWorkflowResult(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Fingerprint, out.State, "adopted:", out.Adopted)
	fmt.Println("exports at the vendor:", len(srv.Exports()), "lost replies:", srv.LostCreateReplies())
	fi, err := os.Stat(filepath.Join(dir, "logs", "2026-12-01T00-00-00Z.csv"))
	fmt.Println(fi.Size(), err)
	// Output:
	// logs@2026-12-01T00:00:00Z done adopted: true
	// exports at the vendor: 1 lost replies: 1
	// 2048 <nil>
}
